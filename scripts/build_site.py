"""Build the documentation site (called by scripts/build_docs.sh; run from the repository root).

  notebooks --(nbdev's processor, show_doc only)--> _proc/ --(+ cached evidence outputs)--> mkdocs --> $SITE_DIR

* show_doc cells run in a fresh kernel that holds the notebook's module (`from unlearn_study.<mod> import *`) and
  the notebook's import statements, nothing else: no training or evidence cell is re-run, and each entry's source
  link comes from the object itself (`inspect`), so a name defined in several modules (`Config`) links to its own.
* A backticked name in the prose links to the current module's object first, else to the one module defining it;
  a name several other modules define is left unlinked rather than linked to the wrong one.
* Source links point at pages of the site (src/<module>.html#L<n>), rendered here with pygments.
* Evidence (figures, tables) of the library notebooks comes from docs/outputs/<notebook>.json, written by
  scripts/execute_docs.py and keyed by the notebook's source hash: a stale entry is not used (the page says so).
* Math: MathJax 2.7 from the jupyter-server-mathjax package, copied into the site (no network needed).
* Pages: Home, Methods (a table built from the registry), Findings (the committed reports/*.ipynb), Library,
  method and attack notebooks, Pretraining reports. Experiment notebooks whose report is committed are shown
  through that report only: one nav entry per page.
"""

import ast, fnmatch, hashlib, html, inspect, json, os, re, shutil, sys, time
from configparser import ConfigParser
from pathlib import Path

ROOT = Path.cwd().resolve()
sys.path.insert(0, str(ROOT / "scripts"))
from execute_docs import OUTPUTS, source_hash  # noqa: E402

import yaml  # noqa: E402
from fastcore.xtras import working_directory  # noqa: E402
from nbdev import serve_drv  # noqa: E402
from nbdev.config import get_config  # noqa: E402
from nbdev.processors import FilterDefaults, add_links, add_show_docs, exec_show_docs  # noqa: E402
from nbdev.process import Processor  # noqa: E402
from execnb.shell import CaptureShell  # noqa: E402

SRC_DIR = "src"  # source pages under the site root
SRC_MARK = "@@SITE_SRC@@"  # replaced by the page's relative path to SRC_DIR
MATHJAX_MARK = "@@SITE_MATHJAX@@"
DOC_MARK = "@@SITE_DOC@@"  # @@SITE_DOC@@<module>#<anchor>: resolved against the built pages' ids after mkdocs
LIB = "unlearn_study"

cfg = get_config()
# $PROC_DIR: where the processed pages go (default _proc/); the tests give each build its own, so that two builds at
# once (two test workers) never delete each other's pages
nbs, proc = Path(cfg.nbs_path).resolve(), Path(os.environ.get("PROC_DIR") or Path(cfg.config_path) / "_proc").resolve()
site = Path(os.environ["SITE_DIR"]).resolve()
ini = ConfigParser(delimiters=["="])
ini.read("settings.ini")
exp_re = re.compile(ini["DEFAULT"].get("skip_file_re", "^_"))

pats = os.environ.get("DOCS_GLOB", "*").split()  # e.g. DOCS_GLOB="index.ipynb 00_*" for a quick build
sources = sorted(
    p
    for p in nbs.rglob("*.ipynb")
    if not any(part.startswith((".", "_")) for part in p.relative_to(nbs).parts)
    and any(fnmatch.fnmatch(p.relative_to(nbs).as_posix(), pat) for pat in pats)
)
reports = sorted(r for r in Path("reports").rglob("*.ipynb") if ".ipynb_checkpoints" not in r.parts)


def covered_by_report(rel: Path):
    "The committed report of an experiment notebook (reports/02_resurgence.ipynb, or reports/pretrain/ for 08_pretrain)."
    if not exp_re.search(rel.name) or len(rel.parts) > 1:
        return []
    short = re.sub(r"^\d+_", "", rel.stem)
    return [r for r in reports if r.stem == rel.stem or r.parent.name == short]


# ---------------------------------------------------------------- symbols: module of each name, its doc anchor
from unlearn_study._modidx import d as MODIDX  # noqa: E402

SYMS = {}  # short name -> {module: doc url}
for mod, syms in MODIDX["syms"].items():
    for full, (url, _) in syms.items():
        SYMS.setdefault(full[len(mod) + 1 :], {})[mod] = url  # url: nbdev's "<module path>.html#<anchor>"


def module_of(nb_path: Path):
    for c in json.loads(nb_path.read_text(encoding="utf-8"))["cells"]:
        m = re.search(r"^#\s*\|\s*default_exp\s+(\S+)", "".join(c["source"]), re.M)
        if c["cell_type"] == "code" and m:
            return f"{LIB}.{m.group(1)}"


_backticks = re.compile(r"`([^`\s]+?)(\(\))?`")


def linker(mod):
    "add_links, but a name resolves to the current module's object first, and an ambiguous name stays unlinked."

    def link(m):
        name = m.group(1)
        if name.startswith(LIB + "."):  # a full dotted name: exactly that module
            where, short = name.rsplit(".", 1)
            owners = {k: v for k, v in SYMS.get(short, {}).items() if k == where}
        else:
            owners = SYMS.get(name, {})
        owner = mod if mod in owners else (next(iter(owners)) if len(owners) == 1 else None)
        if owner is None:
            return m.group(0)
        return f"[{m.group(0)}]({DOC_MARK}{owner}#{owners[owner].partition('#')[2]})"

    def proc_cell(cell):
        if cell.cell_type != "markdown":
            return
        lines, fence = cell.source.splitlines(), False
        for i, l in enumerate(lines):
            if l.startswith("```"):
                fence = not fence
            elif not fence and not l.startswith("    "):
                lines[i] = _backticks.sub(link, l)
        cell.source = "\n".join(lines)

    return proc_cell


SHOW_DOC_SETUP = f"""
import inspect as _inspect
from pathlib import Path as _Path
from nbdev.showdoc import BasicMarkdownRenderer as _BMR, show_doc as _show_doc
from fastcore.docments import MarkdownRenderer as _MR
class _SiteRenderer(_BMR):
    def _repr_markdown_(self):
        doc = '---\\n\\n'
        try:
            o = _inspect.unwrap(self.sym)
            f = _Path(_inspect.getsourcefile(o)).resolve().relative_to({str(ROOT)!r})
            line = _inspect.getsourcelines(o)[1]
            doc += f'<a class="source-link" href="{SRC_MARK}/{{f.as_posix()}}.html#L{{line}}" style="float:right; font-size:smaller">source</a>\\n\\n'
        except Exception: pass
        return doc + f"{{'#' * self.title_level}} {{self.nm}}\\n\\n" + _MR._repr_markdown_(self)
def show_doc(sym, renderer=None, name=None, title_level=3): return _show_doc(sym, renderer=_SiteRenderer, name=name, title_level=title_level)
"""


def _imports_only(src):
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return ""
    return "\n".join(ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)))


def make_exec(mod):
    class exec_module_docs(Processor):
        "Run only what show_doc needs: the notebook's module, its import lines, show_doc cells and #| exec_doc cells."

        def begin(self):
            self.k = CaptureShell()
            setup = SHOW_DOC_SETUP
            if mod:
                setup += f"\nimport {mod} as _m\nglobals().update({{k: v for k, v in vars(_m).items() if not k.startswith('__')}})"
            self.k.run_cell(setup)
            if self.k.exc:
                raise Exception(f"show_doc setup failed for {mod}") from self.k.exc

        def __call__(self, cell):
            if cell.cell_type != "code" or not cell.source:
                return
            d = cell.directives_
            if "exec_doc" in d:
                code = cell.source
            elif d.keys() & {"export", "exports", "exporti"}:
                return  # already in the module
            else:
                code = _imports_only(cell.source)
                if re.search(r"^\s*show_doc\(", cell.source, re.M):
                    self.k.cell(cell)  # runs it and records its outputs, as nbdev does
                    if self.k.exc:
                        raise Exception(f"show_doc cell {cell.idx_} failed: {cell.source}") from self.k.exc
                    return
            if code:
                self.k.run_cell(code)  # an import that fails here only costs the links it would give

    return exec_module_docs


_math = re.compile(r"\$\$.*?\$\$|(?<![\\$])\$[^$\n]+\$", re.S)


def primes_for_mathjax(cell):
    "MathJax 2.7 (jupyter-server-mathjax) renders `c'` as [Math Processing Error]: write primes as ^{\\prime}."
    if cell.cell_type == "markdown" and "'" in cell.source and "$" in cell.source:
        def fix(m):  # a span with a backtick or over 400 characters is prose between two `$VARS`, not math
            t = m.group(0)
            return t if "`" in t or len(t) > 400 else re.sub(r"'+", lambda q: "^{" + "\\prime" * len(q.group(0)) + "}", t)

        cell.source = _math.sub(fix, cell.source)


def procs_for(mod, execute=True):
    class Procs(FilterDefaults):
        def base_procs(self):
            out = [primes_for_mathjax]
            for p in super().base_procs():
                if p is exec_show_docs:
                    if execute:
                        out.append(make_exec(mod))
                elif p is add_show_docs:
                    if execute:
                        out.append(p)
                elif p is add_links:
                    out.append(linker(mod))
                else:
                    out.append(p)
            return out

    return Procs


t0 = time.time()
shutil.rmtree(proc, ignore_errors=True)
failed, stale, reused = [], [], []
in_site = [s for s in sources if not covered_by_report(s.relative_to(nbs))]
with working_directory(nbs):
    for src in in_site:
        rel = src.relative_to(nbs)
        dst = proc / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        t = time.time()
        mod = module_of(src)
        try:
            serve_drv.main((src, dst, procs_for(mod)))
        except Exception as e:
            failed.append(f"{rel}: {str(e).splitlines()[0]} ({e.__cause__!r})")
            os.environ.pop("IN_TEST", None)
            serve_drv.main((src, dst, procs_for(mod, execute=False)))
        print(f"== processed {rel} in {time.time() - t:.1f} s", flush=True)
for r in reports:  # executed already: filter only
    (proc / r).parent.mkdir(parents=True, exist_ok=True)
    serve_drv.main((r.resolve(), proc / r, procs_for(None, execute=False)))
print(f"== nbdev processing: {time.time() - t0:.0f} s", flush=True)


# ---------------------------------------------------------------- pages
def cache_outputs(rel, nb):
    "Cell outputs from docs/outputs/<rel>.json when its source hash matches the notebook's, else None."
    f = OUTPUTS / rel.with_suffix(".json")
    if not f.exists():
        return None
    rec = json.loads(f.read_text(encoding="utf-8"))
    if rec.get("source_sha256") != source_hash(json.loads((nbs / rel).read_text(encoding="utf-8"))):
        stale.append(str(rel))
        return None
    reused.append(str(rel))
    return rec


pages = {}  # rel path under _proc -> (nb, title)


def clean_source(src):
    return "\n".join(l for l in src.splitlines() if not re.match(r"\s*#\s*\|", l)).strip()


def load(rel, title=None, intro=None):
    nb = json.loads((proc / rel).read_text(encoding="utf-8"))
    meta = {}
    cached = cache_outputs(rel, nb) if rel.parts[0] != "reports" else None
    cells = []
    for c in nb["cells"]:  # nbformat's validation (used by mkdocs-jupyter) rejects nbdev's extra keys
        for k in [k for k in c if k not in ("cell_type", "id", "metadata", "source", "outputs", "execution_count", "attachments")]:
            del c[k]
        src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        tags = list(c.get("metadata", {}).get("tags", []))
        c["metadata"] = {}
        if c["cell_type"] == "code":
            c.setdefault("outputs", [])
            c["execution_count"] = None
            if cached and not c["outputs"] and c.get("id") in cached["outputs"]:
                c["outputs"] = cached["outputs"][c["id"]]
            if re.search(r"^#\s*\|\s*echo:\s*false", src, re.M) or "remove_input" in tags:
                tags.append("remove_input")
            src = clean_source(src)
            if not src and not c["outputs"]:
                continue
        c["source"] = src
        if tags:
            c["metadata"]["tags"] = sorted(set(tags))
        cells.append(c)
    nb["cells"] = cells
    first = cells[0] if cells else None
    if first and first["cell_type"] == "raw" and first["source"].startswith("---"):
        meta = yaml.safe_load(first["source"].strip().strip("-")) or {}  # nbdev's frontmatter -> a heading
        first.update(cell_type="markdown", source=f"# {meta.get('title', rel.stem)}" + (f"\n\n> {meta['description']}" if meta.get("description") else ""))
        first.pop("outputs", None), first.pop("execution_count", None)
    elif first and first["cell_type"] == "markdown" and first["source"].startswith("# "):
        meta["title"] = first["source"].splitlines()[0][2:].strip()
    notes = []
    if intro:
        notes.append(intro)
    if rel.parts[0] != "reports" and str(rel) in stale:
        notes.append(
            f'!!! warning "Evidence not shown"\n    This notebook changed since its outputs were last recorded: '
            f"run `python scripts/execute_docs.py nbs/{rel.as_posix()}` to record them again."
        )
    for n in reversed(notes):
        cells.insert(1 if first else 0, {"cell_type": "markdown", "id": f"site{len(notes)}", "metadata": {}, "source": n})
    pages[rel] = (nb, title or meta.get("title") or rel.stem)


for s in in_site:
    rel = s.relative_to(nbs)
    if (proc / rel).exists():
        load(rel, title="Method registry" if rel == Path("methods/registry.ipynb") else None)  # "Methods" is the table
FINDING = {"02_resurgence": "Finding 1: concept resurgence", "03_dimra": "Finding 2: DiMRA reversal", "04_rgd": "Finding 3: RGD alignment", "05_robustness": "Robustness: every method against every attack"}
for r in reports:
    html_copy = r.with_suffix(".html")
    intro = (
        f"This page is the committed report `{r.as_posix()}`: the experiment notebook `nbs/{r.name if r.parent.name == 'reports' else '08_pretrain.ipynb'}` "
        f"executed by `bash scripts/study.sh`" + (f" (a standalone HTML copy is `{html_copy.as_posix()}` in the repository)." if html_copy.exists() else ".")
    )
    title = FINDING.get(r.stem) or (f"Pretraining: {r.stem}" if r.parent.name == "pretrain" else None)
    load(r, title=title, intro=intro)

# the methods table, from the registry
from unlearn_study.methods.registry import METHODS  # noqa: E402

rows = ["| method | kind | paper | what it changes | notebook |", "|---|---|---|---|---|"]
for m in METHODS.itertuples():
    nbp = Path("methods") / f"{m.method}.ipynb"
    link = f"[{nbp.as_posix()}]({nbp.as_posix()})" if nbp in pages else f"`nbs/{nbp.as_posix()}`"
    kind = ", ".join({"class": "class-conditional", "text": "text-to-image"}[k.strip()] for k in m.settings.split(","))
    rows.append(f"| `{m.method}` | {kind} | {m.paper} | {m.updates} | {link} |")
(proc / "methods.md").write_text(
    "# Methods table\n\nEvery unlearning method in the registry (`unlearn_study.methods.registry.METHODS`), runnable with "
    "`run_method(name, model, forget_set, retain_set)` or `unlearn-study unlearn --method NAME`. *Kind*: the backbones "
    "it runs on (class-conditional: `toy-class`, `cifar10`; text-to-image: `toy-t2i`, `sd14`).\n\n" + "\n".join(rows) + "\n",
    encoding="utf-8",
)

for rel, (nb, _) in pages.items():
    text = json.dumps(nb, indent=1, ensure_ascii=False).replace(SRC_MARK, os.path.relpath(SRC_DIR, rel.parent).replace(os.sep, "/"))
    (proc / rel).write_text(text, encoding="utf-8")
MODULE_PAGE = {m: site / rel.with_suffix(".html") for rel in pages if rel.parts[0] != "reports" and (m := module_of(nbs / rel))}

if Path("reports/README.md").exists():  # the reports' details (per-seed numbers, timings): a page beside them
    (proc / "reports").mkdir(exist_ok=True)
    shutil.copy("reports/README.md", proc / "reports" / "details.md")
shutil.copy("CONTRIBUTING.md", proc / "contributing.md")

# nav: one entry per page
nav = [{"Home": "index.ipynb"}] if Path("index.ipynb") in pages else []
nav.append({"Methods table": "methods.md"})
sections = {}
for rel, (_, title) in sorted(pages.items(), key=lambda t: str(t[0])):
    if rel == Path("index.ipynb"):
        continue
    if rel.parts[0] == "reports":
        sec = "Pretraining" if rel.parent.name == "pretrain" else "Findings"
    elif len(rel.parts) > 1:
        sec = {"methods": "Method notebooks", "attacks": "Attacks"}.get(rel.parts[0], rel.parts[0].title())
    else:
        sec = "Experiments" if exp_re.search(rel.name) else "Library"
    sections.setdefault(sec, []).append({title: rel.as_posix()})
if (proc / "reports" / "details.md").exists():
    sections.setdefault("Findings", []).append({"Details, per-seed numbers, timings": "reports/details.md"})
order = ["Findings", "Library", "Method notebooks", "Attacks", "Experiments", "Pretraining"]
nav += [{s: sections[s]} for s in order if s in sections] + [{s: v} for s, v in sections.items() if s not in order]
nav.append({"Contributing": "contributing.md"})

from mkdocs.commands.build import build  # noqa: E402
from mkdocs.config import load_config  # noqa: E402

conf = load_config("mkdocs.yml", docs_dir=str(proc), site_dir=str(site), nav=nav)
t = time.time()
build(conf)
print(f"== mkdocs: {time.time() - t:.0f} s", flush=True)

# MathJax 2.7 (jupyter-server-mathjax), English only
import jupyter_server_mathjax  # noqa: E402

mj = Path(jupyter_server_mathjax.__file__).parent / "static"
shutil.copytree(mj, site / "assets" / "mathjax", dirs_exist_ok=True,
                ignore=lambda d, names: [n for n in names if Path(d).name == "localization" and n != "en"])
_ids = {}


def ids_of(page):
    if page not in _ids:
        _ids[page] = set(re.findall(r'\bid="([^"]+)"', page.read_text(encoding="utf-8"))) if page.exists() else set()
    return _ids[page]


def resolve_doc_link(m, here):
    "A symbol link -> its module's page and the entry's anchor (or its class's, or the page), or plain text."
    module, anchor, attrs, inner = m.groups()
    target = MODULE_PAGE.get(module)
    if target is None or not target.exists():
        return inner
    ids = ids_of(target)
    frag = next((a for a in (anchor, anchor.split(".")[0]) if a in ids), None)
    href = os.path.relpath(target, here.parent).replace(os.sep, "/") + (f"#{frag}" if frag else "")
    return f'<a href="{href}"{attrs}>{inner}</a>'


from markdown.extensions.toc import slugify  # noqa: E402

_heading = re.compile(r'<h[1-6] id="([^"]+)"[^>]*>(.*?)</h[1-6]>', re.S)


def fix_toc_anchors(text):
    """mkdocs-jupyter's table of contents slugs a heading without its `code` (nbconvert's id keeps it), and numbers repeated
    headings (`x`, `x_1`, ...) where nbconvert repeats the id: make the ids unique the same way, point the TOC at them."""
    seen = {}

    def renumber(m):
        hid = m.group(1)
        n = seen[hid] = seen.get(hid, -1) + 1
        return m.group(0) if n == 0 else m.group(0).replace(f'id="{hid}"', f'id="{hid}_{n}"', 1).replace(f'href="#{hid}"', f'href="#{hid}_{n}"', 1)

    text = _heading.sub(renumber, text)
    ids = set(re.findall(r'\bid="([^"]+)"', text))
    alias = {}
    for hid, inner in _heading.findall(text):
        words = re.sub(r"<[^>]+>", "", re.sub(r"<code>.*?</code>|<a class=\"anchor-link\".*?</a>", "", inner, flags=re.S))
        alias.setdefault(slugify(html.unescape(words), "-"), hid)
    return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{alias[m.group(1)]}"' if m.group(1) not in ids and m.group(1) in alias else m.group(0), text)


def local_page(m, here):
    "A link to a notebook or to reports/README.md (right on GitHub) -> its page on the site, where it has one."
    stem, ext, frag = m.group(1), m.group(2), m.group(3) or ""
    target = stem + {".ipynb": ".html", "/README.md": "/details.html", "CONTRIBUTING.md": "contributing.html"}[ext]
    return f'href="{target}{frag}"' if (here.parent / target).exists() else m.group(0)


_doc_link = re.compile(r'<a href="' + DOC_MARK + r'([\w.]+)#([^"]*)"([^>]*)>(.*?)</a>', re.S)
for page in site.rglob("*.html"):
    text = page.read_text(encoding="utf-8")
    new = text.replace(MATHJAX_MARK, os.path.relpath(site / "assets" / "mathjax", page.parent).replace(os.sep, "/"))
    new = fix_toc_anchors(_doc_link.sub(lambda m: resolve_doc_link(m, page), new))
    new = re.sub(r'href="([^":#]*?)(\.ipynb|/README\.md|CONTRIBUTING\.md)(#[^"]*)?"', lambda m: local_page(m, page), new)
    if new != text:
        page.write_text(new, encoding="utf-8")

# source pages: src/unlearn_study/<module>.py.html, lines anchored L<n>
from pygments import highlight  # noqa: E402
from pygments.formatters import HtmlFormatter  # noqa: E402
from pygments.lexers import PythonLexer  # noqa: E402

fmt = HtmlFormatter(linenos="inline", anchorlinenos=True, lineanchors="L", linespans=None)
css = fmt.get_style_defs(".highlight")
for py in sorted(Path(LIB).rglob("*.py")):
    if py.name == "_modidx.py" or "__pycache__" in py.parts:
        continue
    out = site / SRC_DIR / f"{py.as_posix()}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    code = highlight(py.read_text(encoding="utf-8"), PythonLexer(), fmt)
    code = re.sub(r'id="L-(\d+)"', r'id="L\1"', code).replace('href="#L-', 'href="#L')
    home = os.path.relpath(site / "index.html", out.parent).replace(os.sep, "/")
    out.write_text(
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(py.as_posix())}</title>'
        f"<style>{css} body{{font-family:sans-serif;margin:1em}} pre{{font-size:13px}}</style></head>"
        f'<body><p><a href="{home}">unlearn_study docs</a> / <code>{html.escape(py.as_posix())}</code> '
        f"(generated from its notebook; edit the notebook)</p>{code}</body></html>",
        encoding="utf-8",
    )

for f in failed:
    print("WARNING: rendered without its API entries:", f)
for s in stale:
    print(f"WARNING: evidence not shown (outputs recorded for an older version): {s}; refresh: python scripts/execute_docs.py nbs/{s}")
print(f"== evidence outputs reused for {len(reused)} notebooks: {', '.join(reused) or '-'}")
print(f"== {len(pages)} pages ({len(in_site)} notebooks, {len(reports)} reports) in {time.time() - t0:.0f} s")
