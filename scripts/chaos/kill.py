#!/usr/bin/env python3
"""kill -9 injections: interrupt ktra mid-operation and check the registry stays usable.

Operations: `ktra add` (one or two .crate files), publish (raw HTTP to a `ktra serve` that is
killed; real `cargo publish` is used in the periodic checks), `ktra yank`/`unyank`, `ktra remove`
and `ktra sync-mirror` (from an upstream ktra registry served by python's http.server). Timing:
  point   KTRA_CRASH_AT=NAME (the process aborts at that step, like a kill -9 there)
  random  start the operation, sleep a random 0..N ms (N follows the operation's measured
          duration), SIGKILL
  gitlock a crash at `git-objects` plus the `refs/heads/main.lock` that a kill inside the git
          library's branch update leaves (the window is too short to hit reliably by timing)
After each landed injection: `ktra verify` must pass (a pending change may be reported), and
the next write (the same operation run again) must succeed. Every --check-every injections,
real cargo publishes through the receiver and `cargo generate-lockfile` resolves a consumer
against the registry served by python's http.server.

  scripts/chaos/kill.py [--ktra PATH] [--count 1000] [--seed 1] [--max-seconds 3600]
"""

import argparse
import collections
import os
import random
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as c  # noqa: E402

OPS = ["add", "publish", "yank", "remove", "sync"]
GIT = ["before-git", "git-objects", "git-ref", "git-info-synced", "git-info-partial", "before-finish"]
JOURNAL = ["journal-synced", "journal-partial"]
POINTS = {
    "add": JOURNAL + ["crates-synced", "crates-partial", "index-synced", "index-partial",
                      "site-meta-synced", "site-meta-partial"] + GIT,
    "yank": JOURNAL + ["index-synced", "index-partial"] + GIT,
    "remove": JOURNAL + ["before-crate-removal"] + GIT,
    "sync": JOURNAL + ["mirror-crates-synced", "mirror-index-synced", "mirror-index-partial",
                       "mirror-config-synced", "mirror-config-partial"],
}
POINTS["publish"] = POINTS["add"]


class Chaos:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.base = c.make_temp("ktra-chaos-kill-")
        self.log_dir = os.path.join(self.base, "logs")
        os.makedirs(self.log_dir)
        self.cargo_home = os.path.join(self.base, "cargo-home")
        self.static_port = c.free_port()
        self.static = c.start_static(self.base, self.static_port, os.path.join(self.log_dir, "static.log"))
        self.serve_port = c.free_port()
        url = "http://127.0.0.1:%d/reg/public" % self.static_port
        self.reg = c.Registry(args.ktra, self.base, url, api="http://127.0.0.1:%d" % self.serve_port)
        self.index_url = "sparse+%s/index/" % url
        self.up = c.Registry(args.ktra, self.base, "http://127.0.0.1:%d/up/public" % self.static_port,
                             git=False, name="up")
        self.upstream = "sparse+http://127.0.0.1:%d/up/public/index/" % self.static_port
        self.token = self.reg.user_token("chaos")
        self.serve = c.start_serve(args.ktra, self.reg.root, self.serve_port, os.path.join(self.log_dir, "serve.log"))
        self.seq = 0
        self.last_exit = 0.0
        self.up_mtime = 0.0
        self.durations = collections.defaultdict(lambda: 0.1)
        self.landed = collections.Counter()
        self.missed = collections.Counter()
        self.failures = []
        self.shown = collections.Counter()
        self.checks = collections.Counter()
        self.yank_pool = []  # versions present in the registry that yank may flip
        self.up_versions = collections.Counter()
        for n in ("seed-a", "seed-b", "y-one", "y-two"):
            self.reg.must("add", self.reg.write_crate(n, "1.0.0"))
        # what the consumer depends on is never yanked (cargo would rightly refuse it)
        self.yank_pool += [("y-one", "1.0.0"), ("y-two", "1.0.0")]

    # --- operations: (command, redo check); each builds what it needs first -----------------

    def fresh(self, prefix):
        self.seq += 1
        return "%s%d" % (prefix, self.seq)

    def prepare(self, op):
        """Returns (argv or None for publish, publish body, description, redo function)."""
        if op == "add":
            names = [self.fresh("k")] + ([self.fresh("k")] if self.rng.random() < 0.5 else [])
            files = [self.reg.write_crate(n, "1.0.0") for n in names]

            def redo():
                r = self.reg.ktra("add", *files)
                if r.ok:
                    self.yank_pool.extend((n, "1.0.0") for n in names)
                return r, all(self.reg.has_version(n, "1.0.0") for n in names)
            return self.reg.cmd("add", *files), None, "add " + " ".join(names), redo
        if op == "publish":
            name = self.fresh("p")
            body = c.publish_body(name, "1.0.0", c.simple_crate(name, "1.0.0"))

            def redo():
                reply = c.http(self.serve_port, "PUT", "/api/v1/crates/new",
                               [("Authorization", self.token)], body)
                ok = reply.status == 200 or (reply.status == 409 and "already" in reply.detail())
                res = c.Result(["PUT /api/v1/crates/new", name], 0 if ok else 1, "", "HTTP %d %s" % (
                    reply.status, reply.detail()))
                if ok:
                    self.yank_pool.append((name, "1.0.0"))
                return res, self.reg.has_version(name, "1.0.0")
            return None, body, "publish " + name, redo
        if op == "yank":
            name, vers = self.rng.choice(self.yank_pool)
            verb = "unyank" if any(e.get("yanked") for e in self.reg.index_lines(name)
                                   if e.get("vers") == vers) else "yank"
            target = "%s@%s" % (name, vers)
            return self.reg.cmd(verb, target), None, "%s %s" % (verb, target), \
                lambda: (self.reg.ktra(verb, target), True)
        if op == "remove":
            name = self.fresh("r")
            self.reg.must("add", self.reg.write_crate(name, "1.0.0"))
            self.reg.must("yank", name + "@1.0.0")
            target = name + "@1.0.0"

            def redo():
                if not self.reg.has_version(name, "1.0.0"):
                    # it went through before the kill: the next write is another one
                    verb = "unyank" if any(e.get("yanked") for e in self.reg.index_lines("y-one")) else "yank"
                    return self.reg.ktra(verb, "y-one@1.0.0"), True
                r = self.reg.ktra("remove", target)
                return r, not self.reg.has_version(name, "1.0.0")
            return self.reg.cmd("remove", target), None, "remove " + target, redo
        # sync: a new upstream version each time, so the sync always has a file to fetch
        name = "up%d" % self.rng.randrange(12)
        self.up_versions[name] += 1
        vers = "1.0.%d" % self.up_versions[name]
        self.up.must("add", self.up.write_crate(name, vers))
        # python's http.server answers If-Modified-Since at one-second resolution: move the
        # changed index file's time on by whole seconds so a revalidation sees the change.
        self.up_mtime = max(self.up_mtime + 2, time.time())
        os.utime(os.path.join(self.up.public, "index", c.index_path(name)), (self.up_mtime, self.up_mtime))
        argv = self.reg.cmd("sync-mirror", name, "--upstream", self.upstream)

        def redo():
            r = c.run(argv, timeout=120)
            lines = c.Registry.index_lines(MirrorView(self.reg), name)
            return r, any(e.get("vers") == vers for e in lines)
        return argv, None, "sync-mirror %s (new %s)" % (name, vers), redo

    # --- one injection -----------------------------------------------------------------------

    def inject(self, i):
        op = OPS[i % len(OPS)]
        mode = ["point", "random", "random", "point"][(i // len(OPS)) % 4]
        if op != "sync" and (i // len(OPS)) % 10 == 3:
            mode = "gitlock"  # each of add, publish, yank and remove, every 50th attempt
        argv, body, what, redo = self.prepare(op)
        point = None
        delay = None
        if mode in ("point", "gitlock"):
            point = "git-objects" if mode == "gitlock" else self.rng.choice(POINTS[op])
        else:
            delay = self.rng.uniform(0, self.durations[op] * 1.2)
        if op == "publish":
            landed, repro = self.run_publish(body, point, delay, what)
        else:
            landed, repro = self.run_cli(argv, point, delay)
        if not landed:
            if mode == "random":
                # the operation finished first: learn how long it takes
                self.durations[op] = 0.7 * self.durations[op] + 0.3 * self.last_exit
            self.missed[(op, mode)] += 1
            r, present = redo()
            if not r.ok or not present:
                self.fail(i, op, mode, "the operation did not finish", repro, r)
            return False
        if mode == "gitlock":
            lock = os.path.join(self.reg.public, "index.git", "refs", "heads", "main.lock")
            with open(lock, "w") as f:
                f.write("")
            repro += " && touch public/index.git/refs/heads/main.lock"
        self.landed[(op, mode)] += 1
        lock = os.path.join(self.reg.public, "index.git", "refs", "heads", "main.lock")
        if mode != "gitlock" and os.path.exists(lock):
            self.checks["kills that left refs/heads/main.lock (inside the git branch update)"] += 1
            print("#%d %s/%s: the kill left refs/heads/main.lock" % (i, op, mode), flush=True)
        if mode == "random":
            self.durations[op] *= 1.03  # landed: it runs at least this long
        v = c.verify_ok(self.reg)
        if not v.ok:
            self.fail(i, op, mode, "verify after the kill", repro, v)
        elif os.path.exists(lock) and "main.lock" not in v.out + v.err:
            self.fail(i, op, mode, "verify says nothing of the stale refs/heads/main.lock", repro, v)
        if op == "add" and what.count(" ") == 2:
            names = what.split()[1:]
            if sum(self.reg.has_version(n, "1.0.0") for n in names) == 1:
                self.checks["killed batch adds with part of the batch visible (re-run completes them)"] += 1
        r, present = redo()
        if not r.ok or not present:
            self.fail(i, op, mode, "the next write (the same operation again)", repro, r)
            self.unblock()
        elif i % 10 == 0:
            clean = c.verify_ok(self.reg)
            if not clean.ok or "interrupted" in clean.err:
                self.fail(i, op, mode, "verify after the next write still reports a problem or a pending change",
                          repro, clean)
        return True

    def run_cli(self, argv, point, delay):
        env = c.clean_env({"KTRA_CRASH_AT": point} if point else None)
        p = c.Process(argv, os.path.join(self.log_dir, "op.log"), env=env, cwd=self.base)
        if point:
            p.p.wait(timeout=120)
            landed = p.p.returncode != 0
            p.kill()
            return landed, "KTRA_CRASH_AT=%s %s" % (point, c.shell_quote(argv))
        start = time.monotonic()
        while time.monotonic() - start < delay and p.alive():
            time.sleep(0.002)
        landed = p.alive()
        self.last_exit = time.monotonic() - start
        p.kill()
        return landed, "%s & sleep %.3f; kill -9 $!" % (c.shell_quote(argv), delay)

    def run_publish(self, body, point, delay, what):
        port = c.free_port()
        victim = c.start_serve(self.args.ktra, self.reg.root, port, os.path.join(self.log_dir, "victim.log"),
                               crash_at=point)
        got = {}

        def send():
            got["reply"] = c.http(port, "PUT", "/api/v1/crates/new", [("Authorization", self.token)], body,
                                  timeout=120)
        t = threading.Thread(target=send)
        t.start()
        if point:
            t.join(120)
            landed = not victim.alive()
        else:
            start = time.monotonic()
            while time.monotonic() - start < delay and "reply" not in got:
                time.sleep(0.002)
            landed = "reply" not in got
            self.last_exit = time.monotonic() - start
        victim.kill()
        t.join(30)
        how = ("KTRA_CRASH_AT=%s ktra serve" % point) if point else ("ktra serve, kill -9 %.3f s after sending" % (delay or 0))
        return landed, "%s; PUT /api/v1/crates/new (%s)" % (how, what)

    def fail(self, i, op, mode, what, repro, result):
        self.failures.append((i, op, mode, what, repro, result.describe()))
        self.shown[(op, what)] += 1
        if self.shown[(op, what)] > 3:
            print("FAIL #%d %s/%s: %s (repro: %s)" % (i, op, mode, what, repro), flush=True)
            return
        print("FAIL #%d %s/%s: %s\n  repro: %s\n  %s" % (i, op, mode, what, repro,
                                                     result.describe().replace("\n", "\n  ")[:1500]),
              flush=True)

    def unblock(self):
        """A write failed: if the hole is a stale git lock, clear it so the run can go on."""
        lock = os.path.join(self.reg.public, "index.git", "refs", "heads", "main.lock")
        if os.path.exists(lock):
            os.remove(lock)
            print("  (removed the stale %s by hand to continue)" % lock, flush=True)
            self.checks["stale git lock removed by hand"] += 1

    # --- periodic real-cargo checks ------------------------------------------------------------

    def cargo_check(self, i):
        name = "cargo-pub%d" % i
        r = c.cargo_publish(self.base, name, "1.0.0", self.index_url, self.token, self.cargo_home,
                            os.path.join(self.base, "cargo-target"))
        self.checks["cargo publish"] += 1
        if not r.ok:
            self.fail(i, "check", "-", "real cargo publish through ktra serve", "cargo publish --registry demo", r)
        else:
            self.yank_pool.append((name, "1.0.0"))
        deps = [("seed-a", "1"), ("seed-b", "1")] + ([(name, "1")] if r.ok else [])
        r = c.cargo_generate_lockfile(self.base, self.index_url, deps, self.cargo_home)
        self.checks["cargo generate-lockfile"] += 1
        if not r.ok:
            self.fail(i, "check", "-", "real cargo resolving a consumer", "cargo generate-lockfile", r)

    def close(self):
        self.serve.kill()
        self.static.kill()


class MirrorView:
    """Registry.index_lines over the mirror's pruned index."""

    def __init__(self, reg):
        self.public = os.path.join(reg.public, "mirror")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ktra", default=c.default_ktra())
    ap.add_argument("--count", type=int, default=1000, help="landed injections to reach")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--check-every", type=int, default=100)
    ap.add_argument("--max-seconds", type=float, default=3600)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--max-temp-files", type=int, default=20,
                    help="temp files left in state/tmp after the last write that count as a failure")
    args = ap.parse_args()
    args.ktra = os.path.abspath(args.ktra)
    t0 = time.monotonic()
    ch = Chaos(args)
    i = 0
    total = 0
    try:
        while total < args.count and time.monotonic() - t0 < args.max_seconds:
            if ch.inject(i):
                total += 1
                if total % args.check_every == 0:
                    ch.cargo_check(i)
                if total % 50 == 0:
                    print("%d injections, %d failures, %.0f s" % (total, len(ch.failures), time.monotonic() - t0),
                          flush=True)
            i += 1
        ch.cargo_check(i)
        final = c.verify_ok(ch.reg)
        if not final.ok:
            ch.fail(i, "final", "-", "final verify", "ktra verify", final)
        tmp = os.path.join(ch.reg.root, "state", "tmp")
        names = os.listdir(tmp) if os.path.isdir(tmp) else []
        size = sum(os.path.getsize(os.path.join(tmp, n)) for n in names if os.path.isfile(os.path.join(tmp, n)))
        print("state/tmp after the run: %d files, %.1f MB" % (len(names), size / 1e6))
        if len(names) > args.max_temp_files:
            ch.fail(i, "final", "-", "temp files of killed processes pile up in state/tmp (%d files, %.1f MB)"
                    % (len(names), size / 1e6), "ls state/tmp", final)
    finally:
        ch.close()
    elapsed = time.monotonic() - t0
    print("\n== kill -9 injections (seed %d, %.0f s) ==" % (args.seed, elapsed))
    print("%-10s %-8s %8s %8s" % ("operation", "timing", "landed", "missed"))
    for op in OPS:
        for mode in ("point", "random", "gitlock"):
            if ch.landed[(op, mode)] or ch.missed[(op, mode)]:
                print("%-10s %-8s %8d %8d" % (op, mode, ch.landed[(op, mode)], ch.missed[(op, mode)]))
    print("total landed injections: %d (attempts %d)" % (total, i))
    for k, v in sorted(ch.checks.items()):
        print("%s: %d" % (k, v))
    by_kind = collections.Counter((f[1], f[3]) for f in ch.failures)
    print("failures: %d" % len(ch.failures))
    for (op, what), n in sorted(by_kind.items()):
        print("  %4d  %s: %s" % (n, op, what))
    for f in ch.failures[:30]:
        print("  #%d %s/%s %s\n     repro: %s" % (f[0], f[1], f[2], f[3], f[4]))
    if args.keep or ch.failures:
        print("registry kept in %s" % ch.base)
    else:
        c.rm_tree(ch.base)
    sys.exit(1 if ch.failures or total < args.count else 0)


if __name__ == "__main__":
    main()
