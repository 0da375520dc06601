#!/usr/bin/env python3
"""A real S3-compatible server for the object-storage tests: moto's own WSGI application (the
one `moto_server` runs), served on 127.0.0.1 with one request at a time.

Why one request at a time: moto checks a PUT's `If-Match` / `If-None-Match` and then stores
the object in a separate step, without a lock between the two. With moto's threaded server,
two concurrent conditional PUTs of the same key can both pass the check and both answer 200,
so one writer's update is lost. Real S3 (and MinIO, R2, ...) decides a conditional write
atomically, and ktra's writers depend on exactly that. A single global lock around each whole
request (handling it and producing its body) makes moto atomic too, so the tests prove what
real S3 guarantees instead of tripping over moto. Requests are still accepted on threads, so a
slow client never blocks the server's accept loop.

Usage: moto-server.py [--port N]   (N = 0, the default, lets the system pick a free port)

The first line on stdout is the port, printed once the socket listens. The server exits when
its stdin closes, so a test process that dies never leaves a server behind. Without moto it
exits with status 3 and says how to install it.
"""

import argparse
import json
import os
import sys
import threading
import traceback

INSTALL = "pip install 'moto[server]==5.2.1'"


class OneAtATime:
    """WSGI middleware: the whole request, body included, under one process-wide lock."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        # Requests answered, by method: read by the benchmark at GET /_ktra/requests (not a
        # valid bucket name, so it never shadows one).
        self.counts = {}
        # The requests themselves ("METHOD /path?query"), read and cleared at GET /_ktra/log:
        # which requests a command makes, for the benchmark and for debugging.
        self.log = []

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/_ktra/requests":
            with self.lock:
                body = json.dumps(self.counts).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        if environ.get("PATH_INFO") == "/_ktra/log":
            with self.lock:
                body = json.dumps(self.log).encode()
                self.log = []
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        with self.lock:
            method = environ.get("REQUEST_METHOD", "?")
            self.counts[method] = self.counts.get(method, 0) + 1
            if len(self.log) < 100_000:
                query = environ.get("QUERY_STRING", "")
                path = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
                self.log.append(f"{method} {path}")
            try:
                result = self.app(environ, start_response)
                try:
                    # The body may be produced lazily; produce it while the lock is held.
                    body = b"".join(result)
                finally:
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()
            except Exception:
                # werkzeug answers 500 without saying why; the log should.
                traceback.print_exc()
                raise
        return [body]


def exit_when_stdin_closes():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except OSError:
        pass
    os._exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    try:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            create_backend_app,
        )
        from werkzeug.serving import make_server
    except ImportError as e:
        sys.stderr.write(
            f"moto-server.py: moto is not installed ({e}); run `.ci/run` or `{INSTALL}`\n"
        )
        sys.exit(3)

    app = OneAtATime(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    print(server.server_port, flush=True)
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
