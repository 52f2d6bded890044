"""The code's shape, checked: experiment notebooks define no functions (the experiment layer does), no method module
imports another method's module, one statement per line, lines of at most 120 characters, nbdev directives as `#|`."""
import ast, io, json, re, tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
EXPERIMENTS = sorted(NBS.glob("0[2-5]_*.ipynb"))
METHODS = sorted((ROOT / "unlearn_study" / "methods").glob("*.py"))
SHARED = {"__init__", "blocks", "registry"}   # what a method may import from its own package


def code_cells(nb):
    return ["".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]


def parse(src):
    "A cell's AST, with IPython magics and shell escapes blanked out."
    return ast.parse("\n".join("" if l.lstrip().startswith(("%", "!")) else l for l in src.splitlines()))


@pytest.mark.parametrize("nb", EXPERIMENTS, ids=lambda p: p.name)
def test_experiment_notebooks_define_no_functions(nb):
    "An experiment notebook reads parameters -> one call per stage -> figure -> table -> verdict; the code is in the library."
    defs = [f"{n.name} (cell {i})" for i, src in enumerate(code_cells(nb)) for n in ast.walk(parse(src))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    assert not defs, f"{nb.name} defines {defs}: move them into the experiment layer (nbs/01g_experiment.ipynb)"


@pytest.mark.parametrize("mod", [m for m in METHODS if m.stem not in SHARED], ids=lambda p: p.stem)
def test_methods_do_not_import_each_other(mod):
    "A method module imports from core, backbones, train, metrics and methods.blocks -- never from another method."
    bad = []
    for n in ast.walk(ast.parse(mod.read_text())):
        if isinstance(n, ast.ImportFrom):
            names = [n.module or ""] + [f"{n.module or ''}.{a.name}" for a in n.names]
            if n.level == 1 or (n.module or "").startswith("unlearn_study.methods"):
                targets = [a.name for a in n.names] if not n.module else [n.module.split(".")[-1]]
                bad += [f"line {n.lineno}: {t}" for t in targets if t not in SHARED]
        elif isinstance(n, ast.Import):
            bad += [f"line {n.lineno}: {a.name}" for a in n.names
                    if a.name.startswith("unlearn_study.methods.") and a.name.split(".")[-1] not in SHARED]
    assert not bad, f"{mod.stem} imports another method's module: {bad}"


def all_code_lines():
    for nb in sorted(NBS.rglob("*.ipynb")):
        for src in code_cells(nb):
            for line in src.splitlines():
                yield nb.relative_to(NBS), line


def semicolons(src):
    "Lines of a cell where `;` joins statements (a token, not a character inside a string or comment)."
    src = "\n".join("" if l.lstrip().startswith(("%", "!")) else l for l in src.splitlines())
    toks = tokenize.generate_tokens(io.StringIO(src).readline)
    return [t.line.strip() for t in toks if t.type == tokenize.OP and t.string == ";"]


def test_one_statement_per_line_and_short_lines():
    "No `;`-joined statements; at most a handful of lines over 120 characters (long literals that cannot be split)."
    joined = [f"{nb.relative_to(NBS)}: {line[:80]}" for nb in sorted(NBS.rglob("*.ipynb"))
              for src in code_cells(nb) for line in semicolons(src)]
    long = [f"{nb}: {line.strip()[:80]}" for nb, line in all_code_lines() if len(line) > 120]
    assert not joined, joined[:10]
    assert len(long) <= 10, f"{len(long)} lines over 120 characters, e.g. {long[:10]}"


def test_nbdev_directives_are_written_as_nbdev_writes_them():
    "`#| export`, not `# | export` (a formatter's rewrite that reads as an ordinary comment)."
    bad = [f"{nb}: {line}" for nb, line in all_code_lines() if re.match(r"#\s+\|", line.strip())]
    assert not bad, bad[:10]
