#!/usr/bin/env python3
"""The state-backend benchmark driver (issue 13 item 9; standard library only). Called by
scripts/bench-state.sh, which documents the environment variables.

Measures, with real servers on 127.0.0.1 (scripts/bench/state_servers.py: PostgreSQL and
MariaDB durable):
  1. token lookup latency per backend: `ktra state check --samples N`, parsed from its one line
     (`token lookup: p50 ... ms, p99 ... ms, max ... ms (N samples) on ...`), several runs;
     beside it, the token check as a receiver does it (`GET /api/ktra/check-read` of a private
     registry: token record + user record), one client on one keep-alive connection
  2. bounded connection pools: 32 clients at once on that endpoint while the receiver's open
     connections to the database are counted (from /proc), and its peak RSS
  3. a publish at 100,000 versions: the same registry copied twice, one with the state folder,
     one with `[state] url = postgres://...`; real `cargo publish` of N new versions of one
     crate with a big index file into each, interleaved, timed each; the same again as bare
     API publishes (the server's own share); where a PostgreSQL publish spends its statements
     (PostgreSQL's statement log, switched on for a few publishes after the timed ones); the
     peak RSS (VmHWM) of each `ktra serve` after the publishes

Progress goes to stderr; a markdown report goes to stdout; everything (every sample) goes to
BENCH_DIR/state-results.json.
"""

import argparse
import datetime
import http.client
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench_run  # noqa: E402  (SYNTH_URL, SYNTH_INDEX, machine)
import serve_lib as L  # noqa: E402  (publish bodies, PUT, /proc helpers)
import state_servers as S  # noqa: E402
import synth  # noqa: E402

TARGET = "statebench-target"  # the crate published; it has a big index file already
LOGIN = "bench"
CHECK_PATH = "/api/ktra/check-read"
LINE = re.compile(
    r"^token lookup: p50 ([0-9.]+) ms, p99 ([0-9.]+) ms, max ([0-9.]+) ms \((\d+) samples\) on (.+)$", re.M
)


def parse_line(text):
    """The figures of `ktra state check --samples N`'s line in `text`, or None."""
    m = LINE.search(text)
    if not m:
        return None
    return {"p50_ms": float(m[1]), "p99_ms": float(m[2]), "max_ms": float(m[3]), "samples": int(m[4]),
            "on": m[5], "line": m[0]}


def log(msg):
    print(f"[bench-state {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


def run(cmd, env=None, cwd=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise BenchError(f"command failed ({r.returncode}): {' '.join(cmd)}\n{(r.stdout + r.stderr)[-3000:]}")
    return r


def rmtree(path):
    if os.path.lexists(path):
        subprocess.run(["rm", "-rf", "--", path], check=True)


def median(xs):
    return statistics.median(xs) if xs else None


def nearest_rank(xs, p):
    s = sorted(xs)
    k = max(1, -(-p * len(s) // 100))
    return s[k - 1]


def summary_ms(seconds):
    ms = [x * 1000 for x in seconds]
    return {"p50": nearest_rank(ms, 50), "p90": nearest_rank(ms, 90), "p99": nearest_rank(ms, 99),
            "max": max(ms), "median": median(ms), "n": len(ms)}


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def clean_env(state_url=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KTRA_", "CARGO_REGISTRIES_", "CARGO_REGISTRY_"))}
    if state_url:
        env["KTRA_STATE_URL"] = state_url
    return env


def without_password(url):
    return re.sub(r"://([^:/@]+):[^@/]*@", r"://\1@", url)


def db_connections(pid, port):
    """Established TCP connections of process `pid` to 127.0.0.1:`port`."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
        n = 0
        for table in ("tcp", "tcp6"):
            with open(f"/proc/{pid}/net/{table}") as f:
                next(f)
                for line in f:
                    p = line.split()
                    if p[3] == "01" and int(p[2].rsplit(":", 1)[1], 16) == port and p[9] in inodes:
                        n += 1
        return n
    except OSError:
        return None


def tcp_counters(pid, port):
    """data_segs_out / data_segs_in summed over `pid`'s connections to `port` (ss -ti)."""
    r = subprocess.run(["ss", "-Htinp", "state", "established", "dst", f"127.0.0.1:{port}"],
                       capture_output=True, text=True)
    out = {"connections": 0, "data_segs_out": 0, "data_segs_in": 0}
    lines = r.stdout.splitlines()
    i = 0
    while i < len(lines):
        head = lines[i]
        info = lines[i + 1] if i + 1 < len(lines) and not lines[i + 1].startswith(("ESTAB", "tcp")) else ""
        i += 2 if info else 1
        text = head + " " + info
        if f"pid={pid}," not in text:
            continue
        out["connections"] += 1
        for key in ("data_segs_out", "data_segs_in"):
            m = re.search(key + r":(\d+)", text)
            if m:
                out[key] += int(m.group(1))
    return out


class Serve:
    """`ktra -r REG serve --listen 127.0.0.1:PORT` with its own environment and log file."""

    def __init__(self, ktra, reg, port, env, log_path):
        self.port, self.log_path = port, log_path
        self.proc = subprocess.Popen([ktra, "-r", reg, "serve", "--listen", f"127.0.0.1:{port}"], env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(log_path, "wb"))
        self.pid = self.proc.pid
        if not L.wait_port(port, self.proc, 30):
            self.stop()
            raise BenchError(f"ktra serve did not start on {reg}:\n{open(log_path).read()[-3000:]}")

    def check_alive(self):
        if self.proc.poll() is not None:
            raise BenchError(f"ktra serve exited ({self.proc.returncode}):\n{open(self.log_path).read()[-3000:]}")

    def status_kib(self, field):
        return L.proc_status_kib(self.pid, field)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class StateBench:
    def __init__(self, a):
        self.a = a
        self.dir = os.path.abspath(a.bench_dir)
        self.work = os.path.join(self.dir, "state-work")
        rmtree(self.work)
        os.makedirs(self.work)
        # A private copy: a rebuild during the run changes nothing measured.
        self.ktra = os.path.join(self.work, "ktra")
        shutil.copy2(a.ktra, self.ktra)
        self.check_bin = os.path.abspath(a.check_bin) if a.check_bin else self.ktra
        self.results = {"load_at_start": loadavg()}
        self.servers = []
        self.serves = []

    def k(self, reg, *args, url=None):
        return run([self.ktra, "-r", reg, *args], env=clean_env(url))

    # servers ------------------------------------------------------------------------------------
    def start_servers(self):
        parent = os.path.join(self.work, "servers")
        os.makedirs(parent)
        log("starting PostgreSQL (durable), MariaDB (flush at commit), Redis (AOF everysec), nx-27017")
        self.pg = S.Postgres(parent)
        self.servers.append(self.pg.server)
        for db in ("tokencheck", "publish"):
            self.pg.sql(f"CREATE DATABASE {db}")
        self.maria = S.MariaDb(parent)
        self.servers.append(self.maria.server)
        self.redis = S.Redis(parent)
        self.servers.append(self.redis.server)
        self.mongo = S.Mongo(parent)
        self.servers.append(self.mongo.server)
        self.results["servers"] = {
            "postgres": {"version": self.pg.version, "settings": self.pg.settings()},
            "mariadb": {"version": self.maria.version, "innodb_flush_log_at_trx_commit": 1},
            "redis": {"version": self.redis.version, "appendonly": "yes", "appendfsync": "everysec"},
            "mongo": {"version": self.mongo.version},
        }

    def stop_all(self):
        for s in self.serves:
            s.stop()
        for s in self.servers:
            s.stop()

    # 1 and 2: token checks ----------------------------------------------------------------------
    def backends(self):
        return [
            ("files", "the state folder", None, None),
            ("postgres", "PostgreSQL", self.pg.url("tokencheck"), self.pg.server.port),
            ("mariadb", "MariaDB", self.maria.url(), self.maria.server.port),
            ("redis", "Redis", self.redis.url(0), self.redis.server.port),
            ("mongo", "MongoDB (nx-27017)", self.mongo.url("tokencheck"), self.mongo.server.port),
        ]

    def token_checks(self):
        out = {}
        for key, label, url, port in self.backends():
            try:
                out[key] = self.token_check(key, label, url, port)
            except BenchError as e:
                # One backend that cannot be measured (a bug, a missing command) is reported
                # as such; the others still are.
                log(f"  {label}: not measured: {str(e).strip().splitlines()[-1]}")
                out[key] = {"label": label, "runs": [], "error": str(e), "http": None}
        self.results["token_checks"] = out

    def token_check(self, key, label, url, port):
        reg = os.path.join(self.work, f"tc-{key}")
        init = [self.ktra, "-q", "init", reg, "--url", bench_run.SYNTH_URL, "--name", "tc"]
        run(init + (["--state", url] if url else []), env=clean_env())
        res = {"label": label, "runs": [], "error": None}
        log(f"token lookup, {label}: `state check --samples {self.a.samples}` x {self.a.runs}")
        for _ in range(self.a.runs):
            r = subprocess.run([self.check_bin, "-r", reg, "state", "check", "--samples", str(self.a.samples)],
                               capture_output=True, text=True, env=clean_env(url))
            parsed = parse_line(r.stdout)
            if r.returncode != 0 or not parsed:
                text = (r.stdout + r.stderr).strip()
                if "unrecognized subcommand" in text:
                    text = "this ktra has no `state check --samples` (STATE_CHECK_BIN names one that has)"
                res["error"] = text[-600:]
                log(f"  no figure: {res['error'].splitlines()[0] if res['error'] else r.returncode}")
                break
            parsed["stderr"] = r.stderr.strip()[-500:]
            res["runs"].append(parsed)
            log(f"  {parsed['line']}")
        res["http"] = self.http_checks(reg, url, port, key)
        return res

    def http_checks(self, reg, url, port, key):
        """The receiver's token check: a private registry's check endpoint, sequentially on one
        keep-alive connection, then from 32 clients at once (counting database connections)."""
        with open(os.path.join(reg, "ktra.toml")) as f:
            text = f.read()
        text, n = re.subn(r"(?m)^auth-required = false$", "auth-required = true", text)
        if n != 1:
            text = "auth-required = true\n" + text  # a top-level key: before any table
        with open(os.path.join(reg, "ktra.toml"), "w") as f:
            f.write(text)
        self.k(reg, "-q", "user", "add", LOGIN, url=url)
        token = self.k(reg, "-q", "token", "create", LOGIN, "--name", "bench", url=url).stdout.strip()
        srv = Serve(self.ktra, reg, L.free_port(), clean_env(url), os.path.join(self.work, f"serve-tc-{key}.log"))
        self.serves.append(srv)
        headers = {"Authorization": token}
        try:
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
            times = []
            for i in range(self.a.http_warmup + self.a.http_samples):
                t0 = time.perf_counter()
                conn.request("GET", CHECK_PATH, headers=headers)
                resp = conn.getresponse()
                resp.read()
                took = time.perf_counter() - t0
                if resp.status != 204:
                    raise BenchError(f"{CHECK_PATH} answered {resp.status} on {key}")
                if i >= self.a.http_warmup:
                    times.append(took)
            conn.close()
            seq = summary_ms(times)
            log(f"  receiver token check, one client: p50 {seq['p50']:.3f} ms, p99 {seq['p99']:.3f} ms, "
                f"max {seq['max']:.3f} ms ({seq['n']})")
            conc = self.concurrent_checks(srv, headers, port)
            log(f"  {self.a.clients} clients: {conc['requests_per_s']:.0f} checks/s, p99 {conc['p99_ms']:.2f} ms, "
                f"database connections at most {conc['max_db_connections']}, VmHWM {conc['vmhwm_kib'] / 1024:.1f} MiB")
            srv.check_alive()
            return {"sequential_ms": seq, "concurrent": conc}
        finally:
            srv.stop()
            self.serves.remove(srv)

    def concurrent_checks(self, srv, headers, db_port):
        clients, each = self.a.clients, self.a.requests_each
        lat, errors = [], []
        barrier = threading.Barrier(clients + 1)
        done = threading.Event()

        def client():
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
            mine = []
            barrier.wait()
            try:
                for _ in range(each):
                    t0 = time.perf_counter()
                    conn.request("GET", CHECK_PATH, headers=headers)
                    resp = conn.getresponse()
                    resp.read()
                    mine.append(time.perf_counter() - t0)
                    if resp.status != 204:
                        errors.append(resp.status)
            except OSError as e:
                errors.append(str(e))
            finally:
                conn.close()
            lat.extend(mine)

        counts = []

        def sampler():
            while not done.is_set():
                if db_port:
                    n = db_connections(srv.pid, db_port)
                    if n is not None:
                        counts.append(n)
                time.sleep(0.005)

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for t in threads:
            t.start()
        st = threading.Thread(target=sampler)
        st.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        done.set()
        st.join()
        return {"clients": clients, "requests": len(lat), "errors": errors[:5], "error_count": len(errors),
                "wall_s": wall, "requests_per_s": len(lat) / wall, "p50_ms": nearest_rank(lat, 50) * 1000,
                "p99_ms": nearest_rank(lat, 99) * 1000,
                "max_db_connections": max(counts) if counts else None,
                "db_connections_after": db_connections(srv.pid, db_port) if db_port else None,
                "connection_samples": len(counts), "vmhwm_kib": srv.status_kib("VmHWM"),
                "threads": len(os.listdir(f"/proc/{srv.pid}/task"))}

    # 3: publish at 100,000 versions -------------------------------------------------------------
    def fixture(self):
        """The 100,000-version registry, cached in BENCH_DIR/state-100k: 19,800 synthetic crates x 5
        versions (scripts/bench/synth.py, as scripts/bench.sh fills its own) plus TARGET with
        1,000 versions, so that the crate published has a big index file too. One `ktra add`."""
        reg = os.path.join(self.dir, "state-100k")
        marker = reg + ".json"
        spec = {"crates": 19_800, "versions_each": len(synth.VERSIONS), "target": TARGET,
                "target_versions": 1000, "layout": 1}
        if os.path.isdir(reg) and os.path.exists(marker) and not self.a.rebuild:
            info = json.load(open(marker))
            if all(info.get(k) == v for k, v in spec.items()):
                log(f"using the cached 100,000-version registry {reg}")
                return reg, info
        rmtree(reg)
        if os.path.exists(marker):
            os.remove(marker)
        src = os.path.join(self.dir, "state-100k-src")
        rmtree(src)
        log("generating 99,000 synthetic .crate files and 1,000 versions of the crate published")
        t0 = time.perf_counter()
        names = synth.write_registry_set(src, spec["crates"], bench_run.SYNTH_INDEX, seed=1)
        if synth.canonical(TARGET) in {synth.canonical(n) for n in names}:
            raise BenchError(f"{TARGET} collides with a synthetic name")
        for i in range(spec["target_versions"]):
            synth.write_crate(src, TARGET, f"0.1.{i}")
        gen_s = time.perf_counter() - t0
        run([self.ktra, "-q", "init", reg, "--url", bench_run.SYNTH_URL, "--name", "synth"], env=clean_env())
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # one add of 100,000 files
        log("adding them with one ktra add")
        t0 = time.perf_counter()
        run([self.ktra, "-q", "-r", reg, "add", src], env=clean_env())
        add_s = time.perf_counter() - t0
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        rmtree(src)
        info = dict(spec, built=datetime.datetime.now().isoformat(timespec="seconds"),
                    generate_s=gen_s, add_s=add_s)
        with open(marker, "w") as f:
            json.dump(info, f, indent=2)
        log(f"  added in {add_s:.0f} s")
        return reg, info

    def count_versions(self, reg):
        total, target = 0, 0
        index = os.path.join(reg, "public", "index")
        for root, _, files in os.walk(index):
            for name in files:
                if name == "config.json" or root == index:
                    continue
                with open(os.path.join(root, name), "rb") as f:
                    n = sum(1 for line in f if line.strip())
                total += n
                if name == TARGET:
                    target = n
        return total, target

    def prepare(self, fixture, kind):
        reg = os.path.join(self.work, f"pub-{kind}")
        t0 = time.perf_counter()
        run(["cp", "-a", fixture, reg])
        copy_s = time.perf_counter() - t0
        url = None
        if kind == "postgres":
            url = self.pg.url("publish")
            with open(os.path.join(reg, "ktra.toml"), "a") as f:
                f.write(f'\n[state]\nurl = "{without_password(url)}"\n')
            self.migrate(reg, url)
        port = L.free_port()
        base = f"http://127.0.0.1:{port}"
        self.k(reg, "-q", "set-url", base, "--api", base, url=url)
        self.k(reg, "-q", "user", "add", LOGIN, url=url)
        token = self.k(reg, "-q", "token", "create", LOGIN, "--name", "bench", url=url).stdout.strip()
        self.k(reg, "-q", "owner", "add", TARGET, LOGIN, url=url)
        return {"reg": reg, "url": url, "port": port, "token": token, "copy_s": copy_s}

    def migrate(self, reg, url):
        """`ktra state migrate`; a ktra without it migrates the database with `ktra init --state`."""
        r = subprocess.run([self.ktra, "-r", reg, "state", "migrate"], capture_output=True, text=True,
                           env=clean_env(url))
        if r.returncode == 0:
            self.results["migrated_with"] = "ktra state migrate"
            return
        log("  this ktra has no `state migrate`: migrating with `ktra init --state` of a scratch registry")
        scratch = os.path.join(self.work, "migrate-scratch")
        run([self.ktra, "-q", "init", scratch, "--url", bench_run.SYNTH_URL, "--name", "m", "--state", url],
            env=clean_env())
        rmtree(scratch)
        self.results["migrated_with"] = "ktra init --state (a scratch registry)"

    def publish(self):
        self.disk_sync()
        fixture, info = self.fixture()
        total, target = self.count_versions(fixture)
        log(f"the registry holds {total:,} versions; {TARGET} has {target:,}")
        if total != 100_000:
            raise BenchError(f"the fixture holds {total} versions, not 100,000")
        regs = {}
        for kind in ("files", "postgres"):
            log(f"copying it for the {kind} state (cp -a), user, token and owner with the CLI")
            regs[kind] = self.prepare(fixture, kind)
        index_bytes = os.path.getsize(os.path.join(regs["files"]["reg"], "public", "index",
                                                   bench_run.index_path(TARGET)))
        crate_dir = os.path.join(self.work, "crate")
        os.makedirs(os.path.join(crate_dir, "src"))
        with open(os.path.join(crate_dir, "src", "lib.rs"), "w") as f:
            f.write("//! A crate published by scripts/bench-state.sh.\npub fn f() -> u32 { 1 }\n")
        home = os.path.join(self.work, "cargo-home")
        os.makedirs(home)
        with open(os.path.join(home, "config.toml"), "w") as f:
            for kind, r in regs.items():
                f.write(f'[registries.{kind}]\nindex = "sparse+http://127.0.0.1:{r["port"]}/index/"\n')
        serves = {}
        for kind, r in regs.items():
            serves[kind] = Serve(self.ktra, r["reg"], r["port"], clean_env(r["url"]),
                                 os.path.join(self.work, f"serve-pub-{kind}.log"))
            self.serves.append(serves[kind])

        def cargo_publish(kind, version):
            with open(os.path.join(crate_dir, "Cargo.toml"), "w") as f:
                f.write(f'[package]\nname = "{TARGET}"\nversion = "{version}"\nedition = "2021"\n'
                        f'description = "benchmark"\nlicense = "MIT"\n')
            env = clean_env()
            env.update({"CARGO_HOME": home, "CARGO_TARGET_DIR": os.path.join(self.work, "cargo-target"),
                        "CARGO_TERM_COLOR": "never", "CARGO_TERM_PROGRESS_WHEN": "never",
                        f"CARGO_REGISTRIES_{kind.upper()}_TOKEN": regs[kind]["token"]})
            t0 = time.perf_counter()
            run(["cargo", "publish", "--registry", kind, "--allow-dirty", "--no-verify"], env=env, cwd=crate_dir)
            return time.perf_counter() - t0

        def api_publish(kind, version):
            body = L.publish_body(TARGET, version, synth.crate_bytes(TARGET, version))
            status, data, secs = L.put(regs[kind]["port"], "/api/v1/crates/new", body, regs[kind]["token"])
            if status != 200:
                raise BenchError(f"API publish of {TARGET}@{version} ({kind}): {status} {data[:300]!r}")
            return secs

        n, w = self.a.publishes, self.a.publish_warmup
        times = {"cargo": {"files": [], "postgres": []}, "api": {"files": [], "postgres": []}}
        for how, fn, major in (("cargo", cargo_publish, 2), ("api", api_publish, 3)):
            log(f"{how}: {w} warm-up + {n} timed publishes of {TARGET} into each registry, interleaved")
            for i in range(w + n):
                order = ["files", "postgres"] if i % 2 == 0 else ["postgres", "files"]
                for kind in order:
                    secs = fn(kind, f"{major}.{0 if i < w else 1}.{i}")
                    if i >= w:
                        times[how][kind].append(secs)
            for kind in times[how]:
                s = summary_ms(times[how][kind])
                log(f"  {kind:8}: median {s['median']:.1f} ms, p90 {s['p90']:.1f} ms")
        for s in serves.values():
            s.check_alive()
        rss = {kind: {"vmhwm_kib": s.status_kib("VmHWM"), "vmrss_kib": s.status_kib("VmRSS")}
               for kind, s in serves.items()}
        profile = self.profile(serves["postgres"], api_publish)
        total_after, target_after = self.count_versions(regs["files"]["reg"])
        for s in serves.values():
            s.stop()
            self.serves.remove(s)
        res = {"fixture": info, "versions_before": total, "target_versions_before": target,
               "target_index_bytes": index_bytes, "target_versions_after_files": target_after,
               "copy_s": {k: r["copy_s"] for k, r in regs.items()}, "rss": rss, "profile": profile}
        for how in times:
            f, p = summary_ms(times[how]["files"]), summary_ms(times[how]["postgres"])
            res[how] = {"files": f, "postgres": p, "ratio_median": p["median"] / f["median"],
                        "ratio_p90": p["p90"] / f["p90"],
                        "samples_ms": {k: [x * 1000 for x in v] for k, v in times[how].items()}}
        self.results["publish"] = res
        if not self.a.keep:
            log("removing the two copies")
            for r in regs.values():
                rmtree(r["reg"])

    def profile(self, srv, api_publish):
        """A few more API publishes into the PostgreSQL registry with PostgreSQL's statement log on
        (every statement with its duration, by database) and the receiver's TCP segments to the
        server counted (ss): the state round trips of one publish and where their time goes."""
        pg, port = self.pg, self.pg.server.port
        pg.sql("ALTER SYSTEM SET log_min_duration_statement = 0")
        pg.sql("ALTER SYSTEM SET log_line_prefix = '%m [%p] db=%d '")
        pg.sql("ALTER SYSTEM SET track_wal_io_timing = on")
        pg.sql("SELECT pg_reload_conf()")
        # Idle backends report their statistics within 10 s (PGSTAT_IDLE_INTERVAL).
        time.sleep(11)
        wal_before = self.wal_stats()
        per = []
        try:
            for i in range(self.a.profile_publishes):
                start = pg.server.log_size()
                before = tcp_counters(srv.pid, port)
                secs = api_publish("postgres", f"4.0.{i}")
                time.sleep(0.2)  # the audit append follows the response
                after = tcp_counters(srv.pid, port)
                per.append({"seconds": secs, "log": pg.server.log_text(start),
                            "segs_out": after["data_segs_out"] - before["data_segs_out"],
                            "segs_in": after["data_segs_in"] - before["data_segs_in"],
                            "connections": after["connections"]})
            time.sleep(11)
            wal_after = self.wal_stats()
        finally:
            pg.sql("ALTER SYSTEM RESET log_min_duration_statement")
            pg.sql("ALTER SYSTEM RESET log_line_prefix")
            pg.sql("ALTER SYSTEM RESET track_wal_io_timing")
            pg.sql("SELECT pg_reload_conf()")
        n = len(per) or 1
        wal = {k: (wal_after[k] - wal_before[k]) / n for k in wal_before}
        stmt = re.compile(r"db=publish .*?duration: ([0-9.]+) ms\s+(execute [^:]*|statement|parse [^:]*|bind [^:]*):\s*(.*)")
        out = []
        for p in per:
            kinds = {}
            for m in stmt.finditer(p["log"]):
                phase, sql = m[2].split()[0], " ".join(m[3].split())
                if phase not in ("execute", "statement"):
                    continue
                what = classify(sql)
                k = kinds.setdefault(what, {"count": 0, "server_ms": 0.0})
                k["count"] += 1
                k["server_ms"] += float(m[1])
            out.append({"round_trip_ms": p["seconds"] * 1000, "statements": kinds,
                        "statement_count": sum(k["count"] for k in kinds.values()),
                        "server_ms": sum(k["server_ms"] for k in kinds.values()),
                        "tcp_data_segments_to_server": p["segs_out"],
                        "tcp_data_segments_from_server": p["segs_in"], "connections": p["connections"]})
        return {"publishes": out, "wal_per_publish": wal}

    def wal_stats(self):
        row = self.pg.sql("SELECT wal_records, wal_write, wal_sync, wal_sync_time, wal_write_time FROM pg_stat_wal")
        keys = ["wal_records", "wal_write", "wal_sync", "wal_sync_time_ms", "wal_write_time_ms"]
        return dict(zip(keys, (float(x) for x in row.split("|"))))

    def disk_sync(self):
        """What one durable write costs on this disk: 8 KiB written and fdatasync'd, 200 times,
        in the scratch folder (where the registries and the servers' data are)."""
        path = os.path.join(self.work, "fdatasync-probe")
        times = []
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            block = os.urandom(8192)
            for i in range(200):
                os.pwrite(fd, block, (i % 16) * 8192)
                t0 = time.perf_counter()
                os.fdatasync(fd)
                times.append(time.perf_counter() - t0)
        finally:
            os.close(fd)
            os.remove(path)
        self.results["disk_fdatasync_ms"] = summary_ms(times)
        log(f"fdatasync of 8 KiB in {self.work}: p50 {self.results['disk_fdatasync_ms']['p50']:.2f} ms, "
            f"p99 {self.results['disk_fdatasync_ms']['p99']:.2f} ms")


def classify(sql):
    s = sql.lower()
    if "from ktra_records where record_key" in s and s.startswith("select"):
        return "get"
    if s.startswith("insert into ktra_records"):
        return "put (absent)"
    if s.startswith("update ktra_records"):
        return "put (version)"
    if s.startswith("insert into ktra_audit"):
        return "audit append"
    if s.startswith("delete from ktra_records"):
        return "remove"
    if "ktra_schema" in s:
        return "schema"
    return "other: " + sql[:60]


# report ---------------------------------------------------------------------------------------


def ok(cond):
    return "met" if cond else "MISSED"


def report(r, meta):
    out = [f"### State backends benchmark, {meta['date']}", ""]
    out.append(f"- Machine: {meta['machine']}; load average {r['load_at_start']} at the start, "
               f"{meta['load_at_end']} at the end")
    out.append(f"- ktra: {meta['ktra_version']} built from {meta['tree']}; `state check` by "
               f"{meta['check_bin']}")
    sv = r["servers"]
    pgs = sv["postgres"]["settings"]
    out.append(f"- Servers on 127.0.0.1: {sv['postgres']['version']} (fsync={pgs['fsync']}, "
               f"synchronous_commit={pgs['synchronous_commit']}, full_page_writes={pgs['full_page_writes']}, "
               f"wal_sync_method={pgs['wal_sync_method']}); {sv['mariadb']['version'].split(' for ')[0]} "
               f"(innodb_flush_log_at_trx_commit=1); {sv['redis']['version'].split(' sha=')[0]} "
               f"(appendonly, appendfsync everysec); {sv['mongo']['version']}")
    out.append("")
    tc = r.get("token_checks", {})
    if tc:
        out.append("| Backend | token lookup p50 / p99 / max, each run (`state check`) | receiver token check, "
                   "one client p50 / p99 | 32 clients: checks/s, p99, DB connections at most, VmHWM |")
        out.append("|---|---|---|---|")
        for key, t in tc.items():
            runs = "; ".join(f"{x['p50_ms']:.3f} / {x['p99_ms']:.3f} / {x['max_ms']:.3f} ms" for x in t["runs"]) \
                or f"not measured: {(t['error'] or '').splitlines()[-1] if t['error'] else '?'}"
            h = t["http"]
            if not h:
                out.append(f"| {t['label']} | {runs} | - | - |")
                continue
            seq, c = h["sequential_ms"], h["concurrent"]
            conns = "-" if c["max_db_connections"] is None else str(c["max_db_connections"])
            out.append(f"| {t['label']} | {runs} | {seq['p50']:.3f} / {seq['p99']:.3f} ms | "
                       f"{c['requests_per_s']:,.0f}/s, {c['p99_ms']:.2f} ms, {conns}, "
                       f"{c['vmhwm_kib'] / 1024:.1f} MiB |")
        out.append("")
        for key in ("postgres", "redis"):
            t = tc.get(key)
            if t and t["runs"]:
                worst = max(x["p99_ms"] for x in t["runs"])
                out.append(f"- Target token check p99 ≤ 1 ms, {t['label']}: worst run p99 {worst:.3f} ms: "
                           f"{ok(worst <= 1.0)}")
            elif t:
                out.append(f"- Target token check p99 ≤ 1 ms, {t['label']}: not judged (no lookup figures)")
        out.append("")
    p = r.get("publish")
    if p:
        out.append(f"Publish into {p['versions_before']:,} versions; `{TARGET}` already has "
                   f"{p['target_versions_before']:,} versions (index file {p['target_index_bytes'] / 1024:.0f} KiB); "
                   f"{p['cargo']['files']['n']} timed publishes each, file and PostgreSQL interleaved:")
        out.append("")
        out.append("| Publish | file state median (p90) | PostgreSQL state median (p90) | ratio of medians (p90s) | Target |")
        out.append("|---|---|---|---|---|")
        for how, label in (("cargo", "real `cargo publish --no-verify` (wall time)"),
                           ("api", "the API call alone (client round trip)")):
            x = p[how]
            target = f"≤ 1.5×: {ok(x['ratio_median'] <= 1.5)}" if how == "cargo" else "(context)"
            out.append(f"| {label} | {x['files']['median']:.1f} ms ({x['files']['p90']:.1f}) | "
                       f"{x['postgres']['median']:.1f} ms ({x['postgres']['p90']:.1f}) | "
                       f"{x['ratio_median']:.2f}× ({x['ratio_p90']:.2f}×) | {target} |")
        out.append("")
        rss = p["rss"]
        out.append(f"- Receiver peak RSS (VmHWM) after the publishes: file state "
                   f"{rss['files']['vmhwm_kib'] / 1024:.1f} MiB, PostgreSQL state {rss['postgres']['vmhwm_kib'] / 1024:.1f} MiB")
        prof = p["profile"]["publishes"]
        wal = p["profile"]["wal_per_publish"]
        if prof:
            counts = sorted({(k, v["count"]) for x in prof for k, v in x["statements"].items()})
            out.append(f"- One publish with PostgreSQL state ({len(prof)} profiled): statements "
                       f"{', '.join(f'{k} ×{c}' for k, c in counts)}; "
                       f"{median([x['server_ms'] for x in prof]):.2f} ms of statement time in the server (median); "
                       f"{median([x['tcp_data_segments_to_server'] for x in prof]):.0f} TCP data segments sent to "
                       f"the server (statements and the pool's pings); per publish {wal['wal_sync']:.1f} WAL "
                       f"syncs taking {wal['wal_sync_time_ms']:.2f} ms in all (pg_stat_wal)")
        d = r.get("disk_fdatasync_ms")
        if d:
            out.append(f"- One fdatasync of 8 KiB on this disk: p50 {d['p50']:.2f} ms, p99 {d['p99']:.2f} ms "
                       f"(what a durable commit, or the file state's synced audit line, pays)")
        out.append("")
    out.append(f"Total run time: {meta['total_s']:.0f} s.")
    return "\n".join(out)


def main():
    if sys.argv[1:] == ["--parse-line"]:
        # The parser alone, for the test suite: stdin in, the figures as JSON out.
        parsed = parse_line(sys.stdin.read())
        if not parsed:
            sys.exit("error: no `token lookup: p50 ... ms, p99 ... ms, max ... ms (N samples) on ...` line")
        print(json.dumps(parsed, sort_keys=True))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--ktra", required=True)
    ap.add_argument("--check-bin", help="the binary run as `BIN -r REG state check --samples N`")
    ap.add_argument("--bench-dir", required=True)
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--http-samples", type=int, default=2000)
    ap.add_argument("--http-warmup", type=int, default=200)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--requests-each", type=int, default=100)
    ap.add_argument("--publishes", type=int, default=20)
    ap.add_argument("--publish-warmup", type=int, default=2)
    ap.add_argument("--profile-publishes", type=int, default=5)
    ap.add_argument("--only", choices=["tokens", "publish"])
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()

    started = time.perf_counter()
    b = StateBench(a)
    version = run([b.ktra, "--version"]).stdout.strip()

    def stop(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    # The servers stop on any way out: an error, Ctrl-C, SIGTERM (and, should this process be
    # killed outright, by their supervisors, whose stdin it holds).
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    try:
        b.start_servers()
        if a.only in (None, "tokens"):
            b.token_checks()
        if a.only in (None, "publish"):
            b.publish()
    finally:
        b.stop_all()
        if not a.keep:
            log(f"removing {b.work}")
            rmtree(b.work)
    meta = {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "machine": bench_run.machine(),
        "load_at_end": loadavg(),
        "ktra_version": version,
        "tree": bench_run.git_rev(),
        "check_bin": "this ktra" if b.check_bin == b.ktra else a.check_bin,
        "args": vars(a),
        "total_s": time.perf_counter() - started,
    }
    b.results["meta"] = meta
    text = report(b.results, meta)
    b.results["report_markdown"] = text
    path = os.path.join(b.dir, "state-results.json")
    with open(path, "w") as f:
        json.dump(b.results, f, indent=2, ensure_ascii=False)
    log(f"done in {meta['total_s']:.0f} s; results in {path}")
    print(text)


if __name__ == "__main__":
    try:
        main()
    except (BenchError, S.ServerError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
