#!/usr/bin/env python3
"""The signal and kill test: RUNS runs of a churning, forking program under
`zmem run`, each sent SIGTERM, SIGINT or SIGKILL, to zmem or to the
program, at a random moment once it runs. Each run must give a valid
report whose figures agree, or (SIGKILL of zmem) leave no process of the
run running and no file in the output's directory.
   stress.py ZMEM CHURNFORK RUNS    (in a scratch directory)
The seed is printed; ZMEM_SIGNAL_SEED=S repeats a sequence."""
import json
import os
import random
import signal
import subprocess
import sys
import time

zmem, prog, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
seed = int(os.environ.get("ZMEM_SIGNAL_SEED", random.randrange(1 << 32)))
print(f"seed {seed} (ZMEM_SIGNAL_SEED={seed} repeats it)", flush=True)
rng = random.Random(seed)
SIGS = (signal.SIGTERM, signal.SIGINT, signal.SIGKILL)
T0 = time.monotonic()


def fail(run, msg):
    print(f"stress.py: run {run} (seed {seed}): {msg}", file=sys.stderr)
    sys.exit(1)


def defaults():
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(s, signal.SIG_DFL)


def running_in_group(pgid):
    """The processes of process group pgid that are not zombies."""
    found = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            stat = open(f"/proc/{e}/stat").read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(e))
    return found


def wait_for(cond, seconds):
    end = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def agree(run, p, killed):
    """The figures of one process agree with each other; a process killed
    in the middle of a call may be one call off."""
    f = p["functions"]
    freed = f["free"]["bytes"]
    slack = 4000 if killed else 0
    live = p["inherited_requested_bytes"] + p["total_requested_bytes"] - freed
    if abs(p["live_requested_bytes"] - live) > slack:
        fail(run, f"pid {p['pid']}: live {p['live_requested_bytes']} != inherited + "
                  f"allocated - freed = {live}")
    news = f["malloc"]["calls"] + f["calloc"]["calls"]
    if f["free"]["calls"] > news + p["inherited_blocks"] + (1 if killed else 0) + 2:
        fail(run, f"pid {p['pid']}: {f['free']['calls']} frees of "
                  f"{news} + {p['inherited_blocks']} blocks")
    if not 0 <= p["live_blocks"] <= news + p["inherited_blocks"] + (1 if killed else 0):
        fail(run, f"pid {p['pid']}: {p['live_blocks']} live blocks of {news}")
    if p["peak_requested_bytes"] < p["live_requested_bytes"] - slack:
        fail(run, f"pid {p['pid']}: peak below live")


for run in range(runs):
    target = rng.choice(("zmem", "program"))
    sig = rng.choice(SIGS)
    delay = rng.uniform(0, 0.2)
    d = os.path.abspath(f"run{run}")
    os.mkdir(d)
    marker = os.path.join(d, "pid")
    err = open(os.path.join(d, "zmem.err"), "w")
    z = subprocess.Popen([zmem, "run", "--json", f"{d}/r.json", "--output",
                          f"{d}/report.txt", "--interval", "5", "--", prog, marker, "2"],
                         stdout=subprocess.DEVNULL, stderr=err, close_fds=True,
                         start_new_session=True, preexec_fn=defaults)
    if not wait_for(lambda: os.path.exists(marker) or z.poll() is not None, 10) or \
            not os.path.exists(marker):
        z.kill()
        fail(run, "the program did not start")
    program = int(open(marker).read())
    time.sleep(delay)  # the random moment, after the program is known to run
    os.kill(z.pid if target == "zmem" else program, sig)
    try:
        rc = z.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(z.pid, signal.SIGKILL)
        fail(run, f"zmem did not end after {sig.name} to the {target}")
    what = f"{sig.name} to the {target} after {delay * 1000:.0f} ms"
    files = sorted(os.listdir(d))
    if target == "zmem" and sig == signal.SIGKILL:
        if rc != -signal.SIGKILL:
            fail(run, f"{what}: status {rc}")
        # The program dies with zmem; its children end on their own (as when
        # the program itself is killed) within their 150 ms.
        if not wait_for(lambda: not running_in_group(z.pid), 5):
            left = running_in_group(z.pid)
            for p in left:
                os.kill(p, signal.SIGKILL)
            fail(run, f"{what}: left running: {left}")
        if files != ["pid", "zmem.err"]:
            fail(run, f"{what}: left in the output's directory: {files}")
        continue
    if rc != 128 + sig:
        fail(run, f"{what}: zmem's status {rc}, wanted {128 + sig}; "
                  f"{open(os.path.join(d, 'zmem.err')).read()[:300]}")
    if any(f.startswith(".zmem-") for f in files):
        fail(run, f"{what}: a temporary file was left: {files}")
    try:
        rep = json.load(open(f"{d}/r.json"))
    except (OSError, ValueError) as e:
        fail(run, f"{what}: no valid JSON report: {e}")
    if rep["exit_status"] != rc or rep["signal"] != sig:
        fail(run, f"{what}: JSON exit_status {rep['exit_status']}, signal {rep['signal']}")
    zs = rep.get("zmem_signal")
    if (target == "zmem") != (zs is not None) or (zs and zs["signal"] != sig):
        fail(run, f"{what}: zmem_signal {zs}")
    first = rep["processes"][0]
    if first["pid"] != program or first["status"].get("signal") != sig:
        fail(run, f"{what}: first process {first['pid']} status {first['status']}")
    for p in rep["processes"]:
        agree(run, p, p["status"]["kind"] != "exit")
    r = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "..", "run",
                                                     "check.py"), f"{d}/r.json"])
    if r.returncode:
        fail(run, f"{what}: check.py")
    report = open(f"{d}/report.txt").read()
    if f"killed by {sig.name}" not in report:
        fail(run, f"{what}: the text report does not say so")
    if target == "zmem" and f"zmem received {sig.name}; forwarded" not in report:
        fail(run, f"{what}: the text report does not name zmem's signal")
print(f"{runs} runs in {time.monotonic() - T0:.1f} s", flush=True)
