"""Reading `go tool pprof -raw` output, for the sites tests."""
import re


def raw_samples(text):
    """leaf function -> the six sample values summed, from `go tool pprof -raw`."""
    locs = {m.group(1): m.group(2) for m in
            re.finditer(r"^\s+(\d+): 0x[0-9a-f]+ M=\d+ (\S+)", text, re.M)}
    out = {}
    section = text.split("Samples:")[1].split("Locations")[0]
    for m in re.finditer(r"^\s+([\d ]+?): ([\d ]+)$", section, re.M):
        values = [int(v) for v in m.group(1).split()]
        leaf = locs[m.group(2).split()[0]]
        out[leaf] = [a + b for a, b in zip(out.get(leaf, [0] * 6), values)]
    return out
