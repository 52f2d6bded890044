"""Compare two runs' metrics key by key: `python scripts/compare_metrics.py A B`.

A and B are metrics.json files or run folders (their metrics.json is read). Every value is compared exactly, down
through lists and dicts; keys that only record how long something took or whether it came from the model cache
(`seconds`, `seconds_mean`, `seconds_sd`, `cached`, `timings`) are ignored, since they differ between runs by nature
(they belong in timings.json). Prints each differing key path and exits 1 if there is any, else prints "identical"."""

import json, math, sys
from pathlib import Path

IGNORED = {"seconds", "seconds_mean", "seconds_sd", "cached", "timings"}


def load(p) -> dict:
    p = Path(p)
    return json.loads((p / "metrics.json" if p.is_dir() else p).read_text())


def diff(a, b, path="") -> list:
    "Key paths where `a` and `b` differ (ignored keys left out)."
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k in IGNORED:
                continue
            if k not in a or k not in b:
                out.append(f"{path}/{k}: only in {'B' if k not in a else 'A'}")
            else:
                out += diff(a[k], b[k], f"{path}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items vs {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in diff(x, y, f"{path}[{i}]")]
    same = a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    return [] if same and type(a) is type(b) else [f"{path}: {a!r} vs {b!r}"]


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    d = diff(load(sys.argv[1]), load(sys.argv[2]))
    print("\n".join(d) if d else "identical")
    sys.exit(1 if d else 0)
