"""Helpers for the server and mirror benchmarks (standard library only): processes (ktra serve,
nginx, wrk), /proc sampling, publish request bodies and crates with an incompressible payload.

Everything listens on 127.0.0.1 only; ports are picked by the kernel (port 0).
"""

import http.client
import json
import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time

import synth

MiB = 1024 * 1024
_CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    pass


# Crates and publish bodies ------------------------------------------------------------------


def crate_with_payload(name, version, payload, level=1):
    """A valid .crate holding `data.bin` = payload (see synth.crate_bytes)."""
    return synth.crate_bytes(name, version, payload=payload, level=level)


def publish_body(name, version, crate):
    """cargo's publish body: u32 LE JSON length, the JSON, u32 LE crate length, the crate."""
    meta = json.dumps({"name": name, "vers": version, "deps": [], "features": {}}).encode()
    return struct.pack("<I", len(meta)) + meta + struct.pack("<I", len(crate)) + crate


# HTTP -----------------------------------------------------------------------------------------


def put(port, path, body, token=None, timeout=60):
    """One PUT on a fresh connection (no keep-alive). Returns (status, body bytes, seconds from
    before connecting to after the last response byte)."""
    headers = {"Content-Type": "application/octet-stream", "Connection": "close"}
    if token is not None:
        headers["Authorization"] = token
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("PUT", path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        status = resp.status
    finally:
        conn.close()
    return status, data, time.perf_counter() - t0


def get(port, path, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read(), dict((k.lower(), v) for k, v in resp.getheaders())
    finally:
        conn.close()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.02)
    return False


# /proc ----------------------------------------------------------------------------------------


def proc_status_kib(pid, field):
    """VmRSS / VmHWM (KiB) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pids):
    """utime + stime of the given processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)
        except OSError:
            pass
    return total / _CLK_TCK


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if ppid == pid:
            out.append(int(d))
    return out


class RssSampler:
    """Samples VmRSS of a process every `interval` seconds in a thread."""

    def __init__(self, pid, interval=0.02):
        self.pid, self.interval = pid, interval
        self.peak_kib, self.samples = 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            kib = proc_status_kib(self.pid, "VmRSS")
            if kib is not None:
                self.peak_kib = max(self.peak_kib, kib)
                self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


# Processes ------------------------------------------------------------------------------------


def die_with_parent():
    """preexec_fn: the child gets SIGTERM when the benchmark dies, even by SIGKILL, so no server
    outlives it (Linux prctl PR_SET_PDEATHSIG; nothing happens where that is unavailable)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop(proc, seconds=5):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class KtraServe:
    """`ktra -r REG serve --listen 127.0.0.1:0`; the port is read from its status line on stderr,
    which is drained for the server's whole life (the last lines are kept for error messages)."""

    LINE = re.compile(r"Serving .* at http://127\.0\.0\.1:(\d+)")

    def __init__(self, ktra, reg, start_timeout=20):
        self.reg = reg
        self.proc = subprocess.Popen(
            [ktra, "-r", reg, "serve", "--listen", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.pid = self.proc.pid
        self.tail = []
        self._port = None
        self._ready = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()
        if not self._ready.wait(start_timeout) or self._port is None:
            _stop(self.proc)
            raise BenchError(f"ktra serve did not start on {reg}:\n" + "".join(self.tail[-20:]))
        self.port = self._port

    def _drain(self):
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace")
            self.tail = (self.tail + [line])[-50:]
            if self._port is None:
                m = self.LINE.search(line)
                if m:
                    self._port = int(m.group(1))
                    self._ready.set()
        self._ready.set()

    def check_alive(self):
        if self.proc.poll() is not None:
            raise BenchError(f"ktra serve exited ({self.proc.returncode}):\n" + "".join(self.tail[-20:]))

    def pids(self):
        return [self.pid]

    def stop(self):
        _stop(self.proc)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def nginx_binary():
    return "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else "nginx"


class NginxServer:
    """nginx in the foreground (`daemon off`) with a master and `workers` worker processes, every
    path inside `dir`, access log off, around the server block `server_block(port)` returns for
    the port picked (127.0.0.1 only; a new port is tried when the one picked was taken)."""

    def __init__(self, dir, server_block, workers=2, attempts=3):
        os.makedirs(dir, exist_ok=True)
        self.dir = dir
        last = ""
        for _ in range(attempts):  # a free port can be taken between probing and binding
            self.port = free_port()
            block = server_block(self.port)
            conf = os.path.join(dir, "nginx.conf")
            with open(conf, "w") as f:
                f.write(
                    "daemon off;\n"
                    "master_process on;\n"
                    f"worker_processes {workers};\n"
                    f"pid {dir}/nginx.pid;\n"
                    f"error_log {dir}/error.log;\n"
                    "events { worker_connections 1024; }\n"
                    "http {\n"
                    "  access_log off;\n"
                    f"  client_body_temp_path {dir}/body;\n"
                    f"  proxy_temp_path {dir}/proxy;\n"
                    f"  fastcgi_temp_path {dir}/fastcgi;\n"
                    f"  uwsgi_temp_path {dir}/uwsgi;\n"
                    f"  scgi_temp_path {dir}/scgi;\n\n"
                    f"{block}\n"
                    "}\n"
                )
            self.proc = subprocess.Popen(
                [nginx_binary(), "-p", dir, "-c", conf],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=open(os.path.join(dir, "stderr.log"), "wb"),
                preexec_fn=die_with_parent,
            )
            self.pid = self.proc.pid
            if wait_port(self.port, self.proc):
                # the workers are forked right after the listening socket is open
                deadline = time.monotonic() + 5
                while len(children(self.pid)) < workers and time.monotonic() < deadline:
                    time.sleep(0.02)
                self.workers = children(self.pid)
                self.conf_text = open(conf).read()
                return
            _stop(self.proc)
            try:
                last = open(os.path.join(dir, "error.log"), errors="replace").read()[-2000:]
            except OSError:
                last = open(os.path.join(dir, "stderr.log"), errors="replace").read()[-2000:]
        raise BenchError(f"nginx did not start:\n{last}")

    def pids(self):
        return [self.pid, *self.workers]

    def stop(self):
        _stop(self.proc)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Nginx(NginxServer):
    """NginxServer around the server block `ktra nginx-config` prints for `reg`, with the API
    proxied to `ktra serve` on `upstream_port`."""

    def __init__(self, ktra, reg, dir, upstream_port, workers=2, attempts=3):
        def block(port):
            return subprocess.run(
                [ktra, "-r", reg, "nginx-config", "--listen", f"127.0.0.1:{port}",
                 "--upstream", f"http://127.0.0.1:{upstream_port}"],
                check=True, capture_output=True, text=True,
            ).stdout

        super().__init__(dir, block, workers=workers, attempts=attempts)


# wrk ------------------------------------------------------------------------------------------

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else None


def wrk(url, threads, connections, seconds, close=False):
    """Runs wrk (keep-alive, or a new connection per request with `close`); returns req/s,
    requests, latency (average, p50, p99 in seconds) and error counts."""
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if close:
        cmd += ["-H", "Connection: close"]
    cmd.append(url)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    out = r.stdout
    if r.returncode != 0 or "Requests/sec:" not in out:
        raise BenchError(f"wrk failed ({r.returncode}): {' '.join(cmd)}\n{out}\n{r.stderr}")
    res = {"cmd": " ".join(cmd)}
    res["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"(\d+) requests in ([\d.]+\w+)", out)
    res["requests"] = int(m.group(1))
    res["duration_s"] = _seconds(m.group(2))
    m = re.search(r"Latency\s+(\S+)", out)
    res["latency_avg_s"] = _seconds(m.group(1)) if m else None
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        res[f"latency_p{pct}_s"] = _seconds(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    res["non_2xx_3xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["socket_errors"] = sum(map(int, m.groups())) if m else 0
    return res
