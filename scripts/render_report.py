#!/usr/bin/env python
"""Render an executed finding notebook as the study's HTML report.

    python scripts/render_report.py reports/02_resurgence.ipynb            # -> reports/02_resurgence.html
    python scripts/render_report.py OUT.ipynb --output-dir DIR --cwd nbs   # --cwd: where papermill ran the notebook

What the reader gets, compared with a plain `jupyter nbconvert --to html`:
- a summary first: the question (the notebook's title and one-line summary), the parameters the run was given, the
  verdict with its spread (the outputs of the cell tagged `report-summary`, which computes it at the end), and a
  linked list of every figure and image grid, with the run folder that holds them as PNG files;
- plumbing code folded into a closed <details> (cells tagged `hide-input`); the notebook itself keeps it;
- math rendered offline by the MathJax 2.7 that the `jupyter-server-mathjax` package ships, copied next to the
  HTML (`<output-dir>/mathjax/`) and referenced by a relative URL, so that the page works from file:// with no
  network; no require.js from a CDN.
The executed notebook is not modified.
"""
from __future__ import annotations

import argparse, copy, hashlib, re, shutil, sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
TEMPLATE_DIR = HERE / "report_template"
MATHJAX_DIR = "mathjax"
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"  # the combined config jupyter-server-mathjax ships
# What MathJax 2.7 loads for TeX input and HTML-CSS output with the STIX-Web fonts, about 2.7 MB (the localisation,
# the SVG output and its 3 MB of fonts, and the 3.7 MB accessibility explorer stay behind: 'en' is built in, the config
# picks HTML-CSS, and the explorer loads only from MathJax's context menu).
MATHJAX_KEEP = ("MathJax.js", "LICENSE", "config", "extensions", "jax/input", "jax/element", "jax/output/HTML-CSS",
                "fonts/HTML-CSS")
MATHJAX_SKIP = ("extensions/a11y",)


def mathjax_source() -> Path:
    try:
        import jupyter_server_mathjax
    except ImportError:
        sys.exit("render_report.py: the offline MathJax comes from `jupyter-server-mathjax`: pip install jupyter-server-mathjax")
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def copy_mathjax(out_dir: Path) -> Path:
    "Copy the needed part of the packaged MathJax to out_dir/mathjax (only the files that differ)."
    src, dst = mathjax_source(), out_dir / MATHJAX_DIR
    for keep in MATHJAX_KEEP:
        files = [src / keep] if (src / keep).is_file() else sorted(p for p in (src / keep).rglob("*") if p.is_file())
        for f in files:
            if f.relative_to(src).as_posix().startswith(MATHJAX_SKIP):
                continue
            t = dst / f.relative_to(src)
            if not t.exists() or t.read_bytes() != f.read_bytes():
                t.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, t)
    return dst


def tags(cell) -> list:
    return cell.get("metadata", {}).get("tags", [])


def images(cell) -> list[bytes]:
    "The PNG outputs of a cell, as bytes."
    import base64

    out = []
    for o in cell.get("outputs", []):
        png = o.get("data", {}).get("image/png")
        if png:
            out.append(base64.b64decode("".join(png) if isinstance(png, list) else png))
    return out


def run_folder(nb, cwd: Path) -> Path | None:
    "The run folder the notebook printed in its `report-finish` cell ('... -> ../runs/<finding>/<id>')."
    for cell in nb.cells:
        if "report-finish" in tags(cell):
            for o in cell.get("outputs", []):
                m = re.search(r"->\s*(\S+)\s*$", "".join(o.get("text", "")), re.M)
                if m:
                    return (cwd / m.group(1)).resolve()
    return None


def title_and_question(nb) -> tuple[str, str, int]:
    "The notebook's `# title` and `> summary` lines, and the index of the markdown cell holding them."
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            title = re.search(r"^# (.+)$", cell.source, re.M)
            question = re.search(r"^> (.+)$", cell.source, re.M)
            return (title.group(1) if title else ""), (question.group(1) if question else ""), i
    return "", "", -1


def heading_before(nb, k: int) -> str:
    for cell in reversed(nb.cells[:k]):
        if cell.cell_type == "markdown":
            hs = re.findall(r"^#{1,4} (.+)$", cell.source, re.M)
            if hs:
                return hs[-1].strip()
            first = cell.source.strip().splitlines()
            if first:
                return first[0][:90].rstrip(":") + ("…" if len(first[0]) > 90 else "")
    return "figure"


def copy_run(run: Path, runs_dir: Path) -> Path:
    "Copy a run folder's JSON and PNG files to runs_dir/<finding>/<id>, replacing the finding's earlier copy."
    dst = runs_dir / run.parent.name / run.name
    shutil.rmtree(runs_dir / run.parent.name, ignore_errors=True)
    for f in sorted(run.rglob("*")):
        if f.is_file() and f.suffix in (".json", ".png") and not f.name.startswith("."):
            (dst / f.relative_to(run)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dst / f.relative_to(run))
    return dst


def summarised(nb, cwd: Path, output_dir: Path | None = None, runs_dir: Path | None = None):
    "A copy of the notebook with the summary first, figure anchors, and the title moved into the summary."
    nb = copy.deepcopy(nb)
    title, question, ti = title_and_question(nb)
    run = run_folder(nb, cwd)
    copied = copy_run(run, runs_dir) if runs_dir and run and run.is_dir() else None
    files = {}
    if run and run.is_dir():
        for p in sorted(run.rglob("*.png")):
            files[hashlib.sha256(p.read_bytes()).hexdigest()] = p.relative_to(run).as_posix()
    params = nb.metadata.get("papermill", {}).get("parameters", {})

    figures, cells = [], []
    for k, cell in enumerate(nb.cells):
        pngs = images(cell) if cell.cell_type == "code" else []
        if pngs:
            n = len(figures) + 1
            names = [files.get(hashlib.sha256(b).hexdigest()) for b in pngs]
            figures.append((n, heading_before(nb, k), [x for x in names if x]))
            cells.append(nbformat.v4.new_markdown_cell(f'<a id="fig-{n}"></a>'))
        cells.append(cell)
    nb.cells = cells

    summary = [f"# {title}" if title else "# Report", ""]
    if question:
        summary += [f"**What was asked.** {question}", ""]
    if params:
        shown = ", ".join(f"`{k} = {v!r}`" for k, v in params.items())
        summary += [f"**Run with** {shown} (every other parameter at its default: see the parameters cell below).", ""]
    summary += ["**The verdict**, with its spread over seeds (computed by the notebook's last section, "
                "[The finding, computed](#fig-verdict)):", ""]
    figs = ["", f"**Figures** ({len(figures)}, all inline below):", ""]
    for n, head, names in figures:
        figs.append(f"{n}. [{head}](#fig-{n})" + (f" — `{', '.join(names)}`" if names else ""))
    if run:
        shown_run = run.relative_to(cwd.parent).as_posix() if run.is_relative_to(cwd.parent) else run.as_posix()
        where = f"The run folder `{shown_run}/`"
        if copied and output_dir and copied.resolve().is_relative_to(output_dir.resolve()):
            rel = copied.resolve().relative_to(output_dir.resolve()).as_posix()
            where += f" (copied next to this report: [{rel}/]({rel}/))"
        figs += ["", f"{where} holds them as PNG files (`figures/`, `grids/`) with its "
                 "`config.json`, `meta.json` and `metrics.json`."]

    verdict = [c for c in nb.cells if "report-summary" in tags(c)]
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    if errors:  # a failed run says so first, with the error papermill recorded
        e = errors[0]
        summary += [f"**This run failed** before its verdict: `{e.get('ename', '')}: {e.get('evalue', '')[:300]}` "
                    "(the traceback is in the cell that raised it, below).", ""]
    outputs = [nbformat.v4.new_output("display_data", {"text/markdown": "\n".join(summary)})]
    for c in verdict:
        outputs += [copy.deepcopy(o) for o in c.get("outputs", []) if o.get("output_type") not in ("stream", "error")]
    outputs.append(nbformat.v4.new_output("display_data", {"text/markdown": "\n".join(figs)}))
    for o in outputs:
        if "execution_count" in o:
            o["execution_count"] = None
    box = nbformat.v4.new_code_cell("", metadata={"tags": ["remove_input", "report-summary-box"]}, outputs=outputs)
    if verdict:
        i = nb.cells.index(verdict[0])
        nb.cells.insert(i, nbformat.v4.new_markdown_cell('<a id="fig-verdict"></a>'))
    if ti >= 0:  # the title and the question now open the summary
        first = next(c for c in nb.cells if c.cell_type == "markdown" and title in c.source)
        first.source = re.sub(r"^# .+\n?|^> .+\n?", "", first.source, count=2, flags=re.M).lstrip()
    nb.cells.insert(0, box)
    return nb


def render(path: Path, output_dir: Path | None = None, cwd: Path | None = None, runs_dir: Path | None = None) -> Path:
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    path = Path(path)
    output_dir = Path(output_dir or path.parent)
    output_dir.mkdir(parents=True, exist_ok=True)
    cwd = Path(cwd) if cwd else HERE.parent / "nbs"
    nb = summarised(nbformat.read(path, as_version=4), cwd.resolve(), output_dir, runs_dir)
    copy_mathjax(output_dir)
    c = Config()
    c.TagRemovePreprocessor.remove_input_tags = {"remove_input"}
    c.TagRemovePreprocessor.enabled = True
    ex = HTMLExporter(config=c, template_name="lab", extra_template_paths=[str(TEMPLATE_DIR)])
    ex.template_file = "report.html.j2"
    ex.mathjax_url = f"{MATHJAX_DIR}/MathJax.js?config={MATHJAX_CONFIG}"
    ex.register_preprocessor(TagRemovePreprocessor(config=c), enabled=True)
    html, _ = ex.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
    out = output_dir / f"{path.stem}.html"
    out.write_text(html, encoding="utf-8")
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebooks", nargs="+", type=Path, help="executed notebooks")
    ap.add_argument("--output-dir", type=Path, default=None, help="default: next to each notebook")
    ap.add_argument("--cwd", type=Path, default=None, help="the folder papermill ran in (default: nbs/)")
    ap.add_argument("--copy-runs", type=Path, default=None,
                    help="copy the run folder's JSON and PNG files to DIR/<finding>/<id> (replacing the finding's old copy)")
    a = ap.parse_args()
    for nbp in a.notebooks:
        print("render_report.py ->", render(nbp, a.output_dir, a.cwd, a.copy_runs))
