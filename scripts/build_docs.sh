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
#  2. _proc/     <- nbdev's notebook processor, as `nbdev_proc_nbs` runs it (show_doc rendered, hidden cells
#                   dropped), called directly: the `nbdev_proc_nbs` command first tries to install quarto with
#                   sudo, then runs an unconstrained `pip install -e .`, and rewrites nbs/*.yml. A notebook whose
#                   show_doc cells cannot run is rendered without them (with a warning);
#  3. _site/     <- mkdocs + mkdocs-jupyter (material theme, no web fonts), nav generated from the notebooks
#                   present: Home, Library (nbdev-tested notebooks), Experiments (papermill notebooks, i.e.
#                   settings.ini's skip_file_re), one section per subfolder, and Reports (reports/**/*.ipynb,
#                   e.g. written by scripts/study.sh).
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

python - <<'PY'
import fnmatch, json, os, re, shutil, time
from configparser import ConfigParser
from pathlib import Path
from fastcore.xtras import working_directory
from nbdev import serve_drv
from nbdev.config import get_config
from nbdev.processors import FilterDefaults, add_show_docs, exec_show_docs

cfg = get_config()
nbs, proc = Path(cfg.nbs_path).resolve(), (Path(cfg.config_path)/"_proc").resolve()
ini = ConfigParser(delimiters=["="]); ini.read("settings.ini")
exp_re = re.compile(ini["DEFAULT"].get("skip_file_re", "^_"))

pats = os.environ.get("DOCS_GLOB", "*").split()   # e.g. DOCS_GLOB="index.ipynb 00_*" for a quick build
sources = sorted(p for p in nbs.rglob("*.ipynb")
                 if not any(part.startswith((".", "_")) for part in p.relative_to(nbs).parts)
                 and any(fnmatch.fnmatch(p.relative_to(nbs).as_posix(), pat) for pat in pats))
keep = {p.relative_to(nbs) for p in sources}
shutil.rmtree(proc, ignore_errors=True)

class NoExec(FilterDefaults):   # the fallback: same filtering, no code executed, no show_doc cells added
    def base_procs(self): return [p for p in super().base_procs() if p not in (exec_show_docs, add_show_docs)]

unexecuted = []
with working_directory(nbs):    # notebooks run from nbs/, as under nbdev_test
    for src in sources:
        dst = proc/src.relative_to(nbs); dst.parent.mkdir(parents=True, exist_ok=True)
        t = time.time()
        try: serve_drv.main((src, dst, FilterDefaults))
        except Exception as e:
            # nbdev runs only exported and import-holding cells to render show_doc; a cell mixing imports with
            # code that needs earlier, unexecuted cells breaks it (nbdev FAQ: keep imports in their own cells).
            unexecuted.append(f"{src.name}: {str(e).splitlines()[0]}")
            os.environ.pop("IN_TEST", None)
            serve_drv.main((src, dst, NoExec))
        print(f"== processed {src.relative_to(nbs)} in {time.time()-t:.0f} s", flush=True)
for u in unexecuted: print("WARNING: rendered without running show_doc cells:", u)
shutil.rmtree(proc/"reports", ignore_errors=True)
reports = sorted(r for r in Path("reports").rglob("*.ipynb") if ".ipynb_checkpoints" not in r.parts) if Path("reports").is_dir() else []
for r in reports:   # executed already: filter only
    (proc/r).parent.mkdir(parents=True, exist_ok=True)
    serve_drv.main((r.resolve(), proc/r, NoExec))

import yaml
site_url = ini["DEFAULT"].get("doc_host", "").rstrip("/") + ini["DEFAULT"].get("doc_baseurl", "")
pages = {}   # path under _proc/ -> (notebook json, title, nbdev output-file)
def load(rel):
    nb = json.loads((proc/rel).read_text(encoding="utf-8"))
    meta = {}
    for c in nb["cells"]:  # nbformat's validation (used by mkdocs-jupyter) rejects nbdev's extra keys
        for k in [k for k in c if k not in ("cell_type", "id", "metadata", "source", "outputs", "execution_count", "attachments")]: del c[k]
        c["metadata"] = {k: v for k, v in c.get("metadata", {}).items() if k in ("tags",)}
        if c["cell_type"] == "code": c.setdefault("outputs", []); c.setdefault("execution_count", None)
    first = nb["cells"][0] if nb["cells"] else None
    if first and first["cell_type"] == "raw" and "".join(first["source"]).startswith("---"):
        meta = yaml.safe_load("".join(first["source"]).strip().strip("-")) or {}   # nbdev's frontmatter -> a heading
        first.update(cell_type="markdown", source=f"# {meta.get('title', rel.stem)}" + (f"\n\n> {meta['description']}" if meta.get("description") else ""))
    pages[rel] = (nb, meta.get("title") or rel.stem, meta.get("output-file"))

for rel in sorted(keep):
    if (proc/rel).exists(): load(rel)
for r in reports: load(r)
# nbdev links symbols to the quarto site (doc_host/doc_baseurl/<output-file>): point them at our pages instead
targets = {f"{site_url}/{of}": rel.with_suffix(".html") for rel, (_, _, of) in pages.items() if of}
for rel, (nb, _, _) in pages.items():
    text = json.dumps(nb, indent=1, ensure_ascii=False)
    for url, page in sorted(targets.items(), key=lambda t: -len(t[0])):
        text = text.replace(url, os.path.relpath(page, rel.parent).replace(os.sep, "/"))
    (proc/rel).write_text(text, encoding="utf-8")

nav, sections = [], {}
for rel, (_, title, _) in sorted(pages.items(), key=lambda t: (len(t[0].parts) > 1, str(t[0]))):
    if rel == Path("index.ipynb"): nav.insert(0, {"Home": "index.ipynb"}); continue
    if rel.parts[0] == "reports" and rel not in keep: sec = "Reports"
    elif len(rel.parts) > 1: sec = rel.parts[0].replace("_", " ").title()
    else: sec = "Experiments" if exp_re.search(rel.name) else "Library"
    sections.setdefault(sec, []).append({title: rel.as_posix()})
order = ["Library", "Experiments", "Reports"]
nav += [{s: sections[s]} for s in order if s in sections]
nav += [{s: v} for s, v in sections.items() if s not in order]

from mkdocs.config import load_config
from mkdocs.commands.build import build
conf = load_config("mkdocs.yml", docs_dir=str(proc.resolve()), site_dir=str(Path(os.environ["SITE_DIR"]).resolve()), nav=nav)
build(conf)
print(f"== {len(keep)} notebooks and {len(reports)} reports rendered")
PY
echo "== docs built in $((SECONDS-t0)) s: $SITE_DIR/index.html"
