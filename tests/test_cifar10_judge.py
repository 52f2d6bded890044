"""The CIFAR-10 judge: `08_pretrain.ipynb -p backbone cifar10-judge` trains one from a local class folder (smoke
recipe) that `load_cifar10_judge` loads with the folder's classes, and a missing judge says how to make one."""
import json
from pathlib import Path

import numpy as np
import pytest

from test_notebooks import papermill   # the papermill runner every notebook test shares
from class_images import class_folder as write_class_folder

CLASSES = {"cyan": (0, 220, 220), "magenta": (220, 0, 220), "yellow": (230, 230, 0)}


def class_folder(root, n_per_class=12, seed=0):
    "One sub-folder of 32×32 PNGs per class: a coloured square on a dark noisy background."
    return write_class_folder(root, CLASSES, n_per_class, np.random.default_rng(seed))


def test_missing_cifar10_judge_says_how_to_make_one(tmp_path):
    from unlearn_study.core import MissingResourceError
    from unlearn_study.metrics import load_cifar10_judge
    with pytest.raises(MissingResourceError) as e: load_cifar10_judge(tmp_path/"no-judge-here")
    msg = str(e.value)
    assert "no-judge-here" in msg
    assert "papermill nbs/08_pretrain.ipynb out.ipynb -p backbone cifar10-judge -p cifar10_source" in msg


def test_pretrain_trains_a_cifar10_judge_from_a_folder(tmp_path):
    from unlearn_study.metrics import load_cifar10_judge
    folder = class_folder(tmp_path/"cifar-like")
    out = tmp_path/"assets"
    p, secs = papermill("08_pretrain.ipynb", tmp_path/"out.ipynb", ("backbone", "cifar10-judge"), ("scale", "smoke"),
                        ("cifar10_source", folder), ("out_dir", out), ("device", "cpu"))
    assert p.returncode == 0, p.stderr[-3000:]
    assert sorted(q.name for q in out.iterdir()) == ["cifar10-judge"], "only the judge is written"
    names = sorted(CLASSES)       # imagefolder labels are the sorted sub-folder names
    judge = load_cifar10_judge(out/"cifar10-judge", class_names=names)
    assert judge.heads_spec == {"object": names}
    meta = json.loads((out/"cifar10-judge"/"judge.json").read_text())
    assert meta["resolution"] == 32 and meta["recipe"]["steps"] == 30 and meta["test_accuracy"] is None
    assert 0 <= meta["held_out_accuracy"] <= 1 and set(meta["per_class"]) == set(names) and meta["n_val"] == 6
    assert "cifar10-judge" in (tmp_path/"out.ipynb").read_text() and "held-out accuracy" in (tmp_path/"out.ipynb").read_text()
    pred = judge.predict(np.zeros((2, 32, 32, 3), np.uint8))
    assert set(pred["object"]) <= set(names)
    print(f"08_pretrain cifar10-judge smoke: {secs:.0f} s, held-out accuracy {meta['held_out_accuracy']:.2f}")
