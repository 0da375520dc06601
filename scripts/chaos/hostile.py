#!/usr/bin/env python3
"""Hostile inputs against ktra: tarballs given to `ktra add`, publish bodies, URLs, headers and
tokens sent to `ktra serve`, and ktra.toml variants. For each: the expected outcome (a clear
refusal or a 4xx, no panic, no hang), no change to public/ (hashed before and after), and for
the server: still up, and its peak memory (VmHWM) grown by less than --rss-bound-mib. Every ktra
process runs under a 2 GiB address-space limit so a hole cannot take the machine down.

Prints a table: case, expected, got, PASS/FAIL. Exit status 1 when any case fails.

  scripts/chaos/hostile.py [--ktra PATH] [--only GROUP] [--slowloris-seconds 20]
"""

import argparse
import os
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as c  # noqa: E402
import hostile_cases as cases  # noqa: E402
import hostile_mirror  # noqa: E402


class Hostile:
    def __init__(self, args):
        self.args = args
        self.base = c.make_temp("ktra-chaos-hostile-")
        self.logs = os.path.join(self.base, "logs")
        os.makedirs(self.logs)
        self.port = c.free_port()
        url = "http://127.0.0.1:%d" % self.port
        self.reg = c.Registry(args.ktra, self.base, url, api=url)
        self.reg.must("add", self.reg.write_crate("base-ok", "1.0.0"))
        self.token = self.reg.user_token("alice")
        self.reg.must("owner", "add", "base-ok", "alice")
        self.other = c.Registry(args.ktra, self.base, "http://127.0.0.1:9/o", name="other")
        self.other_token = self.other.user_token("alice")
        self.serve = self.start_serve()
        self.rows = []
        self.marker = os.path.join(self.base, "pwned")

    def start_serve(self):
        return c.start_serve(self.args.ktra, self.reg.root, self.port, os.path.join(self.logs, "serve.log"))

    def row(self, group, name, expected, got, ok):
        self.rows.append((group, name, expected, got, ok))
        print("%-4s %-9s %-48s %s" % ("PASS" if ok else "FAIL", group, name[:48], got[:110]), flush=True)

    def public_hash(self):
        return c.tree_hash(self.reg.public)

    # --- the server side: alive, memory bounded --------------------------------------------

    def server_health(self):
        """'' when the server answers and its peak memory stayed bounded, else what is wrong."""
        if not self.serve.alive():
            self.serve = self.start_serve()
            return "the server died (restarted)"
        reply = c.http(self.port, "GET", "/index/config.json", timeout=10)
        if reply.status != 200:
            return "the server no longer answers (GET config.json: %d)" % reply.status
        grown = (c.hwm_kib(self.serve.pid) - self.base_hwm) // 1024
        if grown > self.args.rss_bound_mib:
            return "peak memory grew by %d MiB" % grown
        return ""

    def server_case(self, group, name, expected, send, accept):
        """send() -> (status, text); accept(status, text) -> bool."""
        before = self.public_hash()
        self.base_hwm = c.hwm_kib(self.serve.pid)
        try:
            status, text = send()
        except Exception as e:  # a client-side error is an outcome too
            status, text = 0, "client error: %s" % e
        health = self.server_health()
        changed = self.public_hash() != before
        ok = accept(status, text) and not health and not changed
        got = "%d %s" % (status, text.replace("\n", " ")[:80])
        if changed:
            got = "public/ CHANGED | " + got
        if health:
            got = health + " | " + got
        self.row(group, name, expected, got, ok)
        if health and self.serve.alive():
            self.serve.kill()  # a fresh baseline for the next case
            self.serve = self.start_serve()

    # --- groups ------------------------------------------------------------------------------

    def tarballs(self):
        fifo = os.path.join(self.base, "fifo")
        os.mkfifo(fifo)
        depth = len(os.path.realpath(self.reg.public).strip("/").split("/"))
        ctx = {"own_index": "sparse+http://127.0.0.1:%d/index/" % self.port, "public_depth": depth, "fifo": fifo,
               "zero": "/dev/zero"}
        for name, file_name, data in cases.tar_cases(ctx):
            path = os.path.join(self.reg.files, file_name)
            with open(path, "wb") as f:
                f.write(data)
            before = self.public_hash()
            r = c.run_measured(self.reg.cmd("add", path), self.args.cli_timeout, self.base)
            changed = self.public_hash() != before
            err = r["err"].strip().splitlines()
            first = next((l for l in err if l.startswith("error")), err[0] if err else "")
            reason = err[-1].strip() if err else ""
            problems = []
            if r["timed_out"]:
                problems.append("HUNG (killed after %ds)" % self.args.cli_timeout)
            elif r["code"] == 0:
                problems.append("ACCEPTED")
            elif r["code"] != 1 or "panicked" in r["err"]:
                problems.append("exit %s (crash)" % r["code"])
            elif not first.startswith("error"):
                problems.append("no error line")
            elif "already in the registry" in first and "existing" not in name:
                problems.append("refused for another reason (test bug): " + first[-80:])
            if r["maxrss_mib"] > self.args.rss_bound_mib:
                problems.append("used %d MiB" % r["maxrss_mib"])
            if changed:
                problems.append("public/ CHANGED")
            got = "; ".join(problems) if problems else "exit 1: " + reason[:100]
            self.row("tarball", name, "exit 1, clear error, nothing changed", got, not problems)
            os.remove(path)
            if r["timed_out"]:
                self.clear_lock_holders()

    def clear_lock_holders(self):
        """A hung `ktra add` was killed; the next one must not find the lock held."""
        time.sleep(0.1)

    def bodies(self):
        for name, headers, body, length, statuses in cases.body_cases(self.token):
            def send(headers=headers, body=body, length=length):
                if length == "-1":
                    head = ("PUT /api/v1/crates/new HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                            "Content-Length: -1\r\nAuthorization: %s\r\n\r\n" % self.token).encode()
                    r = c.http(self.port, "PUT", "/", raw_head=head, timeout=20)
                else:
                    r = c.http(self.port, "PUT", "/api/v1/crates/new", headers, body, timeout=20,
                               content_length=length)
                return r.status, r.detail()
            self.server_case("body", name, "status in %s" % (statuses,), send,
                             lambda s, t, statuses=statuses: s in statuses and no_leak(t))

        def folder_dep():
            """A dependency name that leads to a folder: the error must not show server paths."""
            extra = ('[dependencies.d]\nversion = "1"\npackage = "../../reg/state"\n'
                     'registry-index = "sparse+http://127.0.0.1:%d/index/"\n' % self.port)
            body = c.publish_body("leaky", "1.0.0", c.simple_crate("leaky", "1.0.0", extra))
            r = c.http(self.port, "PUT", "/api/v1/crates/new", [("Authorization", self.token)], body)
            return r.status, r.detail()
        self.server_case("body", "dependency leading to a folder (path leak)", "4xx, no server path", folder_dep,
                         lambda s, t: 400 <= s < 500 and no_leak(t))

        def owners_bomb():
            r = c.http(self.port, "PUT", "/api/v1/crates/base-ok/owners", [("Content-Type", "application/json")],
                       cases.owners_bomb_body(), timeout=60)
            return r.status, r.detail()
        self.server_case("body", "100 MiB owners JSON without a token", "401, memory bounded", owners_bomb,
                         lambda s, t: s in (0, 401, 413))

        owners_token = self.reg.must("token", "create", "alice", "--scope", "change-owners").out.strip()
        if "bob" not in self.reg.ktra("user", "list").out.split():
            self.reg.must("user", "add", "bob")  # `../users/bob` resolves to bob's record as a path

        def owners_traversal():
            r = c.http(self.port, "PUT", "/api/v1/crates/base-ok/owners",
                       [("Authorization", owners_token), ("Content-Type", "application/json")],
                       b'{"users":["../users/bob"]}')
            listed = self.reg.ktra("owner", "list", "base-ok").out
            return r.status, r.detail() + (" | listed: " + listed.strip().replace("\n", ",") if "../" in listed else "")
        self.server_case("body", "owner login ../users/bob", "4xx, not stored", owners_traversal,
                         lambda s, t: 400 <= s < 500 and "listed" not in t)

    def urls(self):
        for path in cases.URL_CASES:
            def send(path=path):
                r = c.http(self.port, "GET", path, timeout=20)
                return r.status, r.body[:200].decode("utf-8", "replace")
            label = path if len(path) < 40 else "%s... (%d bytes)" % (path[:12], len(path))
            self.server_case("url", label, "4xx, nothing outside public/", send,
                             lambda s, t: 400 <= s < 500 and "max-crate-size" not in t and "token" not in t.lower()
                             and "root:" not in t)
        api_paths = [("DELETE", "/api/v1/crates/..%2f..%2fetc/1.0.0/yank"), ("GET", "/api/v1/crates/%2e%2e/owners"),
                     ("PUT", "/api/v1/crates/..%2Fbase-ok/1.0.0/unyank"),
                     ("GET", "/api/v1/crates?q=" + "x" * 10000 + "&per_page=100000000")]
        for method, path in api_paths:
            def send(method=method, path=path):
                r = c.http(self.port, method, path, [("Authorization", self.token)], timeout=20)
                return r.status, r.detail()
            label = "%s %s" % (method, path if len(path) < 36 else path[:30] + "...")
            ok_status = (lambda s: s == 200) if "q=" in path else (lambda s: 400 <= s < 500)
            self.server_case("url", label, "4xx (search: 200)", send,
                             lambda s, t, ok_status=ok_status: ok_status(s) and no_leak(t))

    def headers(self):
        def big_header():
            r = c.http(self.port, "GET", "/index/config.json", [("X-Big", "a" * (1 << 20))], timeout=20)
            return r.status, r.detail()
        self.server_case("header", "one 1 MiB header", "431/400 or closed", big_header,
                         lambda s, t: s in (0, 400, 413, 431))

        def many_headers():
            r = c.http(self.port, "GET", "/index/config.json", [("X-H%d" % i, "v") for i in range(10000)], timeout=20)
            return r.status, r.detail()
        self.server_case("header", "10,000 headers", "431/400 or closed", many_headers,
                         lambda s, t: s in (0, 400, 413, 431))

        def huge_token():
            r = c.http(self.port, "PUT", "/api/v1/crates/new", [("Authorization", "x" * (64 << 10))],
                       c.publish_body("tokcase", "1.0.0", c.simple_crate("tokcase", "1.0.0")), timeout=20)
            return r.status, r.detail()
        self.server_case("header", "64 KiB Authorization", "403/431", huge_token,
                         lambda s, t: s in (0, 400, 401, 403, 431))

        def both_lengths():
            head = (b"PUT /api/v1/crates/new HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                    b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n")
            r = c.http(self.port, "PUT", "/", raw_head=head, timeout=20)
            return r.status, r.detail()
        self.server_case("header", "Content-Length and chunked", "400/401", both_lengths,
                         lambda s, t: s in (0, 400, 401, 403))

        def garbage():
            r = c.http(self.port, "GET", "/", raw_head=b"\x16\x03\x01\x00\xff" + os.urandom(500), timeout=20)
            return r.status, r.detail()
        self.server_case("header", "binary garbage request", "400 or closed", garbage, lambda s, t: s in (0, 400))

        def slowloris():
            """Holds incomplete headers; the server must close the connection within the bound."""
            limit = self.args.slowloris_seconds
            s = socket.create_connection(("127.0.0.1", self.port))
            s.sendall(b"GET /index/config.json HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            s.settimeout(limit)
            start = time.monotonic()
            try:
                while time.monotonic() - start < limit:
                    s.sendall(b"X-a: b\r\n")
                    s.settimeout(max(0.1, min(2.0, limit - (time.monotonic() - start))))
                    try:
                        if s.recv(1024) == b"":
                            return 408, "closed after %.1f s" % (time.monotonic() - start)
                        return 408, "answered after %.1f s" % (time.monotonic() - start)
                    except socket.timeout:
                        continue
            except OSError:
                return 408, "closed after %.1f s" % (time.monotonic() - start)
            finally:
                s.close()
            return 0, "still open after %d s" % limit
        self.server_case("header", "slowloris (incomplete headers)", "closed within %ds" % self.args.slowloris_seconds,
                         slowloris, lambda s, t: s == 408)

        def many_connections():
            socks = []
            try:
                for _ in range(self.args.connections):
                    try:
                        socks.append(socket.create_connection(("127.0.0.1", self.port), timeout=5))
                    except OSError:
                        break
                r = c.http(self.port, "GET", "/index/config.json", timeout=20)
                return r.status, "%d idle connections open" % len(socks)
            finally:
                for s in socks:
                    s.close()
        self.server_case("header", "%d idle connections" % self.args.connections, "a new request still served",
                         many_connections, lambda s, t: s == 200)

    def tokens(self):
        ids = lambda: {l.split()[0] for l in self.reg.ktra("token", "list").out.splitlines() if l.strip()}  # noqa: E731
        known = ids()
        revoked = self.reg.user_token("alice")
        rid = sorted(ids() - known)
        if len(rid) == 1:
            self.reg.must("token", "revoke", rid[0])
        short = self.reg.must("token", "create", "alice", "--expires-in", "1s").out.strip()
        glob = self.reg.must("token", "create", "alice", "--crate", "zzz-*").out.strip()
        time.sleep(1.2)
        variants = [("no token", None, 401), ("garbage", "abc", 403), ("64 KiB token", "k" * (64 << 10), 403),
                    ("another registry's token", self.other_token, 403), ("Bearer and nothing", "Bearer ", 403),
                    ("expired", short, 403), ("another crate's glob", glob, 403),
                    ("non-ASCII bytes", "t\xe9st", 403)]
        if rid:
            variants.append(("a revoked token", revoked, 403))
        for name, tok, want in variants:
            def send(tok=tok):
                headers = [("Authorization", tok)] if tok is not None else []
                r = c.http(self.port, "PUT", "/api/v1/crates/new", headers,
                           c.publish_body("tokcase", "1.0.0", c.simple_crate("tokcase", "1.0.0")), timeout=20)
                return r.status, r.detail()
            self.server_case("token", "publish, " + name, str(want), send,
                             lambda s, t, want=want: s in (401, 403) and no_leak(t))

        def yank_garbage():
            r = c.http(self.port, "DELETE", "/api/v1/crates/base-ok/1.0.0/yank", [("Authorization", "nope")])
            return r.status, r.detail()
        self.server_case("token", "yank with a garbage token", "403", yank_garbage, lambda s, t: s == 403)
        self.private_reads()

    def private_reads(self):
        """A private registry: failed reads are refused, and do not grow the audit log by a line each."""
        priv = c.Registry(self.args.ktra, self.base, "http://127.0.0.1:9/p", auth_required=True, name="priv")
        port = c.free_port()
        srv = c.start_serve(self.args.ktra, priv.root, port, os.path.join(self.logs, "priv.log"))
        audit = os.path.join(priv.root, "state", "audit.jsonl")
        def size():
            try:
                with open(audit, "rb") as f:
                    return f.read().count(b"\n")
            except FileNotFoundError:
                return 0
        try:
            before = size()
            statuses = set()
            n = 300
            for i in range(n):
                statuses.add(c.http(port, "GET", "/index/config.json", [("Authorization", "bad%d" % i)]).status)
            lines = size() - before
            ok = statuses == {403} and lines < n // 10
            self.row("token", "300 failed reads, private registry", "403, audit not +1 line each",
                     "statuses %s, audit log +%d lines" % (sorted(statuses), lines), ok)
        finally:
            srv.kill()

    def settings(self):
        s = c.Registry(self.args.ktra, self.base, "http://127.0.0.1:9/s", name="settings")
        toml = os.path.join(s.root, "ktra.toml")
        with open(toml) as f:
            text = f.read()
        good = s.write_crate("setcase", "1.0.0")
        for name, variant in cases.settings_cases(text):
            os.remove(toml)
            if variant == "folder":
                os.mkdir(toml)
            elif variant == "zero":
                os.symlink("/dev/zero", toml)
            elif variant == "git.remote":
                with open(toml, "w") as f:
                    f.write(text.replace("[git]\n", '[git]\nremote = "--receive-pack=touch %s"\n' % self.marker))
            else:
                with open(toml, "w") as f:
                    f.write(variant)
            before = c.tree_hash(s.public)
            problems = []
            outs = []
            for argv in (s.cmd("verify"), s.cmd("add", good)):
                r = c.run_measured(argv, self.args.cli_timeout, self.base)
                outs.append(r)
                if r["timed_out"]:
                    problems.append("HUNG")
                elif r["code"] == 0 and variant != "git.remote":
                    problems.append("accepted by `%s`" % argv[3])
                elif r["code"] not in (0, 1) or "panicked" in r["err"]:
                    problems.append("exit %s (crash)" % r["code"])
                if r["maxrss_mib"] > self.args.rss_bound_mib:
                    problems.append("used %d MiB" % r["maxrss_mib"])
            if variant == "git.remote":
                if os.path.exists(self.marker):
                    problems.append("the remote ran a command")
                elif outs[1]["code"] == 0:
                    problems.append("a push to `--receive-pack=...` reported success")
            elif c.tree_hash(s.public) != before:
                problems.append("public/ CHANGED")
            lines = [l.strip() for l in outs[0]["err"].splitlines() if l.strip()]
            err = lines[-1] if lines else ""
            self.row("settings", name, "exit 1, clear error", "; ".join(problems) or err[:100], not problems)
            if os.path.isdir(toml) and not os.path.islink(toml):
                os.rmdir(toml)
            else:
                os.remove(toml)
            with open(toml, "w") as f:
                f.write(text)
            if variant == "git.remote":  # undo the add that went through locally
                s.ktra("yank", "setcase@1.0.0")
                s.ktra("remove", "setcase@1.0.0")

    def mirror(self):
        hostile_mirror.run(self)

    def close(self):
        self.serve.kill()


def no_leak(text):
    """No absolute server path or token material in what an API client sees."""
    return "/tmp/" not in text and "ktra-chaos-" not in text and "state/" not in text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ktra", default=c.default_ktra())
    ap.add_argument("--only", choices=["tarball", "body", "url", "header", "token", "settings", "mirror"],
                    action="append")
    ap.add_argument("--rss-bound-mib", type=int, default=128,
                    help="a case fails if the server's (or the ktra add's) peak memory grows more")
    ap.add_argument("--slowloris-seconds", type=int, default=20)
    ap.add_argument("--connections", type=int, default=500)
    ap.add_argument("--cli-timeout", type=int, default=20)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    args.ktra = os.path.abspath(args.ktra)
    t0 = time.monotonic()
    h = Hostile(args)
    groups = [("tarball", h.tarballs), ("body", h.bodies), ("url", h.urls), ("header", h.headers),
              ("token", h.tokens), ("settings", h.settings), ("mirror", h.mirror)]
    try:
        for name, fn in groups:
            if not args.only or name in args.only:
                fn()
    finally:
        h.close()
    failed = [r for r in h.rows if not r[4]]
    print("\n== hostile inputs: %d cases, %d failed, %.0f s ==" % (len(h.rows), len(failed), time.monotonic() - t0))
    print("%-8s | %-46s | %-34s | %-80s | %s" % ("group", "case", "expected", "got", "result"))
    for g, n, e, got, ok in h.rows:
        print("%-8s | %-46s | %-34s | %-80s | %s" % (g, n[:46], e[:34], got[:80], "pass" if ok else "FAIL"))
    if args.keep or failed:
        print("kept %s" % h.base)
    else:
        c.rm_tree(h.base)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
