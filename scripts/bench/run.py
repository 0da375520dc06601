#!/usr/bin/env python3
"""The ktra benchmark driver (standard library only). Called by scripts/bench.sh.

Measures, against the targets in the performance goals:
  1. the floor: sha256sum of every corpus file + cp -r of the corpus folder + sync
  2. bulk add of the corpus into a fresh registry (time vs the floor, peak RSS)
  3. adding one small crate into an empty registry vs into a 100,000-version registry
  4. verify of the corpus registry vs sha256sum over the same files
  5. index line fidelity: ktra's line vs crates.io's line for every corpus version

Progress goes to stderr; the markdown table goes to stdout; everything (with every sample)
goes to BENCH_DIR/results.json.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import types

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synth  # noqa: E402

# What ktra writes for a dependency on crates.io; crates.io's own lines have no such field.
CRATES_IO_INDEX = "https://github.com/rust-lang/crates.io-index"
# Synthetic registries are initialised with this URL, so a dependency whose registry-index is
# SYNTH_INDEX is a dependency inside the same registry. Nothing is ever served there.
SYNTH_URL = "http://127.0.0.1:1/"
SYNTH_INDEX = "sparse+http://127.0.0.1:1/index/"
SYNTH_CRATES = 20_000
MiB = 1024 * 1024


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    """Runs cmd, raising with its output on failure."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    r = subprocess.run(cmd, **kw)
    if r.returncode != 0:
        raise CommandFailed(cmd, r)
    return r


class CommandFailed(Exception):
    def __init__(self, cmd, r):
        out = b"".join(x for x in (r.stdout, r.stderr) if x).decode(errors="replace")
        self.output = out
        if len(out) > 4000:  # ktra names every failed crate; keep the head
            out = out[:4000] + f"\n... ({len(out) - 4000} more characters)"
        super().__init__(f"command failed ({r.returncode}): {' '.join(map(str, cmd))}\n{out}")


def timed(cmd, **kw):
    """Wall time in seconds of one command, process start included."""
    t0 = time.perf_counter()
    run(cmd, **kw)
    return time.perf_counter() - t0


def timed_cpu(cmd, **kw):
    """(wall seconds, CPU seconds user+sys of the process and its children) of one command."""
    kw.setdefault("stdout", subprocess.DEVNULL)
    kw.setdefault("stderr", subprocess.PIPE)
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, **kw)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read() if p.stderr else b""
    if os.waitstatus_to_exitcode(status) != 0:
        raise CommandFailed(cmd, subprocess.CompletedProcess(cmd, status, b"", err))
    return wall, ru.ru_utime + ru.ru_stime


def timed_rss(cmd):
    """(seconds, peak RSS in KiB) of one command run under /usr/bin/time -f %M."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as f:
        t = timed(["/usr/bin/time", "-f", "%M", "-o", f.name, *cmd])
        return t, int(f.read().strip().splitlines()[-1])


def median(xs):
    return statistics.median(xs)


def rmtree(path):
    if os.path.lexists(path):
        subprocess.run(["rm", "-rf", "--", path], check=True)


class Bench:
    def __init__(self, args):
        self.ktra = os.path.abspath(args.ktra)
        self.corpus = os.path.abspath(args.corpus)
        self.dir = os.path.abspath(args.bench_dir)
        self.work = os.path.join(self.dir, "work")
        self.runs = args.runs
        self.single_runs = args.single_runs
        self.rebuild = args.rebuild
        self.crate_dir = os.path.join(self.corpus, "crates")
        self.crate_files = sorted(
            os.path.join(self.crate_dir, f)
            for f in os.listdir(self.crate_dir)
            if f.endswith(".crate")
        )
        if not self.crate_files:
            raise SystemExit(f"no .crate files in {self.crate_dir}")
        self.corpus_bytes = sum(os.path.getsize(f) for f in self.crate_files)
        self.results = {}
        rmtree(self.work)
        os.makedirs(self.work)

    def ktra_cmd(self, reg, *args):
        return [self.ktra, "-r", reg, *args]

    def init(self, reg, url="http://127.0.0.1:8000/", name="bench", extra=()):
        init_registry(self.ktra, reg, url, name, extra)

    # 1 and 2 ------------------------------------------------------------------------------
    def floor_and_bulk_add(self):
        """Floor, bulk add and (for context) bulk add without git and without the site,
        interleaved run by run so all of them see the same machine conditions. Each run
        writes into new folders, deleted only after the last run: on an ext4 without a
        journal, files created right after many were deleted are slow to create (the inode
        allocator skips recently freed inodes), which would charge each run for the clean-up
        of the one before."""
        log(
            f"floor (sha256sum + cp -r + sync) and bulk add (ktra add of the corpus folder into a "
            f"fresh registry), {self.runs} runs each, interleaved"
        )
        floor, times, cpus, rss, nogit_times, nosite_times, nosite_cpus = [], [], [], [], [], [], []
        made = []
        for i in range(self.runs):
            dest = os.path.join(self.work, f"floor-copy-{i}")
            reg = os.path.join(self.work, f"corpus-reg-{i}")
            nogit = os.path.join(self.work, f"corpus-reg-nogit-{i}")
            nosite = os.path.join(self.work, f"corpus-reg-nosite-{i}")
            made += [dest, reg, nogit, nosite]
            # 1. the floor
            os.sync()
            sha, sha_cpu = timed_cpu(["sha256sum", *self.crate_files])
            cp, cp_cpu = timed_cpu(["cp", "-r", self.crate_dir, dest])
            sy, sy_cpu = timed_cpu(["sync"])
            floor.append(
                {"sha256sum": sha, "cp": cp, "sync": sy, "total": sha + cp + sy,
                 "cpu": sha_cpu + cp_cpu + sy_cpu}
            )
            # 2. bulk add
            self.init(reg)
            os.sync()
            t, kib = timed_rss(self.ktra_cmd(reg, "-q", "add", self.crate_dir))
            times.append(t)
            rss.append(kib)
            # 2, CPU time: one more registry, timed without /usr/bin/time in between
            self.init(reg + "-cpu")
            made.append(reg + "-cpu")
            os.sync()
            cpus.append(timed_cpu(self.ktra_cmd(reg + "-cpu", "-q", "add", self.crate_dir))[1])
            # 2, context only: the same without a git index, and without the site
            self.init(nogit, extra=["--no-git"])
            os.sync()
            nogit_times.append(timed(self.ktra_cmd(nogit, "-q", "add", self.crate_dir)))
            self.init(nosite)
            with open(os.path.join(nosite, "ktra.toml"), "a") as f:
                f.write("\n[site]\nenabled = false\n")
            os.sync()
            t, c = timed_cpu(self.ktra_cmd(nosite, "-q", "add", self.crate_dir))
            nosite_times.append(t)
            nosite_cpus.append(c)
        self.corpus_reg = made[1]  # kept for verify and fidelity
        for path in made:
            if path != self.corpus_reg:
                rmtree(path)
        totals = [s["total"] for s in floor]
        self.results["floor"] = {
            "median_s": median(totals),
            "median_parts_s": {k: median([s[k] for s in floor]) for k in ("sha256sum", "cp", "sync")},
            "median_cpu_s": median([s["cpu"] for s in floor]),
            "samples": floor,
        }
        self.results["bulk_add"] = {
            "median_s": median(times),
            "ratio_to_floor": median(times) / median(totals),
            "median_cpu_s": median(cpus),
            "peak_rss_kib": max(rss),
            "samples_s": times,
            "samples_cpu_s": cpus,
            "samples_rss_kib": rss,
            "rss_note": "bulk add runs are timed under /usr/bin/time -f %M",
            "no_git_median_s": median(nogit_times),
            "no_git_samples_s": nogit_times,
            "no_site_median_s": median(nosite_times),
            "no_site_median_cpu_s": median(nosite_cpus),
            "no_site_samples_s": nosite_times,
        }

    # 3. ---------------------------------------------------------------------------------
    def synth_registry(self):
        """The cached 100,000-version registry: built once, verified on every run."""
        reg, info = cached_synth_registry(self, rebuild=self.rebuild)
        self.results["synth_registry"] = info
        return reg

    def build_synth(self, reg, marker, versions):
        rmtree(reg)
        if os.path.exists(marker):
            os.remove(marker)
        src = os.path.join(self.dir, "synth-src")
        rmtree(src)
        log(f"building the synthetic registry: generating {versions} .crate files (cached afterwards)")
        t0 = time.perf_counter()
        synth.write_registry_set(src, SYNTH_CRATES, SYNTH_INDEX, seed=1)
        gen_s = time.perf_counter() - t0
        log(f"  generated in {gen_s:.1f} s; adding them with one ktra add")
        self.init(reg, url=SYNTH_URL, name="synth")
        os.sync()
        chunked = None
        try:
            add_s, add_rss = timed_rss(self.ktra_cmd(reg, "-q", "add", src))
        except CommandFailed as e:
            # Seen: ktra keeps a file open per crate, so one call with more crates than the
            # open-file limit fails. Record it and build the registry in smaller calls instead.
            first = e.output.strip().splitlines()[:2]
            log("  one bulk add failed: " + " / ".join(first)[:300])
            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            size = max(100, soft * 3 // 4)  # few calls: each call leaves one git pack
            chunked = {"error": " / ".join(first)[:1000], "chunk_files": size, "open_file_limit": soft}
            log(f"  adding them in calls of {size} files instead")
            self.init(reg, url=SYNTH_URL, name="synth")
            files = sorted(os.listdir(src))
            add_s, add_rss, calls = 0.0, 0, 0
            for i in range(0, len(files), size):
                part = os.path.join(self.dir, "synth-part")
                rmtree(part)
                os.makedirs(part)
                for f in files[i : i + size]:
                    os.rename(os.path.join(src, f), os.path.join(part, f))
                t, kib = timed_rss(self.ktra_cmd(reg, "-q", "add", part))
                add_s, add_rss, calls = add_s + t, max(add_rss, kib), calls + 1
                rmtree(part)
            chunked["calls"] = calls
        log(f"  added in {add_s:.1f} s (peak RSS {add_rss / 1024:.0f} MiB); verifying")
        verify_s = timed(self.ktra_cmd(reg, "verify"))
        rmtree(src)
        info = {
            "crates": SYNTH_CRATES,
            "versions": versions,
            "built": datetime.datetime.now().isoformat(timespec="seconds"),
            "built_with": git_rev(),
            "generate_s": gen_s,
            "bulk_add_s": add_s,
            "bulk_add_peak_rss_kib": add_rss,
            "verify_s": verify_s,
            "one_call_failed": chunked,
        }
        with open(marker, "w") as f:
            json.dump(info, f, indent=2)
        return info

    def single_add(self):
        big_cached = self.synth_registry()
        big = os.path.join(self.work, "big-reg")
        log("copying the 100k-version registry (cp -a) so measurements do not grow the cached one")
        t0 = time.perf_counter()
        run(["cp", "-a", big_cached, big])
        copy_s = time.perf_counter() - t0
        empty = os.path.join(self.work, "empty-reg")

        # Fresh names, none colliding with a synthetic crate.
        taken = synth.random_names(SYNTH_CRATES, 1)
        rss_runs = 5
        n = 2 * (self.single_runs + 1 + rss_runs)
        names = iter(synth.random_names(n, 7, taken=taken))
        files_dir = os.path.join(self.work, "single-crates")
        os.makedirs(files_dir)

        def one_crate():
            name = next(names)
            # like half the synthetic crates: a dependency on a crate of the same registry
            return synth.write_crate(files_dir, name, "1.0.0", dep=taken[0], index_url=SYNTH_INDEX)

        # The crate added depends on a crate of the registry (ktra refuses a dependency the
        # registry cannot satisfy), so the "empty" registry holds just that one crate.
        dep_file = synth.write_crate(files_dir, taken[0], "1.0.0")

        def add_empty(rss=False):
            self.init(empty, url=SYNTH_URL, name="synth")
            run(self.ktra_cmd(empty, "-q", "add", dep_file))
            f = one_crate()
            os.sync()
            cmd = self.ktra_cmd(empty, "-q", "add", f)
            return timed_rss(cmd) if rss else timed(cmd)

        def add_big(rss=False):
            f = one_crate()
            os.sync()
            cmd = self.ktra_cmd(big, "-q", "add", f)
            return timed_rss(cmd) if rss else timed(cmd)

        log(f"single add: one new crate per run, {self.single_runs} runs each, interleaved")
        add_empty(), add_big()  # warm-up, not counted
        a, b = [], []
        for _ in range(self.single_runs):
            a.append(add_empty())
            b.append(add_big())
        rss_a = [add_empty(rss=True)[1] for _ in range(rss_runs)]
        rss_b = [add_big(rss=True)[1] for _ in range(rss_runs)]
        log("checking the grown copy with ktra verify")
        run(self.ktra_cmd(big, "verify"))
        log("removing the copy")
        rmtree(big)
        rmtree(empty)
        rmtree(files_dir)
        self.results["single_add"] = {
            "empty_median_s": median(a),
            "big_median_s": median(b),
            "ratio": median(b) / median(a),
            "empty_peak_rss_kib": max(rss_a),
            "big_peak_rss_kib": max(rss_b),
            "big_registry_versions": self.results["synth_registry"]["versions"],
            "copy_big_registry_s": copy_s,
            "empty_samples_s": a,
            "big_samples_s": b,
            "rss_note": f"peak RSS from {rss_runs} extra runs each under /usr/bin/time (timed runs are unwrapped)",
        }

    # 4. ---------------------------------------------------------------------------------
    def verify(self):
        log(f"verify: ktra verify of the corpus registry vs sha256sum of its crate files, {self.runs} runs")
        reg = self.corpus_reg
        cdir = os.path.join(reg, "public", "crates")
        files = sorted(os.path.join(cdir, f) for f in os.listdir(cdir) if f.endswith(".crate"))
        v, s = [], []
        for _ in range(self.runs):
            v.append(timed(self.ktra_cmd(reg, "verify")))
            s.append(timed(["sha256sum", *files], stdout=subprocess.DEVNULL))
        self.results["verify"] = {
            "verify_median_s": median(v),
            "sha256sum_median_s": median(s),
            "ratio": median(v) / median(s),
            "files": len(files),
            "verify_samples_s": v,
            "sha256sum_samples_s": s,
        }

    # 5. ---------------------------------------------------------------------------------
    def fidelity(self):
        log("fidelity: ktra's index lines vs crates.io's")
        index_dir = os.path.join(self.corpus_reg, "public", "index")
        cache = {}

        def ktra_lines(name):
            if name not in cache:
                try:
                    with open(os.path.join(index_dir, index_path(name)), encoding="utf-8") as f:
                        cache[name] = [json.loads(l) for l in f if l.strip()]
                except FileNotFoundError:
                    cache[name] = []
            return cache[name]

        total = equal = missing = 0
        first_diff = None
        with open(os.path.join(self.corpus, "crates-io-lines.jsonl"), encoding="utf-8") as f:
            for raw in f:
                if not raw.strip():
                    continue
                theirs = json.loads(raw)
                total += 1
                mine = next(
                    (l for l in ktra_lines(theirs["name"]) if l.get("vers") == theirs["vers"]),
                    None,
                )
                if mine is None:
                    missing += 1
                    if first_diff is None:
                        first_diff = {"crates_io": compact(strip_theirs(theirs)), "ktra": None}
                    continue
                a, b = compact(strip_mine(mine)), compact(strip_theirs(theirs))
                if a == b:
                    equal += 1
                elif first_diff is None:
                    first_diff = {"crates_io": b, "ktra": a}
        self.results["fidelity"] = {
            "equal": equal,
            "total": total,
            "missing_in_ktra": missing,
            "first_difference": first_diff,
        }


def init_registry(ktra, reg, url="http://127.0.0.1:8000/", name="bench", extra=()):
    """A fresh registry at `reg` (what was there is removed first)."""
    rmtree(reg)
    run([ktra, "-q", "init", reg, "--url", url, "--name", name, *extra])
    # crates.io lets some crates pass its default limits (web-sys has 1727 features): a registry
    # importing them raises the limit, as an operator would.
    with open(os.path.join(reg, "ktra.toml"), "a") as f:
        f.write("\n[limits]\nmax-features = 5000\n")


def ensure_synth_registry(ktra, bench_dir, rebuild=False):
    """cached_synth_registry for callers that have a ktra binary and a folder, not a Bench."""
    return cached_synth_registry(types.SimpleNamespace(ktra=ktra, dir=bench_dir), rebuild)


def cached_synth_registry(bench, rebuild=False):
    """The synthetic registry of SYNTH_CRATES x len(synth.VERSIONS) versions cached in
    bench.dir/synth-100k (shared by every benchmark script): verified with `ktra verify` when
    cached, built by Bench.build_synth when missing, of another shape or not verifying. `bench`
    needs `ktra` and `dir` (a Bench, or anything with those two). Returns (folder, info)."""
    reg = os.path.join(bench.dir, "synth-100k")
    marker = os.path.join(bench.dir, "synth-100k.json")
    versions = SYNTH_CRATES * len(synth.VERSIONS)
    info = None
    if os.path.exists(marker) and os.path.isdir(reg) and not rebuild:
        info = json.load(open(marker))
        if info.get("crates") != SYNTH_CRATES or info.get("versions") != versions:
            info = None
        else:
            log(f"checking the cached {versions:,}-version registry with ktra verify")
            t0 = time.perf_counter()
            r = subprocess.run([bench.ktra, "-r", reg, "verify"], capture_output=True)
            info["verify_s_this_run"] = time.perf_counter() - t0
            if r.returncode != 0:
                log("the cached registry does not verify with this ktra; rebuilding it")
                info = None
    if info is None:
        log("no usable cached registry: building it")
        shim = types.SimpleNamespace(ktra=bench.ktra, dir=bench.dir)
        shim.ktra_cmd = types.MethodType(Bench.ktra_cmd, shim)
        shim.init = types.MethodType(Bench.init, shim)
        info = Bench.build_synth(shim, reg, marker, versions)
    return reg, info


def index_path(name):
    n = name.lower()
    if len(n) == 1:
        return f"1/{n}"
    if len(n) == 2:
        return f"2/{n}"
    if len(n) == 3:
        return f"3/{n[0]}/{n}"
    return f"{n[0:2]}/{n[2:4]}/{n}"


def strip_mine(line):
    line = dict(line)
    line.pop("pubtime", None)
    deps = []
    for d in line.get("deps", []):
        d = dict(d)
        if d.get("registry") == CRATES_IO_INDEX:
            del d["registry"]
        deps.append(d)
    if "deps" in line:
        line["deps"] = deps
    return line


def strip_theirs(line):
    line = dict(line)
    line.pop("pubtime", None)
    return line


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def git_rev():
    # The repository root: pathspecs are relative to the folder git runs in.
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        rev = run(["git", "-C", top, "rev-parse", "--short", "HEAD"]).stdout.decode().strip()
        dirty = run(["git", "-C", top, "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"])
        return rev + ("+uncommitted changes in src" if dirty.stdout.strip() else "")
    except CommandFailed:
        return "unknown"


def machine():
    model = "unknown"
    try:
        for l in open("/proc/cpuinfo"):
            if l.startswith("model name"):
                model = l.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for l in open("/proc/meminfo"):
            if l.startswith("MemTotal"):
                mem = f", {int(l.split()[1]) / 1024 / 1024:.0f} GiB RAM"
    except OSError:
        pass
    return f"{model}, nproc {os.cpu_count()}{mem}, Linux {platform.release()}"


def ok(cond):
    return "✅ met" if cond else "❌ missed"


def ms(s):
    return f"{s * 1000:.1f} ms"


def secs(s):
    return f"{s:.3f} s" if s < 10 else f"{s:.1f} s"


def table(r, meta):
    fl, ba, sa, vf, fi = r["floor"], r["bulk_add"], r["single_add"], r["verify"], r["fidelity"]
    p = fl["median_parts_s"]
    sy = r["synth_registry"]
    out = []
    out.append(f"### ktra benchmark, {meta['date']}")
    out.append("")
    out.append(f"- Machine: {meta['machine']}")
    out.append(f"- ktra: {meta['ktra_version']}, commit {meta['git']}")
    out.append(
        f"- Corpus: {meta['corpus_files']} real .crate files, {meta['corpus_bytes'] / MiB:.1f} MiB; "
        f"synthetic registry: {sy['crates']:,} crates × {len(synth.VERSIONS)} versions = {sy['versions']:,} versions"
    )
    out.append(
        f"- Medians of {meta['runs']} runs (single add: {meta['single_runs']} runs), wall time with process start, "
        "`sync` before each run, page cache warm (caches cannot be dropped here)"
    )
    out.append("")
    out.append("| # | Measure | Result | Target | |")
    out.append("|---|---|---|---|---|")
    out.append(
        f"| 1 | Floor: `sha256sum` + `cp -r` + `sync` of the corpus | {secs(fl['median_s'])} "
        f"(medians of the parts: {secs(p['sha256sum'])} + {secs(p['cp'])} + {secs(p['sync'])}) | | |"
    )
    out.append(f"| 2 | Bulk add of the corpus (`ktra add DIR`, fresh registry) | {secs(ba['median_s'])} | | |")
    out.append(
        f"| 2 | (context) the same into a `--no-git` registry | {secs(ba['no_git_median_s'])} "
        f"({ba['no_git_median_s'] / fl['median_s']:.2f}× floor) | | |"
    )
    out.append(
        f"| 2 | (context) the same with `[site] enabled = false` | {secs(ba['no_site_median_s'])} "
        f"({ba['no_site_median_s'] / fl['median_s']:.2f}× floor) | | |"
    )
    out.append(f"| 2 | Bulk add ÷ floor | {ba['ratio_to_floor']:.3f}× | ≤ 1.5× | {ok(ba['ratio_to_floor'] <= 1.5)} |")
    out.append(
        f"| 2 | CPU time (user + sys): floor / bulk add / site off | {ms(fl['median_cpu_s'])} / "
        f"{ms(ba['median_cpu_s'])} / {ms(ba['no_site_median_cpu_s'])} | | |"
    )
    out.append(
        f"| 2 | Bulk add peak RSS | {ba['peak_rss_kib'] / 1024:.1f} MiB | ≤ 64 MiB | {ok(ba['peak_rss_kib'] <= 64 * 1024)} |"
    )
    out.append(f"| 3 | Add one crate, empty registry | {ms(sa['empty_median_s'])} | | |")
    out.append(
        f"| 3 | Add one crate, {sy['versions']:,}-version registry | {ms(sa['big_median_s'])} | ≤ 15 ms | "
        f"{ok(sa['big_median_s'] <= 0.015)} |"
    )
    out.append(f"| 3 | Ratio big ÷ empty | {sa['ratio']:.3f}× | ≤ 1.2× | {ok(sa['ratio'] <= 1.2)} |")
    out.append(
        f"| 3 | Peak RSS, add one crate (empty / big registry) | {sa['empty_peak_rss_kib'] / 1024:.1f} MiB / "
        f"{sa['big_peak_rss_kib'] / 1024:.1f} MiB | | |"
    )
    out.append(f"| 4 | `ktra verify` of the corpus registry | {secs(vf['verify_median_s'])} | | |")
    out.append(f"| 4 | `sha256sum` of the same {vf['files']} files | {secs(vf['sha256sum_median_s'])} | | |")
    out.append(f"| 4 | Verify ÷ sha256sum | {vf['ratio']:.3f}× | ≤ 1.5× | {ok(vf['ratio'] <= 1.5)} |")
    out.append(
        f"| 5 | Index lines equal to crates.io's (ignoring `pubtime` and ktra's `registry` field on crates.io deps) | {fi['equal']} of {fi['total']} | all | "
        f"{ok(fi['equal'] == fi['total'])} |"
    )
    out.append("")
    ch = sy.get("one_call_failed")
    how = (
        f"by {ch['calls']} `ktra add` calls of {ch['chunk_files']:,} files" if ch else "by one `ktra add`"
    )
    extra = [
        f"100k-version registry: built once in {secs(sy['bulk_add_s'])} {how} "
        f"(peak RSS {sy['bulk_add_peak_rss_kib'] / 1024:.0f} MiB), `ktra verify` {secs(sy['verify_s'])}"
    ]
    if "verify_s_this_run" in sy:
        extra[0] += f" ({secs(sy['verify_s_this_run'])} this run)"
    extra[0] += f"; built {sy['built']} with commit {sy['built_with']}."
    out += ["Notes:", ""] + [f"- {e}" for e in extra]
    if ch:
        out.append(
            f"- ⚠️ Adding all {sy['versions']:,} synthetic files in ONE `ktra add` failed "
            f"(open-file limit {ch['open_file_limit']:,}), so it was built in smaller calls: "
            f"`{ch['error'][:240].replace('`', chr(39))}`"
        )
    out.append(f"- Peak RSS of single adds: {sa['rss_note']}.")
    if fi["first_difference"]:
        d = fi["first_difference"]
        out.append("- First differing index line (after normalisation):")
        out.append("")
        out.append("  ```")
        out.append(f"  crates.io: {d['crates_io']}")
        out.append(f"  ktra:      {d['ktra']}")
        out.append("  ```")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ktra", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--bench-dir", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--single-runs", type=int, default=30)
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached 100k-version registry")
    ap.add_argument("--only", choices=["bulk"], help="only the floor and the bulk add (1 and 2)")
    args = ap.parse_args()

    start = time.perf_counter()
    b = Bench(args)
    b.floor_and_bulk_add()
    if args.only == "bulk":
        rmtree(b.work)
        fl, ba = b.results["floor"], b.results["bulk_add"]
        print(f"floor {secs(fl['median_s'])} (CPU {ms(fl['median_cpu_s'])}); "
              f"bulk add {secs(ba['median_s'])} = {ba['ratio_to_floor']:.2f}x floor "
              f"(CPU {ms(ba['median_cpu_s'])}, peak RSS {ba['peak_rss_kib'] / 1024:.1f} MiB); "
              f"--no-git {secs(ba['no_git_median_s'])}; site off {secs(ba['no_site_median_s'])} = "
              f"{ba['no_site_median_s'] / fl['median_s']:.2f}x floor (CPU {ms(ba['no_site_median_cpu_s'])}); "
              f"{args.runs} runs, wall samples floor {[round(x['total'], 3) for x in fl['samples']]}, "
              f"add {[round(x, 3) for x in ba['samples_s']]}")
        return
    b.single_add()
    b.verify()
    b.fidelity()
    rmtree(b.work)

    meta = {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M %Z").strip(),
        "machine": machine(),
        "nproc": os.cpu_count(),
        "ktra_version": run([b.ktra, "--version"]).stdout.decode().strip(),
        "git": git_rev(),
        "corpus_files": len(b.crate_files),
        "corpus_bytes": b.corpus_bytes,
        "runs": args.runs,
        "single_runs": args.single_runs,
        "total_s": time.perf_counter() - start,
    }
    b.results["meta"] = meta
    text = table(b.results, meta)
    b.results["table_markdown"] = text
    path = os.path.join(b.dir, "results.json")
    with open(path, "w") as f:
        json.dump(b.results, f, indent=2, ensure_ascii=False)
    log(f"done in {meta['total_s']:.0f} s; results in {path}")
    print(text)


if __name__ == "__main__":
    main()
