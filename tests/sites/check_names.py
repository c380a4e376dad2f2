#!/usr/bin/env python3
"""The names `zmem run --sites` gives, on names_prog.c (known sites).

  check_names.py CASE ZMEM PROG LIB_ALPHA LIB_BETA LIB_B OUT_DIR
CASE: reload, relative, cxx, nosym or procs. Exit 0 on success, 1 on a
failure."""
import gzip
import os
import re
import subprocess
import sys

CASE, ZMEM, PROG, ALPHA, BETA, LIB_B, OUT = sys.argv[1:8]
STRIPPED = os.path.join(os.path.dirname(LIB_B), "libzmem_names_b_stripped.so")
os.makedirs(OUT, exist_ok=True)
os.chdir(OUT)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what)


def run(args, env=None, same_stdout=True):
    """names_prog under zmem run --sites with every output; its stdout and
    the report, the folded stacks, the flame graph and pprof's strings."""
    plain = subprocess.run([PROG] + args, capture_output=True, text=True, env=env)
    r = subprocess.run([ZMEM, "run", "--sites", "--output", "report.txt", "--collapsed",
                        "folded.txt", "--flame", "flame.svg", "--pprof", "prof.pb.gz",
                        "--", PROG] + args, capture_output=True, text=True, env=env)
    check(r.returncode == plain.returncode == 0,
          "status %d under zmem, %d plain: %s" % (r.returncode, plain.returncode, r.stderr))
    check(r.stdout == plain.stdout or not same_stdout, "stdout differs under zmem")
    report = open("report.txt").read()
    print(report.split("processes (")[-1][:4000])
    strings = gzip.open("prof.pb.gz").read().decode("utf-8", "replace")
    return r.stdout, report, leaves("folded.txt"), open("flame.svg").read(), strings


def leaves(path):
    """leaf name -> bytes at the peak, summed, from folded stacks."""
    out = {}
    for line in open(path):
        stack, _, n = line.rstrip("\n").rpartition(" ")
        leaf = stack.split(";")[-1]
        out[leaf] = out.get(leaf, 0) + int(n)
    return out


def case_reload():
    # Where the loader puts the second library is the address space's
    # business, not the program's behaviour: a sanitizer's preload can take
    # the hole the first one left. Without that, the case has no subject.
    out, report, leaf, _, _ = run(["reload", ALPHA, BETA], same_stdout=False)
    print("second library loaded at the first one's addresses: " + out.strip())
    if out.strip() != "same":
        print("SKIP: the second library did not load at the first one's addresses")
        sys.exit(77)
    check(leaf.get("alpha_alloc") == 111111, "alpha_alloc's 111,111 bytes: %s" % leaf)
    check(leaf.get("beta_alloc") == 222222, "beta_alloc's 222,222 bytes: %s" % leaf)
    check(re.search(r"^\s+alpha_alloc libnames_a\.c:\d+$", report, re.M),
          "the report names alpha_alloc with its line")


def case_relative():
    _, report, leaf, _, _ = run(["open", os.path.dirname(LIB_B), os.path.basename(LIB_B)])
    check(leaf.get("hidden_alloc") == 44444, "hidden_alloc by a relative path: %s" % leaf)
    check(re.search(r"^\s+hidden_alloc libnames_b\.c:\d+$", report, re.M),
          "the report names hidden_alloc with its line")


CXX = "zmemt::cxx_alloc(unsigned long)"
MANGLED = "_ZN5zmemt9cxx_allocEm"


def case_cxx():
    _, report, leaf, flame, strings = run(["open", "/", LIB_B])
    check(leaf.get(CXX) == 55555, "demangled in the folded stacks: %s" % leaf)
    check(re.search(r"^\s+%s libnames_b\.c:\d+$" % re.escape(CXX), report, re.M),
          "demangled in the text report")
    check(CXX in flame and MANGLED not in flame, "demangled in the flame graph")
    check(CXX in strings and MANGLED in strings,
          "pprof: demangled function name, mangled system name")


def build_id(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    return m.group(1) if m else "?"


def case_nosym():
    env = dict(os.environ)
    env.pop("DEBUGINFOD_URLS", None)
    _, report, leaf, _, _ = run(["open", "/", STRIPPED], env=env)
    check(any(k.startswith("libzmem_names_b_stripped.so+0x") and v == 44444
              for k, v in leaf.items()), "no symbol for the hidden function: %s" % leaf)
    hint = re.search(r"^  no symbols for .*(\n    .*)*", report, re.M)
    text = hint.group(0) if hint else ""
    check("libzmem_names_b_stripped.so" in text and build_id(STRIPPED) in text,
          "the report names the module without symbols and its build-id")
    check("-dbgsym" in text and "DEBUGINFOD_URLS" in text, "and how to get symbols")
    check("zmem_names_prog" not in text, "only modules without symbols are named")


def case_procs():
    _, report, leaf, flame, strings = run(["procs"])
    child = report.find("child_site")
    parent = report.find("parent_site")
    check(0 <= child < parent, "the child (300,000 B) comes before the parent (20,000 B)")
    m = re.search(r"merged views \(--flame, --pprof, --collapsed\): (.*)$", report, re.M)
    words = m.group(1) if m else "(no words in the text report)"
    check("2 processes" in words, "the merged views say what they sum: %s" % words)
    check(words in flame, "the flame graph says it in the same words")
    check(words in strings, "pprof says it in the same words")
    check("total " not in flame, "no other total in the flame graph")
    check(sum(v for k, v in leaf.items() if k.startswith("child_site")) == 300000,
          "child_site: %s" % leaf)


{"reload": case_reload, "relative": case_relative, "cxx": case_cxx, "nosym": case_nosym,
 "procs": case_procs}[CASE]()
sys.exit(1 if failures else 0)
