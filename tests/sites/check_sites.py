#!/usr/bin/env python3
"""Checks the allocation-site outputs of sites_demo (see sites_demo.c for the
known amounts): folded stacks, the pprof profile through the real
`go tool pprof`, the flame graph as XML and as rendered by headless
Chromium, the top-sites text, and the sampled estimates against the bound
stated in docs/sites.md.

  check_sites.py SITES_DEMO OUT_DIR
Exit status 0 when every check passes, 1 on a failure, 77 when go or
chromium is missing (the test is then skipped; scripts/deps.sh installs
both)."""
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib

from pprof_raw import raw_samples

DEMO, OUT = sys.argv[1], sys.argv[2]
PEAK = {"loop_site": (120, 120000), "thread_site": (40, 80000), "dl_site_alloc": (12, 60000)}
ALLOC = dict(PEAK, transient_site=(1, 150000))
LEAKED = {"loop_site": (120, 120000)}
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what)


def run(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def folded(path):
    leaf = {}
    total = 0
    for line in open(path):
        stack, weight = line.rstrip("\n").rsplit(" ", 1)
        name = stack.split(";")[-1]
        leaf[name] = leaf.get(name, 0) + int(weight)
        total += int(weight)
    return leaf, total


def check_folded(prefix):
    leaf, total = folded(prefix + ".folded")
    check(leaf == {k: v[1] for k, v in PEAK.items()}, "folded at the peak: %s" % leaf)
    peak = int(re.search(r"^peak (\d+)", open(prefix + ".txt").read(), re.M).group(1))
    check(total == peak == 260000, "folded weights add up to the peak: %d, %d" % (total, peak))
    leaf, total = folded(prefix + ".alloc.folded")
    check(leaf == {k: v[1] for k, v in ALLOC.items()}, "folded allocated: %s" % leaf)
    check(total == 410000, "folded allocated adds up: %d" % total)


def pprof(args, env):
    return run(["go", "tool", "pprof"] + args, env=env)


def check_pprof(prefix, env):
    path = prefix + ".pb.gz"
    raw = raw_samples(pprof(["-raw", path], env))
    for name in ALLOC:
        a = ALLOC[name]
        l = LEAKED.get(name, (0, 0))
        p = PEAK.get(name, (0, 0))
        want = [a[0], a[1], l[0], l[1], p[0], p[1]]
        check(raw.get(name) == want, "pprof -raw %s: %s, want %s" % (name, raw.get(name), want))
    top = pprof(["-top", path], env)
    print(top)
    flat = re.findall(r"^\s+\S+\s+([\d.]+)%\s+\S+\s+\S+\s+\S+\s+(\S+)$", top, re.M)
    names = [n for pct, n in flat if float(pct) > 0]
    check(names == ["loop_site", "thread_site", "dl_site_alloc"], "pprof -top order: %s" % names)
    check("Type: peak_inuse_space" in top, "the default sample type is peak_inuse_space")
    pcts = {n: float(p) for p, n in flat}
    check(abs(pcts.get("loop_site", 0) - 46.15) < 0.01, "loop_site share %s" % pcts)
    top = pprof(["-top", "-sample_index=alloc_space", path], env)
    first = re.findall(r"^\s+\S+\s+[\d.]+%\s+\S+\s+\S+\s+\S+\s+(\S+)$", top, re.M)
    check(first[:1] == ["transient_site"], "alloc_space top: %s" % first[:1])
    top = pprof(["-top", "-sample_index=inuse_space", path], env)
    flat = re.findall(r"^\s+\S+\s+([\d.]+)%\s+\S+\s+\S+\s+\S+\s+(\S+)$", top, re.M)
    check([n for p, n in flat if float(p) > 0] == ["loop_site"], "inuse_space: %s" % flat)


def check_text(prefix):
    text = open(prefix + ".txt").read()
    print(text)
    parts = text.split("top sites ")
    check(len(parts) == 4, "three top-site lists")
    at_peak, alloc, leaked = parts[1], parts[2], parts[3].split("brief")[0]
    order = re.findall(r"^\s+\d+\.\s.*\n\s+(\w+) ", at_peak, re.M)
    check(order == ["loop_site", "thread_site", "dl_site_alloc"], "top at the peak: %s" % order)
    check(re.search(r"loop_site sites_demo\.c:\d+\n\s+main sites_demo\.c:\d+", at_peak) is not None,
          "a stack is shown as function file:line lines")
    check(re.search(r"dl_site_alloc libdlsite\.c:\d+", at_peak) is not None, "the dlopened library's line")
    check(re.search(r"thread_site sites_demo\.c:\d+\n\s+thread_main", at_peak) is not None, "the thread's stack")
    check(re.findall(r"^\s+1\.\s.*\n\s+(\w+)", alloc, re.M) == ["transient_site"], "top allocated")
    check(re.findall(r"^\s+\d+\.\s.*\n\s+(\w+)", leaked, re.M) == ["loop_site"], "top leaked")


def check_svg(prefix):
    root = ET.parse(prefix + ".svg").getroot()
    ns = "{http://www.w3.org/2000/svg}"
    boxes = {}
    for g in root.iter(ns + "g"):
        title = g.find(ns + "title").text
        rect = g.find(ns + "rect")
        boxes[title.split(" \u2014 ")[0]] = (title, float(rect.get("width")))
    check("loop_site" in boxes and boxes["loop_site"][0] == "loop_site \u2014 117.2 KiB (46.15%)",
          "loop_site tooltip: %s" % (boxes.get("loop_site"),))
    ratio = boxes["loop_site"][1] / boxes["all"][1]
    check(abs(ratio - 120000 / 260000) < 1e-3, "loop_site width share %.4f" % ratio)
    labels = [t.text for t in root.iter(ns + "text")]
    check("thread_site" in labels and "dl_site_alloc" in labels, "boxes are labelled: %s" % labels)
    return int(root.get("height"))


def png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA PNG."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), "8-bit RGB(A) PNG"
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, bpp)])
        prev = line
    return w, h, rows


def check_chromium(prefix, height):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        return False
    png = prefix + ".png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                    "--screenshot=" + png, "--window-size=1200,%d" % height,
                    "file://" + os.path.abspath(prefix + ".svg")],
                   capture_output=True, timeout=180)
    check(os.path.exists(png), "chromium wrote a screenshot")
    if not os.path.exists(png):
        return True
    w, h, rows = png_pixels(png)
    # The four levels of boxes sit at the bottom of the drawing; count warm
    # box pixels there and dark text pixels across the image.
    warm = sum(1 for row in rows for (r, g, b) in row if r >= 200 and 80 <= g <= 235 and b <= 80)
    dark = sum(1 for row in rows for (r, g, b) in row if r < 80 and g < 80 and b < 80)
    print("screenshot %dx%d: %d box pixels, %d text pixels" % (w, h, warm, dark))
    check(warm > 4 * 1150 * 14, "the boxes are drawn (%d warm pixels)" % warm)
    check(dark > 500, "the labels are drawn (%d dark pixels)" % dark)
    return True


def check_sampled(env):
    prefix = os.path.join(OUT, "sampled")
    rate, scale = 65536, 100
    run([DEMO, "--sample", str(rate), "--scale", str(scale), prefix])
    raw = raw_samples(pprof(["-raw", prefix + ".pb.gz"], env))
    for name, (c, b) in ALLOC.items():
        true = b * scale
        bound = 4 * math.sqrt(rate * true)
        est = raw[name][1]
        print("sampled %s: allocated %d estimated %d (bound %d)" % (name, true, est, bound))
        check(abs(est - true) <= bound, "sampled %s allocated: %d for %d" % (name, est, true))
        if name in PEAK:
            est = raw[name][5]
            check(abs(est - true) <= bound, "sampled %s at the peak: %d for %d" % (name, est, true))
    true = LEAKED["loop_site"][1] * scale
    est = raw["loop_site"][3]
    check(abs(est - true) <= 4 * math.sqrt(rate * true), "sampled leaked: %d for %d" % (est, true))


def main():
    os.makedirs(OUT, exist_ok=True)
    if not shutil.which("go"):
        print("SKIP: go (Debian golang-go) is not installed")
        return 77
    env = dict(os.environ, HOME=OUT, GOCACHE=os.path.join(OUT, "gocache"), PPROF_TMPDIR=OUT)
    prefix = os.path.join(OUT, "exact")
    run([DEMO, prefix])
    check_folded(prefix)
    check_pprof(prefix, env)
    check_text(prefix)
    height = check_svg(prefix)
    shallow = os.path.join(OUT, "depth1")
    run([DEMO, "--depth", "1", shallow])
    check(all(";" not in l for l in open(shallow + ".folded")), "--depth 1 keeps one frame")
    check(folded(shallow + ".folded")[0] == {k: v[1] for k, v in PEAK.items()}, "depth 1 figures")
    check_sampled(env)
    if not check_chromium(prefix, height):
        print("SKIP: chromium is not installed")
        return 77 if not failures else 1
    return 1 if failures else 0


sys.exit(main())
