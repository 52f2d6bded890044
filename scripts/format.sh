#!/usr/bin/env bash
# Format the notebooks' code cells: black at 120 characters (one statement per line), then nbdev's directives put back
# as `#| export` (black writes `# | export`), then nbdev_clean. tests/test_code_shape.py checks the result.
#
#   bash scripts/format.sh                 # every notebook under nbs/
#   bash scripts/format.sh nbs/03_dimra.ipynb
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=${UNLEARN_VENV:-.venv}
export PATH="$(cd "$VENV/bin" && pwd):$PATH"
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(nbs)
black -q --line-length 120 "${targets[@]}"
python - "${targets[@]}" <<'PY'
import json, re, sys
from pathlib import Path
files = [f for t in map(Path, sys.argv[1:]) for f in (sorted(t.rglob("*.ipynb")) if t.is_dir() else [t])]
for f in files:
    nb = json.loads(f.read_text())
    changed = False
    for c in nb["cells"]:
        if c["cell_type"] != "code":
            continue
        src = "".join(c["source"])
        new = re.sub(r"(?m)^(\s*)#\s+\|", r"\1#|", src)
        if new != src:
            c["source"], changed = new.splitlines(keepends=True), True
    if changed:
        f.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
PY
for t in "${targets[@]}"; do nbdev_clean --fname "$t"; done
