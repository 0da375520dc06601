#!/usr/bin/env python3
"""A hostile upstream registry for the mirror cases of hostile.py, on 127.0.0.1.

  hostile_upstream.py PORT MODE [OTHER_PORT]
MODE:
  redirect   every request answers 302 to the same path on 127.0.0.2:OTHER_PORT (another host)
  huge       config.json is normal; every index file is an endless stream of JSON-ish bytes
  hugeconfig config.json is an endless stream; index files hold one line (version 9.0.0)
  badlines   index files hold lines naming other crates and paths (`../../evil`)
"""

import http.server
import json
import sys

PORT, MODE = int(sys.argv[1]), sys.argv[2]
OTHER = int(sys.argv[3]) if len(sys.argv) > 3 else PORT
CHUNK = b'{"name":"x","vers":"1.0.0","deps":[],"cksum":"' + b"0" * 64 + b'","features":{},"yanked":false}\n'


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def endless(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        block = CHUNK * 8192
        try:
            for _ in range(4096):  # up to about 3 GiB, then stop
                self.wfile.write(block)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self):
        path = self.path.split("?")[0]
        if MODE == "redirect":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.2:%d%s" % (OTHER, path))
            self.end_headers()
            return
        if path.endswith("config.json"):
            if MODE == "hugeconfig":
                return self.endless()
            body = json.dumps({"dl": "http://127.0.0.1:%d/crates/{crate}-{version}.crate" % PORT}).encode()
        elif MODE == "huge":
            return self.endless()
        elif MODE == "hugeconfig":
            name = path.rsplit("/", 1)[-1]
            body = (json.dumps({"name": name, "vers": "9.0.0", "deps": [], "cksum": "0" * 64, "features": {},
                                "yanked": False}) + "\n").encode()
        elif MODE == "badlines":
            name = path.rsplit("/", 1)[-1]
            lines = [{"name": "../../evil", "vers": "1.0.0", "deps": [], "cksum": "0" * 64, "features": {},
                      "yanked": False},
                     {"name": name, "vers": "1.0.0", "deps": [{"name": "../../../etc/passwd", "req": "^1",
                                                              "features": [], "optional": False,
                                                              "default_features": True, "target": None,
                                                              "kind": "normal"}],
                      "cksum": "0" * 64, "features": {}, "yanked": False}]
            body = "".join(json.dumps(l) + "\n" for l in lines).encode()
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    print("listening", flush=True)
    server.serve_forever()
