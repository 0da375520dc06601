"""Real state servers for scripts/bench-state.sh (standard library only): PostgreSQL, MariaDB,
Redis and nx-27017 (the MongoDB stand-in), started the way tests/testsuite/support/dbservers.rs
starts them (same binaries, same supervisor, same readiness lines), with two differences:
PostgreSQL and MariaDB run DURABLE (a benchmark of commits must pay for them), and Redis keeps
an append-only file synced every second (its usual production setting).

- PostgreSQL: `initdb` (without `--no-sync`) and `postgres` with `fsync=on`,
  `synchronous_commit=on`, `full_page_writes=on` (the harness turns all three off).
- MariaDB: `mariadbd` with `--innodb-flush-log-at-trx-commit=1` (a log flush per commit).
- Redis: `--appendonly yes --appendfsync everysec` (the harness: no persistence).
- nx-27017: as the harness runs it (SQLite files in the server's dir).

Each server runs under scripts/supervise.py, tied to a pipe this process holds: `stop()` (or
this process dying) stops it and removes its dir. All listen on 127.0.0.1, on free ports; a
bind race (another process took the port first) starts the server again on another port.
"""

import glob
import os
import pwd
import re
import secrets
import shutil
import socket
import string
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUPERVISE = os.path.join(ROOT, "scripts", "supervise.py")
STARTUP_TIMEOUT = 60
USER = "ktra"
DATABASE = "ktra"
NX_MAIN = (
    "import sys\n"
    "from nx_27017.nx_27017 import main\n"
    "sys.argv[0] = 'nx-27017'\n"
    "sys.exit(main())\n"
)


class ServerError(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def password():
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(20))


def find(name, dirs, package):
    for d in os.environ.get("PATH", "").split(os.pathsep) + dirs:
        p = os.path.join(d, name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    raise ServerError(f"`{name}` not found: install Debian's `{package}` (or run .ci/run)")


def postgres_program(name):
    found = []
    for p in glob.glob(f"/usr/lib/postgresql/*/bin/{name}"):
        try:
            found.append((int(p.split("/")[4]), p))
        except ValueError:
            pass
    return max(found)[1] if found else find(name, [], "postgresql")


def as_root():
    return os.geteuid() == 0


def unprivileged_user():
    if not as_root():
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise ServerError("running as root, but neither `postgres` nor `nobody` exists to run PostgreSQL")


class Server:
    """One server under supervise.py; `stop()` ends it and removes its dir."""

    def __init__(self, name, proc, pid, port, log, dir):
        self.name, self.proc, self.pid, self.port, self.log, self.dir = name, proc, pid, port, log, dir

    def stop(self):
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()  # the supervisor stops the server and removes its dir
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # PR_SET_PDEATHSIG then stops the server
            self.proc.wait()

    def log_text(self, start=0):
        try:
            with open(self.log, "rb") as f:
                f.seek(start)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_size(self):
        try:
            return os.path.getsize(self.log)
        except OSError:
            return 0


def supervise(args, log, remove_dir=None, user=None, stop_signal=None):
    opts = ["--log", log]
    if remove_dir:
        opts += ["--remove-dir", remove_dir]
    if user:
        opts += ["--user", user]
    if stop_signal:
        opts += ["--stop-signal", stop_signal]
    proc = subprocess.Popen(
        [sys.executable, SUPERVISE, *opts, "--", *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(log, "ab"),
    )
    line = proc.stdout.readline().decode().strip()
    if not line.isdigit():
        proc.stdin.close()
        proc.wait()
        raise ServerError(f"supervise.py did not start {args[0]}:\n{tail(log)}")
    return proc, int(line)


def tail(log, lines=60):
    try:
        with open(log, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def run_step(name, args, log, user=None):
    proc, _ = supervise(args, log, user=user)
    try:
        status = proc.wait(timeout=STARTUP_TIMEOUT * 2)
    except subprocess.TimeoutExpired:
        proc.stdin.close()
        proc.wait()
        raise ServerError(f"{name} did not finish in time:\n{tail(log)}")
    proc.stdin.close()
    if status != 0:
        raise ServerError(f"{name} failed ({status}):\n{tail(log)}")


def start(name, dir, log, ready, argv_for_port, user=None, stop_signal=None, port_in_log=False):
    """Starts the server; `ready` is the log line (or, with port_in_log, the text before the
    port) that says it accepts connections."""
    for attempt in range(5):
        port = free_port()
        start_at = os.path.getsize(log) if os.path.exists(log) else 0
        proc, pid = supervise(argv_for_port(port), log, remove_dir=dir, user=user, stop_signal=stop_signal)
        server = Server(name, proc, pid, port, log, dir)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            text = server.log_text(start_at)
            if port_in_log:
                m = re.search(re.escape(ready) + r"(\d+)\n", text)
                if m:
                    server.port = int(m.group(1))
                    break
            elif ready in text:
                break
            if proc.poll() is not None:
                if "Address already in use" in text and attempt < 4:
                    server = None
                    break
                raise ServerError(f"{name} did not start:\n{tail(log)}")
            if time.monotonic() > deadline:
                server.stop()
                raise ServerError(f"{name} was not ready within {STARTUP_TIMEOUT} s:\n{text[-4000:]}")
            time.sleep(0.05)
        if server is None:
            continue
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
        return server
    raise ServerError(f"{name}: no free port after 5 attempts")


def server_dir(parent, what):
    d = os.path.join(parent, what)
    os.makedirs(d)
    os.chmod(d, 0o755)
    return d


class Postgres:
    """PostgreSQL, durable: fsync, synchronous_commit and full_page_writes on."""

    SETTINGS = ["fsync=on", "synchronous_commit=on", "full_page_writes=on"]

    def __init__(self, parent):
        initdb = postgres_program("initdb")
        bindir = os.path.dirname(initdb)
        self.psql = os.path.join(bindir, "psql")
        self.version = subprocess.run([os.path.join(bindir, "postgres"), "--version"],
                                      capture_output=True, text=True).stdout.strip()
        user = unprivileged_user()
        self.password = password()
        dir = server_dir(parent, "postgres")
        data = os.path.join(dir, "data")
        pwfile = os.path.join(dir, "password")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        os.chmod(pwfile, 0o644)
        if user:
            os.chown(dir, user.pw_uid, user.pw_gid)
        log = os.path.join(dir, "server.log")
        who = user.pw_name if user else None
        run_step("initdb", [initdb, "-D", data, "-U", USER, f"--pwfile={pwfile}",
                            "--auth-host=scram-sha-256", "--auth-local=trust", "--no-locale",
                            "-E", "UTF8"], log, user=who)
        postgres = os.path.join(bindir, "postgres")

        def argv(port):
            a = [postgres, "-D", data, "-p", str(port)]
            for s in ["listen_addresses=127.0.0.1", "unix_socket_directories=", *self.SETTINGS]:
                a += ["-c", s]
            return a

        self.server = start("PostgreSQL", dir, log, "database system is ready to accept connections",
                            argv, user=who, stop_signal="INT")

    def url(self, database=DATABASE):
        return f"postgres://{USER}:{self.password}@127.0.0.1:{self.server.port}/{database}"

    def sql(self, statement, database="postgres"):
        r = subprocess.run([self.psql, self.url(database), "-v", "ON_ERROR_STOP=1", "-At", "-c", statement],
                           capture_output=True, text=True, env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise ServerError(f"psql: {statement}: {r.stderr.strip()}")
        return r.stdout.strip()

    def settings(self):
        return {name: self.sql(f"SHOW {name}") for name in ("fsync", "synchronous_commit", "full_page_writes", "wal_sync_method")}


class MariaDb:
    """MariaDB with innodb_flush_log_at_trx_commit=1."""

    def __init__(self, parent):
        install_db = find("mariadb-install-db", ["/usr/bin", "/usr/sbin"], "mariadb-server")
        mariadbd = find("mariadbd", ["/usr/sbin", "/usr/bin"], "mariadb-server")
        self.version = subprocess.run([mariadbd, "--version"], capture_output=True, text=True).stdout.strip()
        self.password = password()
        dir = server_dir(parent, "mariadb")
        data = os.path.join(dir, "data")
        log = os.path.join(dir, "server.log")
        root = ["--user=root"] if as_root() else []
        innodb = ["--innodb-log-file-size=8M", "--innodb-buffer-pool-size=32M"]
        run_step("mariadb-install-db", [install_db, "--no-defaults", f"--datadir={data}",
                                        "--auth-root-authentication-method=normal", "--skip-test-db",
                                        *root, *innodb], log)
        init_sql = os.path.join(dir, "init.sql")
        with open(init_sql, "w") as f:
            f.write(f"CREATE DATABASE IF NOT EXISTS {DATABASE};\n"
                    f"CREATE USER IF NOT EXISTS '{USER}'@'%' IDENTIFIED BY '{self.password}';\n"
                    f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%' WITH GRANT OPTION;\n")

        def argv(port):
            return [mariadbd, "--no-defaults", f"--datadir={data}",
                    f"--socket={os.path.join(data, 'mysqld.sock')}",
                    f"--pid-file={os.path.join(data, 'mysqld.pid')}", f"--init-file={init_sql}",
                    "--bind-address=127.0.0.1", f"--port={port}", "--skip-name-resolve", "--skip-log-bin",
                    "--innodb-flush-log-at-trx-commit=1", *root, *innodb]

        self.server = start("MariaDB", dir, log, "ready for connections", argv)

    def url(self, database=DATABASE):
        return f"mysql://{USER}:{self.password}@127.0.0.1:{self.server.port}/{database}"


class Redis:
    """Redis with an append-only file synced every second."""

    def __init__(self, parent):
        program = find("redis-server", ["/usr/bin", "/usr/sbin"], "redis-server")
        self.version = subprocess.run([program, "--version"], capture_output=True, text=True).stdout.strip()
        dir = server_dir(parent, "redis")
        log = os.path.join(dir, "server.log")

        def argv(port):
            a = [program]
            for k, v in [("--port", str(port)), ("--bind", "127.0.0.1"), ("--save", ""),
                         ("--appendonly", "yes"), ("--appendfsync", "everysec"),
                         ("--daemonize", "no"), ("--logfile", ""), ("--dir", dir)]:
                a += [k, v]
            return a

        self.server = start("Redis", dir, log, "Ready to accept connections", argv)

    def url(self, db=0):
        return f"redis://127.0.0.1:{self.server.port}/{db}"


class Mongo:
    """nx-27017 (PyPI), the MongoDB wire-protocol server the tests use."""

    def __init__(self, parent):
        r = subprocess.run([sys.executable, "-c", "import importlib.metadata as m; print(m.version('nx-27017'))"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise ServerError("nx-27017 is not installed for python3: run .ci/run, or "
                              "`python3 -m pip install nx-27017==0.8.1`")
        self.version = "nx-27017 " + r.stdout.strip()
        dir = server_dir(parent, "nx-27017")
        log = os.path.join(dir, "server.log")
        data = os.path.join(dir, "data")

        def argv(_port):
            return [sys.executable, "-c", NX_MAIN, "--host", "127.0.0.1", "--port", "0",
                    "--data-dir", data, "--pid-file", os.path.join(dir, "nx-27017.pid"),
                    "--log-file", "/dev/null"]

        self.server = start("nx-27017", dir, log, "Listening on 127.0.0.1:", argv, port_in_log=True)

    def url(self, database=DATABASE):
        return f"mongodb://127.0.0.1:{self.server.port}/{database}"


def self_check():
    """`state_servers.py --self-check`: starts the four servers in a temporary folder, asks each
    with its own client how durable it was started, stops them, and prints one JSON object:
    the settings, and whether every server process is gone and its folder removed."""
    import json
    import tempfile

    def client(args):
        r = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30)
        if r.returncode != 0:
            raise ServerError(f"{args[0]}: {r.stderr.strip()}")
        return r.stdout.strip()

    def alive(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except OSError:
            return False

    parent = tempfile.mkdtemp(prefix="ktra-bench-state-check-")
    os.chmod(parent, 0o755)
    out, started = {}, []
    try:
        pg = Postgres(parent)
        started.append(pg.server)
        out["postgres"] = pg.settings()
        maria = MariaDb(parent)
        started.append(maria.server)
        mariadb = find("mariadb", ["/usr/bin"], "mariadb-client")
        out["mariadb"] = {"innodb_flush_log_at_trx_commit": client([
            mariadb, "--no-defaults", "--protocol=TCP", "-h", "127.0.0.1", "-P", str(maria.server.port),
            "-u", USER, f"-p{maria.password}", "-N", "-B", "-e", "SELECT @@innodb_flush_log_at_trx_commit"])}
        redis = Redis(parent)
        started.append(redis.server)
        cli = find("redis-cli", ["/usr/bin"], "redis-tools")
        out["redis"] = {k: client([cli, "-p", str(redis.server.port), "CONFIG", "GET", k]).split("\n")[-1]
                        for k in ("appendonly", "appendfsync")}
        mongo = Mongo(parent)
        started.append(mongo.server)
        out["mongo"] = {"port": mongo.server.port}
    finally:
        for s in started:
            s.stop()
        out["stopped"] = {s.name: {"process_gone": not alive(s.pid), "dir_removed": not os.path.exists(s.dir)}
                          for s in started}
        shutil.rmtree(parent, ignore_errors=True)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    if sys.argv[1:] != ["--self-check"]:
        sys.exit("usage: state_servers.py --self-check")
    try:
        self_check()
    except ServerError as e:
        sys.exit(f"error: {e}")
