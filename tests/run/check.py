#!/usr/bin/env python3
"""Checks a `zmem run --json` report: valid JSON, the documented schema,
and figures that agree with each other. Extra checks as key=value:
  procs=N, exit=N, status=KIND, forks=N, execs=N, threads=N; with min_ in
  front (min_peak=BYTES), the figure must be at least N."""
import json
import sys

def fail(msg):
    print("check.py: " + msg, file=sys.stderr)
    sys.exit(1)

d = json.load(open(sys.argv[1]))
if d.get("format") != "zmem-run" or d.get("schema") != 1:
    fail("not a zmem-run schema 1 report")
s = d["summary"]
procs = d["processes"]
if s["processes"] != len(procs):
    fail("summary.processes does not match the process list")
for p in procs:
    for k in ("peak_requested_bytes", "peak_held_bytes", "total_requested_bytes"):
        if p[k] < 0:
            fail(f"pid {p['pid']}: negative {k}")
    if p["peak_held_bytes"] < p["peak_requested_bytes"]:
        fail(f"pid {p['pid']}: held peak below requested peak")
    if p["origin"] != "fork" and p["peak_requested_bytes"] > p["total_requested_bytes"] + 0:
        fail(f"pid {p['pid']}: peak above the total")
    f = p["functions"]
    if sum(h["count"] for h in p["histogram"]) != p["allocations"]:
        fail(f"pid {p['pid']}: histogram does not add up to the allocations")
    if p["status"]["kind"] not in ("exit", "signal", "exec", "unknown"):
        fail("unknown status kind")
    for t in p["timeline"]:
        if len(t) != 4:
            fail("timeline point is not [t, requested, held, rss]")
for arg in sys.argv[2:]:
    k, v = arg.split("=", 1)
    op = "="
    if k.startswith("min_"):
        k, op = k[4:], ">="
    val = {"procs": len(procs), "exit": d["exit_status"],
           "status": procs[0]["status"]["kind"] if procs else "",
           "peak": s["peak_requested_bytes"], "leaked": s["leaked_requested_bytes"],
           "threads": max((p["threads"] for p in procs), default=0),
           "forks": sum(p["origin"] == "fork" for p in procs),
           "execs": sum(p["origin"] == "exec" for p in procs)}[k]
    ok = (str(val) == v) if op == "=" else (val >= int(v))
    if not ok:
        fail(f"{k} is {val}, wanted {op}{v}")
