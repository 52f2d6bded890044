#!/usr/bin/env bash
# Build the documentation site into _site/ (no quarto needed; works offline), and README.md from nbs/index.ipynb.
#
#   bash scripts/build_docs.sh                       # setup, README.md, _proc/ (nbdev-processed notebooks), _site/
#   bash scripts/build_docs.sh --readme-only [OUT]   # only regenerate README.md (or write it to OUT); stdlib only
#   SITE_DIR=/tmp/site README_OUT=/tmp/README.md bash scripts/build_docs.sh   # write elsewhere
#   DOCS_GLOB="index.ipynb 00_*" bash scripts/build_docs.sh   # only these notebooks (paths under nbs/)
#
# nbdev 2's docs commands need quarto, which cannot be installed here. Instead:
#  1. README.md  <- the markdown (and code) cells of nbs/index.ipynb, minus `#| hide` cells;
#  2. _site/     <- scripts/build_site.py: nbdev's notebook processor into _proc/ (API entries rendered in a kernel
#                   that holds only the notebook's module and imports: nothing is trained), the library notebooks'
#                   recorded outputs from docs/outputs/ (scripts/execute_docs.py), a methods table, the committed
#                   reports as finding pages, then mkdocs + mkdocs-jupyter (material theme, no web fonts), MathJax
#                   copied from the jupyter-server-mathjax package, and source pages under src/. Offline; a few
#                   minutes on 2 cores. tests/test_docs.py builds it and checks links, API entries, figures, math.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

readme() {  # $1: output path
  python3 - "$1" <<'PY'
import json, re, sys
nb = json.load(open("nbs/index.ipynb", encoding="utf-8"))
parts = ["<!-- Generated from nbs/index.ipynb by scripts/build_docs.sh: edit the notebook, not this file. -->"]
for cell in nb["cells"]:
    src = "".join(cell["source"]).strip()
    if not src or re.search(r"^#\s*\|\s*hide\b", src, re.M): continue
    if cell["cell_type"] == "markdown": parts.append(src)
    elif cell["cell_type"] == "code":
        src = "\n".join(l for l in src.splitlines() if not re.match(r"#\s*\|", l)).strip()
        if src: parts.append("```python\n" + src + "\n```")
open(sys.argv[1], "w", encoding="utf-8").write("\n\n".join(parts) + "\n")
PY
}

if [ "${1:-}" = "--readme-only" ]; then readme "${2:-README.md}"; exit 0; fi

[ -n "${UNLEARN_SKIP_SETUP:-}" ] || bash scripts/setup.sh   # UNLEARN_SKIP_SETUP=1: use $UNLEARN_VENV as it is
VENV=${UNLEARN_VENV:-.venv}
export PATH="$(cd "$VENV/bin" && pwd):$PATH"
export HF_HUB_OFFLINE=1 UNLEARN_THREADS=${UNLEARN_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MPLBACKEND=Agg
export SITE_DIR=${SITE_DIR:-_site}
t0=$SECONDS

readme "${README_OUT:-README.md}"
echo "== ${README_OUT:-README.md} regenerated from nbs/index.ipynb"

python scripts/build_site.py
echo "== docs built in $((SECONDS-t0)) s: $SITE_DIR/index.html"
