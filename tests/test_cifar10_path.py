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
    # SalUn's guidance (cond_scale 2.0 = 3.0 in our form) by default, written down with each number's count and seeds
    meta = json.loads(next((out/"dimra").glob("[!.]*/meta.json")).read_text())
    assert config["guidance"] == meta["guidance"] == metrics["sampling"]["guidance"] == 3.0
    assert metrics["sampling"]["UA_RA"]["n_per_class"] == 8 and metrics["sampling"]["FID"]["n"] == 0
    assert "FID skipped at scale='smoke'" in (tmp_path/"out.ipynb").read_text()
    print(f"03_dimra cifar10 smoke: {secs:.0f} s")


def test_rgd_class_part_runs_on_cifar10(tmp_path, cifar_world):
    out = tmp_path/"runs"
    p, secs = papermill("04_rgd.ipynb", tmp_path/"out.ipynb", ("forget_class", "airplane"), ("scale", "smoke"),
                        ("checkpoint", cifar_world["base"]), ("cifar10_source", cifar_world["folder"]),
                        ("judge_path", cifar_world["judge"]), ("out_dir", out), ("methods", "class: graddiff,rgd; concept:"),
                        ("guidance", 1))   # a guidance given (no guidance: half the sampling of the default 3.0)
    assert p.returncode == 0, p.stderr[-3000:]
    config, metrics = check_run(out, "rgd")
    assert config["backbone_class"] == "cifar10" and config["backbone_concept"] is None
    assert {r["method"] for r in metrics["class_setting"]} == {"base", "graddiff", "rgd"}
    assert metrics["related_classes"] == ["ship", "bird"] and "CIFAR-10" in metrics["related_by"]
    assert {r["case"] for r in metrics["diversity_ablation"]} == {"2 related classes", "balanced, 9 classes"}
    meta = json.loads(next((out/"rgd").glob("[!.]*/meta.json")).read_text())
    assert config["guidance_class"] == meta["class_backbone"]["guidance"] == metrics["class_sampling"]["guidance"] == 1.0
    print(f"04_rgd cifar10 class part smoke: {secs:.0f} s")


@pytest.mark.parametrize("missing,expect", [
    ("judge_path", "papermill nbs/08_pretrain.ipynb out.ipynb -p backbone cifar10-judge -p cifar10_source"),
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


def setup_args(cifar_world, tmp_path):
    return dict(backbone="cifar10", checkpoint=cifar_world["base"], cifar10_source=cifar_world["folder"],
                judge_path=cifar_world["judge"], scale="smoke", device="cpu", out_dir=tmp_path/"runs")


def test_cifar10_default_forget_class_is_the_papers(tmp_path, cifar_world):
    "`backbone='cifar10'` with no forget_class forgets airplane (`findings.PAPER_FORGET_CLASS`), not the toy default star."
    from unlearn_study.findings import dimra_setup, rgd_setup, PAPER_FORGET_CLASS
    assert PAPER_FORGET_CLASS == {"toy-class": "star", "cifar10": "airplane"}
    st = dimra_setup(methods="graddiff", **setup_args(cifar_world, tmp_path/"03"))
    assert (st.backbone, st.forget_class) == ("cifar10", "airplane")
    st = rgd_setup(methods="class: graddiff; concept:", **setup_args(cifar_world, tmp_path/"04"))
    assert (st.bb_class, st.forget_class) == ("cifar10", "airplane")
    assert dimra_setup(scale="smoke", out_dir=tmp_path/"toy").forget_class == "star"   # toy runs: star, as before


@pytest.mark.parametrize("setup", ["dimra_setup", "rgd_setup"])
def test_a_class_the_backbone_lacks_stops_before_loading(tmp_path, setup):
    "A toy class on cifar10 stops with the backbone's classes, before the (missing) base model is even looked for."
    from unlearn_study import findings
    from unlearn_study.core import StudyError
    with pytest.raises(StudyError) as e:
        getattr(findings, setup)(forget_class="star", backbone="cifar10", checkpoint=tmp_path/"no-base-here",
                                 scale="smoke", out_dir=tmp_path/"runs")
    msg = str(e.value)
    assert "forget_class='star' is not a cifar10 class" in msg and "'airplane', 'automobile', 'bird'" in msg, msg
    assert not (tmp_path/"runs").exists()


def test_cifar10_oracle_trains_on_the_whole_training_set_but_the_class(tmp_path, cifar_world):
    "03/04's retrain oracle on cifar10: every image of `cifar10_source` but the forget class's, not the retain split."
    import dataclasses
    from unlearn_study.backbones import load_cifar10_data
    from unlearn_study.findings import RGD, Study, dimra_setup, dimra_config, dimra_split, rgd_config
    from unlearn_study.methods import retrain
    from unlearn_study.train import ImageData
    st = dimra_setup(forget_class="ship", methods="retrain", **setup_args(cifar_world, tmp_path))
    cfg = dimra_config(st, "retrain", 0)
    assert cfg.train_source == str(cifar_world["folder"])
    st_rgd = Study(concept=None, scale="smoke", P=RGD["smoke"], cifar10_source=cifar_world["folder"])
    assert rgd_config(st_rgd, "retrain", st.base, 0).train_source == str(cifar_world["folder"])
    split = dimra_split(st, 0)
    forget, retain = ImageData.from_dataset(split["forget"]), ImageData.from_dataset(split["retain"])
    data, dropped = retrain.images_without(st.base, forget, cfg)
    ship = st.base.class_names.index("ship")
    assert dropped == "ship" and ship not in set(data.labels.tolist())
    # exactly the folder's images of the other nine classes, each with its own label
    ds = load_cifar10_data(str(cifar_world["folder"])).with_format("numpy")
    want = sorted((int(l), im.tobytes()) for im, l in zip(ds["image"], ds["label"]) if l != ship)
    got = sorted((int(l), im.tobytes()) for im, l in zip(data.images.numpy(), data.labels.tolist()))
    assert len(want) == 9 * N_PER_CLASS and got == want
    m = retrain.unlearn(st.base, forget, retain, dataclasses.replace(cfg, steps=1, batch_size=4, warmup=0, log_every=1))
    assert m.history.attrs["n_train_images"] == 9 * N_PER_CLASS > len(retain)
    assert m.history.attrs["dropped_concept"] == "ship"


def test_pretrain_saves_the_cifar10_base_where_load_backbone_looks(tmp_path, monkeypatch):
    "08_pretrain `-p backbone cifar10` (no out_dir) saves where `load_backbone('cifar10')` looks, and says where."
    from unlearn_study.backbones import CIFAR10_CLASSES, CIFAR10_RECIPES, load_backbone
    rng = np.random.default_rng(1)
    folder = class_folder(tmp_path/"images", dict(zip(CIFAR10_CLASSES, rng.integers(0, 256, (10, 3)))), 3, rng)
    home = tmp_path/"home"/"cifar10"
    monkeypatch.setenv("UNLEARN_CIFAR10", str(home))   # the papermill kernel inherits it: the package stays untouched
    p, secs = papermill("08_pretrain.ipynb", tmp_path/"out.ipynb", ("backbone", "cifar10"), ("scale", "smoke"),
                        ("cifar10_source", folder), ("device", "cpu"))
    assert p.returncode == 0, p.stderr[-3000:]
    bb = load_backbone("cifar10")                       # no checkpoint: found where the notebook saved it
    assert bb.name == "cifar10" and bb.class_names == CIFAR10_CLASSES and (home/"history.csv").exists()
    assert f"cifar10 base saved to {home}" in (tmp_path/"out.ipynb").read_text()
    assert load_backbone("cifar10", home).class_names == CIFAR10_CLASSES   # an explicit folder still works
    rec = json.loads((home/"pretrain.json").read_text())      # the papers' recipe (tiny at smoke) and the base's FID
    assert rec["config"]["ema"] == CIFAR10_RECIPES["smoke"]["ema"] and rec["config"]["hflip"] is True
    assert rec["config"]["optimizer"] == "adam" and rec["config"]["lr"] == 2e-4
    m = rec["metrics"]
    assert m["fid_samples"] == 16 and m["fid_ref_images"] == 30 and np.isfinite(m["FID"]) and m["FID"] > 0
    assert f"FID {m['FID']:.2f} of 16 samples" in (tmp_path/"out.ipynb").read_text()
    print(f"08_pretrain cifar10 smoke: {secs:.0f} s, FID {m['FID']:.1f} (16 samples; a number, not quality)")


def test_class_guidance_and_fid_on_cifar10(tmp_path, cifar_world, monkeypatch):
    """`guidance` reaches every class sample of 03 (None: SalUn's 3.0 on cifar10; a bad value stops at once), and
    `dimra_fid` measures the base, every unlearned and every attacked model against the folder's retained classes,
    records count, seeds and guidance, and a rerun reads every number back without sampling. (The samples and Inception
    are stand-ins here: pytorch-fid's network is tested in 01f, and costs ~0.6 s per image on one CPU thread.)"""
    import dataclasses
    import unlearn_study.backbones as backbones
    from unlearn_study import evaluators
    from unlearn_study.core import StudyError
    from unlearn_study.findings import dimra_setup, dimra_evaluate, dimra_fid
    monkeypatch.setenv("UNLEARN_CACHE", str(tmp_path/"cache"))
    with pytest.raises(StudyError, match="guidance=-2 is out of range"):
        dimra_setup(methods="graddiff", guidance=-2, **setup_args(cifar_world, tmp_path/"bad"))
    assert not (tmp_path/"bad").exists()
    asked, rng = [], np.random.default_rng(0)

    def fake_sample(bb, cond, seeds=None, steps=None, guidance=None, **kw):
        asked.append(guidance)
        return rng.integers(0, 256, (len(cond), 32, 32, 3), dtype=np.uint8)

    monkeypatch.setattr(backbones, "sample", fake_sample)
    monkeypatch.setattr(evaluators, "inception_features", lambda x, device="cpu": x.reshape(len(x), -1)[:, :16] / 255.0)
    st = dimra_setup(methods="graddiff,retrain", **setup_args(cifar_world, tmp_path/"runs"))
    assert st.guidance == 3.0
    dimra_evaluate(st, st.base, 0)
    assert set(asked) == {3.0}
    st.P = dataclasses.replace(st.P, n_fid=12)
    st.models = {(m, 0): st.base for m in st.methods}          # stand-ins for the unlearned and attacked models
    st.attacked = dict(st.models)
    st.attacked_from = {k: {"attacked": "stand-in", "method": k[0]} for k in st.models}
    fids = dimra_fid(st)
    assert list(zip(fids.method, fids.stage)) == [("base", "base"), ("graddiff", "unlearned"), ("graddiff", "attacked"),
                                                  ("retrain", "unlearned"), ("retrain", "attacked")]
    assert (fids.n_fid == 12).all() and (fids.fid_seeds == "7000000..7000011").all() and np.isfinite(fids.FID).all()
    assert set(asked) == {3.0}
    logged = st.run.metrics
    assert logged["fid_reference"]["data"] == str(cifar_world["folder"]) and logged["fid_reference"]["n"] == 12
    assert logged["fid_floor"] is not None                      # 2 × 12 real images fit in 9 classes × 50
    n_sampled = len(asked)
    again = dimra_fid(st)
    assert len(asked) == n_sampled, "a rerun samples again"
    assert again.FID.tolist() == fids.FID.tolist()
    st2 = dimra_setup(methods="graddiff", guidance=1.5, **setup_args(cifar_world, tmp_path/"runs2"))
    asked.clear()
    dimra_evaluate(st2, st2.base, 0)
    assert set(asked) == {1.5} and st2.sampling["guidance"] == 1.5
