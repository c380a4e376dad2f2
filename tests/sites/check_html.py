#!/usr/bin/env python3
"""`zmem run --sites --html` on sites_prog.c (known sites), checked in a real
browser: Debian's chromium, headless, driven by chromedriver through
python3-selenium.

  check_html.py ZMEM PROG DL_LIB HOSTILE_PROG OUT_DIR
The program runs under `sh -c 'exec ...'` whose $0 is markup, and
HOSTILE_PROG (hostile_symbol.c) allocates in a function named like markup:
the page must show both as text. Checks: no network resource and no markup from the
program in the file; the page loads without console errors; a click on a
flame box zooms to it; the search highlights a known function and sums its
bytes; switching the figure and the process changes the graph; a column
header sorts the table; hovering the timeline gives the figures. Exit 0 on
success, 1 on a failure, 77 when selenium or chromedriver is missing."""
import os
import re
import shutil
import subprocess
import sys
import time

ZMEM, PROG, DL, HOSTILE_PROG, OUT = sys.argv[1:6]
HOSTILE_SYMBOL = "</script><!--<script>hostile"
WAIT_S = 90  # for each DOM condition: generous on a loaded 2-core machine
HOSTILE = '</script><script>document.title="pwned"</script><!--'
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def run_zmem(page, program):
    cmd = [ZMEM, "run", "--sites", "--quiet", "--html", page, "--"] + program
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "zmem run exits 0 (%d: %s)" % (r.returncode, r.stderr[-300:]))


def check_file(page, hostile):
    html = open(page, encoding="utf-8").read()
    print("page: %d bytes" % len(html))
    check(html.lower().count("</script") == 2, "only the page's own two scripts end in it")
    check(html.count("<!--") == 1, "no comment opens in it but the page's own")
    check(hostile not in html, "the hostile name is not in the file as markup")
    check("\\u003c/script\\u003e" in html, "the command line is in the data, escaped")
    urls = set(re.findall(r"(?:src|href)\s*=\s*[\"']?([^\"' >]+)", html))
    check(urls <= {"data:,"}, "no resource but data: URLs (%s)" % sorted(urls))
    check(not re.search(r"\b(?:fetch|XMLHttpRequest|import\()", html), "no request from the script")


def browser(profile_dir):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    o = webdriver.ChromeOptions()
    o.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1400,1000", "--user-data-dir=" + profile_dir,
              "--no-first-run", "--disable-extensions"):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=o)


def names(d):
    return {b.get_attribute("data-name") for b in d.find_elements("css selector", "#flame .box")}


def check_page(d, page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import Select, WebDriverWait
    wait = WebDriverWait(d, WAIT_S, poll_frequency=0.2)
    d.get("file://" + os.path.abspath(page))
    wait.until(lambda d: d.find_elements("css selector", '#flame .box[data-name="loop_site"]'))
    severe = [e for e in d.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    check(not severe, "no console errors (%s)" % severe)
    check(d.title.startswith("zmem: sh -c") and HOSTILE in d.title,
          "the title shows the command line as text (%r)" % d.title)
    check(HOSTILE in d.find_element("id", "title").text, "the heading shows it as text")

    peak = names(d)
    check({"loop_site", "thread_site", "child_site"} <= peak,
          "live at the peak: the known sites of both processes (%s)" % sorted(peak))
    check("transient_site" not in peak, "live at the peak: transient_site is not there")

    box = d.find_element("css selector", '#flame .box[data-name="loop_site"]')
    box.click()
    wait.until(lambda d: "zoomed to loop_site" in d.find_element("id", "zoom").text)
    zoomed = d.find_element("css selector", '#flame .box[data-name="loop_site"]:not(.up)')
    check(zoomed.value_of_css_property("width") ==
          d.find_element("id", "flame").find_element("css selector", ".box").value_of_css_property("width"),
          "the zoomed box is as wide as the graph")
    check("thread_site" not in names(d), "zoomed: the other sites are gone")
    d.find_element("id", "reset").click()
    wait.until(lambda d: "thread_site" in names(d))

    d.find_element("id", "search").send_keys("thread_site")
    wait.until(lambda d: d.find_elements("css selector", "#flame .box.hit"))
    hits = {b.get_attribute("data-name") for b in d.find_elements("css selector", "#flame .box.hit")}
    check(hits == {"thread_site"}, "the search highlights thread_site only (%s)" % hits)
    match = d.find_element("id", "match").text
    check("78.1 KiB" in match, "the search sums its 80000 bytes live at the peak (%r)" % match)

    Select(d.find_element("id", "view")).select_by_value("1")
    wait.until(lambda d: "transient_site" in names(d))
    check("transient_site" in names(d), "total allocated: transient_site appears")
    Select(d.find_element("id", "view")).select_by_value("2")
    wait.until(lambda d: "grow_site" in names(d))
    leaked = names(d)
    check("thread_site" not in leaked and "kept_site" in leaked,
          "leaked at exit: thread_site gone, kept_site there (%s)" % sorted(leaked))

    procs = Select(d.find_element("id", "proc"))
    values = [o.get_attribute("value") for o in procs.options]
    check(values[0] == "all" and len(values) >= 3, "a merged view and one per process (%s)" % values)
    procs.select_by_value(values[-1])  # the fork child, the last process
    wait.until(lambda d: "loop_site" not in names(d))
    check("child_site" in names(d), "the fork child alone: its own sites (%s)" % sorted(names(d)))

    Select(d.find_element("id", "proc")).select_by_value("all")
    header = [th for th in d.find_elements("css selector", "#sites th") if th.text.startswith("total")]
    header[0].click()
    wait.until(lambda d: d.find_element("css selector", "#sites th:nth-child(3)").text.endswith("\u25bc"))
    first = d.find_element("css selector", "#sites tr:nth-child(2) td").text
    check(first.startswith("transient_site"), "sorted by total: transient_site first (%r)" % first)

    svg = d.find_element("id", "timeline")
    # Near the end of the run (offsets are from the centre): every process has samples.
    ActionChains(d).move_to_element_with_offset(svg, int(svg.size["width"] * 0.45), 0).perform()
    wait.until(lambda d: d.find_element("id", "tip").is_displayed())
    tip = d.find_element("id", "tip").text
    check("requested" in tip and "held" in tip and "RSS" in tip, "hovering the timeline gives the figures (%r)" % tip)
    check(len(d.find_elements("css selector", "#timeline circle.peak")) >= 2, "each process's peak is marked")
    rows = d.find_elements("css selector", "#procs tr")
    check(len(rows) >= 3, "the process tree has its processes (%d rows)" % (len(rows) - 1))
    heap_rss = d.find_element("id", "heaprss").text
    check("at end" in heap_rss and "unexplained" in heap_rss,
          "heap against RSS has the processes' ends (%r)" % heap_rss[:200])
    severe = [e for e in d.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    check(not severe, "no console errors after the clicks (%s)" % severe)
    d.save_screenshot(os.path.join(OUT, "report.png"))


def check_hostile_symbol(d, page):
    from selenium.webdriver.support.ui import WebDriverWait
    d.get("file://" + os.path.abspath(page))
    WebDriverWait(d, WAIT_S, poll_frequency=0.2).until(
        lambda d: d.find_elements("css selector", "#flame .box"))
    # clang keeps the quotes of the assembler name in the symbol
    check(any(HOSTILE_SYMBOL in n for n in names(d)), "the function named like markup is a box, as text (%s)"
          % sorted(names(d)))
    severe = [e for e in d.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    check(not severe, "no console errors (%s)" % severe)


def main():
    try:
        import selenium  # noqa: F401
    except ImportError:
        # Debian's python3-selenium is for Debian's python3, which another
        # python3 first on PATH (pyenv, a venv) does not see.
        if os.path.exists("/usr/bin/python3") and sys.executable != "/usr/bin/python3":
            os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
        print("SKIP: python3-selenium is not installed (scripts/deps.sh test)")
        return 77
    if not shutil.which("chromedriver") or not shutil.which("chromium"):
        print("SKIP: chromium-driver is not installed (scripts/deps.sh test)")
        return 77
    os.makedirs(OUT, exist_ok=True)
    page = os.path.join(OUT, "report.html")
    run_zmem(page, ["sh", "-c", 'exec "$1" "$2"', HOSTILE, PROG, DL])
    check_file(page, HOSTILE)
    symbol_page = os.path.join(OUT, "hostile.html")
    run_zmem(symbol_page, [HOSTILE_PROG])
    check_file(symbol_page, HOSTILE_SYMBOL)
    profile = os.path.join(OUT, "chromium-profile")
    shutil.rmtree(profile, ignore_errors=True)
    start = time.monotonic()
    d = browser(profile)
    try:
        check_page(d, page)
        check_hostile_symbol(d, symbol_page)
    finally:
        d.quit()
    print("browser checks: %.1f s" % (time.monotonic() - start))
    print("%d failures" % len(failures))
    return 1 if failures else 0


sys.exit(main())
