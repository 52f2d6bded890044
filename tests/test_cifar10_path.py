"""The class findings' `cifar10` path runs end to end on a tiny CIFAR-like world built in a temp folder: a class folder
of 32×32 PNGs for the 10 CIFAR-10 names, an untrained tiny CIFAR-10 U-Net and a judge trained for 20 steps. 03_dimra and
04_rgd's class part (smoke scale) write a complete run folder; a missing judge or missing images stop 03 at once, with
the how-to message and no run folder."""
import json
from pathlib import Path

import numpy as np
import pytest

from test_notebooks import papermill   # the papermill runner every notebook test shares
from class_images import class_folder

pytestmark = pytest.mark.xdist_group("cifar10_world")   # one worker builds the module fixture once and runs them all

N_PER_CLASS = 50   # smoke sizes: 03 needs 32 forget and 10 retain + 10 aux per other class; 04's narrow retain set 45 + 1 per related class


def finished_runs(out_dir, finding):
    d = Path(out_dir)/finding
    return [p for p in d.iterdir() if not p.name.startswith(".")] if d.exists() else []


@pytest.fixture(scope="module")
def cifar_world(tmp_path_factory):
    "A CIFAR-like class folder (a distinct colour per class), a tiny cifar10 base and a tiny judge trained on the folder."
    import torch
    from unlearn_study.backbones import CIFAR10_CLASSES, build_cifar10, save_backbone, load_cifar10_data
    from unlearn_study.metrics import train_class_judge, save_judge
    root = tmp_path_factory.mktemp("cifar_world")
    folder, rng = root/"images", np.random.default_rng(0)
    colours = rng.integers(0, 256, (len(CIFAR10_CLASSES), 3))
    class_folder(folder, dict(zip(CIFAR10_CLASSES, colours)), N_PER_CLASS, rng, size=(10, 22), noise=8.0)
    torch.manual_seed(0)
    bb = build_cifar10(channels=(32, 64))
    bb.sample_steps = 10      # the run's image grids sample with the base's steps (evaluations use the smoke preset's 5)
    base = save_backbone(bb, root/"base")
    judge, acc = train_class_judge(load_cifar10_data(str(folder)), steps=20, batch_size=32, width=16, device="cpu")
    judge_dir = save_judge(judge, root/"judge", held_out_accuracy=acc["object"], resolution=32)
    return {"folder": folder, "base": base, "judge": judge_dir, "root": root}


def check_run(out, finding):
    runs = finished_runs(out, finding)
    assert len(runs) == 1, runs
    run = runs[0]
    for f in ("config.json", "meta.json", "metrics.json"): assert (run/f).exists(), f
    config = json.loads((run/"config.json").read_text())
    meta = json.loads((run/"meta.json").read_text())
    metrics = json.loads((run/"metrics.json").read_text())
    assert isinstance(metrics.get("finding"), str) and "cifar10" in metrics["finding"]
    assert "CIFAR-10 judge" in meta["judge"]
    assert list(run.glob("figures/*.png")) and list(run.glob("grids/*.png"))
    assert not (Path(out)/finding/".staging").exists(), "nothing half-written may remain"
    return config, metrics


def test_dimra_runs_on_cifar10(tmp_path, cifar_world):
    out = tmp_path/"runs"
    p, secs = papermill("03_dimra.ipynb", tmp_path/"out.ipynb", ("forget_class", "airplane"), ("scale", "smoke"),
                        ("checkpoint", cifar_world["base"]), ("cifar10_source", cifar_world["folder"]),
                        ("judge_path", cifar_world["judge"]), ("out_dir", out), ("methods", "graddiff,retrain"))
    assert p.returncode == 0, p.stderr[-3000:]
    config, metrics = check_run(out, "dimra")
    assert config["backbone"] == "cifar10" and config["cifar10_source"] == str(cifar_world["folder"])
    assert {r["method"] for r in metrics["unlearning"]} == {"base", "graddiff", "retrain"}
    assert {r["method"] for r in metrics["dimra"]} == {"graddiff", "retrain"}
    print(f"03_dimra cifar10 smoke: {secs:.0f} s")


def test_rgd_class_part_runs_on_cifar10(tmp_path, cifar_world):
    out = tmp_path/"runs"
    p, secs = papermill("04_rgd.ipynb", tmp_path/"out.ipynb", ("forget_class", "airplane"), ("scale", "smoke"),
                        ("checkpoint", cifar_world["base"]), ("cifar10_source", cifar_world["folder"]),
                        ("judge_path", cifar_world["judge"]), ("out_dir", out), ("methods", "class: graddiff,rgd; concept:"))
    assert p.returncode == 0, p.stderr[-3000:]
    config, metrics = check_run(out, "rgd")
    assert config["backbone_class"] == "cifar10" and config["backbone_concept"] is None
    assert {r["method"] for r in metrics["class_setting"]} == {"base", "graddiff", "rgd"}
    assert metrics["related_classes"] == ["ship", "bird"] and "CIFAR-10" in metrics["related_by"]
    assert {r["case"] for r in metrics["diversity_ablation"]} == {"2 related classes", "balanced, 9 classes"}
    print(f"04_rgd cifar10 class part smoke: {secs:.0f} s")


@pytest.mark.parametrize("missing,expect", [
    ("judge_path", "papermill nbs/05_pretrain.ipynb out.ipynb -p backbone cifar10-judge -p cifar10_source"),
    ("cifar10_source", "CIFAR-10 is not available from"),
])
def test_dimra_cifar10_without_judge_or_images_fails_fast(tmp_path, cifar_world, missing, expect):
    out = tmp_path/"runs"
    params = {"forget_class": "airplane", "scale": "smoke", "checkpoint": cifar_world["base"],
              "cifar10_source": cifar_world["folder"], "judge_path": cifar_world["judge"], "out_dir": out,
              "methods": "graddiff"}
    params[missing] = tmp_path/"nothing-here"
    p, secs = papermill("03_dimra.ipynb", tmp_path/"out.ipynb", *params.items())
    assert p.returncode != 0
    assert expect in p.stderr + p.stdout
    assert "nothing-here" in p.stderr + p.stdout
    assert not finished_runs(out, "dimra") and not (out/"dimra"/".staging").exists(), "no run folder may be written"
    print(f"03_dimra without {missing}: stopped in {secs:.0f} s")
