#!/usr/bin/env python3
"""The `ktra serve` benchmark driver (standard library only). Called by scripts/bench-serve.sh.

Measures, against the targets of the server issue:
  1. index file requests per second from `ktra serve` vs nginx (configured by
     `ktra nginx-config`) serving the same public/ folder: wrk, same concurrency, interleaved
  2. publish of a 1 MiB crate over the API into the 100,000-version registry (client round trip
     on loopback), with the empty registry and a malformed-body request (transfer floor) beside it
  3. 16 concurrent publishers of one crate: every version in the index, `ktra verify` clean,
     no error but genuine conflicts, peak RSS of the server

Progress goes to stderr; the markdown table goes to stdout; everything (with every sample) goes
to BENCH_DIR/serve-results.json.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench_run  # noqa: E402  (constants and the builder of the cached registry)
import serve_lib as L  # noqa: E402
import synth  # noqa: E402

MiB = L.MiB
PUBLISH = "/api/v1/crates/new"
LOGIN = "bench"


def log(msg):
    print(f"[bench-serve {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs) if xs else None


def pct(xs, p):
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise L.BenchError(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r


def rmtree(path):
    if os.path.lexists(path):
        subprocess.run(["rm", "-rf", "--", path], check=True)


class ServeBench:
    def __init__(self, a):
        self.a = a
        self.dir = os.path.abspath(a.bench_dir)
        self.work = os.path.join(self.dir, "serve-work")
        self.results = {}
        rmtree(self.work)
        os.makedirs(self.work)
        # Run a private copy: a rebuild of target/release/ktra during the run cannot change
        # what is measured.
        src = os.path.abspath(a.ktra)
        self.ktra = os.path.join(self.work, "ktra")
        shutil.copy2(src, self.ktra)
        with open(self.ktra, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        self.binary = {
            "path": src,
            "given": a.binary_given,
            "sha256": digest,
            "mtime": datetime.datetime.fromtimestamp(os.path.getmtime(src)).astimezone().isoformat(timespec="seconds"),
            "tree_at_start": git_rev(),
            "version": run([self.ktra, "--version"]).stdout.strip(),
        }
        self.synth_names = synth.random_names(bench_run.SYNTH_CRATES, 1)  # names in the cache
        # fresh names, none colliding with a synthetic crate (nor with run.py's seed-7 names)
        self._fresh = iter(synth.random_names(5000, 11, taken=self.synth_names))

    def k(self, reg, *args):
        return [self.ktra, "-r", reg, *args]

    def fresh_name(self):
        return next(self._fresh)

    # the registries -------------------------------------------------------------------------
    def cached_registry(self):
        """The 100,000-version registry scripts/bench.sh caches: verified, or built the same way
        (by scripts/bench/run.py's own builder) when missing or broken."""
        reg, info = bench_run.cached_synth_registry(self)
        self.results["synth_registry"] = info
        return reg

    def setup(self):
        cached = self.cached_registry()
        self.big = os.path.join(self.work, "big")
        log("copying it (cp -a) so publishing does not grow the cached one")
        t0 = time.perf_counter()
        run(["cp", "-a", cached, self.big])
        self.results["copy_big_registry_s"] = time.perf_counter() - t0
        self.empty = os.path.join(self.work, "empty")
        run([self.ktra, "-q", "init", self.empty, "--url", bench_run.SYNTH_URL, "--name", "synth"])
        self.tokens = {}
        for reg in (self.big, self.empty):
            run(self.k(reg, "-q", "user", "add", LOGIN))
            n = 1 + (self.a.publishers if reg == self.big else 0)
            self.tokens[reg] = [
                run(self.k(reg, "-q", "token", "create", LOGIN, "--name", f"bench{i}")).stdout.strip()
                for i in range(n)
            ]

    # 1. files: ktra serve vs nginx ------------------------------------------------------------
    def files(self):
        a = self.a
        name = self.synth_names[0]
        index_rel = "index/" + bench_run.index_path(name)
        if not os.path.isfile(os.path.join(self.big, "public", index_rel)):
            raise L.BenchError(f"{index_rel} is missing from the registry")
        paths = {"index file": "/" + index_rel, "config.json": "/index/config.json"}
        out = {"paths": paths, "wrk": f"-t{a.wrk_threads} -c{a.wrk_connections} -d{a.wrk_seconds}s",
               "nginx_workers": a.nginx_workers, "rounds": a.rounds}
        with L.KtraServe(self.ktra, self.big) as ks, L.Nginx(
            self.ktra, self.big, os.path.join(self.work, "nginx"), ks.port, workers=a.nginx_workers
        ) as ng:
            servers = {"ktra": ks, "nginx": ng}
            out["nginx_conf"] = ng.conf_text
            # the same bytes from both, 200
            for label, path in paths.items():
                bodies = {}
                for sname, s in servers.items():
                    status, body, _ = L.get(s.port, path)
                    if status != 200:
                        raise L.BenchError(f"{sname} answered {status} for {path}")
                    bodies[sname] = body
                if bodies["ktra"] != bodies["nginx"]:
                    raise L.BenchError(f"ktra and nginx serve different bytes for {path}")
                out.setdefault("bytes", {})[label] = len(bodies["ktra"])

            log("sequential GETs of the index file on one keep-alive connection (diagnostic)")
            out["keepalive_sequential_ms"] = {
                sname: [x * 1000 for x in keepalive_series(s.port, paths["index file"], 20)]
                for sname, s in servers.items()
            }
            for sname, s in servers.items():  # warm-up, not counted
                L.wrk(f"http://127.0.0.1:{s.port}{paths['index file']}", a.wrk_threads, a.wrk_connections, 1)

            samples = {label: {"ktra": [], "nginx": []} for label in paths}
            closed = {"ktra": [], "nginx": []}
            total = a.rounds * (len(paths) + 1) * 2
            log(f"wrk {out['wrk']}: {a.rounds} rounds x (index file, config.json, index file with "
                f"Connection: close) x (ktra, nginx), interleaved, ~{total * a.wrk_seconds} s")
            for r in range(a.rounds):
                order = ["ktra", "nginx"] if r % 2 == 0 else ["nginx", "ktra"]
                for label, path in list(paths.items()) + [("close", paths["index file"])]:
                    for sname in order:
                        s = servers[sname]
                        ks.check_alive()
                        cpu0 = L.cpu_seconds(s.pids())
                        res = L.wrk(f"http://127.0.0.1:{s.port}{path}", a.wrk_threads, a.wrk_connections,
                                    a.wrk_seconds, close=(label == "close"))
                        res["server_cpu_s"] = L.cpu_seconds(s.pids()) - cpu0
                        res["server_cpu_us_per_request"] = (
                            res["server_cpu_s"] / res["requests"] * 1e6 if res["requests"] else None
                        )
                        res["round"] = r
                        (closed[sname] if label == "close" else samples[label][sname]).append(res)
                        if res["non_2xx_3xx"] or res["socket_errors"]:
                            log(f"  ! {sname} {label}: {res['non_2xx_3xx']} non-2xx/3xx, "
                                f"{res['socket_errors']} socket errors")
                        log(f"  round {r + 1} {label:11} {sname:5} {res['rps']:>10,.0f} req/s  "
                            f"p50 {res['latency_p50_s'] * 1000:.2f} ms  server CPU "
                            f"{res['server_cpu_us_per_request']:.1f} us/req")

        def summary(per):
            k, n = per["ktra"], per["nginx"]
            mk, mn = median([x["rps"] for x in k]), median([x["rps"] for x in n])
            return {
                "ktra_median_rps": mk,
                "nginx_median_rps": mn,
                "ratio": mk / mn,
                "ratio_per_round": [x["rps"] / y["rps"] for x, y in zip(k, n)],
                "ktra_median_p50_ms": median([x["latency_p50_s"] * 1000 for x in k]),
                "nginx_median_p50_ms": median([x["latency_p50_s"] * 1000 for x in n]),
                "ktra_cpu_us_per_request": median([x["server_cpu_us_per_request"] for x in k]),
                "nginx_cpu_us_per_request": median([x["server_cpu_us_per_request"] for x in n]),
                "ktra_cpu_busy_fraction": median([x["server_cpu_s"] / x["duration_s"] for x in k]),
                "nginx_cpu_busy_fraction": median([x["server_cpu_s"] / x["duration_s"] for x in n]),
                "errors": sum(x["non_2xx_3xx"] + x["socket_errors"] for x in k + n),
                "samples": per,
            }

        out["results"] = {label: summary(per) for label, per in samples.items()}
        out["results_connection_close"] = summary(closed)
        self.results["files"] = out

    # 2. publish of a 1 MiB crate --------------------------------------------------------------
    def publish_one(self):
        a = self.a
        n = a.publish_runs + a.publish_warmup
        log(f"building {2 * n} crates of about 1 MiB (random payload, so gzip cannot shrink them)")
        size = MiB - 1024  # tar headers, padding and gzip framing bring the .crate to about 1 MiB
        jobs = {"empty": [], "big": []}
        for kind in jobs:
            for _ in range(n):
                name = self.fresh_name()
                crate = L.crate_with_payload(name, "1.0.0", os.urandom(size))
                jobs[kind].append((name, L.publish_body(name, "1.0.0", crate), len(crate)))
        crate_sizes = [j[2] for js in jobs.values() for j in js]
        # the floor: the same size of body, refused as malformed (400) once fully read and parsed,
        # before any token check, disk access or registry work
        floor_body = jobs["big"][0][1] + b"\0"

        def check(kind, status, data, name):
            if status != 200:
                raise L.BenchError(f"publish of {name} into the {kind} registry: {status} {data[:500]!r}")

        with L.KtraServe(self.ktra, self.empty) as se, L.KtraServe(self.ktra, self.big) as sb:
            srv = {"empty": (se, self.tokens[self.empty][0]), "big": (sb, self.tokens[self.big][0])}
            for i in range(a.publish_warmup):  # warm-up, not counted
                for kind, (s, tok) in srv.items():
                    name, body, _ = jobs[kind][i]
                    status, data, _ = L.put(s.port, PUBLISH, body, tok)
                    check(kind, status, data, name)
                L.put(sb.port, PUBLISH, floor_body, srv["big"][1])
            log(f"publish: {a.publish_runs} new 1 MiB crates each into the empty and the "
                f"{self.results['synth_registry']['versions']:,}-version registry, plus the "
                f"malformed-body floor, interleaved")
            t = {"empty": [], "big": [], "floor": []}
            for i in range(a.publish_runs):
                kinds = ["empty", "big", "floor"]
                kinds = kinds[i % 3:] + kinds[: i % 3]
                for kind in kinds:
                    if kind == "floor":
                        status, data, secs = L.put(sb.port, PUBLISH, floor_body, srv["big"][1])
                        if status != 400:
                            raise L.BenchError(f"the malformed body got {status}: {data[:300]!r}")
                    else:
                        s, tok = srv[kind]
                        name, body, _ = jobs[kind][a.publish_warmup + i]
                        status, data, secs = L.put(s.port, PUBLISH, body, tok)
                        check(kind, status, data, name)
                    t[kind].append(secs)
            se.check_alive()
            sb.check_alive()
            hwm = {k: L.proc_status_kib(s.pid, "VmHWM") for k, (s, _) in srv.items()}
        self.results["publish"] = {
            "crate_bytes_median": median(crate_sizes),
            "crate_bytes_min": min(crate_sizes),
            "crate_bytes_max": max(crate_sizes),
            "runs": a.publish_runs,
            "warmup": a.publish_warmup,
            "big_median_ms": median(t["big"]) * 1000,
            "big_p90_ms": pct(t["big"], 90) * 1000,
            "empty_median_ms": median(t["empty"]) * 1000,
            "empty_p90_ms": pct(t["empty"], 90) * 1000,
            "floor_median_ms": median(t["floor"]) * 1000,
            "big_minus_floor_ms": (median(t["big"]) - median(t["floor"])) * 1000,
            "samples_ms": {k: [x * 1000 for x in v] for k, v in t.items()},
            "server_vmhwm_kib": hwm,
            "note": "client round trip on loopback: connect, send the whole body, wait for the response "
                    "(a new connection per request); floor = the same size of body refused as malformed (400) "
                    "after the server has read and parsed all of it",
        }

    # 3. concurrent publishers -------------------------------------------------------------------
    def concurrent(self):
        a = self.a
        cases = [
            ("distinct", "distinct versions, small crates", False, 0),
            ("distinct-1mib", "distinct versions, 1 MiB crates", False, MiB - 1024),
            ("overlap", "all race for the same versions, small crates", True, 0),
        ]
        out = {}
        for key, title, overlap, payload_size in cases:
            name = self.fresh_name()
            payload = os.urandom(payload_size) if payload_size else b""
            plan = []  # per publisher: [(version, body)]
            cache = {}
            for p in range(a.publishers):
                vs = [f"1.0.{v}" for v in range(a.versions_each)] if overlap else \
                     [f"0.{p}.{v}" for v in range(a.versions_each)]
                row = []
                for v in vs:
                    if v not in cache:
                        cache[v] = L.publish_body(name, v, L.crate_with_payload(name, v, payload))
                    row.append((v, cache[v]))
                plan.append(row)
            expected = sorted(cache)
            log(f"concurrent publish ({title}): {a.publishers} publishers x {a.versions_each} "
                f"versions of `{name}`, a fresh ktra serve on the big registry")
            out[key] = self.concurrent_case(name, plan, expected, overlap)
            out[key]["title"] = title
            out[key]["crate_bytes"] = len(L.crate_with_payload(name, "0.0.0", payload))
            del plan, cache
        log("ktra verify of the grown registry")
        t0 = time.perf_counter()
        r = subprocess.run(self.k(self.big, "verify"), capture_output=True, text=True)
        verify = {"ok": r.returncode == 0, "seconds": time.perf_counter() - t0,
                  "output_tail": (r.stdout + r.stderr)[-2000:]}
        self.results["concurrent"] = {"cases": out, "verify": verify}

    def concurrent_case(self, name, plan, expected, overlap):
        tokens = self.tokens[self.big][1:]
        results = [[] for _ in plan]
        barrier = threading.Barrier(len(plan) + 1)

        def publisher(p):
            tok = tokens[p % len(tokens)]
            barrier.wait()
            for v, body in plan[p]:
                try:
                    status, data, secs = L.put(port, PUBLISH, body, tok)
                except OSError as e:
                    status, data, secs = None, str(e).encode(), None
                results[p].append((v, status, data[:300].decode(errors="replace"), secs))

        with L.KtraServe(self.ktra, self.big) as s:
            port = s.port
            idle_kib = L.proc_status_kib(s.pid, "VmRSS")
            threads = [threading.Thread(target=publisher, args=(p,)) for p in range(len(plan))]
            for t in threads:
                t.start()
            with L.RssSampler(s.pid, 0.01) as sampler:
                barrier.wait()
                t0 = time.perf_counter()
                for t in threads:
                    t.join()
                wall = time.perf_counter() - t0
            s.check_alive()
            hwm = L.proc_status_kib(s.pid, "VmHWM")
            threads_now = len(os.listdir(f"/proc/{s.pid}/task"))
        flat = [r for rs in results for r in rs]
        ok = [r for r in flat if r[1] == 200]
        conflicts = [r for r in flat if r[1] == 409]
        others = [r for r in flat if r[1] not in (200, 409)]
        # a 409 is genuine only if that version was really published (by someone else)
        won = {}
        for v, *_ in ok:
            won[v] = won.get(v, 0) + 1
        false_conflicts = [r for r in conflicts if not overlap or won.get(r[0], 0) != 1]
        # what the index says
        path = os.path.join(self.big, "public", "index", bench_run.index_path(name))
        lines = []
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                lines = [json.loads(l) for l in f if l.strip()]
        in_index = [l["vers"] for l in lines]
        lat = [r[3] * 1000 for r in ok if r[3] is not None]
        return {
            "crate": name,
            "requests": len(flat),
            "expected_versions": len(expected),
            "status_200": len(ok),
            "status_409": len(conflicts),
            "other_errors": len(others),
            "other_error_examples": [list(r[:3]) for r in others[:5]],
            "false_conflicts": len(false_conflicts),
            "false_conflict_examples": [list(r[:3]) for r in false_conflicts[:5]],
            "versions_won_more_than_once": sorted(v for v, c in won.items() if c > 1),
            "index_lines": len(lines),
            "index_complete": sorted(in_index) == sorted(expected) and len(in_index) == len(set(in_index)),
            "missing_in_index": sorted(set(expected) - set(in_index))[:20],
            "wall_s": wall,
            "publishes_per_s": len(ok) / wall if wall else None,
            "requests_per_s": len(flat) / wall if wall else None,
            "latency_ms_median": median(lat),
            "latency_ms_p95": pct(lat, 95),
            "latency_ms_max": max(lat) if lat else None,
            "idle_rss_kib": idle_kib,
            "peak_rss_sampled_kib": sampler.peak_kib,
            "rss_samples": sampler.samples,
            "vmhwm_kib": hwm,
            "server_threads_after": threads_now,
        }


def keepalive_series(port, path, n):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    out = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            out.append(time.perf_counter() - t0)
    finally:
        conn.close()
    return out


# report -------------------------------------------------------------------------------------


def machine():
    model, mem = "unknown", ""
    try:
        model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        kib = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
        mem = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration):
        pass
    return f"{model}, nproc {os.cpu_count()}{mem}, Linux {platform.release()}"


def git_rev():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        rev = run(["git", "-C", root, "rev-parse", "--short", "HEAD"]).stdout.strip()
        dirty = run(["git", "-C", root, "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"])
        return rev + ("+uncommitted changes in src" if dirty.stdout.strip() else "")
    except L.BenchError:
        return "unknown"


def ok(cond):
    return "✅ met" if cond else "❌ missed"


def size(n):
    if n < 10 * 1024:
        return f"{n:,} B"
    return f"{n / 1024:,.0f} KiB" if n < MiB else f"{n / MiB:.2f} MiB"


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def table(r, meta):
    f, p, c = r["files"], r["publish"], r["concurrent"]
    sy = r["synth_registry"]
    out = [f"### ktra serve benchmark, {meta['date']}", ""]
    out.append(f"- Machine: {meta['machine']}")
    bi = meta["binary"]
    built = (f"the binary given by KTRA_BIN ({bi['path']})" if bi["given"]
             else f"built from this tree, commit {bi['tree_at_start']} at the start")
    out.append(
        f"- ktra: {meta['ktra_version']}, {built}; sha256 {bi['sha256'][:12]}, modified {bi['mtime']}; "
        f"{meta['nginx_version']}; {meta['wrk_version']}"
    )
    out.append(
        f"- Everything on 127.0.0.1 of the same machine. `ktra serve`: one single-threaded loop per "
        f"core ({os.cpu_count()}); nginx: master + `worker_processes {f['nginx_workers']}`, "
        f"`access_log off`, the server block of `ktra nginx-config`; wrk `{f['wrk']}` (keep-alive) "
        f"runs on the same cores. {f['rounds']} rounds, ktra/nginx interleaved (order alternating), medians."
    )
    out.append(f"- Registry served and published into: a copy of the synthetic {sy['versions']:,}-version registry.")
    out.append("")
    out.append("| # | Measure | Result | Target | |")
    out.append("|---|---|---|---|---|")
    for label, s in f["results"].items():
        out.append(
            f"| 1 | {label} (`{f['paths'][label]}`, {f['bytes'][label]} B): req/s ktra / nginx | "
            f"{s['ktra_median_rps']:,.0f} / {s['nginx_median_rps']:,.0f} = **{s['ratio']:.3f}×** "
            f"(rounds: {', '.join(f'{x:.3f}' for x in s['ratio_per_round'])}) | ≥ 0.9× | {ok(s['ratio'] >= 0.9)} |"
        )
    s = f["results"]["index file"]
    out.append(
        f"| 1 | (context) index file latency p50 under load, ktra / nginx | "
        f"{s['ktra_median_p50_ms']:.2f} ms / {s['nginx_median_p50_ms']:.2f} ms | | |"
    )
    out.append(
        f"| 1 | (context) server CPU per index request, ktra / nginx; CPU busy | "
        f"{s['ktra_cpu_us_per_request']:.1f} µs / {s['nginx_cpu_us_per_request']:.1f} µs; "
        f"{s['ktra_cpu_busy_fraction']:.2f} / {s['nginx_cpu_busy_fraction']:.2f} cores | | |"
    )
    ka = f["keepalive_sequential_ms"]
    out.append(
        f"| 1 | (context) one client, 20 sequential GETs on one keep-alive connection, median "
        f"(first request) ktra / nginx | {median(ka['ktra']):.2f} ms ({ka['ktra'][0]:.2f}) / "
        f"{median(ka['nginx']):.2f} ms ({ka['nginx'][0]:.2f}) | | |"
    )
    cc = f["results_connection_close"]
    out.append(
        f"| 1 | (context) index file with `Connection: close` (new connection per request): req/s ktra / nginx | "
        f"{cc['ktra_median_rps']:,.0f} / {cc['nginx_median_rps']:,.0f} = {cc['ratio']:.3f}× "
        f"(CPU {cc['ktra_cpu_us_per_request']:.1f} / {cc['nginx_cpu_us_per_request']:.1f} µs/req) | | |"
    )
    out.append(
        f"| 2 | Publish a {size(int(p['crate_bytes_median']))} ({int(p['crate_bytes_median']):,} B) crate into the {sy['versions']:,}-version "
        f"registry: client round trip, median of {p['runs']} (p90) | **{p['big_median_ms']:.1f} ms** "
        f"({p['big_p90_ms']:.1f}) | ≤ 20 ms | {ok(p['big_median_ms'] <= 20)} |"
    )
    out.append(
        f"| 2 | (context) the same into an empty registry | {p['empty_median_ms']:.1f} ms "
        f"({p['empty_p90_ms']:.1f}) | | |"
    )
    out.append(
        f"| 2 | (context) floor: the same size of body refused as malformed after it is read (400) | "
        f"{p['floor_median_ms']:.1f} ms; big − floor ≈ {p['big_minus_floor_ms']:.1f} ms inside the server | | |"
    )
    for key, cs in c["cases"].items():
        label = f"{cs['title']} ({size(cs['crate_bytes'])} crates)"
        complete = cs["index_complete"] and c["verify"]["ok"]
        out.append(
            f"| 3 | {label}: versions in the index / expected; `ktra verify` | "
            f"{cs['index_lines']} / {cs['expected_versions']}; {'clean' if c['verify']['ok'] else 'FAILED'} | "
            f"all, clean | {ok(complete)} |"
        )
        errs = cs["other_errors"] + cs["false_conflicts"] + len(cs["versions_won_more_than_once"])
        out.append(
            f"| 3 | {label}: responses 200 / 409 / other; conflicts not genuine | "
            f"{cs['status_200']} / {cs['status_409']} / {cs['other_errors']}; {cs['false_conflicts']} | "
            f"only genuine 409s | {ok(errs == 0)} |"
        )
        peak = max(cs["vmhwm_kib"] or 0, cs["peak_rss_sampled_kib"])
        out.append(
            f"| 3 | {label}: peak RSS of `ktra serve` (VmHWM; idle {mib(cs['idle_rss_kib'])}) | "
            f"**{mib(peak)}** | ≤ 100 MiB | {ok(peak <= 100 * 1024)} |"
        )
        out.append(
            f"| 3 | (context) {label}: wall time; requests/s; latency of the 200s median / p95 | "
            f"{cs['wall_s']:.1f} s; {cs['requests_per_s']:.0f}/s; {cs['latency_ms_median']:.0f} / "
            f"{cs['latency_ms_p95']:.0f} ms | | |"
        )
    out.append("")
    out.append("Notes:")
    out.append("")
    out.append(
        f"- Publish times are measured by the client (Python http.client, a new connection per request) "
        f"and include sending the {p['crate_bytes_median'] / MiB:.2f} MiB body over loopback; the floor row "
        f"is the cost of that transfer plus parsing, without any registry work."
    )
    out.append(
        "- The concurrent cases use tokens of one user (one token per publisher); they start together "
        "(a barrier) and the first publish creates the crate. Peak RSS is the larger of VmHWM and VmRSS "
        "sampled every 10 ms; each case runs against a fresh `ktra serve` process."
    )
    if median(ka["ktra"][1:]) > 30 and ka["ktra"][0] < 10:
        out.append(
            f"- ⚠️ On a keep-alive connection `ktra serve` answers the first request in {ka['ktra'][0]:.1f} ms "
            f"and each later one in ~{median(ka['ktra'][1:]):.0f} ms while its CPU is mostly idle "
            f"({s['ktra_cpu_busy_fraction']:.2f} cores under wrk): the signature of Nagle's algorithm "
            "(no TCP_NODELAY; headers and body written separately) meeting the client's delayed ACK. "
            "The `Connection: close` row shows the server without that stall."
        )
    out.append(f"- Total run time of the benchmark (after the build): {meta['total_s']:.0f} s.")
    return "\n".join(out)


def tool_version(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    return (r.stdout + r.stderr).strip().splitlines()[0] if (r.stdout + r.stderr).strip() else "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ktra", required=True)
    ap.add_argument("--bench-dir", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--wrk-seconds", type=int, default=5)
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--wrk-connections", type=int, default=32)
    ap.add_argument("--nginx-workers", type=int, default=2)
    ap.add_argument("--publish-runs", type=int, default=30)
    ap.add_argument("--publish-warmup", type=int, default=2)
    ap.add_argument("--publishers", type=int, default=16)
    ap.add_argument("--versions-each", type=int, default=25)
    ap.add_argument("--keep", action="store_true", help="keep BENCH_DIR/serve-work")
    ap.add_argument("--binary-given", action="store_true", help="--ktra was not built from this tree")
    a = ap.parse_args()

    start = time.perf_counter()
    b = ServeBench(a)
    b.setup()
    b.files()
    b.publish_one()
    b.concurrent()
    if not a.keep:
        rmtree(b.work)
    meta = {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine(),
        "nproc": os.cpu_count(),
        "ktra_version": b.binary["version"],
        "nginx_version": tool_version(["nginx", "-v"]),
        "wrk_version": tool_version(["wrk", "--version"]).split(" Copyright")[0],
        "binary": b.binary,
        "args": vars(a),
        "total_s": time.perf_counter() - start,
    }
    b.results["meta"] = meta
    text = table(b.results, meta)
    b.results["table_markdown"] = text
    path = os.path.join(b.dir, "serve-results.json")
    with open(path, "w") as f:
        json.dump(b.results, f, indent=2, ensure_ascii=False)
    log(f"done in {meta['total_s']:.0f} s; results in {path}")
    print(text)


if __name__ == "__main__":
    try:
        main()
    except L.BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
