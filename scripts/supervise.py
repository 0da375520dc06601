#!/usr/bin/env python3
"""Runs one command (a database server, or its setup tool) and ties its life to this script's
stdin, for test servers that cannot watch their parent themselves (postgres, mariadbd,
redis-server, nx-27017).

Usage: supervise.py [--user NAME] [--stop-signal SIG] [--grace SECONDS] [--log FILE]
                    -- COMMAND [ARG...]

- The command runs in a process group of its own, with stdin from /dev/null and stdout and
  stderr appended to --log (default: this script's stderr).
- The first line on stdout is the command's pid, printed once it has started.
- When this script's stdin closes (the test dropped its handle, or the test process died),
  or it gets SIGTERM, SIGINT or SIGHUP, it sends --stop-signal (default TERM) to the command,
  waits up to --grace seconds (default 10) for it to exit, then SIGKILLs its whole process
  group, and exits.
- When the command exits by itself, this script exits with its status (128 + N for signal N).
- If this script itself is killed with SIGKILL, the kernel sends --stop-signal to the command
  (PR_SET_PDEATHSIG), so no server outlives the test in any case.
- --user NAME runs the command as that user and its primary group (when run as root):
  PostgreSQL refuses to run as root.

Python 3 standard library only.
"""

import argparse
import ctypes
import os
import pwd
import select
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1


def parse_signal(name):
    name = name.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    return signal.Signals[name]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user")
    parser.add_argument("--stop-signal", default="TERM", type=parse_signal)
    parser.add_argument("--grace", default=10.0, type=float)
    parser.add_argument("--log")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")

    uid = gid = None
    if args.user is not None and os.geteuid() == 0:
        try:
            entry = pwd.getpwnam(args.user)
        except KeyError:
            sys.stderr.write(f"supervise.py: no user named {args.user!r}\n")
            sys.exit(2)
        uid, gid = entry.pw_uid, entry.pw_gid

    libc = ctypes.CDLL(None, use_errno=True)
    stop = args.stop_signal

    def in_child():
        os.setpgid(0, 0)
        if uid is not None:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
        # After the uid change: changing credentials clears the parent-death signal.
        if libc.prctl(PR_SET_PDEATHSIG, int(stop), 0, 0, 0) != 0:
            os._exit(125)
        # The parent may have died before prctl took effect.
        if os.getppid() == 1:
            os._exit(125)

    log = open(args.log, "ab") if args.log else sys.stderr.buffer
    env = dict(os.environ)
    if uid is not None:
        # Tools like initdb look at HOME and USER; give them the user's.
        env["USER"] = env["LOGNAME"] = args.user
        env["HOME"] = "/"
    try:
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            preexec_fn=in_child,
            env=env,
        )
    except OSError as e:
        sys.stderr.write(f"supervise.py: cannot start {command[0]}: {e}\n")
        sys.exit(127)
    print(child.pid, flush=True)

    stopping = False

    def request_stop(*_):
        nonlocal stopping
        stopping = True

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, request_stop)

    stdin = sys.stdin.buffer.raw if hasattr(sys.stdin.buffer, "raw") else sys.stdin.buffer
    stdin_open = True
    while not stopping:
        code = child.poll()
        if code is not None:
            sys.exit(code if code >= 0 else 128 - code)
        if stdin_open:
            try:
                ready, _, _ = select.select([stdin], [], [], 0.2)
            except InterruptedError:
                continue
            if ready:
                try:
                    data = os.read(stdin.fileno(), 4096)
                except OSError:
                    data = b""
                if not data:
                    stdin_open = False
                    stopping = True
        else:
            time.sleep(0.2)

    try:
        os.kill(child.pid, stop)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + args.grace
    while child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        # The whole group: a server's own children (postgres backends) too.
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    child.wait()
    sys.exit(0)


if __name__ == "__main__":
    main()
