"""The study's reports: every figure inline, summary first, folded code, math rendered offline.

- `test_render_*`: scripts/render_report.py on a small executed notebook made here (no study run needed).
- `test_committed_reports_*`: the reports in `reports/` (or in $UNLEARN_REPORTS, e.g. a `SCALE=smoke` study's
  folder): each plotting cell has its image, every PNG of the run folder is inline in the notebook and in the HTML.
- `test_report_in_browser`: one report HTML opened from file:// in headless Chromium (math typeset by the
  local MathJax, figures present, the summary first). Skipped only outside CI when Chromium is absent."""
import base64, hashlib, importlib.util, json, os, re, shutil, subprocess, sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
REPORTS = Path(os.environ.get("UNLEARN_REPORTS", ROOT / "reports"))
FINDINGS = ["02_resurgence", "03_dimra", "04_rgd", "05_robustness"]
PLOTTING = re.compile(r"save_figure\(|\w+_grid\(st")  # cells that draw a figure or an image grid


def _render_module():
    spec = importlib.util.spec_from_file_location("render_report", ROOT / "scripts" / "render_report.py")
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def _pngs(cell) -> list[bytes]:
    out = []
    for o in cell.get("outputs", []):
        png = o.get("data", {}).get("image/png")
        if png:
            out.append(base64.b64decode("".join(png) if isinstance(png, list) else png))
    return out


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _tags(cell) -> list:
    return cell.get("metadata", {}).get("tags", [])


def _run_folder(nb, finding_dir: str) -> Path:
    "The copy in <reports>/run-folders/ of the run folder the notebook printed ('... -> ../runs/<finding>/<id>')."
    fin = [c for c in nb.cells if "report-finish" in _tags(c)]
    assert fin, "the notebook has no cell tagged report-finish"
    text = "".join(o.get("text", "") for o in fin[0].outputs)
    m = re.search(r"->\s*\S*?(\w+)/(\w+)\s*$", text, re.M)
    assert m, f"no run folder printed: {text[:200]!r}"
    return REPORTS / "run-folders" / m.group(1) / m.group(2)


# --- the renderer on a notebook made here --------------------------------------------------------------------------
def _png(color) -> bytes:
    import io
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    nbs, run = tmp / "nbs", tmp / "runs" / "demo" / "abc123"
    (run / "figures").mkdir(parents=True)
    nbs.mkdir()
    fig_a, fig_b = _png("red"), _png("blue")
    (run / "figures" / "a.png").write_bytes(fig_a)
    (run / "figures" / "b.png").write_bytes(fig_b)
    (run / "metrics.json").write_text("{}")
    img = lambda b: nbformat.v4.new_output("display_data", {"image/png": base64.b64encode(b).decode()})
    md = lambda t: nbformat.v4.new_output("display_data", {"text/markdown": t})
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"parameters": {"scale": "smoke"}}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Finding 0 — a demo\n> Does the demo hold?\n\nIntro with $\\lVert x \\rVert$."),
        nbformat.v4.new_code_cell("scale = 'default'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_markdown_cell("## The curves"),
        nbformat.v4.new_code_cell("save_figure(run, fig, 'a')  # PLUMBING-A", metadata={"tags": ["hide-input"]}, outputs=[img(fig_a)]),
        nbformat.v4.new_markdown_cell("## The grid"),
        nbformat.v4.new_code_cell("save_figure(run, fig, 'b')", metadata={"tags": ["hide-input"]}, outputs=[img(fig_b)]),
        nbformat.v4.new_markdown_cell("## The finding, computed"),
        nbformat.v4.new_code_cell(
            "display(Markdown(finding))",
            metadata={"tags": ["hide-input", "report-summary"]},
            outputs=[md("- VERDICT-LINE: holds, 0.42 ± 0.05")],
        ),
        nbformat.v4.new_code_cell(
            "print(finish(st))",
            metadata={"tags": ["hide-input", "report-finish"]},
            outputs=[nbformat.v4.new_output("stream", name="stdout", text="finished in 1 min -> ../runs/demo/abc123\n")],
        ),
    ]
    src = tmp / "out" / "00_demo.ipynb"
    src.parent.mkdir()
    nbformat.write(nb, src)
    before = src.read_bytes()
    html = _render_module().render(src, tmp / "out", nbs, tmp / "out" / "run-folders")
    return dict(html=html.read_text(), out=tmp / "out", src=src, before=before, figs=(fig_a, fig_b))


def test_render_summary_first(rendered):
    h = rendered["html"]
    body = h[h.index("<body") :]
    # the summary box is the first cell; it holds the question, the verdict and the figure list, before the parameters
    first_cell = re.search(r'<div[^>]*class="jp-Cell [^"]*"', body).group(0)
    assert "celltag_report-summary-box" in first_cell, first_cell
    i_q, i_v, i_p = body.index("Does the demo hold?"), body.index("VERDICT-LINE"), body.index("celltag_parameters")
    assert i_q < i_v < i_p
    assert body.index("Finding 0 — a demo") < i_v and body.count("Finding 0 — a demo") == 1  # the title moved up
    # every figure linked from the summary to an anchor placed before it, with its file in the run folder
    for n, name in ((1, "figures/a.png"), (2, "figures/b.png")):
        assert f'href="#fig-{n}"' in body and f'id="fig-{n}"' in body and name in body
    assert body.index('href="#fig-2"') < i_p < body.index('id="fig-1"') < body.index('id="fig-2"')
    assert "run-folders/demo/abc123/" in body and "smoke" in body


def test_render_folds_code_and_keeps_notebook(rendered):
    h = rendered["html"]
    # hidden-input cells: their code sits in a closed <details>; the parameters cell is shown as it is
    assert re.search(r'<details class="report-code"><summary>code</summary>(?:(?!</details>).)*PLUMBING-A', h, re.S)
    params = re.search(r'celltag_parameters.*?(?=<div[^>]*class="jp-Cell )', h, re.S).group(0)
    assert "<details" not in params and "default" in params
    assert rendered["src"].read_bytes() == rendered["before"]  # the executed notebook is not modified
    for b in rendered["figs"]:  # each figure once, where it was drawn (the summary links, it does not repeat)
        assert h.count(base64.b64encode(b).decode()) == 1


def test_render_offline_mathjax_and_run_copy(rendered):
    h, out = rendered["html"], rendered["out"]
    srcs = re.findall(r'<script[^>]+src="([^"]+)"', h)
    assert srcs and not [s for s in srcs if re.match(r"https?:|//", s)], srcs  # nothing from a CDN
    mj = [s for s in srcs if "MathJax.js" in s]
    assert mj and mj[0].startswith("mathjax/MathJax.js?config="), srcs
    cfg = mj[0].split("config=")[1].split(",")[0]
    assert (out / "mathjax" / "MathJax.js").is_file() and (out / "mathjax" / "config" / f"{cfg}.js").is_file()
    assert (out / "mathjax" / "jax" / "output" / "HTML-CSS" / "fonts" / "STIX-Web" / "fontdata.js").is_file()
    assert not (out / "mathjax" / "localization").exists()  # only what the page needs is copied
    run = out / "run-folders" / "demo" / "abc123"
    assert sorted(p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()) == [
        "figures/a.png",
        "figures/b.png",
        "metrics.json",
    ]


# --- the committed reports ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", FINDINGS)
def test_committed_reports_carry_every_figure(name):
    nb = nbformat.read(REPORTS / f"{name}.ipynb", as_version=4)
    html = (REPORTS / f"{name}.html").read_text()
    errors = [o.get("evalue", "")[:200] for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{name}: the report's run failed: {errors}"
    inline = {}
    for cell in nb.cells:
        if cell.cell_type != "code" or not PLOTTING.search(cell.source):
            continue
        pngs = _pngs(cell)
        skipped = any("skipped" in "".join(o.get("text", "")) for o in cell.outputs)
        assert pngs or skipped, f"{name}: a plotting cell has no image output:\n{cell.source[:300]}"
        inline.update({_sha(b): b for b in pngs})
    run = _run_folder(nb, name)
    files = sorted(run.rglob("*.png"))
    assert files, f"{name}: no figures in {run}"
    for f in files:
        b = f.read_bytes()
        assert _sha(b) in inline, f"{name}: {f.relative_to(REPORTS)} is not inline in the notebook"
        assert base64.b64encode(b).decode() in html, f"{name}: {f.relative_to(REPORTS)} is not in the HTML"
    # and the other way round: every figure drawn inline is one of the run's files (nothing shown that was not saved)
    assert set(inline) == {_sha(f.read_bytes()) for f in files}, f"{name}: {len(inline)} inline, {len(files)} files"


@pytest.mark.parametrize("name", FINDINGS)
def test_committed_reports_have_no_stderr_noise(name):
    """No noise on stderr in a report: no library loading bars, no warnings (they print local paths). The study's own
    progress line (`core.progress_bar`, '<notebook>: measurements: ...') is meant to be there."""
    nb = nbformat.read(REPORTS / f"{name}.ipynb", as_version=4)
    stderr = ["".join(o.get("text", "")) for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stderr"]
    bars = [t[:160] for t in stderr if re.search(r"Loading weights|Loading pipeline components|Loading checkpoint", t)]
    assert not bars, f"{name}: {len(bars)} loading progress bars, e.g. {bars[0]!r}"
    warns = [t[:200] for t in stderr if re.search(r"Warning|warn\(|site-packages/|/tmp/ipykernel_|Traceback", t)]
    assert not warns, f"{name}: {len(warns)} warnings on stderr, e.g. {warns[0]!r}"


# --- one report in a real browser -----------------------------------------------------------------------------------
def _chromium():
    for exe in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(exe):
            return shutil.which(exe)
    if os.environ.get("CI"):
        pytest.fail("Chromium is missing in CI (scripts/setup.sh installs it when run as root on Debian)")
    pytest.skip("Chromium is not installed (apt-get install chromium); CI runs this test")


def test_report_in_browser(tmp_path):
    exe = _chromium()
    name = "02_resurgence"  # the report with math in its prose
    page = (REPORTS / f"{name}.html").resolve()
    nb = nbformat.read(REPORTS / f"{name}.ipynb", as_version=4)
    n_figs = sum(len(_pngs(c)) for c in nb.cells)
    args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp_path}/profile"]
    args += ["--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]  # no network: a CDN could not help
    dom = subprocess.run(
        args + ["--virtual-time-budget=15000", "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=180
    ).stdout
    assert "<body" in dom, "Chromium returned no DOM"
    body = dom[dom.index("<body") :]
    # math typeset by the local MathJax: rendered elements, no error, no TeX left in the prose
    assert body.count('class="MathJax"') >= 1 and "MathJax_Error" not in body and "merror" not in body
    prose = re.sub(r"<script.*?</script>", "", body, flags=re.S)
    assert "\\lVert" not in re.sub(r"<[^>]+>", "", prose), "raw TeX left in the rendered page"
    # figures present and decodable
    srcs = re.findall(r'<img[^>]+src="data:image/png;base64,([^"]+)"', body)
    assert n_figs >= 3 and len(srcs) >= n_figs, (len(srcs), n_figs)
    from PIL import Image
    import io

    sizes = [Image.open(io.BytesIO(base64.b64decode(s))).size for s in srcs]
    assert all(w > 100 and h > 50 for w, h in sizes), sizes
    # the summary comes first: before the parameters and the first section of the notebook
    i_sum = body.index("celltag_report-summary-box")
    assert i_sum < body.index("What was asked") < body.index("The verdict") < body.index("celltag_parameters")
    first_img = body.index("data:image/png")
    assert i_sum < first_img and body.index('href="#fig-1"') < first_img
    # and a screenshot of the top of the page is not blank (the summary box is drawn)
    shot = tmp_path / "top.png"
    subprocess.run(
        args + ["--window-size=1300,1400", "--virtual-time-budget=15000", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=180,
    )
    import numpy as np

    dark = (np.asarray(Image.open(shot).convert("L")) < 128).mean()
    assert 0.005 < dark < 0.5, dark


def test_render_failed_run_says_so_first(tmp_path):
    nb = nbformat.v4.new_notebook()
    err = nbformat.v4.new_output("error", ename="StudyError", evalue="BOOM: weights missing", traceback=["tb"])
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Finding 9 — fails\n> Does it fail?"),
        nbformat.v4.new_code_cell("st = setup()", metadata={"tags": ["hide-input"]}, outputs=[err]),
        nbformat.v4.new_code_cell("report()", metadata={"tags": ["hide-input", "report-summary"]}),
    ]
    src = tmp_path / "09_fail.ipynb"
    nbformat.write(nb, src)
    h = _render_module().render(src, tmp_path, tmp_path).read_text()
    body = h[h.index("<body") :]
    assert body.index("This run failed") < body.index("celltag_hide-input")
    assert "StudyError: BOOM: weights missing" in body


@pytest.mark.parametrize("name", FINDINGS)
def test_finding_notebooks_are_tagged_for_the_report(name):
    "The renderer's inputs: plumbing folded, one verdict cell and one finish cell, the figures shown by the calls."
    nb = nbformat.read(ROOT / "nbs" / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in _tags(code[0]) and "hide-input" not in _tags(code[0])
    assert all("hide-input" in _tags(c) for c in code[1:]), "every code cell but the parameters folds in the HTML"
    assert sum("report-summary" in _tags(c) for c in code) == 1 and "report-finish" in _tags(code[-1])
    for c in code:
        if PLOTTING.search(c.source):
            # save_figure / save_grid show the saved file; plt.show() or display(grid) would show nothing or twice
            assert "plt.show()" not in c.source and not re.search(r"display\(\w+_grid\(", c.source), c.source[:200]
