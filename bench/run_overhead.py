#!/usr/bin/env python3
"""The overhead of `zmem run` against the same program run plain, under
glibc's memusage and under heaptrack, in one run.

  run_overhead.py ZMEM CHURN [--reps N] [--rounds R] [--cg-rounds R] [--out FILE.md]

Programs: CHURN (bench/run_churn.c) at 1 and 2 threads, and python3 with
PYTHONMALLOC=malloc on examples/workload.py. Each repetition runs every
tool on a program back to back (plain first), so a ratio pairs runs made
under the same load; the figure is the median over repetitions of those
paired ratios, with the range. Times are wall-clock seconds. Beside the
times, callgrind counts the instructions each malloc/free pair of the churn
at 1 thread adds over plain, under `zmem run`, `--sample 512K` and `--sites`
(exact and repeatable, where the times vary with the machine's load)."""
import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("zmem")
ap.add_argument("churn")
ap.add_argument("--reps", type=int, default=5)
ap.add_argument("--rounds", type=int, default=2000000)
ap.add_argument("--cg-rounds", type=int, default=100000)
ap.add_argument("--out", default="bench/RUN-OVERHEAD.md")
a = ap.parse_args()
a.zmem, a.churn = os.path.abspath(a.zmem), os.path.abspath(a.churn)

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
py = shutil.which("/usr/bin/python3") or shutil.which("python3")
programs = [
    ("C churn, 1 thread", [a.churn, "1", str(a.rounds)], {}),
    ("C churn, 2 threads", [a.churn, "2", str(a.rounds)], {}),
    ("python3 workload", [py, os.path.join(root, "examples/workload.py")],
     {"PYTHONMALLOC": "malloc"}),
]
tmp = tempfile.mkdtemp(prefix="zmem-overhead.")
tools = {
    "plain": lambda cmd: cmd,
    "zmem run": lambda cmd: [a.zmem, "run", "--quiet", "--"] + cmd,
}
if shutil.which("memusage"):
    tools["memusage"] = lambda cmd: ["memusage"] + cmd
if shutil.which("heaptrack"):
    tools["heaptrack"] = lambda cmd: ["heaptrack", "-o", os.path.join(tmp, "ht")] + cmd


def timed(cmd, env):
    e = dict(os.environ, **env)
    t = time.monotonic()
    r = subprocess.run(cmd, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
    dt = time.monotonic() - t
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}")
    for f in os.listdir(tmp):  # heaptrack/memusage data, not kept
        os.unlink(os.path.join(tmp, f))
    return dt


times = {p[0]: {t: [] for t in tools} for p in programs}
for rep in range(a.reps):
    for name, cmd, env in programs:
        for tool, wrap in tools.items():
            times[name][tool].append(timed(wrap(cmd), env))
        print(f"rep {rep + 1}/{a.reps} {name}: " + ", ".join(
            f"{t} {times[name][t][-1]:.2f}s" for t in tools), file=sys.stderr)


def ratio(name, tool):
    rs = [x / p for x, p in zip(times[name][tool], times[name]["plain"])]
    return statistics.median(rs), min(rs), max(rs)


def instructions(cmd):
    """Instructions the churn's own process ran (not the launcher's), or
    None without valgrind."""
    if not shutil.which("valgrind"):
        return None
    d = tempfile.mkdtemp(prefix="zmem-cg.")
    subprocess.run(["valgrind", "--tool=callgrind", "--trace-children=yes",
                    "--callgrind-out-file=" + os.path.join(d, "cg.%p")] + cmd,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    total = None
    for f in os.listdir(d):
        lines = open(os.path.join(d, f)).read().splitlines()
        if not any(l.split()[:2] == ["cmd:", a.churn] for l in lines if l.startswith("cmd:")):
            continue  # the launcher
        total = next(int(l.split()[1]) for l in lines
                     if l.startswith("summary:") or l.startswith("totals:"))
    shutil.rmtree(d, ignore_errors=True)
    return total


# Per pair over plain: (name, zmem options, target in instructions over
# the reference row, reference row, what the figure is held up by when missed)
cg_rows = [
    ("zmem run", [], 90, "plain",
     "the entry points' counting in the record's slot (calls, bytes per function, "
     "histogram, totals, live figures and peak candidates of both units) and the "
     "registers saved around the call to the allocator below; the shadow map's "
     "store and load and the inline chunk-header read"),
    ("zmem run --sample 512K", ["--sample", "512K"], 20, "zmem run",
     "the sampler's countdown on each call (the sites table's test, a thread-local "
     "subtraction and a branch), on top of the exact path that every call still pays"),
    ("zmem run --sites", ["--sites"], None, "plain", ""),
]


def slope(wrap):
    """Instructions a round: the difference between runs of 2R and R rounds
    over R, so that start-up and exit cost nothing."""
    runs = [instructions(wrap([a.churn, "1", str(r)])) for r in (a.cg_rounds, 2 * a.cg_rounds)]
    return None if runs[0] is None else (runs[1] - runs[0]) / a.cg_rounds


cg = {"plain": slope(lambda cmd: cmd)}
for name, opts, _, _, _ in cg_rows:
    if cg["plain"] is not None:
        cg[name] = slope(lambda cmd, o=opts: [a.zmem, "run", "--quiet"] + o + ["--"] + cmd)


def per_pair(name, ref="plain"):
    return cg[name] - cg[ref]


cpu = "unknown"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
except OSError:
    pass
load = os.getloadavg()[0]
with open(a.out, "w") as f:
    f.write("# `zmem run` overhead\n\n")
    f.write("Generated by `bench/run_overhead.sh`; do not edit by hand. Each ratio is "
            "the median over repetitions of (time under the tool / plain time of "
            "the same program in the same repetition), with the range in brackets; "
            "plain times are medians in seconds (wall clock). Targets: `zmem run` at "
            "most 1.45x plain on the churn at 1 and 2 threads and 1.10x on python3; "
            "at most +90 instructions per malloc/free pair over plain; `--sample` at "
            "most +20 over `zmem run`. Where the time goes: "
            "[docs/run.md](../docs/run.md#overhead).\n\n")
    f.write(f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
            f"{os.cpu_count()} CPUs ({cpu}); load average {load:.1f} at the end\n")
    f.write(f"- {platform.system()} {platform.release()}; repetitions: {a.reps}; "
            f"churn rounds per thread: {a.rounds}\n\n")
    f.write("| program | plain (s) | " + " | ".join(t for t in tools if t != "plain") + " |\n")
    f.write("|---|---|" + "---|" * (len(tools) - 1) + "\n")
    for name, _, _ in programs:
        cells = []
        for t in tools:
            if t == "plain":
                continue
            m, lo, hi = ratio(name, t)
            cells.append(f"{m:.2f}x [{lo:.2f}-{hi:.2f}]")
        f.write(f"| {name} | {statistics.median(times[name]['plain']):.2f} | "
                + " | ".join(cells) + " |\n")
    churn = max(ratio(n, "zmem run")[0] for n, _, _ in programs[:2])
    f.write(f"\nTarget (zmem run <= 1.45x on the C churn at 1 and 2 threads): "
            f"{'met' if churn <= 1.45 else f'not met, {churn:.2f}x'}.\n")
    pyr = ratio(programs[2][0], "zmem run")[0]
    f.write(f"Target (zmem run <= 1.10x on python3): "
            f"{'met' if pyr <= 1.10 else f'not met, {pyr:.2f}x'}.\n")
    if cg["plain"] is not None:
        f.write(f"\n## Instructions per malloc/free pair (callgrind)\n\n"
                f"`run_churn 1 R`, the difference between R = {2 * a.cg_rounds} and "
                f"R = {a.cg_rounds} over {a.cg_rounds} (start-up and exit left out): "
                f"plain {cg['plain']:.0f} instructions a pair.\n\n"
                "| under | a pair | over plain | target | |\n|---|---|---|---|---|\n")
        for name, _, target, ref, cause in cg_rows:
            over = per_pair(name, ref)
            want = "—" if target is None else f"+{target} over {ref}"
            verdict = ("" if target is None else "met" if over <= target
                       else f"not met: +{over:.0f} over {ref}; held up by {cause}")
            f.write(f"| {name} | {cg[name]:.0f} | +{per_pair(name):.0f} "
                    f"| {want} | {verdict} |\n")
shutil.rmtree(tmp, ignore_errors=True)
print(f"wrote {a.out}", file=sys.stderr)
