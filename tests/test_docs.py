"""The docs site as a reader sees it: built once offline by scripts/build_docs.sh, then checked for dead links and
anchors, off-site links, broken API entries, evidence figures, one nav entry per page, and (in headless Chromium)
rendered math. Also: every notebook carries a kernelspec that nbdev_clean keeps."""
import json, os, re, shutil, subprocess, sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from execute_docs import OUTPUTS, source_hash  # noqa: E402

pytestmark = pytest.mark.xdist_group("docs_site")  # one worker builds the site once and runs every check
OFFSITE_ALLOWED = (  # links that are meant to leave the site (prefixes)
    "https://squidfunk.github.io/mkdocs-material/",  # the theme's "Made with Material for MkDocs" footer
    "https://arxiv.org/abs/",  # the papers
    "https://papermill.readthedocs.io",
)
BUILD_LIMIT_S = 300


# ---------------------------------------------------------------- the page model
class Page(HTMLParser):
    "ids, links (href/src) and visible text of one HTML file."

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.ids, self.links, self.text, self.classes, self._skip = set(), [], [], [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("id", "name"):
            if a.get(k):
                self.ids.add(a[k])
        for k in ("href", "src"):
            if a.get(k) is not None and not (tag == "script" and a.get("type", "").startswith("math/")):
                self.links.append((tag, a[k]))
        self.classes.append((tag, a.get("class") or "", a))
        if tag in ("script", "style", "pre", "code", "textarea"):
            self._skip.append(tag)

    def handle_endtag(self, tag):
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)

    @property
    def visible(self):
        return " ".join(self.text)


def run(cmd, timeout, **kw):
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, **kw)
    assert res.returncode == 0, f"{cmd} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


@pytest.fixture(scope="session")  # once per worker: xdist may interleave other modules' tests between these, and a
def site(tmp_path_factory):        # module-scoped site was then built twice (CI: 73 + 69 s, and a flaky missing anchor)
    "The whole site, built as CI builds it: offline (no network namespace where the kernel allows it)."
    tmp = tmp_path_factory.mktemp("docs")
    env = dict(os.environ, UNLEARN_SKIP_SETUP="1", UNLEARN_VENV=sys.prefix, SITE_DIR=str(tmp / "site"),
               README_OUT=str(tmp / "README.md"), PROC_DIR=str(tmp / "_proc"))  # its own _proc: builds never collide
    cmd = ["bash", "scripts/build_docs.sh"]
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
        cmd = ["unshare", "-n"] + cmd
    import time

    t = time.time()
    res = run(cmd, timeout=900, env=env)
    seconds = time.time() - t
    site = tmp / "site"
    pages = {p: Page(p.read_text(encoding="utf-8")) for p in site.rglob("*.html")  # 404.html: root-absolute links for a web server
             if not {"assets", "search"} & set(p.relative_to(site).parts) and p.name != "404.html"}
    return dict(dir=site, pages=pages, log=res.stdout + res.stderr, seconds=seconds, readme=tmp / "README.md")


def page(site, rel):
    p = site["dir"] / rel
    assert p in site["pages"], f"{rel} is not in the site"
    return site["pages"][p]


# ---------------------------------------------------------------- build
def test_build_is_quick_and_complete(site):
    assert site["seconds"] < BUILD_LIMIT_S, f"the docs build took {site['seconds']:.0f} s (limit {BUILD_LIMIT_S} s)"
    assert "rendered without its API entries" not in site["log"], site["log"][-3000:]
    assert site["readme"].read_text() == (ROOT / "README.md").read_text(), "README.md is stale: bash scripts/build_docs.sh --readme-only"
    for nb in sorted((ROOT / "nbs").glob("0[01]*.ipynb")) + sorted((ROOT / "nbs").glob("0[67]*.ipynb")):
        assert (site["dir"] / nb.with_suffix(".html").name).exists(), f"{nb.name} has no page"


def test_no_dead_links_or_anchors(site):
    dead, offsite = [], set()
    for path, pg in site["pages"].items():
        for tag, url in pg.links:
            u = urlsplit(url)
            if u.scheme in ("mailto", "javascript", "data"):
                continue
            if u.scheme or url.startswith("//"):
                if not url.startswith(OFFSITE_ALLOWED):
                    offsite.add(f"{path.relative_to(site['dir'])}: <{tag}> {url}")
                continue
            target = (path.parent / unquote(u.path)).resolve() if u.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                dead.append(f"{path.relative_to(site['dir'])}: {url}")
            elif u.fragment and target.suffix == ".html":
                ids = site["pages"][target].ids if target in site["pages"] else Page(target.read_text(encoding="utf-8")).ids
                if unquote(u.fragment) not in ids:
                    dead.append(f"{path.relative_to(site['dir'])}: {url} (no such anchor)")
    assert not dead, f"{len(dead)} dead links:\n" + "\n".join(sorted(set(dead))[:40])
    assert not offsite, f"{len(offsite)} links leave the site:\n" + "\n".join(sorted(offsite)[:40])


def test_nav_has_one_entry_per_page(site):
    idx = page(site, "index.html")
    nav = [a.get("href") for tag, cls, a in idx.classes if tag == "a" and "md-nav__link" in cls and a.get("href")]
    pages_in_nav = [h.split("#")[0] for h in nav if "#" not in h or not h.startswith("#")]
    assert len(pages_in_nav) >= 20, pages_in_nav
    dup = {h for h in pages_in_nav if pages_in_nav.count(h) > 1}
    assert not dup, f"pages listed more than once in the nav: {sorted(dup)}"
    titles = re.findall(r'<a href="(?!#)[^"]*" class="md-nav__link">\s*<span class="md-ellipsis">\s*([^<]*?)\s*</span>', (site["dir"] / "index.html").read_text())
    assert len(titles) == len(set(titles)), f"nav titles repeat: {sorted(t for t in titles if titles.count(t) > 1)}"


def test_methods_table_lists_the_registry(site):
    from unlearn_study.methods.registry import METHODS

    pg = page(site, "methods.html")
    hrefs = {u for _, u in pg.links}
    for m in METHODS.itertuples():
        assert m.paper.split(":")[0].split(" (")[0] in pg.visible, f"{m.method} missing from the methods table"
        if (ROOT / "nbs" / "methods" / f"{m.method}.ipynb").exists():
            assert f"methods/{m.method}.html" in hrefs, f"no link to {m.method}'s notebook"


def test_each_finding_has_a_page_with_its_report(site):
    for r in sorted((ROOT / "reports").glob("0*.ipynb")):
        pg = page(site, f"reports/{r.stem}.html")
        n_img = sum(1 for t, u in pg.links if t == "img")
        n_png = sum("image/png" in o.get("data", {}) for c in json.loads(r.read_text())["cells"] for o in c.get("outputs", []))
        assert n_img >= n_png > 0, f"{r.name}: {n_png} figures in the report, {n_img} on its page"
        assert f"reports/{r.name}" in (site["dir"] / "reports" / f"{r.stem}.html").read_text(), "the page does not say which report it shows"


# ---------------------------------------------------------------- API entries
def api_names(nb):
    "Public top-level functions and classes of a notebook's `#| export` cells: nbdev gives each an API entry."
    import ast

    names = []
    for c in nb["cells"]:
        src = "".join(c["source"])
        if c["cell_type"] == "code" and re.search(r"^#\|\s*export\s*$", src, re.M):
            tree = ast.parse("\n".join(l for l in src.splitlines() if not l.lstrip().startswith(("%", "!"))))
            names += [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")]
    return names


def test_api_entries_render(site):
    counted = 0
    for nb_path in sorted((ROOT / "nbs").rglob("*.ipynb")):
        rel = nb_path.relative_to(ROOT / "nbs").with_suffix(".html")
        names = api_names(json.loads(nb_path.read_text()))
        if not names or not (site["dir"] / rel).exists():
            continue
        pg, text = page(site, rel), (site["dir"] / rel).read_text(encoding="utf-8")
        src_links = [a["href"] for tag, cls, a in pg.classes if tag == "a" and "source-link" in cls]
        missing = [n for n in names if n.lower() not in pg.ids]
        assert not missing, f"{rel}: no API entry for {missing}"
        assert len(src_links) >= len(names), f"{rel}: {len(names)} exported names, {len(src_links)} API entries with a source link"
        assert all(h.split("#")[0].endswith(".py.html") and re.fullmatch(r"L\d+", h.split("#")[1]) for h in src_links), src_links[:3]
        assert "{target=" not in text and "show_doc(" not in pg.visible, f"{rel}: raw show_doc markup on the page"
        assert not re.search(r"(In|Out)\s*\[\s*\d*\s*\]:", pg.visible), f"{rel}: notebook prompts on the page"
        assert "@@SITE_" not in text, f"{rel}: an unresolved link mark"
        counted += len(names)
    assert counted > 50
    assert not any("unlearn-study.github.io" in u for pg in site["pages"].values() for _, u in pg.links)
    # entries of two notebooks that used to render without them, and an ambiguous name resolved to its own module
    assert {"sample", "load_backbone"} <= page(site, "01c_backbones.html").ids, "01c_backbones: no API entries"
    assert {"fit", "train_diffusion"} <= page(site, "01d_train.html").ids, "01d_train: no API entries"
    rgd = page(site, "methods/rgd.html")
    cfg_src = [a["href"] for tag, cls, a in rgd.classes if tag == "a" and "source-link" in cls and "rgd.py" in a["href"]]
    assert cfg_src, "RGD's entries do not link to methods/rgd.py"
    # names several modules define (`Config`, `default_config`, `unlearn`) link to this page's own entries
    own = re.findall(r'<a href="([^"]*)"><code>(Config|default_config|unlearn|TOY)</code></a>', (site["dir"] / "methods/rgd.html").read_text())
    assert own and all(h.startswith("rgd.html#") for h, _ in own), own


def test_source_pages_have_the_linked_lines(site):
    f = site["dir"] / "src" / "unlearn_study" / "core.py.html"
    n = len((ROOT / "unlearn_study" / "core.py").read_text().splitlines())
    assert {f"L{i}" for i in (1, n)} <= page(site, f.relative_to(site["dir"])).ids


# ---------------------------------------------------------------- evidence
def test_recorded_evidence_is_shown(site):
    shown = 0
    for rec_path in sorted(OUTPUTS.rglob("*.json")):
        rec = json.loads(rec_path.read_text())
        nb = json.loads((ROOT / rec["notebook"]).read_text())
        rel = Path(rec["notebook"]).relative_to("nbs").with_suffix(".html")
        if rec["source_sha256"] != source_hash(nb):
            assert f"evidence not shown (outputs recorded for an older version): {rel.with_suffix('.ipynb')}" in site["log"]
            assert "Evidence not shown" in page(site, rel).visible
            continue
        n_png = sum("image/png" in o.get("data", {}) for outs in rec["outputs"].values() for o in outs)
        n_img = sum(1 for t, u in page(site, rel).links if t == "img" and u.startswith("data:image/png"))
        assert n_img >= n_png, f"{rel}: {n_png} recorded figures, {n_img} shown"
        shown += n_png
    assert shown > 0, "no library page shows a recorded figure: python scripts/execute_docs.py nbs/01b_world.ipynb"


# ---------------------------------------------------------------- math, in a real browser
def chromium():
    exe = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: scripts/setup.sh installs it (apt-get install chromium) when run as root")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium); CI installs it and runs this check")
    return exe


def dom(path):
    res = run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--virtual-time-budget=30000",
               "--dump-dom", path.as_uri()], timeout=180)
    return res.stdout


@pytest.mark.parametrize("rel", ["methods/mace.html", "methods/rgd.html", "methods/rl.html", "index.html"])
def test_math_renders_offline(site, rel):
    f = site["dir"] / rel
    if rel == "index.html":  # the home page has no math; it still must not load anything from outside
        assert "mathjax" not in f.read_text().lower() or "assets/mathjax" in f.read_text()
        return
    src = f.read_text(encoding="utf-8")
    assert "../assets/mathjax/MathJax.js" in src, "MathJax is not loaded from the site"
    n_tex = len(re.findall(r"\$\$|\\\(|(?<![\\$])\$(?!\$)", Page(src).visible))
    assert n_tex > 4, f"{rel} has no math to check"
    out = Page(dom(f))
    rendered = sum(1 for tag, cls, a in out.classes if re.search(r"\bMathJax(_Display|_CHTML|_SVG)?\b", cls))
    errors = sum(1 for tag, cls, a in out.classes if "MathJax_Error" in cls or "merror" in cls)
    assert rendered >= 5, f"{rel}: MathJax rendered {rendered} formulas"
    assert errors == 0, f"{rel}: {errors} MathJax errors"
    raw = re.findall(r"\$\$?\s*\\[A-Za-z]+", out.visible)
    assert not raw, f"{rel}: raw TeX left in the page: {raw[:5]}"


# ---------------------------------------------------------------- notebooks
def test_every_notebook_has_a_kernelspec_that_nbdev_clean_keeps():
    from nbdev.clean import clean_nb
    from nbdev.config import get_config

    cfg = get_config(path=ROOT)
    for f in sorted((ROOT / "nbs").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in f.parts:
            continue
        nb = json.loads(f.read_text())
        ks = nb["metadata"].get("kernelspec", {})
        assert ks.get("name") == "python3" and ks.get("language") == "python", f"{f.relative_to(ROOT)}: kernelspec {ks}"
        before = json.dumps(nb["metadata"], sort_keys=True)
        clean_nb(nb, allowed_metadata_keys=cfg.get("allowed_metadata_keys", "").split(),
                 allowed_cell_metadata_keys=cfg.get("allowed_cell_metadata_keys", "").split(), clean_ids=cfg.get("clean_ids", True))
        assert json.dumps(nb["metadata"], sort_keys=True) == before, f"{f.relative_to(ROOT)}: nbdev_clean changes its metadata"


def test_recorded_outputs_are_keyed_by_the_sources():
    "An edit to any cell's source makes a record stale; re-running (new outputs, ids, metadata) does not."
    import copy

    nb = json.loads((ROOT / "nbs" / "01b_world.ipynb").read_text())
    h = source_hash(nb)
    rerun = copy.deepcopy(nb)
    for c in rerun["cells"]:
        c["id"], c["metadata"] = "x" + c.get("id", ""), {"tags": ["t"]}
        if c["cell_type"] == "code":
            c["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["new\n"]}]
    assert source_hash(rerun) == h
    edited = copy.deepcopy(nb)
    code = next(c for c in edited["cells"] if c["cell_type"] == "code")
    code["source"] = "".join(code["source"]) + "\n# edited"
    assert source_hash(edited) != h
