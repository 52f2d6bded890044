"""Packaging and tooling checks: the environment files agree, the package builds and imports light,
nbdev keeps papermill's tags, every experiment notebook exposes its parameters, README and scripts agree."""
import hashlib, json, os, re, shlex, shutil, subprocess, sys, zipfile
from configparser import ConfigParser
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the venv's bin/: nbdev_clean, papermill, pip
EXPERIMENTS = {  # notebook -> parameters its papermill `parameters` cell must define
    "02_resurgence.ipynb": {"scale", "seeds", "device", "out_dir", "backbone", "methods"},
    "03_dimra.ipynb": {"scale", "seeds", "device", "out_dir", "backbone", "methods"},
    "04_rgd.ipynb": {"scale", "seeds", "device", "out_dir", "backbone", "methods"},
    "05_robustness.ipynb": {"scale", "seeds", "device", "out_dir", "class_backbone", "text_backbone", "methods", "attacks"},
    "08_pretrain.ipynb": {"scale", "device", "out_dir"},  # scripts/study.sh passes `-p scale smoke` to it
}
COMMANDS = ("bash scripts/study.sh", "bash scripts/test.sh")


def settings() -> dict:
    cfg = ConfigParser(delimiters=["="])
    cfg.read(ROOT/"settings.ini", encoding="utf-8")
    return dict(cfg["DEFAULT"])


def pins(reqs) -> dict:
    "Map canonical package name -> version specifier string."
    out = {}
    for r in reqs:
        req = Requirement(r)
        out[canonicalize_name(req.name)] = str(req.specifier)
    return out


def settings_reqs(key="requirements") -> list:
    return shlex.split(settings().get(key, ""))


def constraint_lines() -> list:
    return [l.split("#")[0].strip() for l in (ROOT/"constraints.txt").read_text().splitlines() if l.split("#")[0].strip()]


def run(cmd, cwd=ROOT, timeout=300, **kw):
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, **kw)
    assert res.returncode == 0, f"{cmd} failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


# --- environment files agree -----------------------------------------------------------------------

def test_environment_yml_matches_settings():
    env = yaml.safe_load((ROOT/"environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip_list = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    from_env = pins(x for x in pip_list if not x.startswith("-"))
    from_ini = pins(settings_reqs("requirements") + settings_reqs("dev_requirements"))
    missing = {k: v for k, v in from_ini.items() if k not in from_env}
    extra = {k: v for k, v in from_env.items() if k not in from_ini}
    differ = {k: (from_ini[k], from_env[k]) for k in from_ini.keys() & from_env.keys() if from_ini[k] != from_env[k]}
    assert not (missing or extra or differ), f"settings.ini vs environment.yml: missing {missing}, extra {extra}, pins differ {differ}"


def test_constraints_pin_what_settings_asks():
    ini, con = pins(settings_reqs()), pins(constraint_lines())
    for pkg in ("torch", "torchvision"):
        assert con.get(pkg, "").startswith("=="), f"constraints.txt must pin {pkg} exactly"
        assert con[pkg] == ini.get(pkg), f"{pkg}: constraints.txt {con[pkg]} vs settings.ini {ini.get(pkg)}"
    # anything pinned in both places must agree
    assert {k: v for k, v in con.items() if k in ini and ini[k] != v} == {}


def test_installed_versions_satisfy_the_pins():
    "The environment the tests run in is the one settings.ini asks for (no silently swapped torch)."
    import importlib.metadata as md
    bad = {}
    for name, spec in pins(settings_reqs()).items():
        if not spec: continue
        try: v = md.version(name)
        except md.PackageNotFoundError: bad[name] = "not installed"; continue
        if not SpecifierSet(spec).contains(Version(v), prereleases=True): bad[name] = f"{v} does not satisfy {spec}"
    assert bad == {}


# --- the package -----------------------------------------------------------------------------------

def test_import_is_light():
    "`import unlearn_study` must not import torch (CLI start-up, papermill --help-notebook, docs)."
    res = run([sys.executable, "-c", "import sys, unlearn_study; print(sorted({'torch', 'diffusers', 'transformers'} & set(sys.modules)))"])
    assert res.stdout.strip() == "[]", res.stdout


def test_version_consistent():
    v = settings()["version"]
    res = run([sys.executable, "setup.py", "--version"])
    assert res.stdout.strip().splitlines()[-1] == v
    import unlearn_study
    assert unlearn_study.__version__ == v


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    "The package's wheel, built from a copy (setuptools' build/ and egg-info must not land in the checkout)."
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp/"src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "_proc", "_site", "_docs", "runs", "reports", "build", "dist", "*.egg-info", "__pycache__"))
    run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-c", str(ROOT/"constraints.txt"), "-w", str(tmp/"dist"), "-q"], cwd=src)
    (whl,) = (tmp/"dist").glob("unlearn_study-*.whl")
    return whl


@pytest.mark.xdist_group("wheel")
def test_wheel_contains_modules_and_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    pkg = ROOT/"unlearn_study"
    modules = {f"unlearn_study/{p.relative_to(pkg).as_posix()}" for p in pkg.rglob("*.py") if "__pycache__" not in p.parts}
    assert modules - names == set(), "modules missing from the wheel (a subpackage without __init__.py?)"
    for folder in ("data", "assets"):   # concept tables; shipped bases, judge and oracle (the deepest files)
        files = {f"unlearn_study/{folder}/{p.relative_to(pkg/folder).as_posix()}" for p in (pkg/folder).rglob("*")
                 if p.is_file() and not p.name.startswith(".") and "__pycache__" not in p.parts}
        assert files and files - names == set(), f"{folder} files missing from the wheel: widen package_data in setup.py"
    assert not any(n.startswith(("nbs/", "tests/")) for n in names)
    shipped = {f"unlearn_study/notebooks/{nb.name}" for nb in (ROOT/"nbs").glob("0[2-58]_*.ipynb")}
    assert len(shipped) == 5 and shipped <= names, "the experiment notebooks (02-05, 08) ship in the wheel (`unlearn-study run`)"



@pytest.mark.xdist_group("wheel")
def test_command_line_from_the_wheel_in_a_clean_venv(wheel, tmp_path):
    """A pip user with no clone: the wheel installed into a new virtual environment (its dependencies visible from
    this one's site-packages, the checkout nowhere on the path), run from an empty folder: `--help` of every
    subcommand, `methods`, `concepts`, `unlearn` (a saved model folder that loads back), `run dimra` (a shipped notebook through
    papermill: report and run folder), and a typo'd parameter (exit 1, named)."""
    import sysconfig
    venv = tmp_path/"venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    py = venv/"bin"/"python"
    site = Path(run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site/"deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # the dependencies; .pth files there are not run
    run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q", str(wheel)])
    work = tmp_path/"work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv/'bin'}:{env['PATH']}"
    where = run([str(py), "-c", "import unlearn_study; print(unlearn_study.__file__)"], cwd=work, env=env).stdout
    assert where.startswith(str(venv)), f"imported {where} instead of the installed wheel"
    exe = str(venv/"bin"/"unlearn-study")
    for sub in ([], ["run"], ["unlearn"], ["concepts"], ["methods"]):
        h = run([exe, *sub, "--help"], cwd=work, env=env)
        assert "usage: unlearn-study" in h.stdout
    assert "rgd" in run([exe, "methods"], cwd=work, env=env).stdout
    assert "nudity" in run([exe, "concepts"], cwd=work, env=env).stdout
    run([exe, "unlearn", "--method", "ga", "--backbone", "toy-class", "--forget", "star", "--steps", "3",
         "--out", str(work/"model")], cwd=work, env=env, timeout=600)
    loaded = run([str(py), "-c", "from unlearn_study.backbones import load_checkpoint; print(load_checkpoint('model').kind)"],
                 cwd=work, env=env).stdout  # the saved folder (diffusers components + backbone.json) loads back
    assert loaded.strip() == "class" and (work/"model"/"unet"/"config.json").exists()
    run([exe, "run", "dimra", "-p", "scale", "smoke", "-p", "methods", "graddiff", "-p", "forget_class", "heart",
         "-p", "out_dir", str(work/"runs"), "-o", str(work/"dimra.ipynb")], cwd=work, env=env, timeout=1500)
    runs = [p for p in (work/"runs"/"dimra").iterdir() if not p.name.startswith(".")]
    assert len(runs) == 1 and json.loads((runs[0]/"metrics.json").read_text())["finding"]
    bad = subprocess.run([exe, "run", "dimra", "-p", "forgt_class", "heart", "-o", str(work/"bad.ipynb")],
                         capture_output=True, text=True, timeout=600, cwd=work, env=env)
    assert bad.returncode == 1 and "has no parameter 'forgt_class'" in bad.stderr, bad.stderr[-2000:]

# --- nbdev and papermill ---------------------------------------------------------------------------

def test_nbdev_clean_keeps_parameters_tag(tmp_path):
    import nbformat
    shutil.copy(ROOT/"settings.ini", tmp_path/"settings.ini")
    (tmp_path/"nbs").mkdir()
    cell = nbformat.v4.new_code_cell('scale = "default"  # smoke | default | paper',
                                     metadata={"tags": ["parameters"], "execution": {"iopub.status.busy": "2026-01-01"}, "scrolled": True})
    nb = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_code_cell("print(scale)")])
    nbformat.write(nb, tmp_path/"nbs"/"p.ipynb")
    run([str(BIN/"nbdev_clean"), "--fname", "nbs/p.ipynb"], cwd=tmp_path)
    cleaned = nbformat.read(tmp_path/"nbs"/"p.ipynb", as_version=4)
    assert cleaned.cells[0].metadata == {"tags": ["parameters"]}  # tag kept, the rest cleaned away


def experiment_notebooks():
    present = [ROOT/"nbs"/n for n in EXPERIMENTS if (ROOT/"nbs"/n).exists()]
    return present or [pytest.param(None, marks=pytest.mark.skip(reason="no experiment notebook yet"))]


@pytest.mark.parametrize("nb", experiment_notebooks(), ids=lambda p: getattr(p, "name", "none"))
def test_experiment_parameters(nb):
    res = run([str(BIN/"papermill"), "--help-notebook", str(nb)], timeout=120)
    found = set(re.findall(r"^  (\w+): ", res.stdout, re.M))
    assert EXPERIMENTS[nb.name] - found == set(), f"{nb.name}: papermill found parameters {sorted(found)}\n{res.stdout}"


# --- README, scripts and CI agree --------------------------------------------------------------------

def test_readme_has_the_two_commands():
    readme = (ROOT/"README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    for cmd in COMMANDS:
        assert any(cmd in b.splitlines() for b in blocks), f"README.md lacks a ```bash block with the line {cmd!r}"
        assert (ROOT/cmd.split()[1]).is_file()


def test_readme_is_generated_from_index(tmp_path):
    run(["bash", "scripts/build_docs.sh", "--readme-only", str(tmp_path/"README.md")])
    assert (tmp_path/"README.md").read_text() == (ROOT/"README.md").read_text(), \
        "README.md is stale: run `bash scripts/build_docs.sh --readme-only` and commit it"


# The docs site (build, links, API entries, figures, math in a browser): tests/test_docs.py.


def test_ci_runs_the_test_command():
    lines = [l.strip() for l in (ROOT/".ci"/"run").read_text().splitlines()]
    cmds = [l for l in lines if l and not l.startswith(("#", "set ", "cd "))]
    assert cmds == ["bash scripts/test.sh"]


def test_every_pip_step_is_constrained():
    "An unconstrained pip step silently swaps torch (notes/ecosystem.md §1)."
    for script in sorted((ROOT/"scripts").glob("*.sh")):
        for i, line in enumerate(script.read_text().splitlines(), 1):
            code = line.split(" #")[0].strip()
            if code.startswith("#") or not re.search(r"\bpip\s+(install|wheel|download)\b", code): continue
            assert '"${C[@]}"' in code or "-c constraints.txt" in code, f"{script.name}:{i} has an unconstrained pip step: {line}"
    assert 'C=(-c "$ROOT/constraints.txt")' in (ROOT/"scripts"/"setup.sh").read_text()


def test_setup_is_idempotent():
    "With the stamp current, scripts/setup.sh installs nothing and says so."
    venv = Path(os.environ.get("UNLEARN_VENV", ROOT/".venv"))
    if not venv.is_absolute(): venv = ROOT/venv
    stamp = venv/".unlearn_study-setup"
    h = hashlib.sha256(b"".join((ROOT/f).read_bytes() for f in ("settings.ini", "constraints.txt", "setup.py", "scripts/setup.sh"))).hexdigest()
    if Path(sys.prefix).resolve() != venv.resolve() or not stamp.exists() or stamp.read_text().strip() != f"{h} {ROOT.resolve()}":
        pytest.skip("this venv was not made current by scripts/setup.sh for this checkout")
    res = run(["bash", "scripts/setup.sh"], timeout=120)
    assert "up to date" in res.stdout and "installing" not in res.stdout, res.stdout
    assert re.search(r"torch \d+\.\d+", res.stdout)


def test_study_command_passes_papermill_arguments(tmp_path):
    "The README main command hands each finding notebook, the scale and the caller's arguments to papermill intact."
    env = dict(os.environ, REPORTS=str(tmp_path/"reports"))
    if Path(sys.prefix).resolve() != (ROOT/".venv").resolve(): env["UNLEARN_VENV"] = sys.prefix
    run(["bash", "scripts/study.sh", "--prepare-only", "-y", "seeds: [7]"], env=env, timeout=600)  # parameters applied, nothing executed
    for name in EXPERIMENTS:
        if name.startswith("08") or not (ROOT/"nbs"/name).exists(): continue
        out = json.loads((tmp_path/"reports"/name).read_text())
        injected = [c for c in out["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
        assert injected, f"{name}: papermill injected no parameters"
        src = "".join(injected[0]["source"])
        assert 'scale = "default"' in src and "seeds = [7]" in src and 'out_dir = "../runs"' in src, src
        assert (tmp_path/"reports"/name).with_suffix(".html").exists()
