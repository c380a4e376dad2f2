#!/usr/bin/env python3
"""`zmem run --sites` on sites_prog.c (known sites) and on real programs.

  check_run_sites.py CASE ZMEM PROG PROG_NOFP DL_LIB OUT_DIR
CASE: exact, sample, nofp, sigkill, gate or real. Exit 0 on success, 1 on a
failure, 77 when a tool the case needs is missing."""
import math
import os
import re
import shutil
import subprocess
import sys

from pprof_raw import raw_samples

CASE, ZMEM, PROG, PROG_NOFP, DL, OUT = sys.argv[1:7]
os.makedirs(OUT, exist_ok=True)
os.chdir(OUT)
failures = []

# leaf function -> [alloc_objects, alloc_space, inuse_objects, inuse_space,
#                   peak_inuse_objects, peak_inuse_space]
KNOWN = {
    "transient_site": [1, 150000, 0, 0, 0, 0],
    "loop_site": [120, 120000, 120, 120000, 120, 120000],
    "thread_site": [40, 80000, 0, 0, 40, 80000],
    "dl_site_alloc": [12, 60000, 0, 0, 12, 60000],
    # After the peak, so none at the peak: a realloc moves a block's site to
    # its own; a realloc that fails leaves the block's site.
    "small_site": [2, 200, 0, 0, 0, 0],
    "grow_site": [1, 50000, 1, 50000, 0, 0],
    "kept_site": [1, 700, 1, 700, 0, 0],
}
# The fork child's own table: the blocks it inherited have no site there.
CHILD = {"child_site": [7, 21000, 7, 21000, 7, 21000],
         "inherited": [1, 4000, 1, 4000, 1, 4000]}


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what)


def zmem(opts, prog, env=None, expect=None):
    """Runs prog plain and under zmem run; same stdout and status."""
    plain = subprocess.run(prog, capture_output=True, text=True, env=env)
    r = subprocess.run([ZMEM, "run", "--output", "report.txt"] + opts + ["--"] + prog,
                       capture_output=True, text=True, env=env)
    want = plain.returncode if expect is None else expect
    check(r.returncode == want, "status %d under zmem, %d plain: %s" %
          (r.returncode, plain.returncode, r.stderr[-500:]))
    check(r.stdout == plain.stdout, "stdout differs under zmem")
    return r, open("report.txt").read()


def folded(path):
    """pid -> {leaf: weight} from a collapsed file (roots are '[pid N] ...')."""
    out = {}
    for line in open(path):
        stack, w = line.rstrip("\n").rsplit(" ", 1)
        frames = stack.split(";")
        m = re.match(r"\[pid (\d+)\]", frames[0])
        pid = int(m.group(1)) if m else 0
        leaf = out.setdefault(pid, {})
        leaf[frames[-1]] = leaf.get(frames[-1], 0) + int(w)
    return out


def pprof_raw(path):
    env = dict(os.environ, HOME=OUT, GOCACHE=os.path.join(OUT, "gocache"))
    return raw_samples(subprocess.run(["go", "tool", "pprof", "-raw", path],
                                      capture_output=True, text=True, env=env,
                                      check=True).stdout)


def first_pid(per_pid):
    return min(per_pid, key=lambda p: p if p else 1 << 40)


def check_known(raw, known, what):
    for name, want in known.items():
        check(raw.get(name) == want, "%s %s: %s, want %s" % (what, name, raw.get(name), want))


def peak_header(report):
    """Exact bytes of the first process's "top sites at the peak" line."""
    m = re.search(r"top sites at the peak: .*?\((\d+) B\)", report)
    return int(m.group(1)) if m else None


def case_exact(prog, name):
    r, report = zmem(["--sites", "--collapsed", "c.folded", "--pprof", "p.pb.gz"], [prog, DL])
    print(report)
    per = folded("c.folded")
    pids = sorted(per)
    check(len(pids) == 2, "%s: two processes in the folded stacks: %s" % (name, pids))
    parent, child = per[pids[0]], per[pids[1]]
    for leaf, v in KNOWN.items():
        check(parent.get(leaf, 0) == v[5], "%s: folded %s %s, want %d" %
              (name, leaf, parent.get(leaf), v[5]))
    check(child.get("child_site") == 21000, "%s: the fork child's own table" % name)
    check(sorted(child) == ["child_site", "inherited"],
          "%s: only the child's own sites in its table: %s" % (name, sorted(child)))
    check(sum(parent.values()) == peak_header(report),
          "%s: folded weights %d add up to the report's %s" %
          (name, sum(parent.values()), peak_header(report)))
    at_peak = report.split("top sites at the peak")[1].split("top sites by")[0]
    order = re.findall(r"^\s+\d+\.\s.*\n\s+(\w+) ", at_peak, re.M)[:3]
    check(order == ["loop_site", "thread_site", "dl_site_alloc"], "%s: top at the peak %s" %
          (name, order))
    check(re.search(r"loop_site sites_prog\.c:\d+\n\s+main sites_prog\.c:\d+", report),
          "%s: loop_site's stack is function file:line, then main" % name)
    check(re.search(r"dl_site_alloc libdlsite_malloc\.c:\d+", report),
          "%s: the dlopened library's function and line" % name)
    check(re.search(r"thread_site sites_prog\.c:\d+\n\s+thread_main", report),
          "%s: the thread's stack" % name)
    if shutil.which("go"):
        raw = pprof_raw("p.pb.gz")
        check_known(raw, dict(KNOWN, **CHILD), name + " pprof")


def case_sample():
    rate, scale = 65536, 100
    r, report = zmem(["--sample", str(rate), "--collapsed", "c.folded", "--pprof", "p.pb.gz"],
                     [PROG, DL, "scale", str(scale)])
    check("estimated from samples" in report, "the report says the figures are estimates")
    if not shutil.which("go"):
        return
    raw = pprof_raw("p.pb.gz")
    for name, v in dict(KNOWN, **CHILD).items():
        for k in (1, 3, 5):
            true = v[k] * scale
            est = raw.get(name, [0] * 6)[k]
            bound = 4 * math.sqrt(rate * true)
            print("%s[%d]: true %d, estimate %d, bound %.0f" % (name, k, true, est, bound))
            check(abs(est - true) <= bound, "sampled %s[%d]: %d for %d" % (name, k, est, true))


def case_sigkill():
    r, report = zmem(["--sites", "--pprof", "p.pb.gz"], [PROG, DL, "kill"], expect=137)
    print(report)
    check("top sites at the peak" in report, "a killed program still has its sites")
    for leaf in ("loop_site", "thread_site", "dl_site_alloc"):
        check(re.search(r"^\s+%s sites_prog\.c:\d+|^\s+%s libdlsite" % (leaf, leaf), report, re.M),
              "killed: %s named with file:line" % leaf)
    if shutil.which("go"):
        raw = pprof_raw("p.pb.gz")
        for name in ("loop_site", "thread_site", "dl_site_alloc"):
            v = KNOWN[name]
            # Killed at the peak: everything allocated so far is still live.
            want = [v[0], v[1], v[4], v[5], v[4], v[5]]
            check(raw.get(name) == want, "killed %s: %s, want %s" % (name, raw.get(name), want))


def case_gate():
    r = subprocess.run([ZMEM, "run", "--sites", "--quiet", "--max-leaked", "1K", "--", PROG, DL],
                       capture_output=True, text=True)
    print(r.stderr)
    check(r.returncode == 99, "the gate trips: status %d" % r.returncode)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    check(len(lines) <= 5, "the gate's message is at most 5 lines: %d" % len(lines))
    check(re.search(r"1\. .*loop_site sites_prog\.c:\d+ < main", r.stderr),
          "the gate names the top site: %s" % r.stderr)


# A frame named by a function (with or without file:line), not module+0xoffset.
FUNCTION = r"^\s{8}[A-Za-z_][\w@.]*( \S+:\d+)?$"


def real(prog, env=None, pattern=FUNCTION, name=None):
    r, report = zmem(["--sites"], prog, env=env)
    section = report.split("allocation sites")[1] if "allocation sites" in report else ""
    print(section[:3000])
    check("top sites at the peak" in section, "%s: top sites" % name)
    check(re.search(pattern, section, re.M), "%s: a real function among the top sites" % name)


def case_real():
    os.environ.pop("LD_PRELOAD", None)
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else shutil.which("python3")
    env = dict(os.environ, PYTHONMALLOC="malloc")
    real([py, "-c", "import json; print(len(json.dumps([list(range(i)) for i in range(400)])))"],
         env=env, pattern=r"^\s{8}_?Py\w+", name="python3")
    if shutil.which("sqlite3"):
        subprocess.run(["sqlite3", "db.sqlite", "drop table if exists t; create table t(a, b);"
                        "with recursive c(x) as (select 1 union all select x+1 from c where x<5000)"
                        " insert into t select x, hex(randomblob(16)) from c;"], check=True)
        real(["sqlite3", "db.sqlite", "select count(*), max(length(b)) from t group by a % 7;"],
             pattern=r"^\s{8}sqlite3\w+", name="sqlite3")
    if shutil.which("gcc"):
        open("small.c", "w").write("int f(int x) { return x * 3; }\n")
        real(["gcc", "-c", "small.c", "-o", "small.o"], name="gcc -c")


def case_bad():
    for args, pat in ((["--depth", "0"], "--depth wants"), (["--depth", "200"], "--depth wants"),
                      (["--sample", "0"], "--sample wants"), (["--sample", "lots"], "--sample wants"),
                      (["--unwind", "frames"], "--unwind wants"),
                      (["--pprof", "/nonexistent/dir/p.pb.gz"], "cannot write"),
                      (["--flame", "/nonexistent/dir/f.svg"], "cannot write")):
        r = subprocess.run([ZMEM, "run"] + args + ["--", "/bin/true"], capture_output=True,
                           text=True)
        check(r.returncode == 2 and pat in r.stderr and len(r.stderr.splitlines()) <= 5,
              "zmem run %s: status %d, %r" % (" ".join(args), r.returncode, r.stderr))


CASES = {"bad": case_bad, "exact": lambda: case_exact(PROG, "exact"), "nofp": lambda: case_exact(PROG_NOFP, "nofp"),
         "sample": case_sample, "sigkill": case_sigkill, "gate": case_gate, "real": case_real}
CASES[CASE]()
sys.exit(1 if failures else 0)
