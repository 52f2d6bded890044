"""Record the outputs (figures, tables, printed numbers) of library notebooks for the docs site.

    python scripts/execute_docs.py nbs/01b_world.ipynb [nbs/...]   # execute these, write docs/outputs/<nb>.json
    python scripts/execute_docs.py --stale                          # list notebooks whose recorded outputs are missing or stale
    python scripts/execute_docs.py --stale --run                    # execute those (slow: minutes per method notebook)

The notebooks are committed without outputs (nbdev_clean; small diffs), and the docs build must not re-train
anything. So a notebook is executed once, here, as nbdev_test runs it (from nbs/, one CPU thread), and its
outputs are kept in docs/outputs/<path>.json, keyed by a hash of the notebook's cell sources. The docs build
(scripts/build_site.py) shows them only while that hash matches: an edited notebook's page says its evidence
is stale instead of showing outputs of other code. stderr streams are dropped.
"""

import hashlib, json, os, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUTS = ROOT / "docs" / "outputs"
MAX_BYTES = 3_000_000  # a notebook whose outputs are larger is not recorded (say why instead)


def source_hash(nb: dict) -> str:
    "sha256 of the notebook's cell types and sources (outputs, ids and metadata do not count)."
    parts = [[c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"]] for c in nb["cells"]]
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def record_path(nb_path: Path) -> Path:
    return OUTPUTS / nb_path.resolve().relative_to(ROOT / "nbs").with_suffix(".json")


def is_stale(nb_path: Path) -> bool:
    f = record_path(nb_path)
    if not f.exists():
        return True
    return json.loads(f.read_text())["source_sha256"] != source_hash(json.loads(nb_path.read_text()))


def library_notebooks():
    from configparser import ConfigParser
    import re

    ini = ConfigParser(delimiters=["="])
    ini.read(ROOT / "settings.ini")
    skip = re.compile(ini["DEFAULT"].get("skip_file_re", "^_"))
    return sorted(
        p for p in (ROOT / "nbs").rglob("*.ipynb")
        if not any(s.startswith((".", "_")) for s in p.relative_to(ROOT / "nbs").parts) and not skip.search(p.name)
        and p.name != "index.ipynb"
    )


def execute(nb_path: Path) -> Path:
    "Run `nb_path` as nbdev_test does and write its outputs to docs/outputs/."
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    from nbdev.config import get_config
    from nbdev.frontmatter import FrontmatterProc
    from nbdev.process import NBProcessor

    flags = set(get_config().get("tst_flags", "").split())

    def _no_eval(cell):  # nbdev_test's rule: no `#| eval: false` cells, no cells flagged with settings.ini's tst_flags
        if cell.cell_type != "code" or "nbdev_export" + "(" in cell.source:
            return True
        direc = getattr(cell, "directives_", {}) or {}
        return direc.get("eval:", [""])[0].lower() == "false" or bool(flags & direc.keys())

    nb_path = nb_path.resolve()
    raw = json.loads(nb_path.read_text())
    nb = NBProcessor(nb_path, procs=FrontmatterProc, process=True).nb
    os.environ["IN_TEST"] = "1"
    t = time.time()
    with working_directory(nb_path.parent):
        k = CaptureShell(nb_path)
        k.run_all(nb, exc_stop=True, preproc=_no_eval)
    outputs = {}
    for c in nb.cells:
        if c.cell_type != "code" or not c.get("outputs"):
            continue
        keep = [o for o in c.outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        if keep:
            outputs[c["id"]] = json.loads(json.dumps(keep, default=str))
    rec = {
        "notebook": nb_path.relative_to(ROOT).as_posix(),
        "source_sha256": source_hash(raw),
        "seconds": round(time.time() - t, 1),
        "threads": os.environ.get("UNLEARN_THREADS", ""),
        "outputs": outputs,
    }
    text = json.dumps(rec, indent=0, ensure_ascii=False)
    if len(text.encode()) > MAX_BYTES:
        raise SystemExit(f"{rec['notebook']}: outputs are {len(text) / 1e6:.1f} MB (> {MAX_BYTES / 1e6:.0f} MB): make its figures smaller")
    out = record_path(nb_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
    print(f"== {rec['notebook']}: {len(outputs)} cells with outputs, {len(text) / 1e3:.0f} kB, executed in {rec['seconds']} s -> {out.relative_to(ROOT)}")
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0)
    if args[0] == "--stale":
        todo = [p for p in library_notebooks() if is_stale(p)]
        for p in todo:
            print(p.relative_to(ROOT))
        if "--run" not in args:
            sys.exit(0)
    else:
        todo = [Path(a) for a in args]
    for p in todo:
        execute(p)
