#!/usr/bin/env python3
"""The mirror benchmark driver (standard library only). Called by scripts/bench-mirror.sh.

Measures `ktra sync-mirror` against the targets of the mirror issue:
  1. a corpus of ~500 real crates, resolved and fetched the ordinary way (cargo, default
     registry, private CARGO_HOME), with the full index file of every crate as cargo cached it;
     built once and cached in BENCH_DIR/mirror-corpus
  2. an upstream: that corpus laid out as a static sparse registry, served by nginx
  3. baseline: `cargo fetch --locked` of the corpus project from that upstream, fresh CARGO_HOME
  4. `ktra sync-mirror --lockfile` into a fresh registry: time (≤ 0.7× the baseline), peak RSS
  5. the same again on the synced registry, nothing changed (≤ 5 % of the first sync)
  6. sanity (not timed): upstream stopped, the synced registry's public/ served by
     `python3 -m http.server`, `cargo fetch --locked` through the mirror must succeed
  7. `ktra sync-mirror --all` of the synthetic 100,000-version registry (the one
     scripts/bench.sh caches) served by nginx: time and peak RSS (≤ 100 MiB)

Progress goes to stderr; the markdown table goes to stdout; everything (with every sample)
goes to BENCH_DIR/mirror-results.json. Every server listens on 127.0.0.1 on a port the kernel
picks, and is stopped on exit, on error and on SIGTERM/SIGINT/SIGHUP.
"""

import argparse
import datetime
import glob
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench_run  # noqa: E402  (index_path, the cached synthetic registry, machine, git_rev)
import serve_lib as L  # noqa: E402  (nginx, free ports, waiting for a port)
import synth  # noqa: E402

MiB = 1024 * 1024
# How a crate of cargo's default registry is named in Cargo.lock (not a host: the index's name).
DEFAULT_SOURCE = "registry+https://github.com/rust-lang/crates.io-index"
CORPUS_FORMAT = 1  # bump when the cached corpus layout changes
KTRA_DEFAULT_JOBS = 16  # sync-mirror's default --jobs (for the curl floor's parallelism)

# The corpus project: popular crates, ~500 packages in Cargo.lock once resolved (the list of
# /work/shared/scripts/make-corpus.sh plus more). Resolved once; the Cargo.lock is cached.
CORPUS_DEPENDENCIES = """\
tokio = { version = "1", features = ["full"] }
serde = { version = "1", features = ["derive"] }
serde_json = "1"
clap = { version = "4", features = ["derive"] }
reqwest = { version = "0.12", default-features = false, features = ["rustls-tls", "json", "stream"] }
axum = "0.8"
regex = "1"
rand = "0.9"
chrono = "0.4"
anyhow = "1"
thiserror = "2"
tracing = "0.1"
tracing-subscriber = { version = "0.3", features = ["env-filter"] }
git2 = "0.20"
tar = "0.4"
flate2 = "1"
sha2 = "0.10"
toml = "0.8"
walkdir = "2"
indicatif = "0.17"
semver = "1"
minijinja = "2"
pulldown-cmark = "0.12"
image = "0.25"
rayon = "1"
itertools = "0.13"
bytes = "1"
url = "2"
uuid = { version = "1", features = ["v4", "serde"] }
openssl = "0.10"
actix-web = "4"
tonic = "0.12"
prost = "0.13"
criterion = "0.5"
proptest = "1"
env_logger = "0.11"
log = "0.4"
crossbeam = "0.8"
parking_lot = "0.12"
dashmap = "6"
nom = "7"
pest = "2"
csv = "1"
base64 = "0.22"
bincode = "1"
rustls = "0.23"
futures = "0.3"
async-trait = "0.1"
tempfile = "3"
dirs = "5"
rusqlite = { version = "0.32", features = ["bundled"] }
zip = "2"
zstd = "0.13"
tokio-tungstenite = "0.24"
petgraph = "0.6"
wasm-bindgen = "0.2"
"""


def log(msg):
    print(f"[bench-mirror {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


def run(cmd, timeout=1800, **kw):
    """Runs cmd, raising with its output on failure."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    try:
        r = subprocess.run(cmd, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise BenchError(f"command timed out after {timeout} s: {' '.join(map(str, cmd))}")
    if r.returncode != 0:
        out = b"".join(x for x in (r.stdout, r.stderr) if x).decode(errors="replace")
        if len(out) > 6000:
            out = out[:3000] + f"\n... ({len(out) - 6000} characters) ...\n" + out[-3000:]
        raise BenchError(f"command failed ({r.returncode}): {' '.join(map(str, cmd))}\n{out}")
    return r


def timed(cmd, **kw):
    """(seconds, CompletedProcess) of one command, process start included."""
    t0 = time.perf_counter()
    r = run(cmd, **kw)
    return time.perf_counter() - t0, r


def timed_rss(cmd, **kw):
    """(seconds, peak RSS in KiB, CompletedProcess) of one command under /usr/bin/time -f %M
    (the peak of the largest single process: ktra itself unless it starts a bigger child)."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as f:
        t, r = timed(["/usr/bin/time", "-f", "%M", "-o", f.name, *cmd], **kw)
        return t, int(f.read().strip().splitlines()[-1]), r


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def rmtree(path):
    if os.path.lexists(path):
        subprocess.run(["rm", "-rf", "--", path], check=True)


class Trash:
    """Trees the timed runs are done with are moved here, not deleted, and deleted at the end.
    Deleting tens of thousands of files (cargo unpacks ~27,000) just before a timed run makes
    every file the run creates slower on ext4 without a journal, as here: the inode allocator
    skips inodes deleted in the last 60 s (300 s more while their table block is dirty), one
    buffer-cache lookup each. That measures the benchmark's own clean-up, not the tool."""

    def __init__(self, dir):
        self.dir = dir
        self.n = 0
        os.makedirs(dir, exist_ok=True)

    def discard(self, path):
        if os.path.lexists(path):
            self.n += 1
            os.rename(path, os.path.join(self.dir, f"{self.n}-{os.path.basename(path)}"))

    def empty(self):
        rmtree(self.dir)
        os.makedirs(self.dir)


def tree_size(path):
    files = size = 0
    for root, _, names in os.walk(path):
        for n in names:
            files += 1
            size += os.path.getsize(os.path.join(root, n))
    return files, size


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# cargo --------------------------------------------------------------------------------------


def cargo_env(home):
    """The environment for cargo with a private CARGO_HOME: no CARGO_* variable of the caller
    (target dir, registry or source settings) leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARGO_")}
    env["CARGO_HOME"] = home
    env["CARGO_TERM_COLOR"] = "never"
    return env


def write_cargo_home(home, sparse_url, trash):
    """A fresh CARGO_HOME whose default registry is replaced by the sparse registry at
    sparse_url, and nothing else special (an old one goes to the trash)."""
    trash.discard(home)
    os.makedirs(home)
    with open(os.path.join(home, "config.toml"), "w") as f:
        f.write(
            "[source.crates-io]\n"
            'replace-with = "bench-upstream"\n\n'
            "[source.bench-upstream]\n"
            f'registry = "{sparse_url}"\n\n'
            "[net]\n"
            "git-fetch-with-cli = true\n"
        )


def lock_packages(lockfile):
    """[(name, version, checksum)] of the default registry's packages in a Cargo.lock."""
    with open(lockfile, "rb") as f:
        lock = tomllib.load(f)
    out = []
    for p in lock.get("package", []):
        if p.get("source") == DEFAULT_SOURCE:
            out.append((p["name"], p["version"], p["checksum"]))
    return out


def cargo_cache_lines(data):
    """The index lines in one file of cargo's index cache (registry/index/*/.cache/...): a header
    (cache version byte, u32 index format version, the index file's version string, NUL), then
    for each line of the index file as served: its version, NUL, the line itself, NUL."""
    if len(data) < 6 or data[0] < 3:
        raise BenchError(f"unknown cargo index cache format (version byte {data[:1]!r})")
    end = data.index(b"\0", 5)
    parts = data[end + 1 :].split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    if len(parts) % 2:
        raise BenchError("cargo index cache file with an odd number of records")
    lines = parts[1::2]
    for line in lines:
        if not line.startswith(b"{"):
            raise BenchError(f"cargo index cache record is not a JSON line: {line[:80]!r}")
    return lines


# the corpus -----------------------------------------------------------------------------------


class Corpus:
    """BENCH_DIR/mirror-corpus:
         project/{Cargo.toml,Cargo.lock,src/lib.rs}   the throwaway project
         up/index/<index path>                          every index file cargo cached, in full
         up/crates/<name>/<name>-<version>.crate        every package of Cargo.lock
         corpus.json                                    what it holds
    The up/ folder is the upstream registry's tree (its config.json is served from elsewhere,
    as it names the port)."""

    def __init__(self, dir):
        self.dir = dir
        self.project = os.path.join(dir, "project")
        self.lockfile = os.path.join(self.project, "Cargo.lock")
        self.up = os.path.join(dir, "up")
        self.marker = os.path.join(dir, "corpus.json")

    def load(self):
        if not os.path.exists(self.marker):
            return False
        info = json.load(open(self.marker))
        if info.get("format") != CORPUS_FORMAT:
            log(f"the cached corpus in {self.dir} has another format; rebuilding it")
            return False
        self.info = info
        self.packages = lock_packages(self.lockfile)
        missing = [
            f"{n} {v}" for n, v, _ in self.packages
            if not os.path.exists(self.crate_path(n, v))
            or not os.path.exists(os.path.join(self.up, "index", bench_run.index_path(n)))
        ]
        if missing or len(self.packages) != info["packages"]:
            log(f"the cached corpus in {self.dir} is incomplete ({', '.join(missing[:5])}); rebuilding it")
            return False
        return True

    def crate_path(self, name, version, root=None):
        return os.path.join(root or self.up, "crates", name, f"{name}-{version}.crate")

    def build(self):
        partial = self.dir + ".partial"
        rmtree(partial)
        home = os.path.join(partial, "cargo-home")
        project = os.path.join(partial, "project")
        os.makedirs(os.path.join(project, "src"))
        os.makedirs(home)
        with open(os.path.join(project, "Cargo.toml"), "w") as f:
            f.write(
                '[package]\nname = "mirror-corpus"\nversion = "0.0.0"\nedition = "2021"\n'
                "publish = false\n\n[dependencies]\n" + CORPUS_DEPENDENCIES
            )
        open(os.path.join(project, "src", "lib.rs"), "w").close()
        env = cargo_env(home)
        log(f"building the corpus in {self.dir}: cargo generate-lockfile + cargo fetch with cargo's "
            "default registry into a private CARGO_HOME (downloads ~80 MB, cached afterwards)")
        t0 = time.perf_counter()
        run(["cargo", "generate-lockfile", "--quiet"], cwd=project, env=env, timeout=900)
        run(["cargo", "fetch", "--locked", "--quiet"], cwd=project, env=env, timeout=1800)
        fetch_s = time.perf_counter() - t0
        packages = lock_packages(os.path.join(project, "Cargo.lock"))
        if not packages:
            raise BenchError("the corpus Cargo.lock names no package of the default registry")

        regs = glob.glob(os.path.join(home, "registry", "index", "*"))
        caches = glob.glob(os.path.join(home, "registry", "cache", "*"))
        if len(regs) != 1 or len(caches) != 1:
            raise BenchError(f"expected one registry in the private CARGO_HOME, found {regs} / {caches}")
        up = os.path.join(partial, "up")

        # crate files: as fetched, checked against Cargo.lock
        for name, version, cksum in packages:
            src = os.path.join(caches[0], f"{name}-{version}.crate")
            if not os.path.exists(src):
                raise BenchError(f"cargo fetch left no file for {name} {version} ({src})")
            if sha256_file(src) != cksum:
                raise BenchError(f"{src} does not match its Cargo.lock checksum")
            dst = self.crate_path(name, version, root=up)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.replace(src, dst)

        # index files: every file of cargo's index cache, lines in order
        cache = os.path.join(regs[0], ".cache")
        index_files = index_lines = 0
        for root, _, names in os.walk(cache):
            for n in names:
                src = os.path.join(root, n)
                rel = os.path.relpath(src, cache)
                lines = cargo_cache_lines(open(src, "rb").read())
                if not lines:
                    continue  # a crate cargo asked for and found without versions
                dst = os.path.join(up, "index", rel)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                with open(dst, "wb") as f:
                    f.write(b"".join(line + b"\n" for line in lines))
                index_files += 1
                index_lines += len(lines)

        # every package's version must be in its index file with the same checksum
        for name, version, cksum in packages:
            path = os.path.join(up, "index", bench_run.index_path(name))
            if not os.path.exists(path):
                raise BenchError(f"no index file for {name} in cargo's index cache ({path})")
            ok = any(
                (o := json.loads(line)).get("vers") == version and o.get("cksum") == cksum
                for line in open(path, "rb").read().splitlines() if line.strip()
            )
            if not ok:
                raise BenchError(f"the index file of {name} has no line for {version} with its checksum")

        rmtree(home)
        crate_files, crate_bytes = tree_size(os.path.join(up, "crates"))
        info = {
            "format": CORPUS_FORMAT,
            "packages": len(packages),
            "crate_files": crate_files,
            "crate_bytes": crate_bytes,
            "index_files": index_files,
            "index_lines": index_lines,
            "index_bytes": tree_size(os.path.join(up, "index"))[1],
            "built": datetime.datetime.now().isoformat(timespec="seconds"),
            "cargo": run(["cargo", "--version"], env=env).stdout.decode().strip(),
            "resolve_and_fetch_s": fetch_s,
        }
        with open(os.path.join(partial, "corpus.json"), "w") as f:
            json.dump(info, f, indent=2)
        rmtree(self.dir)
        os.rename(partial, self.dir)
        log(f"corpus: {len(packages)} packages, {crate_bytes / MiB:.1f} MiB of .crate files, "
            f"{index_files} index files ({index_lines} versions)")

    def ensure(self, rebuild=False):
        if rebuild or not self.load():
            self.build()
            if not self.load():
                raise BenchError(f"the corpus just built in {self.dir} does not load")
        return self


def static_block(root, config_json):
    """nginx server block serving `root` as plain static files (ETag and Last-Modified on, as by
    default), with index/config.json taken from `config_json` (it names the port)."""

    def block(port):
        return (
            "  server {\n"
            f"    listen 127.0.0.1:{port};\n"
            "    server_name localhost;\n"
            "    sendfile on;\n"
            "    tcp_nopush on;\n"
            f"    root {root};\n"
            f"    location = /index/config.json {{ alias {config_json}; }}\n"
            "    location / { }\n"
            "  }\n"
        )

    return block


def upstream_nginx(dir, root, config_json, dl_template, workers):
    """nginx serving the sparse registry in `root` on a free port; `dl_template(port)` is the
    `dl` written into config_json for that port."""
    block = static_block(root, config_json)

    def with_config(port):
        with open(config_json, "w") as f:
            json.dump({"dl": dl_template(port)}, f)
        return block(port)

    return L.NginxServer(dir, with_config, workers=workers)


class HttpServer:
    """`python3 -m http.server` serving `root` on 127.0.0.1:port."""

    def __init__(self, root, port):
        self.port = port
        self.log = open(os.path.join(os.path.dirname(root), "http-server.log"), "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", root, str(port)],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            preexec_fn=L.die_with_parent,
        )
        if not L.wait_port(port, self.proc):
            self.stop()
            raise BenchError(f"python3 -m http.server did not start on 127.0.0.1:{port}")

    def stop(self):
        L._stop(self.proc)
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# the benchmark --------------------------------------------------------------------------------


class MirrorBench:
    def __init__(self, a):
        self.a = a
        self.ktra = os.path.abspath(a.ktra)
        self.dir = os.path.abspath(a.bench_dir)
        self.work = os.path.join(self.dir, "mirror-work")
        self.results = {"runs": a.runs, "resyncs": a.resyncs, "jobs": a.jobs}
        rmtree(self.work)
        os.makedirs(self.work)
        self.trash = Trash(os.path.join(self.work, "trash"))
        # The port the synced registries say they are served at (their mirror's dl), where the
        # sanity check serves the last one: picked now, as `ktra init` writes it.
        self.serve_port = L.free_port()
        self.serve_url = f"http://127.0.0.1:{self.serve_port}"

    def k(self, reg, *args):
        return [self.ktra, "-r", reg, *args]

    def init(self, reg):
        self.trash.discard(reg)
        run([self.ktra, "-q", "init", reg, "--url", self.serve_url, "--name", "bench"])

    def sync_cmd(self, reg, upstream, *what):
        cmd = self.k(reg, "sync-mirror", "--upstream", upstream, *what, "--json")
        if self.a.jobs:
            cmd += ["--jobs", str(self.a.jobs)]
        return cmd

    @staticmethod
    def summary(r):
        """The JSON summary ktra printed on stdout (the last JSON value there), or the text."""
        text = r.stdout.decode(errors="replace").strip()
        try:
            return json.loads(text)
        except ValueError:
            for line in reversed(text.splitlines()):
                try:
                    return json.loads(line)
                except ValueError:
                    continue
        return {"unparsed_stdout": text[-2000:]}

    def check_mirror(self, reg, expected):
        """Every expected crate file is in the mirror and every mirror index file is there."""
        crates = os.path.join(reg, "public", "mirror", "crates")
        missing = [f"{n}-{v}" for n, v in expected
                   if not os.path.exists(os.path.join(crates, f"{n}-{v}.crate"))]
        if missing:
            raise BenchError(
                f"the mirror in {reg} lacks {len(missing)} of {len(expected)} crate files, e.g. "
                + ", ".join(missing[:5]))
        idx = os.path.join(reg, "public", "mirror", "index")
        missing = sorted(n for n in {n for n, _ in expected}
                         if not os.path.exists(os.path.join(idx, bench_run.index_path(n))))
        if missing:
            raise BenchError(f"the mirror in {reg} lacks index files, e.g. {', '.join(missing[:5])}")
        if not os.path.exists(os.path.join(idx, "config.json")):
            raise BenchError(f"the mirror in {reg} has no index/config.json")

    # 1-6 ----------------------------------------------------------------------------------
    def lockfile(self):
        a = self.a
        corpus = Corpus(os.path.join(self.dir, "mirror-corpus")).ensure(rebuild=a.rebuild_corpus)
        self.corpus = corpus
        self.results["corpus"] = dict(corpus.info, dependencies=CORPUS_DEPENDENCIES.count("\n"))
        packages = [(n, v) for n, v, _ in corpus.packages]

        project = os.path.join(self.work, "project")
        os.makedirs(os.path.join(project, "src"))
        for f in ("Cargo.toml", "Cargo.lock", "src/lib.rs"):
            shutil.copy(os.path.join(corpus.project, f), os.path.join(project, f))
        lockfile = os.path.join(project, "Cargo.lock")
        home = os.path.join(self.work, "cargo-home")
        reg = os.path.join(self.work, "reg")

        ng = upstream_nginx(
            os.path.join(self.work, "nginx-up"), corpus.up, os.path.join(self.work, "up-config.json"),
            lambda port: f"http://127.0.0.1:{port}/crates/{{crate}}/{{crate}}-{{version}}.crate",
            a.nginx_workers,
        )
        try:
            upstream = f"sparse+http://127.0.0.1:{ng.port}/index/"
            self.results["upstream"] = {"url": upstream, "nginx_workers": a.nginx_workers,
                                        "nginx_conf": ng.conf_text}
            log(f"upstream: nginx ({a.nginx_workers} workers) serving the corpus at {upstream}")

            def cargo_fetch():
                write_cargo_home(home, upstream, self.trash)
                os.sync()
                t, _ = timed(["cargo", "fetch", "--locked", "--quiet"], cwd=project,
                             env=cargo_env(home), timeout=900)
                got = len(glob.glob(os.path.join(home, "registry", "cache", "*", "*.crate")))
                if got != len(packages):
                    raise BenchError(f"cargo fetch left {got} crate files, expected {len(packages)}")
                return t

            log("warm-up (not counted): one cargo fetch through nginx, so every run reads the "
                "corpus from the page cache")
            cargo_fetch()
            # what cargo fetch writes besides the .crate files: it unpacks every package
            self.results["cargo_home_after_fetch"] = {
                part: dict(zip(("files", "bytes"), tree_size(os.path.join(home, "registry", part))))
                for part in ("cache", "index", "src")
            }

            curl_floor = self.curl_floor(corpus, ng.port, packages)

            log(f"cargo fetch --locked (fresh CARGO_HOME) vs ktra sync-mirror --lockfile (fresh "
                f"registry) and its re-sync, {a.runs} runs, interleaved (order alternating)"
                + ("; plus the curl transfer floor" if curl_floor else ""))
            fetch, first, first_rss, again, again_rss, summaries, floor = [], [], [], [], [], [], []
            what = ("--lockfile", lockfile)
            for i in range(a.runs):
                def ktra_runs():
                    self.init(reg)
                    os.sync()
                    t, kib, r = timed_rss(self.sync_cmd(reg, upstream, *what))
                    first.append(t)
                    first_rss.append(kib)
                    s1 = self.summary(r)
                    self.check_mirror(reg, packages)
                    os.sync()
                    # a re-sync takes a few tens of ms: several per run steady the median, timed
                    # without the /usr/bin/time wrapper; one more gives its peak RSS
                    for _ in range(a.resyncs):
                        t, r = timed(self.sync_cmd(reg, upstream, *what))
                        again.append(t)
                    _, kib, r = timed_rss(self.sync_cmd(reg, upstream, *what))
                    again_rss.append(kib)
                    summaries.append({"first": s1, "again": self.summary(r)})

                if i % 2 == 0:
                    fetch.append(cargo_fetch())
                    ktra_runs()
                else:
                    ktra_runs()
                    fetch.append(cargo_fetch())
                if curl_floor:
                    floor.append(curl_floor())
                log(f"  run {i + 1}: cargo fetch {fetch[-1]:.2f} s, sync {first[-1]:.2f} s "
                    f"({first_rss[-1] / 1024:.0f} MiB), re-sync {median(again[-a.resyncs:]) * 1000:.0f} ms"
                    + (f", curl floor {floor[-1]:.2f} s" if floor else ""))
            self.trash.discard(home)
            self.results["cargo_fetch"] = {"median_s": median(fetch), "samples_s": fetch}
            self.results["first_sync"] = {
                "median_s": median(first),
                "ratio_to_cargo_fetch": median(first) / median(fetch),
                "peak_rss_kib": max(first_rss),
                "samples_s": first,
                "samples_rss_kib": first_rss,
                "summary_last_run": summaries[-1]["first"],
            }
            self.results["resync"] = {
                "median_s": median(again),
                "fraction_of_first_sync": median(again) / median(first),
                "peak_rss_kib": max(again_rss),
                "samples_s": again,
                "samples_rss_kib": again_rss,
                "summary_last_run": summaries[-1]["again"],
            }
            if floor:
                self.results["curl_floor"] = {
                    "median_s": median(floor),
                    "samples_s": floor,
                    "parallel": self.a.jobs or KTRA_DEFAULT_JOBS,
                    "requests": len(packages) + corpus.info["index_files"],
                }
            self.results["mirror_size"] = dict(
                zip(("files", "bytes"), tree_size(os.path.join(reg, "public", "mirror"))))
        finally:
            ng.stop()
        self.sanity(reg, project, packages, upstream)

    def curl_floor(self, corpus, port, packages):
        """Context, not a target: a function timing one `curl --parallel` of the same requests
        (every index file, every crate file) into a fresh folder, as many in flight as ktra's
        jobs, nothing verified or synced: what moving the bytes costs. None without curl."""
        if not shutil.which("curl"):
            log("no curl: the transfer floor is left out")
            return None
        out = os.path.join(self.work, "curl-out")
        cfg = os.path.join(self.work, "curl.cfg")
        base = f"http://127.0.0.1:{port}"
        idx = os.path.join(corpus.up, "index")
        with open(cfg, "w") as f:
            for root, _, names in os.walk(idx):
                for n in names:
                    rel = os.path.relpath(os.path.join(root, n), idx)
                    if rel != "config.json":
                        f.write(f'url = "{base}/index/{rel}"\noutput = "{out}/index-{rel.replace("/", "_")}"\n')
            for name, version in packages:
                f.write(f'url = "{base}/crates/{name}/{name}-{version}.crate"\n'
                        f'output = "{out}/{name}-{version}.crate"\n')
        jobs = str(self.a.jobs or KTRA_DEFAULT_JOBS)

        def once():
            os.makedirs(out)
            os.sync()
            t, _ = timed(["curl", "--silent", "--show-error", "--fail", "--parallel",
                          "--parallel-max", jobs, "--config", cfg], timeout=600)
            self.trash.discard(out)
            return t

        once()  # warm-up
        return once

    def sanity(self, reg, project, packages, upstream):
        """Not timed: the upstream is down (nginx stopped above); the synced registry's public/
        served by python3 -m http.server must be enough for cargo fetch --locked."""
        mirror = f"sparse+{self.serve_url}/mirror/index/"
        log(f"sanity check: upstream stopped; cargo fetch --locked from the mirror at {mirror}")
        res = {"mirror_url": mirror}
        home = os.path.join(self.work, "cargo-home-sanity")
        write_cargo_home(home, mirror, self.trash)
        try:
            with HttpServer(os.path.join(reg, "public"), self.serve_port):
                t, _ = timed(["cargo", "fetch", "--locked"], cwd=project, env=cargo_env(home), timeout=900)
            got = len(glob.glob(os.path.join(home, "registry", "cache", "*", "*.crate")))
            res.update(ok=got == len(packages), seconds=t, crate_files=got)
            if got != len(packages):
                res["error"] = f"cargo fetch succeeded but left {got} crate files, expected {len(packages)}"
        except BenchError as e:
            res.update(ok=False, error=str(e)[:6000])
        r = subprocess.run(self.k(reg, "verify"), capture_output=True, timeout=600)
        res["ktra_verify_ok"] = r.returncode == 0
        res["ktra_verify_output"] = (r.stdout + r.stderr).decode(errors="replace")[-3000:]
        # the upstream must really have been down: nothing may listen on its port any more
        res["upstream_was_down"] = not port_open(int(upstream.rsplit(":", 1)[1].split("/")[0]))
        if not res["ok"]:
            log("!!!!!! SANITY CHECK FAILED: cargo fetch through the mirror did not work !!!!!!")
            log(res["error"])
        if not res["ktra_verify_ok"]:
            log("!!!!!! ktra verify of the synced registry FAILED !!!!!!\n" + res["ktra_verify_output"])
        self.trash.discard(home)
        self.results["sanity"] = res

    # 7 ------------------------------------------------------------------------------------
    def full(self):
        a = self.a
        synth_reg, info = bench_run.cached_synth_registry(self)
        self.results["synth_registry"] = info
        git = os.path.join(synth_reg, "public", "index.git")
        if not os.path.isdir(git):
            raise BenchError(f"the synthetic registry has no git index at {git}")
        with open(os.path.join(synth_reg, "public", "index", "config.json")) as f:
            dl = json.load(f)["dl"]
        if not dl.startswith(bench_run.SYNTH_URL):
            raise BenchError(f"unexpected dl in the synthetic registry's config.json: {dl}")
        reg = os.path.join(self.work, "reg-full")
        ng = upstream_nginx(
            os.path.join(self.work, "nginx-full"), os.path.join(synth_reg, "public"),
            os.path.join(self.work, "full-config.json"),
            lambda port: f"http://127.0.0.1:{port}/" + dl[len(bench_run.SYNTH_URL):],
            a.nginx_workers,
        )
        res = {"versions": info["versions"], "crates": info["crates"]}
        try:
            upstream = f"sparse+http://127.0.0.1:{ng.port}/index/"
            what = ("--all", "--upstream-git", f"file://{git}")
            res["command"] = " ".join(self.sync_cmd("REG", upstream, *what))
            log(f"full mirror: ktra sync-mirror --all of the {info['versions']:,}-version registry "
                f"served by nginx at {upstream}")
            self.init(reg)
            os.sync()
            t, kib, r = timed_rss(self.sync_cmd(reg, upstream, *what), timeout=3600)
            res.update(seconds=t, peak_rss_kib=kib, summary=self.summary(r))
            log(f"  {t:.1f} s, peak RSS {kib / 1024:.1f} MiB; checking the mirror")
            names = synth.random_names(bench_run.SYNTH_CRATES, 1)
            self.check_mirror(reg, [(n, v) for n in names for v in synth.VERSIONS])
            res["mirror_files"], res["mirror_bytes"] = tree_size(os.path.join(reg, "public", "mirror"))
            os.sync()
            log("  re-sync of the full mirror, nothing changed (context)")
            t, kib, r = timed_rss(self.sync_cmd(reg, upstream, *what), timeout=3600)
            res.update(resync_seconds=t, resync_peak_rss_kib=kib, resync_summary=self.summary(r))
            log(f"  {t:.1f} s, peak RSS {kib / 1024:.1f} MiB")
        finally:
            ng.stop()
            self.trash.discard(reg)
        self.results["full"] = res


def port_open(port):
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# the report -----------------------------------------------------------------------------------


def ok(cond):
    return "✅ met" if cond else "❌ missed"


def secs(s):
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s" if s < 10 else f"{s:.1f} s"


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def scalars(d):
    """The top-level numbers and strings of a JSON summary, for the notes."""
    if not isinstance(d, dict):
        return str(d)[:300]
    parts = []
    for k, v in d.items():
        if isinstance(v, float):
            parts.append(f"{k} {v:.3f}")
        elif isinstance(v, (int, bool)) or (isinstance(v, str) and len(v) <= 80 and "\n" not in v):
            parts.append(f"{k} {v}")
        elif isinstance(v, list):
            parts.append(f"{k}: {len(v)}")
    return ", ".join(parts)[:600]


def table(r, meta):
    out = [f"### ktra sync-mirror benchmark, {meta['date']}", ""]
    out.append(f"- Machine: {meta['machine']}")
    out.append(f"- ktra: {meta['ktra_version']}, commit {meta['git']}; {meta['cargo_version']}; {meta['nginx_version']}")
    c = r.get("corpus")
    if c:
        out.append(
            f"- Corpus: a project with {c['dependencies']} popular dependencies resolved and fetched by cargo: "
            f"{c['packages']} packages, {c['crate_bytes'] / MiB:.1f} MiB of .crate files; upstream index "
            f"{c['index_files']} full index files ({c['index_lines']:,} versions, {c['index_bytes'] / MiB:.1f} MiB), "
            f"built {c['built']}"
        )
        out.append(
            f"- Upstream: nginx, `worker_processes {r['upstream']['nginx_workers']}`, static files (ETag and "
            f"Last-Modified on, `sendfile on`), 127.0.0.1. Medians of {r['runs']} runs, interleaved, wall time "
            f"with process start, `sync` before each, page cache warm (re-sync: {r['resyncs']} right after each "
            f"first sync, median of all); ktra's default `--jobs`"
            + (f" overridden: `--jobs {r['jobs']}`" if r.get("jobs") else "")
        )
    out.append("")
    out.append("| # | Measure | Result | Target | |")
    out.append("|---|---|---|---|---|")
    if c:
        fe, fs, rs = r["cargo_fetch"], r["first_sync"], r["resync"]
        out.append(f"| 1 | Corpus | {c['packages']} packages, {c['crate_bytes'] / 1e6:.1f} MB | ~500 | |")
        out.append(f"| 3 | `cargo fetch --locked`, fresh CARGO_HOME, from the upstream | {secs(fe['median_s'])} | | |")
        out.append(f"| 4 | `ktra sync-mirror --lockfile`, fresh registry | {secs(fs['median_s'])} | | |")
        out.append(
            f"| 4 | First sync ÷ cargo fetch | {fs['ratio_to_cargo_fetch']:.2f}× | ≤ 0.7× | "
            f"{ok(fs['ratio_to_cargo_fetch'] <= 0.7)} |"
        )
        cf = r.get("curl_floor")
        if cf:
            out.append(
                f"| 4 | (context) transfer floor: one `curl --parallel --parallel-max {cf['parallel']}` of the same "
                f"{cf['requests']} files, no checks, no fsync | {secs(cf['median_s'])} "
                f"(first sync = {fs['median_s'] / cf['median_s']:.2f}× this) | | |"
            )
        out.append(f"| 4 | Peak RSS, first sync | {mib(fs['peak_rss_kib'])} | | |")
        out.append(
            f"| 5 | Re-sync, nothing changed | {secs(rs['median_s'])} = "
            f"{rs['fraction_of_first_sync'] * 100:.1f} % of the first sync | ≤ 5 % | "
            f"{ok(rs['fraction_of_first_sync'] <= 0.05)} |"
        )
        out.append(f"| 5 | Peak RSS, re-sync | {mib(rs['peak_rss_kib'])} | | |")
        sa = r["sanity"]
        out.append(
            f"| 6 | Sanity: upstream down, `cargo fetch --locked` through the mirror (`python3 -m http.server`) | "
            + (f"succeeded, {sa['crate_files']} crate files" if sa["ok"] else "**FAILED**")
            + f" | must succeed | {'✅ ok' if sa['ok'] and sa['upstream_was_down'] else '❌ FAILED'} |"
        )
        out.append(
            f"| 6 | `ktra verify` of the synced registry | {'clean' if sa['ktra_verify_ok'] else '**FAILED**'} | clean | "
            f"{'✅ ok' if sa['ktra_verify_ok'] else '❌ FAILED'} |"
        )
    fu = r.get("full")
    if fu:
        out.append(
            f"| 7 | `ktra sync-mirror --all`, {fu['versions']:,} versions ({fu['crates']:,} crates), fresh registry | "
            f"{secs(fu['seconds'])} | | |"
        )
        out.append(
            f"| 7 | Peak RSS, full mirror | {mib(fu['peak_rss_kib'])} | ≤ 100 MiB | "
            f"{ok(fu['peak_rss_kib'] <= 100 * 1024)} |"
        )
        out.append(
            f"| 7 | (context) re-sync of the full mirror, nothing changed | {secs(fu['resync_seconds'])}, "
            f"{mib(fu['resync_peak_rss_kib'])} | | |"
        )
    out += ["", "Notes:", ""]
    out.append(f"- Load average (1 min) at start / end: {meta['loadavg_start']:.2f} / {meta['loadavg_end']:.2f} "
               "(other work on the machine shows here)")
    if c:
        ch = r.get("cargo_home_after_fetch")
        if ch:
            out.append(
                f"- What the baseline writes: `cargo fetch` downloads the .crate files "
                f"({ch['cache']['bytes'] / MiB:.0f} MiB) and index files ({ch['index']['bytes'] / MiB:.0f} MiB) "
                f"and also unpacks every package into registry/src ({ch['src']['files']:,} files, "
                f"{ch['src']['bytes'] / MiB:.0f} MiB); the mirror holds {r['mirror_size']['files']:,} files, "
                f"{r['mirror_size']['bytes'] / MiB:.0f} MiB."
            )
        out.append(
            "- Peak RSS is `/usr/bin/time -f %M` (the largest single process). The cargo fetch and ktra runs "
            "alternate which goes first; one untimed cargo fetch warms the page cache first. Re-syncs are timed "
            "without the `/usr/bin/time` wrapper (their RSS comes from one more wrapped run). Trees are deleted "
            "only after the last timed run (deleting ~27,000 unpacked files right before a run slows every "
            "file creation of the next minute on this ext4 without a journal)."
        )
        out.append(f"- sync-mirror summary, first sync (last run): {scalars(r['first_sync']['summary_last_run'])}")
        out.append(f"- sync-mirror summary, re-sync (last run): {scalars(r['resync']['summary_last_run'])}")
        out.append(
            f"- Samples (s): cargo fetch {', '.join(f'{x:.2f}' for x in r['cargo_fetch']['samples_s'])}; "
            f"sync {', '.join(f'{x:.2f}' for x in r['first_sync']['samples_s'])}; "
            f"re-sync {', '.join(f'{x:.3f}' for x in r['resync']['samples_s'])}"
        )
        if not r["sanity"]["ok"]:
            out.append("- ❌ Sanity check failed:")
            out += ["", "  ```"] + ["  " + l for l in r["sanity"]["error"].splitlines()[:40]] + ["  ```"]
    if fu:
        sy = r["synth_registry"]
        out.append(
            f"- Full mirror upstream: the synthetic registry scripts/bench.sh caches (built {sy['built']} with "
            f"commit {sy['built_with']}), its public/ served by nginx, names from its git index "
            f"(`--upstream-git file://…/public/index.git`); summary: {scalars(fu['summary'])}"
        )
    return "\n".join(out)


def tool_version(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ktra", required=True)
    ap.add_argument("--bench-dir", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=0, help="pass --jobs N to every sync-mirror (0: ktra's default)")
    ap.add_argument("--nginx-workers", type=int, default=2)
    ap.add_argument("--resyncs", type=int, default=5, help="re-syncs timed after each first sync")
    ap.add_argument("--rebuild-corpus", action="store_true")
    ap.add_argument("--skip-full", action="store_true", help="skip the 100,000-version full mirror")
    ap.add_argument("--skip-lockfile", action="store_true", help="skip the corpus measurements (1-6)")
    ap.add_argument("--keep", action="store_true", help="keep BENCH_DIR/mirror-work afterwards")
    a = ap.parse_args()
    if a.runs < 1 or a.resyncs < 1:
        ap.error("--runs and --resyncs must be at least 1")

    # SIGTERM/SIGHUP unwind like Ctrl-C, so every `finally` stops its servers.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _: sys.exit(128 + signum))

    start = time.perf_counter()
    load_start = os.getloadavg()[0]
    b = MirrorBench(a)
    try:
        if not a.skip_lockfile:
            b.lockfile()
        if not a.skip_full:
            b.full()
    except BenchError as e:
        log(f"error: {e}")
        sys.exit(1)
    finally:
        log("deleting the scratch trees")
        if a.keep:
            b.trash.empty()
        else:
            rmtree(b.work)

    meta = {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M %Z").strip(),
        "machine": bench_run.machine(),
        "nproc": os.cpu_count(),
        "ktra_version": tool_version([b.ktra, "--version"]),
        "git": bench_run.git_rev(),
        "cargo_version": tool_version(["cargo", "--version"]),
        "nginx_version": tool_version([L.nginx_binary(), "-v"]),
        "total_s": time.perf_counter() - start,
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg()[0],
    }
    b.results["meta"] = meta
    text = table(b.results, meta)
    b.results["table_markdown"] = text
    path = os.path.join(b.dir, "mirror-results.json")
    with open(path, "w") as f:
        json.dump(b.results, f, indent=2, ensure_ascii=False)
    log(f"done in {meta['total_s']:.0f} s; results in {path}")
    print(text)
    sa = b.results.get("sanity")
    if sa and not (sa["ok"] and sa["ktra_verify_ok"] and sa["upstream_was_down"]):
        log("SANITY CHECK FAILED (see the table)")
        sys.exit(2)


if __name__ == "__main__":
    main()
