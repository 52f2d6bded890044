"""benchmarks/paper_cost_cifar10.py: the CIFAR-10 cost tables follow from the measured units and the package's own
recipes, and the committed tables (results/*.md and the costs page) are what the script writes today."""
import json, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/"benchmarks"))
RESULTS = ROOT/"benchmarks"/"results"


def run(*args):
    "The script's output for these arguments (in-process: one import of the package for all tests)."
    import paper_cost_cifar10
    return paper_cost_cifar10.main(list(args))


def test_pretrain_cost_is_steps_times_batch_times_unit(tmp_path):
    "A units file with round numbers: the training row is 800 000 x 128 images x F(train) / T, by hand."
    from unlearn_study.backbones import CIFAR10_RECIPES
    units = {"device": "cpu", "units": [
        {"unit": "train_step_per_image", "flops": 3e10, "seconds": 1.0},
        {"unit": "sampling_step", "flops": 1e10, "seconds": 1.0},
        {"unit": "judge_forward", "flops": 1e8, "seconds": 1.0},
        {"unit": "inception_features", "flops": 1e10, "seconds": 1.0}]}
    (tmp_path/"u.json").write_text(json.dumps(units))
    out = run("--finding", "pretrain", "--units", str(tmp_path/"u.json"), "--tflops", "100")
    r = CIFAR10_RECIPES["paper"]
    hours = r["steps"] * r["batch_size"] * 3e10 / 100e12 / 3600
    row = next(l for l in out.splitlines() if l.startswith("| pretrain the base"))
    assert f"{r['steps'] * r['batch_size']:,} train" in row and row.endswith(f"| {hours:,.2f} |"), (row, hours)
    fid = next(l for l in out.splitlines() if l.startswith("| FID of the base"))
    assert f"{r['fid_samples'] * 50:,} samp, {r['fid_samples'] + r['fid_ref']:,} incep" in fid, fid


def test_dimra_cost_counts_every_seed_method_and_measurement(tmp_path):
    from unlearn_study.findings import DIMRA
    out = run("--finding", "dimra")
    P = DIMRA["paper"]
    att = next(l for l in out.splitlines() if l.startswith("| DiMRA on salun"))
    assert f"{3 * P.attack_steps * P.attack_batch:,} train" in att, att   # 3 seeds of the attack's steps x batch
    base = next(l for l in out.splitlines() if l.startswith("| measure the base"))
    assert f"{3 * 10 * P.n_eval * 50 * 2:,} samp" in base, base          # 3 seeds x 10 classes x n_eval x 50 guided steps
    fid = next(l for l in out.splitlines() if l.startswith("| FID of"))   # base + 6 unlearned + 6 attacked, first seed
    assert f"{13 * P.n_fid * 50 * 2:,} samp" in fid and f"{13 * P.n_fid + 45_000:,} incep" in fid, fid
    plain = next(l for l in run("--finding", "dimra", "--guidance", "1").splitlines() if l.startswith("| measure the base"))
    assert f"{3 * 10 * P.n_eval * 50:,} samp" in plain, plain             # no guidance: one pass per step


@pytest.mark.parametrize("finding,nb", [("pretrain", "08"), ("dimra", "03")])
@pytest.mark.parametrize("tflops", [400, 150])
def test_committed_tables_are_current(finding, nb, tflops):
    "The committed markdown and the costs page hold what the script computes now from the committed units."
    text = run("--finding", finding, "--tflops", str(tflops)).strip()
    md = RESULTS/f"paper_cost_{nb}_{tflops}tflops.md"
    assert md.read_text().strip() == text, f"rerun: python benchmarks/paper_cost_cifar10.py --finding {finding} " \
                                           f"--tflops {tflops} --md {md.relative_to(ROOT)}"
    if tflops == 400:   # the costs page shows the 400 TFLOP/s tables
        page = "".join("".join(c["source"]) for c in json.loads((ROOT/"nbs"/"06_costs.ipynb").read_text())["cells"])
        table = "\n".join(l for l in text.splitlines() if l.startswith("|"))
        assert table in page, f"paste {md.name}'s table into nbs/06_costs.ipynb"
