"""What a paper-scale SD v1.4 run of 02_resurgence (or of 04_rgd's concept setting: `--finding rgd`) costs, extrapolated from the measured unit costs of the full-size twin.

    python benchmarks/paper_cost.py                          # reads benchmarks/results/sd14_twin_cpu.json
    python benchmarks/paper_cost.py --units benchmarks/results/sd14_twin_cuda.json   # a GPU measurement, when there is one
    python benchmarks/paper_cost.py --tflops 400 --md benchmarks/results/paper_cost.md

Every stage is counted in units the benchmark measured (`bench_sd14_twin.py`): a CFG sampling step of one image, a VAE
decode, a VAE encode of a training image (once per distinct image: `to_latents` caches posteriors), a training step of
one image through the whole U-Net or its cross-attention. GPU time = FLOPs / an ASSUMED
sustained throughput (default 400 TFLOP/s: ~40 % of an H100's dense bf16 peak), unless the units file was measured on a
GPU, in which case its seconds are used. Method step counts are each method's SD v1.4 configuration in the package;
the evaluation sizes are `findings.RESURGENCE["paper"]`. Sample counts per stage are written out, so the formula can be
checked by hand.
"""
import argparse, json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", default=str(ROOT / "benchmarks" / "results" / "sd14_twin_cpu.json"))
    ap.add_argument("--tflops", type=float, default=400.0, help="ASSUMED sustained GPU throughput when units are CPU-measured")
    ap.add_argument("--sample-steps", type=int, default=30, help="sampler steps per image (the sd14 backbone's DPM-Solver: 30)")
    ap.add_argument("--md", default=None, help="also write the table as markdown")
    ap.add_argument("--finding", default="resurgence", choices=["resurgence", "rgd"], help="02, or 04's concept setting")
    ap.add_argument("--methods", default=None, help="the methods (default: the notebook's default concept methods)")
    ap.add_argument("--n-ref", type=int, default=0, help="reference captions generated per model for FID / CLIP score")
    return ap.parse_args()


def method_units(method: str, P, steps: int, n_forget: int | None = None) -> dict:
    "One erasure's units, from the method's SD v1.4 configuration at paper scale (`experiment.run_config`)."
    import types
    from unlearn_study.experiment import run_config
    from unlearn_study.concepts import concept_words, load_prompts

    sd = types.SimpleNamespace(name="sd14", kind="text")
    c = run_config(method, sd, "paper", seed=0, concepts=["nudity"])
    n_forget = P.n_forget if n_forget is None else n_forget
    if method == "mace":  # one LoRA per concept word found in the forget prompts, cfg.steps each at batch 1
        prompts = " ".join(load_prompts("nudity_forget_train").prompt.str.lower())
        words = [w for w in concept_words("nudity") if f" {w} " in f" {prompts} "]
        return {"xattn": len(words) * c.steps * c.batch_size, "cfg": len(words) * c.n_images * steps,
                "dec": len(words) * c.n_images, "enc": len(words) * c.n_images}
    if method == "esd":  # x_t by DDIM with the model to a random one of ddim_steps (half on average), + the teacher
        return {"full": c.steps * c.batch_size, "cfg": c.steps * (c.ddim_steps // 2 + 1)}
    if method in ("salun", "ga", "rl"):  # epochs over the forget set (+ a retain batch), + SalUn's saliency pass
        per_epoch = -(-n_forget // c.batch_size) * c.batch_size * 2
        return {"full": c.epochs * per_epoch + (n_forget if method == "salun" else 0)}
    if method == "dimum":  # memorise n_alt generated alternatives for the forget prompts
        return {"full": c.steps * c.batch_size * 2, "cfg": c.n_alt * steps, "dec": c.n_alt, "enc": c.n_alt}
    return {"full": c.steps * c.batch_size * 2}  # graddiff(d), rg, rgd: forget + retain batch per step


def stages_rgd(P, steps: int, methods: list, n_ref: int = 0):
    """(stage, unit counts) for one seed of 04's concept setting at paper scale: the forget / retain sets generated
    (c_forget + c_retain images), each method's erasure, and every model (the base and each method) measured on
    n_eval_prompts held-out forget prompts, train retain prompts and held-out retain prompts (+ n_ref reference captions)."""
    img = {"cfg": steps, "dec": 1}
    point = {k: (3 * P.n_eval_prompts + n_ref) * v for k, v in img.items()}
    made = {k: (P.c_forget + P.c_retain) * v for k, v in img.items()} | {"enc": P.c_forget + P.c_retain}
    rows = [("generate (and encode) the forget + retain sets (once per seed)", made),
            ("measure the base", point)]
    for m in methods:
        rows += [(f"erase: {m}", method_units(m, P, steps, n_forget=P.c_forget)), (f"measure {m}", point)]
    return rows


def stages(P, steps: int, methods: list, n_ref: int = 0):
    """(stage, unit counts) for one seed of 02 at paper scale. Units: cfg = a CFG sampling step of one image,
    dec = a VAE decode, enc = a VAE encode, full / xattn = one image's training step (whole U-Net / cross-attention)."""
    img = {"cfg": steps, "dec": 1}  # one generated image
    point = {k: 2 * P.n_eval * v for k, v in img.items()}  # a measurement: n_eval prompts with and without the concept
    ref = {k: n_ref * v for k, v in img.items()}  # FID / CLIP score on a reference folder (erasure table only)
    gen = {k: (P.n_forget + P.n_retain) * v for k, v in img.items()} | {"enc": P.n_forget + P.n_retain}
    ft = {"full": P.ft_steps * 8}  # benign fine-tuning: attacks.finetune.Config's batch 8
    n_points = P.ft_steps // P.ft_eval_every  # measurements along fine-tuning (step 0 is the erasure's)
    rows = [("generate (and encode) the forget + retain sets (once per seed)", gen), ("measure the base", point),
            (f"encode the {P.n_ft} fine-tuning images (once: every model shares the VAE)", {"enc": P.n_ft})]
    for m in methods:
        rows += [(f"erase: {m}", method_units(m, P, steps)), (f"measure {m} after erasure", point)]
    if n_ref:
        rows.append((f"reference FID / CLIP score of the base and {len(methods)} methods ({n_ref} captions each)",
                     {k: (1 + len(methods)) * v for k, v in ref.items()}))
    for m in ["base", *methods]:
        rows.append((f"fine-tune {m} ({P.ft_steps} steps at batch 8)", ft))
        rows.append((f"measure {m} during fine-tuning ({n_points} points)", {k: n_points * v for k, v in point.items()}))
    return rows


def main():
    a = parse()
    from unlearn_study.findings import RESURGENCE, RGD

    units = json.loads(Path(a.units).read_text())
    by = {u["unit"]: u for u in units["units"]}
    gpu = units["device"].startswith("cuda")
    name = {"cfg": "unet_cfg_sampling_step", "dec": "vae_decode", "enc": "vae_encode", "full": "train_step_full",
            "xattn": "train_step_xattn"}
    if "train_step_full" not in by and "train_step_full_ckpt" in by:
        name["full"] = "train_step_full_ckpt"
    cost = {k: (by[v]["seconds"] if gpu else by[v]["flops"] / (a.tflops * 1e12)) for k, v in name.items()}
    flops = {k: by[v]["flops"] for k, v in name.items()}
    rows, total = [], 0.0
    default = "mace,esd,salun,graddiffd,rgd,dimum" if a.finding == "resurgence" else "esd,salun,graddiffd,rgd"
    methods = [m.strip() for m in (a.methods or default).split(",")]
    if a.finding == "resurgence":
        plan = stages(RESURGENCE["paper"], a.sample_steps, methods, a.n_ref)
    else:
        plan = stages_rgd(RGD["paper"], a.sample_steps, methods, a.n_ref)
    for stage, u in plan:
        secs = sum(n * cost[k] for k, n in u.items())
        total += secs
        rows.append((stage, u, sum(n * flops[k] for k, n in u.items()) / 1e15, secs / 3600))
    how = "measured seconds per unit" if gpu else f"FLOPs / {a.tflops:.0f} TFLOP/s (ASSUMED throughput)"
    what = "`02_resurgence`" if a.finding == "resurgence" else "`04_rgd`'s concept setting"
    lines = [f"One seed of {what} at `scale=\"paper\"` on SD v1.4, {len(methods)} methods ({how}; units from "
             f"`{Path(a.units).name}`, {a.sample_steps} sampler steps per image):", "",
             "| stage | units | PFLOP | GPU-hours |", "|---|---|---:|---:|"]
    for stage, u, pf, h in rows:
        lines.append(f"| {stage} | {', '.join(f'{n:,} {k}' for k, n in u.items())} | {pf:,.1f} | {h:.2f} |")
    lines.append(f"| **total per seed** | | | **{total / 3600:.1f}** |")
    unit_line = ", ".join(f"{k} = {flops[k] / 1e12:.2f} TFLOP" for k in name)
    lines += ["", f"Units: {unit_line} (torch FlopCounterMode on the full-size twin)."]
    text = "\n".join(lines)
    print(text)
    if a.md:
        Path(a.md).write_text(text + "\n")


if __name__ == "__main__":
    main()
