"""`nbdev_test`, longest notebooks first: the same notebooks, flags and per-notebook runner (`nbdev.test.test_nb`), but
handed to the workers in decreasing order of their last recorded time (`scripts/notebook_seconds.json`; a notebook
without a record goes first), so that no long notebook starts last while the other worker idles. nbdev_test itself
hands them out in alphabetical order, which puts the long method notebooks at the end.

    python scripts/nbdev_test_ordered.py [PATH] --n_workers 2 --skip_file_re '^[_.]' [--record]

`--record` writes this run's times into `scripts/notebook_seconds.json` (only when every notebook passed).
"""
import argparse, json, sys
from pathlib import Path

from fastcore.parallel import parallel
from fastcore.xtras import working_directory
from nbdev.config import get_config
from nbdev.doclinks import nbglob
from nbdev.test import test_nb, _keep_file

RECORD = Path(__file__).with_name("notebook_seconds.json")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("path", nargs="?", help="a notebook or folder (default: nbs/)")
    p.add_argument("--n_workers", type=int, default=2)
    p.add_argument("--skip_file_re", default="^[_.]")
    p.add_argument("--record", action="store_true")
    a = p.parse_args()
    cfg = get_config()
    files = [f.absolute() for f in sorted(nbglob(a.path, as_path=True, skip_file_re=a.skip_file_re))]
    files = [f for f in files if _keep_file(f, ".notest")]
    if not files:
        sys.exit(f"no notebook to test under {a.path or cfg.nbs_path}")
    name = lambda f: f.relative_to(cfg.nbs_path.absolute()).as_posix()
    known = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    files.sort(key=lambda f: -known.get(name(f), float("inf")))
    with working_directory(cfg.nbs_path):
        results = parallel(
            test_nb, files, skip_flags=cfg.tst_flags.split(), force_flags=[], n_workers=a.n_workers,
            basepath=cfg.config_path, pause=0.01,
        )
    passed, secs = zip(*results)
    for f, s in sorted(zip(files, secs), key=lambda x: -x[1]):
        print(f"{name(f)}: {int(s)} secs")
    failed = [name(f) for f, ok in zip(files, passed) if not ok]
    if failed:
        sys.exit("\nnbdev tests failed on the following notebooks:\n\t" + "\n\t".join(failed))
    print("Success.")
    if a.record:
        known.update({name(f): round(s) for f, s in zip(files, secs)})
        RECORD.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
