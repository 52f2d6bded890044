"""05_robustness end to end: the smoke run through papermill writes a complete run folder (within a minute), and a bad
parameter is refused before any work."""
import json, sys, time
from pathlib import Path
import pytest

from test_notebooks import papermill, run_folder

SMOKE = [("scale", "smoke"), ("methods", "class: rgd; concept: mace")]  # one method per setting, beside base and oracle


def test_robustness_smoke(tmp_path):
    "The smoke run: every attack on a class and a text-to-image method, the references, the leaderboard, the finding."
    out = tmp_path / "runs"
    p, secs = papermill("05_robustness.ipynb", tmp_path / "out.ipynb", ("out_dir", out), *SMOKE)
    assert p.returncode == 0, p.stderr[-3000:]
    run = run_folder(out, "robustness")
    for f in ("config.json", "meta.json", "metrics.json", "timings.json"):
        assert (run / f).exists(), f
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["finding"].startswith("**Class setting**") and "**Text setting**" in metrics["finding"]
    assert set(metrics["leaderboard"]) == {"class", "text"}
    rows = {(r["setting"], r["method"]) for r in metrics["states"]}
    assert rows == {("class", "base"), ("class", "retrain"), ("class", "rgd"), ("text", "base"), ("text", "mace")}
    assert {c["attack"] for c in metrics["curves"]} == {"finetune", "dimra", "relearn", "embedding"}
    by = {(s["setting"], s["method"], s["attack"]): s["score"] for s in metrics["scores"]}
    for (kind, method, attack), score in by.items():  # the references sit at the score's two ends wherever it is defined
        if score == score and method in ("base", "retrain"):
            assert score == (0.0 if method == "base" else 1.0), (kind, method, attack, score)
    names = {f.name for f in run.glob("figures/*.png")}
    assert {"curves_class.png", "curves_text.png", "robustness_heatmap.png", "few_shot.png"} <= names, names
    assert not list(run.glob("**/.*.tmp*")) and not (out / "robustness" / ".staging").exists()
    print(f"05_robustness smoke: {secs:.0f} s")


@pytest.mark.parametrize("params,expect", [
    ([("attacks", "prompt-search")], "'finetune', 'dimra', 'relearn', 'embedding'"),
    ([("methods", "class: salun,retrain")], "reference"),
    ([("scale", "huge")], "'smoke', 'default', 'paper'"),
    ([("concept", "nudity")], "toy"),
])
def test_robustness_refuses_bad_parameters(tmp_path, params, expect):
    "A bad parameter stops 05 in its setup cell, before any model is loaded or attacked, with what is allowed."
    out = tmp_path / "runs"
    p, secs = papermill("05_robustness.ipynb", tmp_path / "out.ipynb", ("out_dir", out), *params)
    assert p.returncode != 0 and expect in p.stderr + p.stdout, (p.stderr + p.stdout)[-2000:]
    assert not out.exists() or not any(out.rglob("*.json"))
