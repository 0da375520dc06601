"""A static file server for the mirror tests' upstream registry: python's own
SimpleHTTPRequestHandler (so If-Modified-Since and Last-Modified behave as in
`python3 -m http.server`), plus two things the tests need:

- it prints `PORT <n>` on stdout once it listens, and exits when its stdin closes (so a
  test process that dies never leaves a server behind);
- `--die-at-crate N` makes the whole process exit, without answering, when the Nth request
  for a `.crate` file arrives: an upstream that dies in the middle of a sync.

One line per request on stderr: `"GET /path HTTP/1.1" STATUS SIZE`.
"""

import argparse
import functools
import http.server
import os
import sys
import threading


class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        server = self.server
        if server.die_at is not None and self.path.split("?")[0].endswith(".crate"):
            with server.count_lock:
                server.crates_seen += 1
                seen = server.crates_seen
            if seen >= server.die_at:
                sys.stderr.write('"%s" DIED -\n' % self.requestline)
                sys.stderr.flush()
                os._exit(0)
        super().do_GET()

    def log_message(self, format, *args):
        sys.stderr.write((format % args) + "\n")
        sys.stderr.flush()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--directory", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--die-at-crate", type=int, default=None)
    args = parser.parse_args()

    handler = functools.partial(Handler, directory=args.directory)
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    server.daemon_threads = True
    server.die_at = args.die_at_crate
    server.crates_seen = 0
    server.count_lock = threading.Lock()

    def watch_stdin():
        try:
            sys.stdin.buffer.read()
        finally:
            os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
