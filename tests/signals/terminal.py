#!/usr/bin/env python3
"""^C on a terminal: zmem run and its program in the terminal's foreground
process group, the terminal sends SIGINT to both. The program must get it
once (not again from zmem), zmem must wait for it and report its status.
   terminal.py ZMEM SIGPROG     (in a scratch directory)"""
import json
import os
import pty
import select
import signal
import sys
import time

zmem, prog = sys.argv[1:3]
pid, master = pty.fork()
if pid == 0:
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(s, signal.SIG_DFL)
    os.closerange(3, 65536)
    os.execv(zmem, [zmem, "run", "--json", "r.json", "--output", "report.txt", "--",
                    prog, "pid", "log", "once"])


def drain(timeout):
    """Reads what the terminal shows, so that nothing blocks on it."""
    r, _, _ = select.select([master], [], [], timeout)
    if r:
        try:
            os.read(master, 4096)
        except OSError:
            pass


def fail(msg):
    print("terminal.py: " + msg, file=sys.stderr)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    sys.exit(1)


end = time.monotonic() + 10
while not os.path.exists("pid"):
    if time.monotonic() > end or os.waitpid(pid, os.WNOHANG)[0]:
        fail("the program did not start")
    drain(0.02)
os.write(master, b"\x03")  # VINTR: the terminal sends SIGINT to the group
end = time.monotonic() + 10
while True:
    got, st = os.waitpid(pid, os.WNOHANG)
    if got:
        break
    if time.monotonic() > end:
        fail("zmem did not end after ^C")
    drain(0.02)
rc = os.waitstatus_to_exitcode(st)
if rc != 3:
    fail(f"zmem's status {rc}, wanted the program's 3 (zmem must not die of ^C)")
log = open("log", "rb").read()
if log != bytes([signal.SIGINT]):
    fail(f"the program got signals {list(log)}, wanted SIGINT ({int(signal.SIGINT)}) once")
d = json.load(open("r.json"))
if d["exit_status"] != 3 or d.get("zmem_signal") is not None:
    fail(f"report: exit_status {d['exit_status']}, zmem_signal {d.get('zmem_signal')}")
