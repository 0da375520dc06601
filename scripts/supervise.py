#!/usr/bin/env python3
"""Runs one command (a database server, or its setup tool) and ties its life to this script's
stdin, for test servers that cannot watch their parent themselves (postgres, mariadbd,
redis-server, nx-27017).

Usage: supervise.py [--user NAME] [--stop-signal SIG] [--grace SECONDS] [--log FILE]
                    [--remove-dir DIR] -- COMMAND [ARG...]

- The command runs in a process group of its own, with stdin from /dev/null and stdout and
  stderr appended to --log (default: this script's stderr).
- The first line on stdout is the command's pid, printed once it has started.
- When this script's stdin closes (the test dropped its handle, or the test process died),
  or it gets SIGTERM, SIGINT or SIGHUP, it sends --stop-signal (default TERM) to the command,
  waits up to --grace seconds (default 10) for it to exit, then SIGKILLs its whole process
  group, removes --remove-dir (the server's temp dir: a test process that dies cannot), and
  exits.
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
import shutil
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
    parser.add_argument("--remove-dir")
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
    supervisor = os.getpid()
    stopping = False

    def request_stop(*_):
        nonlocal stopping
        stopping = True

    handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    for sig in handled:
        signal.signal(sig, request_stop)

    def in_child():
        # Until exec this is still Python, whose handlers would swallow the signals that
        # must stop it (request_stop above, KeyboardInterrupt for SIGINT).
        for sig in set(handled) | {stop}:
            signal.signal(sig, signal.SIG_DFL)
        os.setpgid(0, 0)
        if uid is not None:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
        # After the uid change, which clears the parent-death signal.
        if libc.prctl(PR_SET_PDEATHSIG, int(stop), 0, 0, 0) != 0:
            os._exit(125)
        # The supervisor may have died before prctl: then nobody would signal this process.
        if os.getppid() != supervisor:
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

    # From here on, whatever happens to this script, the child is stopped before it exits.
    try:
        try:
            print(child.pid, flush=True)
        except BrokenPipeError:
            # Nobody reads: the test that started this is gone.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            stopping = True
        stdin = sys.stdin.buffer.raw if hasattr(sys.stdin.buffer, "raw") else sys.stdin.buffer
        while not stopping:
            code = child.poll()
            if code is not None:
                sys.exit(code if code >= 0 else 128 - code)
            ready, _, _ = select.select([stdin], [], [], 0.2)
            if ready:
                try:
                    data = os.read(stdin.fileno(), 4096)
                except OSError:
                    data = b""
                if not data:
                    stopping = True
    finally:
        if child.returncode is None:
            stop_child(child, stop, args.grace)
            if args.remove_dir:
                shutil.rmtree(args.remove_dir, ignore_errors=True)
    sys.exit(0)


def stop_child(child, stop, grace):
    """The stop signal, up to `grace` seconds to exit, then SIGKILL for its process group."""
    try:
        os.kill(child.pid, stop)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + grace
    while child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        # The whole group: a server's own children (postgres backends) too.
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    child.wait()

if __name__ == "__main__":
    main()
