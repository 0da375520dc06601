"""The mirror cases of hostile.py: hostile upstreams (hostile_upstream.py) for `ktra sync-mirror`
and for the pull-through of `ktra serve --mirror-upstream`."""

import os
import sys
import time

import common as c


def run(h):
    """Hostile upstreams for sync-mirror and the pull-through."""
    here = os.path.dirname(os.path.abspath(__file__))

    def hostile_upstream(mode, other=0):
        port = c.free_port()
        p = c.Process([sys.executable, os.path.join(here, "hostile_upstream.py"), str(port), mode, str(other)],
                      os.path.join(h.logs, "up-%s.log" % mode))
        c.wait_port(port, p)
        return p, "sparse+http://127.0.0.1:%d/mup/public/index/" % port

    # A real upstream on another host (127.0.0.2), reached only through a redirect.
    other = c.free_port()
    up = c.Registry(h.args.ktra, h.base, "http://127.0.0.2:%d/mup/public" % other, git=False, name="mup")
    up.must("add", up.write_crate("mirrored", "1.0.0"))
    static = c.start_static(h.base, other, os.path.join(h.logs, "mup.log"), host="127.0.0.2")
    # The mirror exists (synced straight from that host); the upstream then has a new version.
    h.reg.must("sync-mirror", "mirrored", "--upstream", "sparse+http://127.0.0.2:%d/mup/public/index/" % other)
    up.must("add", up.write_crate("mirrored", "1.1.0"))
    later = time.time() + 5  # past http.server's one-second If-Modified-Since resolution
    os.utime(os.path.join(up.public, "index", c.index_path("mirrored")), (later, later))
    cases = [("redirect to another host", "redirect", "exit 1, redirect refused"),
             ("endless upstream index file", "huge", "exit 1, memory bounded"),
             ("endless upstream config.json", "hugeconfig", "exit 1, memory bounded")]
    try:
        for name, mode, expected in cases:
            proc, url = hostile_upstream(mode, other)
            before = h.public_hash()
            r = c.run_measured(h.reg.cmd("sync-mirror", "mirrored", "--upstream", url, "--retries", "0"),
                             h.args.cli_timeout * 3, h.base)
            proc.kill()
            problems = []
            if r["timed_out"]:
                problems.append("HUNG")
            elif r["code"] == 0:
                problems.append("ACCEPTED")
            elif r["code"] != 1:
                problems.append("exit %s (crash)" % r["code"])
            if r["maxrss_mib"] > h.args.rss_bound_mib:
                problems.append("used %d MiB" % r["maxrss_mib"])
            if h.public_hash() != before:
                problems.append("public/ CHANGED")
            last = [l for l in r["err"].splitlines() if l.strip()]
            h.row("mirror", "sync-mirror: " + name, expected,
                     "; ".join(problems) or "exit 1: " + (last[-1].strip() if last else ""), not problems)
    finally:
        static.kill()
    # The pull-through passes upstream index lines on: they must be checked first.
    for name, mode, path in [("pull-through: invalid upstream lines", "badlines", "/mirror/index/ba/dl/badline"),
                             ("pull-through: endless index file, no token", "huge", "/mirror/index/hu/ge/huge")]:
        proc, url = hostile_upstream(mode)
        port = c.free_port()
        srv = c.start_serve(h.args.ktra, h.reg.root, port, os.path.join(h.logs, "pull.log"),
                            extra_args=["--mirror-upstream", url])
        before = h.public_hash()
        base = c.hwm_kib(srv.pid)
        reply = c.http(port, "GET", path, timeout=60)
        grown = (c.hwm_kib(srv.pid) - base) // 1024 if srv.alive() else -1
        body = reply.body.decode("utf-8", "replace")
        problems = []
        if "../../evil" in body or "etc/passwd" in body:
            problems.append("served the invalid lines")
        if grown < 0:
            problems.append("the server died")
        elif grown > h.args.rss_bound_mib:
            problems.append("peak memory grew by %d MiB" % grown)
        if h.public_hash() != before:
            problems.append("public/ CHANGED")
        srv.kill()
        proc.kill()
        h.row("mirror", name, "refused or filtered, memory bounded",
                 "; ".join(problems) or "%d %s" % (reply.status, reply.detail()[:60]), not problems)
