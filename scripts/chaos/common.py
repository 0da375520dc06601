"""Shared helpers of the chaos scripts: the ktra binary, registries in temp dirs, hand-made
.crate files, servers on 127.0.0.1 (ktra serve, python's http.server), raw HTTP, tree hashes.

Python 3 standard library only.
"""

import gzip
import hashlib
import io
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REG_NAME = "demo"
# Every ktra child gets this address-space limit, so a hole that reads without end (such as a
# dependency path leading to /dev/zero) fails that process instead of the machine.
KTRA_AS_LIMIT = 2 << 30


def default_ktra():
    return os.path.join(REPO, "target", "release", "ktra")


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (KTRA_AS_LIMIT, KTRA_AS_LIMIT))


def clean_env(extra=None):
    env = dict(os.environ)
    for k in ("KTRA_REGISTRY", "KTRA_CRASH_AT", "CARGO_BUILD_TARGET_DIR"):
        env.pop(k, None)
    env["NO_COLOR"] = "1"
    env["CARGO_TERM_COLOR"] = "never"
    env["CARGO_TERM_PROGRESS_WHEN"] = "never"
    if extra:
        env.update(extra)
    return env


def shell_quote(args):
    return " ".join(a if re.fullmatch(r"[\w@%+=:,./-]+", a) else "'" + a.replace("'", "'\\''") + "'" for a in args)


class Result:
    def __init__(self, args, code, out, err, timed_out=False, elapsed=0.0):
        self.args, self.code, self.out, self.err = args, code, out, err
        self.timed_out, self.elapsed = timed_out, elapsed

    @property
    def ok(self):
        return self.code == 0 and not self.timed_out

    def panicked(self):
        return "panicked" in self.err or self.code == 101

    def describe(self):
        return "$ %s\nexit %s%s\n%s%s" % (shell_quote(self.args), self.code,
                                         " (timed out)" if self.timed_out else "",
                                         self.out[-2000:], self.err[-2000:])


def run(args, env=None, timeout=120, cwd=None, stdin=None):
    start = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env or clean_env(),
                         cwd=cwd, stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                         preexec_fn=limit_memory, start_new_session=True)
    try:
        out, err = p.communicate(input=stdin, timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        timed_out = True
    return Result(args, p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                  timed_out, time.monotonic() - start)


class Registry:
    """A registry in a temp dir, driven through the ktra binary."""

    def __init__(self, ktra, base, url, api=None, git=True, auth_required=False, name="reg"):
        self.ktra_bin = ktra
        self.base = base
        self.root = os.path.join(base, name)
        self.files = os.path.join(base, name + "-files")
        os.makedirs(self.files, exist_ok=True)
        args = ["init", self.root, "--url", url, "--name", REG_NAME]
        if api:
            args += ["--api", api]
        if not git:
            args.append("--no-git")
        if auth_required:
            args.append("--auth-required")
        self.must(*args, root=False)

    @property
    def public(self):
        return os.path.join(self.root, "public")

    def cmd(self, *args, root=True):
        return [self.ktra_bin] + (["-r", self.root] if root else []) + list(args)

    def ktra(self, *args, crash_at=None, timeout=120, root=True):
        env = clean_env({"KTRA_CRASH_AT": crash_at} if crash_at else None)
        return run(self.cmd(*args, root=root), env=env, timeout=timeout, cwd=self.base)

    def must(self, *args, root=True, timeout=300):
        r = self.ktra(*args, root=root, timeout=timeout)
        if not r.ok:
            raise RuntimeError("setup step failed:\n" + r.describe())
        return r

    def write_crate(self, name, version, extra="", file_name=None):
        path = os.path.join(self.files, file_name or "%s-%s.crate" % (name, version))
        with open(path, "wb") as f:
            f.write(simple_crate(name, version, extra))
        return path

    def user_token(self, login="chaos", args=()):
        if login not in self.ktra("user", "list").out.split():
            self.must("user", "add", login)
        return self.must("token", "create", login, *args).out.strip()

    def index_lines(self, name):
        path = os.path.join(self.public, "index", index_path(name))
        try:
            with open(path) as f:
                return [json.loads(l) for l in f if l.strip()]
        except FileNotFoundError:
            return []

    def has_version(self, name, version):
        return any(e.get("vers") == version for e in self.index_lines(name))


def index_path(name):
    n = name.lower()
    if len(n) == 1:
        return "1/" + n
    if len(n) == 2:
        return "2/" + n
    if len(n) == 3:
        return "3/%s/%s" % (n[0], n)
    return "%s/%s/%s" % (n[:2], n[2:4], n)


def manifest(name, version, extra=""):
    return ('[package]\nedition = "2021"\nname = "%s"\nversion = "%s"\n'
            'description = "chaos test crate"\nlicense = "MIT"\n\n[lib]\npath = "src/lib.rs"\n%s'
            % (name, version, extra))


def tarball(entries, gz_level=1):
    """entries: list of (kind, path, data_or_target); kind in file/dir/symlink/hardlink/fifo."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for kind, path, data in entries:
            info = tarfile.TarInfo(path)
            info.mode, info.mtime = 0o644, 0
            if kind == "file":
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                         "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE}[kind]
            if kind in ("symlink", "hardlink"):
                info.linkname = data
            tar.addfile(info)
    return gzip.compress(raw.getvalue(), compresslevel=gz_level, mtime=0)


def simple_crate(name, version, extra=""):
    root = "%s-%s" % (name, version)
    return tarball([("file", root + "/Cargo.toml", manifest(name, version, extra).encode()),
                    ("file", root + "/src/lib.rs", b"pub fn f() {}\n")])


def publish_body(name, vers, krate, deps=None, json_override=None):
    meta = json_override if json_override is not None else json.dumps(
        {"name": name, "vers": vers, "deps": deps or [], "features": {}}).encode()
    return (len(meta).to_bytes(4, "little") + meta + len(krate).to_bytes(4, "little") + krate)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class HttpReply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def detail(self):
        try:
            return json.loads(self.body)["errors"][0]["detail"]
        except Exception:
            return self.body[:300].decode("utf-8", "replace")


def http(port, method, path, headers=(), body=b"", timeout=30, raw_head=None, content_length=None):
    """One HTTP/1.1 request, the path sent exactly as given. Status 0 means no answer."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError:
        return HttpReply(0, {}, b"connect failed")
    try:
        if raw_head is None:
            length = len(body) if content_length is None else content_length
            head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: %d\r\n" % (
                method, path, length)
            for k, v in headers:
                head += "%s: %s\r\n" % (k, v)
            raw_head = (head + "\r\n").encode("latin-1")
        s.sendall(raw_head)
        if body:
            try:
                s.sendall(body)
            except OSError:
                pass  # the server may answer and close before reading everything
        s.shutdown(socket.SHUT_WR) if content_length is not None else None
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not c:
                break
            chunks.append(c)
        return parse_reply(b"".join(chunks))
    except OSError as e:
        return HttpReply(0, {}, str(e).encode())
    finally:
        s.close()


def parse_reply(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        return HttpReply(0, {}, raw[:300])
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    return HttpReply(status, headers, body)


class Process:
    """A background server; stdout/stderr to a log file. Killed (SIGKILL) by stop()."""

    def __init__(self, args, log, env=None, cwd=None):
        self.args, self.log = args, log
        self.logf = open(log, "ab")
        self.p = subprocess.Popen(args, stdout=self.logf, stderr=self.logf, stdin=subprocess.DEVNULL,
                                  env=env or clean_env(), cwd=cwd, preexec_fn=limit_memory,
                                  start_new_session=True)

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def kill(self):
        if self.alive():
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.p.wait()
        self.logf.close()

    stop = kill

    def rss_kib(self):
        return rss_kib(self.p.pid)


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_port(port, proc=None, timeout=15, host="127.0.0.1"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            return False
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def start_serve(ktra, root, port, log, crash_at=None, extra_args=()):
    env = clean_env({"KTRA_CRASH_AT": crash_at} if crash_at else None)
    p = Process([ktra, "-r", root, "serve", "--listen", "127.0.0.1:%d" % port] + list(extra_args),
                log, env=env)
    if not wait_port(port, p):
        p.kill()
        raise RuntimeError("ktra serve did not listen on %d; log %s" % (port, log))
    return p


def start_static(directory, port, log, host="127.0.0.1"):
    p = Process([sys.executable, "-u", "-m", "http.server", "--bind", host, str(port),
                 "--directory", directory], log)
    if not wait_port(port, p, host=host):
        p.kill()
        raise RuntimeError("http.server did not listen on %d" % port)
    return p


def tree_hash(root, skip=()):
    """SHA-256 over every path, type, and content under root (files and symlinks)."""
    h = hashlib.sha256()
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        rel_dir = os.path.relpath(dirpath, root)
        if any(rel_dir == s or rel_dir.startswith(s + "/") for s in skip):
            continue
        h.update(b"D" + rel_dir.encode() + b"\0")
        for f in sorted(files):
            p = os.path.join(dirpath, f)
            h.update(b"F" + os.path.join(rel_dir, f).encode() + b"\0")
            if os.path.islink(p):
                h.update(os.readlink(p).encode())
            elif os.path.isfile(p):
                with open(p, "rb") as fh:
                    h.update(hashlib.sha256(fh.read()).digest())
    return h.hexdigest()


def verify_ok(reg, timeout=120):
    """`ktra verify` passes (a pending interrupted change is reported, not an error)."""
    return reg.ktra("verify", timeout=timeout)


def make_temp(prefix):
    return tempfile.mkdtemp(prefix=prefix)


def rm_tree(path):
    shutil.rmtree(path, ignore_errors=True)


CONSUMER_TOML = """[package]
name = "chaos-consumer"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
%s
"""


def cargo_generate_lockfile(base, index_url, deps, cargo_home):
    """Real cargo resolves a consumer of `deps` (name -> version req) against index_url."""
    d = os.path.join(base, "consumer")
    rm_tree(d)
    os.makedirs(os.path.join(d, "src"))
    os.makedirs(os.path.join(d, ".cargo"))
    lines = "\n".join('%s = { version = "%s", registry = "%s" }' % (n, v, REG_NAME) for n, v in deps)
    with open(os.path.join(d, "Cargo.toml"), "w") as f:
        f.write(CONSUMER_TOML % lines)
    with open(os.path.join(d, "src", "main.rs"), "w") as f:
        f.write("fn main() {}\n")
    with open(os.path.join(d, ".cargo", "config.toml"), "w") as f:
        f.write('[registries.%s]\nindex = "%s"\n' % (REG_NAME, index_url))
    env = clean_env({"CARGO_HOME": cargo_home})
    return run(["cargo", "generate-lockfile"], env=env, cwd=d, timeout=180)


def cargo_publish(base, name, version, index_url, token, cargo_home, target_dir):
    """Real `cargo publish --registry demo --token T` of a fresh one-file crate."""
    d = os.path.join(base, "pub-%s-%s" % (name, version))
    rm_tree(d)
    os.makedirs(os.path.join(d, "src"))
    with open(os.path.join(d, "Cargo.toml"), "w") as f:
        f.write('[package]\nname = "%s"\nversion = "%s"\nedition = "2021"\n'
                'description = "chaos"\nlicense = "MIT"\npublish = ["%s"]\n' % (name, version, REG_NAME))
    with open(os.path.join(d, "src", "lib.rs"), "w") as f:
        f.write("pub fn f() {}\n")
    env = clean_env({"CARGO_HOME": cargo_home, "CARGO_TARGET_DIR": target_dir,
                     "CARGO_REGISTRIES_%s_INDEX" % REG_NAME.upper(): index_url})
    return run(["cargo", "publish", "--registry", REG_NAME, "--token", token, "--allow-dirty", "--no-verify"],
               env=env, cwd=d, timeout=300)


def hwm_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_measured(argv, timeout, cwd):
    """Runs argv; returns exit code, stderr, whether it timed out and its own peak RSS (wait4)."""
    errf = os.path.join(cwd, "logs", "measured.err")
    with open(errf, "wb") as err:
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
                             env=clean_env(), cwd=cwd, preexec_fn=limit_memory, start_new_session=True)
        timed_out = []

        def killer():
            timed_out.append(True)
            try:
                os.killpg(p.pid, 9)
            except ProcessLookupError:
                pass
        t = threading.Timer(timeout, killer)
        t.start()
        _, status, usage = os.wait4(p.pid, 0)
        t.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
    with open(errf, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    return {"code": p.returncode, "err": text, "timed_out": bool(timed_out), "maxrss_mib": usage.ru_maxrss // 1024}
