"""The experiment notebooks run end to end through papermill at `smoke` scale, write a complete run folder,
and stop at once -- with a clear error and a non-zero exit -- when asked for weights this machine does not have."""
import json, subprocess, sys, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/"nbs"
PAPERMILL = str(Path(sys.executable).with_name("papermill"))


def papermill(nb, out, *params, timeout=1500):
    cmd = [PAPERMILL, str(NBS/nb), str(out), "--cwd", str(ROOT), "-k", "python3"]
    for k, v in params: cmd += ["-p", k, str(v)]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p, time.time() - t0


def run_folder(out_dir, finding):
    runs = [p for p in (out_dir/finding).iterdir() if not p.name.startswith(".")]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.mark.parametrize("nb,finding,params", [
    ("02_resurgence.ipynb", "resurgence", [("concept", "star")]),   # the examples' concept
    ("02_resurgence.ipynb", "resurgence", [("concept", "blue")]),   # concepts are data: a colour no example uses
    ("03_dimra.ipynb", "dimra", [("forget_class", "heart")]),
    ("04_rgd.ipynb", "rgd", [("forget_class", "heart"), ("concept", "dots")]),
])
def test_experiment_smoke(tmp_path, nb, finding, params):
    "Each finding notebook at smoke scale, on the examples' concept and on toy concepts no example uses."
    out = tmp_path/"runs"
    p, secs = papermill(nb, tmp_path/"out.ipynb", ("scale", "smoke"), ("out_dir", out), *params)
    assert p.returncode == 0, p.stderr[-3000:]
    run = run_folder(out, finding)
    for f in ("config.json", "meta.json", "metrics.json"): assert (run/f).exists(), f
    meta = json.loads((run/"meta.json").read_text())
    assert meta["versions"]["torch"] and meta["seeds"] and "sampler" in meta
    metrics = json.loads((run/"metrics.json").read_text())
    assert isinstance(metrics.get("finding"), str) and metrics["finding"]
    config = json.loads((run/"config.json").read_text())
    for k, v in params: assert config[k] == v, k                       # the asked concept/class was studied
    assert list(run.glob("figures/*.png")) and list(run.glob("grids/*.png"))
    assert not list((out/finding/".staging").iterdir()), "nothing half-written may remain"
    print(f"{nb}: {secs:.0f} s")


def test_real_concept_without_weights_fails_fast(tmp_path):
    "`-p concept nudity` selects sd14; without its weights the notebook stops at once, naming what is missing."
    out = tmp_path/"runs"
    p, secs = papermill("02_resurgence.ipynb", tmp_path/"out.ipynb", ("concept", "nudity"), ("out_dir", out),
                        ("checkpoint", tmp_path/"no-sd14-here"))
    assert p.returncode != 0
    assert "hf download CompVis/stable-diffusion-v1-4" in p.stderr + p.stdout
    assert secs < 60, secs
    assert not (out/"resurgence").exists() or not [q for q in (out/"resurgence").iterdir() if not q.name.startswith(".")]


@pytest.mark.parametrize("nb,params,expect", [
    ("02_resurgence.ipynb", [("concept", "dragon")], "not"),
    ("03_dimra.ipynb", [("scale", "huge")], "'smoke', 'default', 'paper'"),
    ("03_dimra.ipynb", [("methods", "salun,mace")], "does not run on class"),
])
def test_bad_parameters_fail_before_work(tmp_path, nb, params, expect):
    out = tmp_path/"runs"
    p, secs = papermill(nb, tmp_path/"out.ipynb", ("out_dir", out), *params)
    assert p.returncode != 0 and expect in p.stderr + p.stdout
    assert not out.exists() or not any(out.rglob("*.json"))


def test_second_run_refuses_to_overwrite(tmp_path):
    out = tmp_path/"runs"
    args = [("scale", "smoke"), ("out_dir", out), ("methods", "graddiff")]
    p, _ = papermill("03_dimra.ipynb", tmp_path/"a.ipynb", *args)
    assert p.returncode == 0, p.stderr[-2000:]
    p, _ = papermill("03_dimra.ipynb", tmp_path/"b.ipynb", *args)
    assert p.returncode != 0 and "already exists" in p.stderr + p.stdout


def test_pretrain_ships_an_oracle_that_the_study_finds(tmp_path):
    "05_pretrain's oracle section (smoke recipe) writes an oracle that `retrain.shipped_oracle` returns for its recipe only."
    import shutil
    from unlearn_study.backbones import ASSETS, load_checkpoint
    from unlearn_study.methods import retrain
    out = tmp_path/"assets"
    for name in ("toy-class", "judge"): shutil.copytree(ASSETS/name, out/name)
    p, secs = papermill("05_pretrain.ipynb", tmp_path/"out.ipynb", ("backbone", "oracle"), ("scale", "smoke"), ("out_dir", out))
    assert p.returncode == 0, p.stderr[-3000:]
    base = load_checkpoint(out/"toy-class")
    smoke = retrain.Config(steps=30, lr=5e-4, warmup=3, batch_size=16, n_world=2000)
    oracle = retrain.shipped_oracle(base, "star", smoke, root=out/"oracles")
    assert oracle is not None and oracle.history.attrs["shipped"]["recipe"]["steps"] == 30 and len(oracle.history) > 0
    assert retrain.shipped_oracle(base, "star", root=out/"oracles") is None      # not the full recipe
    assert not any(p.name.endswith(".tmp") for p in (out/"oracles").iterdir())
