#!/usr/bin/env python3
"""Concurrent writers on one registry, with a reader checking what it sees.

Writers (threads; --cli-writers + 1 + --api-writers + 2 + 1, 10 by default):
  cli-add-N    `ktra add` processes: one .crate, or a batch of two or three
  cli-yank     `ktra yank`/`unyank` processes flipping versions that are in
  api-N        publishes over raw HTTP (cargo's wire format), alternating between TWO
               `ktra serve` receivers on the same registry
  api-yank     yank/unyank over the web API of the second receiver
  api-quit     publishes whose client hangs up right after sending (never acknowledged)
  cargo        the real `cargo publish --registry demo --token T --no-verify`, through the
               first receiver
Reader: a loop running `ktra verify` and fetching index files over HTTP (python's
http.server and a receiver, alternately), checking that each line's crate file is there and
has the line's checksum.
At the end: every acknowledged add/publish is in the index with its crate file, nothing
unacknowledged is half-present (an index line without its file, or a file without its line),
and `ktra verify` passes.

  scripts/chaos/concurrent.py [--ktra PATH] [--seconds 60] [--cli-writers 3] [--api-writers 3]
"""

import argparse
import collections
import hashlib
import json
import os
import random
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as c  # noqa: E402


class Run:
    def __init__(self, args):
        self.args = args
        self.base = c.make_temp("ktra-chaos-concurrent-")
        self.logs = os.path.join(self.base, "logs")
        os.makedirs(self.logs)
        self.static_port = c.free_port()
        self.static = c.start_static(self.base, self.static_port, os.path.join(self.logs, "static.log"))
        self.ports = [c.free_port(), c.free_port()]
        url = "http://127.0.0.1:%d/reg/public" % self.static_port
        self.reg = c.Registry(args.ktra, self.base, url, api="http://127.0.0.1:%d" % self.ports[0])
        self.index_url = "sparse+%s/index/" % url
        self.token = self.reg.user_token("chaos")
        self.serves = [c.start_serve(args.ktra, self.reg.root, p, os.path.join(self.logs, "serve%d.log" % i))
                       for i, p in enumerate(self.ports)]
        self.lock = threading.Lock()
        self.acked = {}  # name -> (version, writer)
        self.unacked = {}  # name -> (version, writer, why)
        self.writes = collections.Counter()
        self.failed_writes = collections.Counter()
        self.errors = collections.Counter()
        self.reader = collections.Counter()
        self.problems = []
        self.shown = collections.Counter()
        self.deadline = time.monotonic() + args.seconds
        for n in ("flip-a", "flip-b", "flip-c"):
            self.reg.must("add", self.reg.write_crate(n, "1.0.0"))
            self.acked[n] = ("1.0.0", "setup")
            self.reg.must("owner", "add", n, "chaos")

    def going(self):
        return time.monotonic() < self.deadline

    def record(self, writer, names, ok, why=""):
        with self.lock:
            self.writes[writer.rstrip("0123456789").rstrip("-")] += 1
            for n in names:
                if ok:
                    self.acked[n] = ("1.0.0", writer)
                else:
                    self.unacked[n] = ("1.0.0", writer, why)
            if not ok:
                self.failed_writes[writer] += 1
                self.errors[why.strip().splitlines()[-1][:160] if why.strip() else "?"] += 1

    def problem(self, what):
        with self.lock:
            self.problems.append(what)
            kind = what.split(":")[0][:60]
            self.shown[kind] += 1
            if self.shown[kind] > 3:
                return  # the summary counts the rest
        print("PROBLEM: " + what[:1500], flush=True)

    # --- writers ---------------------------------------------------------------------------

    def cli_add(self, w):
        rng, j = random.Random(w), 0
        while self.going():
            names = []
            for _ in range(rng.choice([1, 1, 2, 3])):
                j += 1
                names.append("cli%d-%d" % (w, j))
            files = [self.reg.write_crate(n, "1.0.0") for n in names]
            r = self.reg.ktra("add", *files, timeout=300)
            self.record("cli-add-%d" % w, names, r.ok, r.err)

    def cli_yank(self):
        rng = random.Random(99)
        while self.going():
            name = rng.choice(["flip-a", "flip-b", "flip-c"])
            verb = rng.choice(["yank", "unyank"])
            r = self.reg.ktra(verb, name + "@1.0.0", timeout=300)
            self.record("cli-yank", [], r.ok, r.err)

    def api(self, w):
        j = 0
        while self.going():
            j += 1
            name = "api%d-%d" % (w, j)
            port = self.ports[j % 2]
            reply = c.http(port, "PUT", "/api/v1/crates/new", [("Authorization", self.token)],
                           c.publish_body(name, "1.0.0", c.simple_crate(name, "1.0.0")), timeout=300)
            self.record("api-%d" % w, [name], reply.status == 200, "HTTP %d %s" % (reply.status, reply.detail()))

    def api_yank(self):
        rng = random.Random(7)
        while self.going():
            name = rng.choice(["flip-a", "flip-b", "flip-c"])
            if rng.random() < 0.5:
                reply = c.http(self.ports[1], "DELETE", "/api/v1/crates/%s/1.0.0/yank" % name,
                               [("Authorization", self.token)], timeout=300)
            else:
                reply = c.http(self.ports[1], "PUT", "/api/v1/crates/%s/1.0.0/unyank" % name,
                               [("Authorization", self.token)], timeout=300)
            self.record("api-yank", [], reply.status == 200, "HTTP %d %s" % (reply.status, reply.detail()))

    def quitter(self):
        """Publishes and hangs up without reading the answer: never acknowledged, so each must
        end up either wholly in the registry or not at all."""
        import socket
        j = 0
        while self.going():
            j += 1
            name = "quit-%d" % j
            body = c.publish_body(name, "1.0.0", c.simple_crate(name, "1.0.0"))
            head = ("PUT /api/v1/crates/new HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n"
                    "Authorization: %s\r\n\r\n" % (len(body), self.token)).encode()
            try:
                with socket.create_connection(("127.0.0.1", self.ports[j % 2]), timeout=10) as s:
                    s.sendall(head + body)
            except OSError:
                pass
            with self.lock:
                self.writes["api-quit"] += 1
                self.unacked[name] = ("1.0.0", "api-quit", "client hung up")
            time.sleep(0.05)

    def cargo(self):
        j = 0
        home = os.path.join(self.base, "cargo-home")
        while self.going():
            j += 1
            name = "cargo-%d" % j
            r = c.cargo_publish(self.base, name, "1.0.0", self.index_url, self.token, home,
                                os.path.join(self.base, "cargo-target"))
            self.record("cargo", [name], r.ok, r.err)

    # --- reader ----------------------------------------------------------------------------

    def read_loop(self):
        rng = random.Random(5)
        while self.going():
            v = self.reg.ktra("verify", timeout=300)
            self.reader["verify runs"] += 1
            if not v.ok:
                self.reader["verify failed"] += 1
                self.problem("verify under load failed:\n" + v.describe())
            with self.lock:
                names = list(self.acked)
            for name in rng.sample(names, min(len(names), 20)):
                self.check_served(name, rng.choice([self.static_port, self.ports[0]]))

    def check_served(self, name, port):
        prefix = "/reg/public" if port == self.static_port else ""
        reply = c.http(port, "GET", "%s/index/%s" % (prefix, c.index_path(name)))
        self.reader["index files fetched"] += 1
        if reply.status != 200:
            self.problem("GET index of acknowledged %s on port %d: HTTP %d" % (name, port, reply.status))
            return
        for line in reply.body.decode().splitlines():
            if not line.strip():
                continue
            try:
                e = json.loads(line)
            except ValueError:
                self.problem("a partial index line for %s: %r" % (name, line[:200]))
                continue
            self.reader["lines checked"] += 1
            got = c.http(port, "GET", "%s/crates/%s-%s.crate" % (prefix, e["name"], e["vers"]))
            if got.status != 200:
                self.problem("%s@%s is in the index but its crate file answers %d" % (name, e["vers"], got.status))
            elif hashlib.sha256(got.body).hexdigest() != e["cksum"]:
                self.problem("%s@%s: the served crate file does not match the index checksum" % (name, e["vers"]))

    # --- the end -----------------------------------------------------------------------------

    def final_checks(self):
        crates_dir = os.path.join(self.reg.public, "crates")
        files = set(os.listdir(crates_dir)) if os.path.isdir(crates_dir) else set()
        for name, (vers, who) in sorted(self.acked.items()):
            present = self.reg.has_version(name, vers)
            has_file = "%s-%s.crate" % (name, vers) in files
            if not (present and has_file):
                self.problem("acknowledged %s@%s (by %s) is missing: index line %s, crate file %s"
                             % (name, vers, who, present, has_file))
        self.unacked_present = 0
        for name, (vers, who, why) in sorted(self.unacked.items()):
            present = self.reg.has_version(name, vers)
            has_file = "%s-%s.crate" % (name, vers) in files
            self.unacked_present += present and has_file
            if present != has_file:
                self.problem("unacknowledged %s@%s (by %s) is half-present: index line %s, crate file %s"
                             % (name, vers, who, present, has_file))
        v = self.reg.ktra("verify", timeout=600)
        if not v.ok:
            self.problem("final verify failed:\n" + v.describe())

    def close(self):
        for s in self.serves:
            s.kill()
        self.static.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ktra", default=c.default_ktra())
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--cli-writers", type=int, default=3)
    ap.add_argument("--api-writers", type=int, default=3)
    ap.add_argument("--no-cargo", action="store_true", help="leave out the real cargo publisher")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    args.ktra = os.path.abspath(args.ktra)
    t0 = time.monotonic()
    run = Run(args)
    threads = [threading.Thread(target=run.cli_add, args=(w,)) for w in range(args.cli_writers)]
    threads += [threading.Thread(target=run.api, args=(w,)) for w in range(args.api_writers)]
    threads += [threading.Thread(target=run.cli_yank), threading.Thread(target=run.api_yank),
                threading.Thread(target=run.quitter)]
    if not args.no_cargo:
        threads.append(threading.Thread(target=run.cargo))
    reader = threading.Thread(target=run.read_loop)
    try:
        for t in threads + [reader]:
            t.start()
        for t in threads + [reader]:
            t.join()
        for s in run.serves:
            if not s.alive():
                run.problem("a receiver died during the run (log %s)" % s.log)
        run.final_checks()
    finally:
        run.close()
    elapsed = time.monotonic() - t0
    print("\n== concurrent writers: %d writers + 1 reader, %.0f s ==" % (len(threads), elapsed))
    print("writes by kind: " + ", ".join("%s %d" % kv for kv in sorted(run.writes.items())))
    print("acknowledged crates: %d, refused/failed writes: %d" % (len(run.acked), sum(run.failed_writes.values())))
    print("unacknowledged publishes: %d (%d wholly in, none half-present unless listed below)"
          % (len(run.unacked), getattr(run, "unacked_present", 0)))
    for why, n in run.errors.most_common(8):
        print("  %4d x %s" % (n, why))
    print("reader: " + ", ".join("%s %d" % kv for kv in sorted(run.reader.items())))
    kinds = collections.Counter(p.split(":")[0].split(" (")[0][:60] for p in run.problems)
    print("problems: %d" % len(run.problems))
    for k, n in kinds.most_common():
        print("  %4d x %s" % (n, k))
    if args.keep or run.problems:
        print("registry kept in %s" % run.base)
    else:
        c.rm_tree(run.base)
    sys.exit(1 if run.problems else 0)


if __name__ == "__main__":
    main()
