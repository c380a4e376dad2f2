#!/usr/bin/env python3
"""Checks zm_stats_print's JSON and Prometheus output with real parsers.

    check_report.py FORMAT [--tags] [--promtool PATH] -- COMMAND...

Runs COMMAND FORMAT EXPECT_FILE [tags] (tests/report_dump.c), parses what it
prints (json.loads, prometheus_client's parser and, when given, promtool
check metrics) and compares every figure with the getters' values the
program wrote to EXPECT_FILE. The JSON is also checked field by field
against the schema of docs/report-schema.md. Exits non-zero on any mismatch.
"""
import json
import os
import subprocess
import sys
import tempfile

CALLS = ["malloc", "calloc", "realloc", "aligned_alloc", "free"]

# docs/report-schema.md, schema 1: every field and its type.
SCHEMA = {
    "schema": int, "version": str, "backend": str, "layout": str,
    "tags_enabled": bool,
    "memory": {"used_bytes": int, "peak_bytes": int, "live_blocks": int},
    "calls": {c: int for c in CALLS},
    "failures": int, "realloc_moved": int,
    "limits": {"hard_bytes": int, "soft_bytes": int},
    "system": {
        "rss_bytes": int, "peak_rss_bytes": int, "physical_memory_bytes": int,
        "fragmentation_ratio": (int, float),
        "backend": {"name": str, "allocated_bytes": int, "active_bytes": int,
                    "resident_bytes": int, "mapped_bytes": int},
    },
    "tags": list,
}
TAG_SCHEMA = {
    "id": int, "name": str, "parent": (int, type(None)), "depth": int,
    "used_bytes": int, "live_blocks": int, "peak_bytes": int, "calls": int,
    "failures": int, "limit_bytes": int,
}

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def run(fmt, tags, command):
    with tempfile.TemporaryDirectory() as tmp:
        expect_path = os.path.join(tmp, "expect")
        argv = command + [fmt, expect_path] + (["tags"] if tags else [])
        proc = subprocess.run(argv, stdout=subprocess.PIPE, timeout=600)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(argv)} exited with {proc.returncode}")
        with open(expect_path) as f:
            return proc.stdout, parse_expect(f.read())


def parse_expect(text):
    exp = {"tags": []}
    for line in text.splitlines():
        key, _, rest = line.partition(" ")
        if key == "tag":
            f = rest.split(" ")
            nums = [int(x) for x in f[:9]]
            name = bytes.fromhex(f[9]).decode("utf-8", "replace")
            exp["tags"].append(dict(zip(
                ["id", "parent", "depth", "used_bytes", "live_blocks",
                 "peak_bytes", "calls", "failures", "limit_bytes"], nums),
                name=name))
        else:
            exp[key] = int(rest) if rest.lstrip("-").isdigit() else rest
    return exp


def check_schema(obj, schema, path):
    check(isinstance(obj, dict), f"{path}: not an object")
    if not isinstance(obj, dict):
        return
    check(set(obj) == set(schema),
          f"{path}: keys {sorted(obj)} != {sorted(schema)}")
    for key, want in schema.items():
        if key not in obj:
            continue
        if isinstance(want, dict):
            check_schema(obj[key], want, f"{path}.{key}")
        else:
            ok = isinstance(obj[key], want)
            if want is int or (isinstance(want, tuple) and bool not in want):
                ok = ok and not isinstance(obj[key], bool)
            check(ok, f"{path}.{key}: {obj[key]!r} is not {want}")


def no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    check(len(keys) == len(set(keys)), f"duplicate keys in {keys}")
    return dict(pairs)


def reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def check_json(out, exp):
    doc = json.loads(out.decode("utf-8"), object_pairs_hook=no_duplicate_keys,
                     parse_constant=reject_constant)
    check_schema(doc, SCHEMA, "$")
    for t in doc.get("tags", []):
        check_schema(t, TAG_SCHEMA, "$.tags[]")
    check(doc["schema"] == 1, "schema != 1")
    check(doc["backend"] == exp["backend"], "backend")
    check(doc["layout"] == exp["layout"], "layout")
    check(doc["tags_enabled"] == bool(exp["tags_enabled"]), "tags_enabled")
    mem = doc["memory"]
    check(mem["used_bytes"] == exp["used"], f"used {mem['used_bytes']} != {exp['used']}")
    check(mem["peak_bytes"] == exp["peak"], "peak")
    check(mem["peak_bytes"] >= mem["used_bytes"], "peak < used")
    check(mem["live_blocks"] == exp["live_blocks"], "live_blocks")
    for c in CALLS:
        check(doc["calls"][c] == exp[c], f"calls.{c}")
    check(doc["failures"] == exp["failures"] and exp["failures"] >= 1, "failures")
    check(doc["realloc_moved"] == exp["realloc_moved"], "realloc_moved")
    check(doc["limits"] == {"hard_bytes": exp["limit"],
                            "soft_bytes": exp["soft_limit"]}, "limits")
    sysf = doc["system"]
    check(sysf["rss_bytes"] > 0 and sysf["physical_memory_bytes"] > 0, "system")
    check(sysf["fragmentation_ratio"] > 0, "fragmentation_ratio")
    tags = doc["tags"]
    check(len(tags) == len(exp["tags"]), f"{len(tags)} tags, expected {len(exp['tags'])}")
    for got, want in zip(tags, exp["tags"]):
        want = dict(want, parent=None if want["parent"] < 0 else want["parent"])
        check(got == want, f"tag {got} != {want}")
    if tags:
        roots = sum(t["used_bytes"] for t in tags if t["parent"] is None)
        check(roots == mem["used_bytes"], f"root tags sum {roots} != used")


def check_prometheus(out, exp, promtool):
    from prometheus_client.parser import text_string_to_metric_families
    text = out.decode("utf-8")
    fams = {f.name: f for f in text_string_to_metric_families(text)}

    def value(name, **labels):
        fam_name = name[:-6] if name.endswith("_total") else name
        fam = fams.get(fam_name)
        check(fam is not None, f"no family {fam_name}")
        if fam is None:
            return None
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
        check(False, f"no sample {name}{labels}")
        return None

    for fam in fams.values():
        check(fam.documentation != "", f"{fam.name}: no HELP")
        check(fam.type in ("gauge", "counter"), f"{fam.name}: type {fam.type}")
    check(value("zmem_used_bytes") == exp["used"], "zmem_used_bytes")
    check(value("zmem_peak_bytes") == exp["peak"], "zmem_peak_bytes")
    check(value("zmem_live_blocks") == exp["live_blocks"], "zmem_live_blocks")
    for c in CALLS:
        check(value("zmem_calls_total", function=c) == exp[c], f"calls {c}")
    check(fams["zmem_calls"].type == "counter", "zmem_calls_total is a counter")
    check(value("zmem_failures_total") == exp["failures"], "failures")
    check(value("zmem_realloc_moved_total") == exp["realloc_moved"], "moved")
    check(value("zmem_limit_bytes") == exp["limit"], "limit")
    check(value("zmem_soft_limit_bytes") == exp["soft_limit"], "soft limit")
    check(value("zmem_rss_bytes") > 0, "rss")
    check(value("zmem_build_info", backend=exp["backend"], layout=exp["layout"]) == 1,
          "build_info")
    names = {t["id"]: t["name"] for t in exp["tags"]}
    for t in exp["tags"]:
        parent = names.get(t["parent"], "")
        labels = {"tag_id": str(t["id"]), "tag": t["name"], "parent": parent}
        check(value("zmem_tag_used_bytes", **labels) == t["used_bytes"],
              f"tag used {labels}")
        check(value("zmem_tag_live_blocks", **labels) == t["live_blocks"], "tag blocks")
        check(value("zmem_tag_peak_bytes", **labels) == t["peak_bytes"], "tag peak")
        check(value("zmem_tag_calls_total", **labels) == t["calls"], "tag calls")
        check(value("zmem_tag_failures_total", **labels) == t["failures"], "tag failures")
        check(value("zmem_tag_limit_bytes", **labels) == t["limit_bytes"], "tag limit")
    if not exp["tags"]:
        check(not any(n.startswith("zmem_tag_") for n in fams), "tag families with tags off")
    if promtool:
        proc = subprocess.run([promtool, "check", "metrics"], input=out,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        check(proc.returncode == 0,
              f"promtool check metrics: {proc.stdout.decode(errors='replace')}")


def check_text(out, exp):
    text = out.decode("utf-8")
    check(f"({exp['used']} bytes)" in text, "used in text")
    check(("tags on" in text) == bool(exp["tags_enabled"]), "tags on/off")
    for t in exp["tags"]:
        shown = "".join("?" if ord(c) < 32 or c == "\ufffd" else c for c in t["name"])
        check(" " * (2 * t["depth"]) + shown + " " in text, f"tag row {shown!r}")


def main():
    args = sys.argv[1:]
    if "--" not in args or not args:
        sys.exit(__doc__)
    command = args[args.index("--") + 1:]
    opts = args[:args.index("--")]
    fmt, tags = opts[0], "--tags" in opts
    promtool = opts[opts.index("--promtool") + 1] if "--promtool" in opts else None
    out, exp = run(fmt, tags, command)
    {"json": check_json, "text": check_text}.get(
        fmt, lambda o, e: check_prometheus(o, e, promtool))(out, exp)
    for f in failures:
        print("FAIL:", f)
    if failures:
        print(out.decode("utf-8", "replace"))
        sys.exit(1)
    print(f"{fmt}{' with tags' if tags else ''}: ok"
          f"{' (promtool too)' if promtool else ''}")


main()
