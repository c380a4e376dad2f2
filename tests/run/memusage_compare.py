#!/usr/bin/env python3
"""Runs a program under glibc's memusage and under `zmem run` and compares:
requested-bytes peak and total within 1%, call counts of malloc, calloc,
realloc and free equal (or within --calls-slack).
  memusage_compare.py [--calls-slack N] ZMEM PROGRAM ARGS..."""
import json
import os
import re
import subprocess
import sys
import tempfile

args = sys.argv[1:]
slack = 0
if args[0] == "--calls-slack":
    slack = int(args[1])
    args = args[2:]
zmem, prog = args[0], args[1:]

with tempfile.TemporaryDirectory() as d:
    mu = subprocess.run(["memusage"] + prog, capture_output=True, text=True)
    err = re.sub(r"\x1b\[[0-9;]*m", "", mu.stderr)
    m = re.search(r"heap total: (\d+), heap peak: (\d+)", err)
    if not m:
        sys.exit("memusage printed no summary:\n" + err[:500])
    mtotal, mpeak = int(m.group(1)), int(m.group(2))
    mcalls = {f: int(c) for f, c in re.findall(r"^\s*(malloc|realloc|calloc|free)\|\s+(\d+)", err, re.M)}
    j = os.path.join(d, "r.json")
    subprocess.run([zmem, "run", "--quiet", "--json", j, "--"] + prog,
                   capture_output=True, check=True)
    p = json.load(open(j))["processes"][0]
    zpeak, ztotal = p["peak_requested_bytes"], p["total_requested_bytes"]
    zcalls = {f: p["functions"][f]["calls"] for f in mcalls}
    print(f"memusage: peak {mpeak} total {mtotal} calls {mcalls}")
    print(f"zmem:     peak {zpeak} total {ztotal} calls {zcalls}")
    bad = []
    if abs(zpeak - mpeak) > 0.01 * mpeak:
        bad.append("peak")
    if abs(ztotal - mtotal) > 0.01 * mtotal:
        bad.append("total")
    for f in mcalls:
        if abs(zcalls[f] - mcalls[f]) > slack:
            bad.append(f + " calls")
    if bad:
        sys.exit("differ: " + ", ".join(bad))
