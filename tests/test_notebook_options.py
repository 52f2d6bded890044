"""The finding notebooks' other options at `smoke` scale: LoRA fine-tuning on alternate captions with the full scope
study (02), DiMRA with synthetic auxiliary data (03), and 04 without RGD among its methods. Each option value a user
can pass must run end to end."""
import json
from test_notebooks import papermill, run_folder


def test_resurgence_full_scope_lora_alternate(tmp_path):
    out = tmp_path/"runs"
    p, secs = papermill("02_resurgence.ipynb", tmp_path/"out.ipynb", ("scale", "smoke"), ("out_dir", out), ("methods", "mace"),
                        ("finetune_mode", "lora"), ("finetune_data", "alternate"), ("scope", "full"))
    assert p.returncode == 0, p.stderr[-3000:]
    run = run_folder(out, "resurgence")
    cfg = json.loads((run/"config.json").read_text())
    assert (cfg["finetune_mode"], cfg["finetune_data"], cfg["scope"]) == ("lora", "alternate", "full")
    scope = json.loads((run/"metrics.json").read_text())["scope"]
    factors = {r["factor"] for r in scope}
    assert {"data", "fine-tuned parameters", "learning rate", "concepts erased together (MACE)"} <= factors, factors
    assert {r["value"] for r in scope if r["factor"] == "fine-tuned parameters"} == {"full", "xattn"}   # the modes not run above
    print(f"02 full scope: {secs:.0f} s")


def test_dimra_synthetic_aux(tmp_path):
    out = tmp_path/"runs"
    p, secs = papermill("03_dimra.ipynb", tmp_path/"out.ipynb", ("scale", "smoke"), ("out_dir", out), ("methods", "salun,dimum"),
                        ("aux", "synthetic"))
    assert p.returncode == 0, p.stderr[-3000:]
    run = run_folder(out, "dimra")
    assert json.loads((run/"config.json").read_text())["aux"] == "synthetic"
    steps = {r["step"] for r in json.loads((run/"metrics.json").read_text())["dimra"]}
    assert 0 in steps and len(steps) >= 2
    print(f"03 synthetic aux: {secs:.0f} s")


def test_rgd_notebook_without_rgd_skips_its_ablation_and_sweep(tmp_path):
    "04 with other methods only: the class table and the concept setting run; RGD's own ablation and λ × α sweep do not."
    out = tmp_path/"runs"
    p, secs = papermill("04_rgd.ipynb", tmp_path/"out.ipynb", ("scale", "smoke"), ("out_dir", out),
                        ("methods", "class: graddiff; concept: esd"))
    assert p.returncode == 0, p.stderr[-3000:]
    metrics = json.loads((run_folder(out, "rgd")/"metrics.json").read_text())
    assert {r["method"] for r in metrics["class_setting"]} == {"base", "graddiff"}
    assert {r["method"] for r in metrics["concept_setting"]} == {"base", "esd"}
    assert "diversity_ablation" not in metrics and "lambda_alpha_sweep" not in metrics
    assert "RGD was not run" in metrics["finding"]
    print(f"04 without rgd: {secs:.0f} s")
