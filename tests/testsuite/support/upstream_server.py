"""A static file server for the mirror tests' upstream registry: python's own
SimpleHTTPRequestHandler (so If-Modified-Since and Last-Modified behave as in
`python3 -m http.server`), plus two things the tests need:

- it prints `PORT <n>` on stdout once it listens, and exits when its stdin closes (so a
  test process that dies never leaves a server behind);
- `--die-at-crate N` makes the whole process exit, without answering, when the Nth request
  for a `.crate` file arrives: an upstream that dies in the middle of a sync;
- `--token T` answers 401 to every request whose `Authorization` header is not `T` (a private
  upstream);
- `--redirect PREFIX=TARGET` (repeatable) answers a request whose path starts with PREFIX with
  a 302 to TARGET followed by the rest of the path (TARGET may be another server, or a path on
  this one);
- `--hide-length` sends no `Content-Length` (the body ends when the connection closes), so a
  client cannot tell a body's size before reading it.

One line per request on stderr: `"GET /path HTTP/1.1" STATUS SIZE auth=yes|no` (whether an
`Authorization` header came; never its value).
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
        if server.token is not None and self.headers.get("Authorization") != server.token:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Cargo login_url="http://127.0.0.1/"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        for prefix, target in server.redirects:
            if self.path.startswith(prefix):
                self.send_response(302)
                self.send_header("Location", target + self.path[len(prefix):])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        if server.die_at is not None and self.path.split("?")[0].endswith(".crate"):
            with server.count_lock:
                server.crates_seen += 1
                seen = server.crates_seen
            if seen >= server.die_at:
                sys.stderr.write('"%s" DIED -\n' % self.requestline)
                sys.stderr.flush()
                os._exit(0)
        super().do_GET()

    def send_header(self, keyword, value):
        if self.server.hide_length and keyword.lower() == "content-length":
            return
        super().send_header(keyword, value)

    def log_request(self, code="-", size="-"):
        auth = "yes" if self.headers.get("Authorization") is not None else "no"
        self.log_message('"%s" %s %s auth=%s', self.requestline, str(code), str(size), auth)

    def log_message(self, format, *args):
        sys.stderr.write((format % args) + "\n")
        sys.stderr.flush()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--directory", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--die-at-crate", type=int, default=None)
    parser.add_argument("--token", default=None)
    parser.add_argument("--redirect", action="append", default=[])
    parser.add_argument("--hide-length", action="store_true")
    args = parser.parse_args()

    handler = functools.partial(Handler, directory=args.directory)
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    server.daemon_threads = True
    server.die_at = args.die_at_crate
    server.token = args.token
    server.hide_length = args.hide_length
    server.redirects = [tuple(r.split("=", 1)) for r in args.redirect]
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
