"""What the paper-scale CIFAR-10 runs cost -- 08_pretrain's cifar10 base (`--finding pretrain`) or 03_dimra
(`--finding dimra`) -- extrapolated from the measured unit costs of the full-size twin. The CIFAR-10 sibling of
`paper_cost.py` (SD v1.4).

    python benchmarks/paper_cost_cifar10.py --finding pretrain            # reads benchmarks/results/cifar10_twin_cpu.json
    python benchmarks/paper_cost_cifar10.py --finding dimra --tflops 150 --md benchmarks/results/paper_cost_03_150tflops.md

Units (`bench_cifar10_twin.py`): `train` = one image through a training step of the whole U-Net (forward, backward,
Adam; measured as a step of 128 images / 128), `samp` = one sampling step of one image without guidance (a guided
step, at 03's default guidance `findings.PAPER_GUIDANCE["cifar10"]` = 3.0, is two: conditional and unconditional),
`judge` = a judge forward of one image (the small CNN's; the ResNet-18 judge is ~5x that, still < 1 % of a sampled
image), `incep` = an Inception feature pass of one image (FID). GPU time = FLOPs / an ASSUMED sustained throughput (default 400 TFLOP/s), unless the units file was
measured on a GPU, in which case its seconds are used. Step counts and batch sizes are read from the package:
`backbones.CIFAR10_RECIPES["paper"]` (pretraining), `findings.DIMRA["paper"]` and each method's cifar10 configuration
through `experiment.run_config` (03). Unit counts per stage are written out, so the formula can be checked by hand.
"""
import argparse, dataclasses, json, sys, types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
NAME = {"train": "train_step_per_image", "samp": "sampling_step", "judge": "judge_forward", "incep": "inception_features"}


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--finding", default="pretrain", choices=["pretrain", "dimra"], help="05's cifar10 base, or 03")
    ap.add_argument("--units", default=str(ROOT / "benchmarks" / "results" / "cifar10_twin_cpu.json"))
    ap.add_argument("--tflops", type=float, default=400.0, help="ASSUMED sustained GPU throughput when units are CPU-measured")
    ap.add_argument("--sample-steps", type=int, default=None, help="sampler steps per image (default: the cifar10 "
                    "backbone's: 50 DDIM steps; DDPM's own FID used 1000 ancestral steps)")
    ap.add_argument("--methods", default=None, help="03's methods (default: the notebook's)")
    ap.add_argument("--guidance", type=float, default=None, help="03's classifier-free guidance (default: the papers', "
                    "findings.PAPER_GUIDANCE['cifar10']); any value but 1 doubles every sampling step")
    ap.add_argument("--md", default=None, help="also write the table as markdown")
    return ap.parse_args(argv)


def samples(n: int, steps: int, passes: int = 1) -> dict:
    "n generated images, each judged; `passes` U-Net passes per sampling step (2 with classifier-free guidance)."
    return {"samp": n * steps * passes, "judge": n}


def stages_pretrain(steps: int):
    "(stage, unit counts) of 08_pretrain's cifar10 base at scale='paper', its FID, and the retrain oracle."
    from unlearn_study.backbones import CIFAR10_RECIPES

    r = CIFAR10_RECIPES["paper"]
    fid = {"samp": r["fid_samples"] * steps, "incep": r["fid_samples"] + r["fid_ref"]}
    train = {"train": r["steps"] * r["batch_size"]}
    return [
        (f"pretrain the base ({r['steps']:,} steps at batch {r['batch_size']}, EMA {r['ema']}, flips)", train),
        (f"FID of the base ({r['fid_samples']:,} samples x {steps} steps vs {r['fid_ref']:,} training images)", fid),
        ("retrain oracle: the same recipe on 9/10 of the data (the same steps; one per forgotten class and seed)", train),
    ]


def method_units(method: str, cfg, P, steps: int) -> dict:
    "One unlearning run's units from the method's cifar10 configuration at paper scale."
    c = cfg
    if method == "salun":  # forget + retain batch per step, + the saliency pass over the forget set
        return {"train": c.steps * c.batch_size * 2 + P.n_forget}
    if method == "sfron":  # forget + retain batch per step, + the Fisher pass over each set
        return {"train": c.steps * c.batch_size * 2 + P.n_forget + P.n_retain}
    if method == "rgd":  # a forget batch + a full pass over the retain set every step
        return {"train": c.steps * (c.batch_size + P.n_retain)}
    if method == "dimum":  # forget (to the alternatives) + retain batch per step, + n_alt generated alternatives
        return {"train": c.steps * c.batch_size * 2, "samp": c.n_alt * steps}
    if method == "retrain":  # the oracle: training from scratch without the class
        return {"train": c.steps * c.batch_size}
    return {"train": c.steps * c.batch_size * 2}  # graddiff: forget + retain batch per step


def stages_dimra(P, steps: int, methods: list, passes: int = 2, n_ref: int = 45_000):
    """(stage, unit counts) of 03_dimra at scale='paper': every seed, every method, the curves, the attack and the FIDs
    (`passes` U-Net passes per sampling step; `n_ref` real images in the FID reference: CIFAR-10's training set but the
    class)."""
    from unlearn_study.experiment import run_config

    bb = types.SimpleNamespace(name="cifar10", kind="class")
    cfgs = {m: run_config(m, bb, "paper", seed=0, steps=P.method_steps, overrides=P.overrides) for m in methods}
    seeds = 3  # 03's default seeds=(0, 1, 2); DIMRA["paper"].n_seeds is None: all run
    k = 10  # classes
    point = samples(k * P.n_eval, steps, passes)  # UA / RA: n_eval samples of every class
    n_points = P.attack_steps // P.eval_every + 1  # step 0 and every eval_every
    att_point = samples(P.n_eval + (k - 1) * max(2, P.n_eval // 5), steps, passes)  # AR_DiMRA (forget class) + RA (others)
    rows = [(f"measure the base ({k} x {P.n_eval} samples, x {seeds} seeds)", {u: seeds * n for u, n in point.items()})]
    for m in methods:
        c = cfgs[m]
        runs = min(seeds, P.oracle_seeds) if m == "retrain" else seeds
        u = method_units(m, c, P, steps)
        detail = f"{c.steps:,} steps at batch {c.batch_size}"
        rows.append((f"unlearn: {m} ({detail}; x {runs} seeds)", {n: runs * v for n, v in u.items()}))
        rows.append((f"measure {m} (x {seeds} seeds)", {u: seeds * n for u, n in point.items()}))
    for m in [m for m in methods if m in ("salun", "dimum")]:  # curves, first seed: fractions < 1 retrain, all measured
        c = cfgs[m]
        u = {}
        for frac in P.curve_fracs:
            for n, v in method_units(m, dataclasses.replace(c, steps=max(1, int(c.steps * frac))), P, steps).items():
                u[n] = u.get(n, 0) + v
        for n, v in samples(k * max(10, P.n_eval // 2), steps, passes).items():
            u[n] = u.get(n, 0) + (len(P.curve_fracs) + 1) * v
        rows.append((f"unlearning curve of {m} (fractions {', '.join(map(str, P.curve_fracs))}; first seed)", u))
    for m in methods:
        u = {"train": seeds * P.attack_steps * P.attack_batch}
        u.update({n: seeds * n_points * v for n, v in att_point.items()})
        rows.append((f"DiMRA on {m} ({P.attack_steps:,} steps at batch {P.attack_batch}, {n_points} measurements; "
                     f"x {seeds} seeds)", u))
    if P.n_fid >= 2:  # the base, then each method's unlearned and attacked model, of the first `fid_seeds` seeds
        models = P.fid_seeds * (1 + 2 * len(methods))
        u = {"samp": models * P.n_fid * steps * passes, "incep": models * P.n_fid + n_ref}
        rows.append((f"FID of {models} models ({P.n_fid:,} samples each; reference {n_ref:,} training images)", u))
    return rows, cfgs


def main(argv=None) -> str:
    "Print (and with --md write) the cost table; return its text."
    a = parse(argv)
    from unlearn_study.findings import DIMRA
    from unlearn_study.backbones import build_cifar10

    units = json.loads(Path(a.units).read_text())
    by = {u["unit"]: u for u in units["units"]}
    gpu = units["device"].startswith("cuda")
    steps = a.sample_steps or build_cifar10(channels=(32, 64)).sample_steps
    cost = {k: (by[v]["seconds"] if gpu else by[v]["flops"] / (a.tflops * 1e12)) for k, v in NAME.items()}
    flops = {k: by[v]["flops"] for k, v in NAME.items()}
    from unlearn_study.findings import PAPER_GUIDANCE

    guidance = PAPER_GUIDANCE["cifar10"] if a.guidance is None else a.guidance
    if a.finding == "pretrain":
        plan, what = stages_pretrain(steps), "08_pretrain's cifar10 base (`backbones.CIFAR10_RECIPES[\"paper\"]`)"
    else:
        methods = [m.strip() for m in (a.methods or "salun,sfron,graddiff,rgd,dimum,retrain").split(",")]
        plan, _ = stages_dimra(DIMRA["paper"], steps, methods, passes=1 if guidance == 1 else 2)
        what = f"`03_dimra` at `scale=\"paper\"` on CIFAR-10, 3 seeds, {len(methods)} methods, guidance {guidance:g}"
    how = "measured seconds per unit" if gpu else f"FLOPs / {a.tflops:.0f} TFLOP/s (ASSUMED throughput)"
    rows, total, total_pf = [], 0.0, 0.0
    for stage, u in plan:
        secs = sum(n * cost[k] for k, n in u.items())
        pf = sum(n * flops[k] for k, n in u.items()) / 1e15
        total += secs
        total_pf += pf
        rows.append((stage, u, pf, secs / 3600))
    lines = [f"{what} ({how}; units from `{Path(a.units).name}`, {steps} sampler steps per image):", "",
             "| stage | units | PFLOP | GPU-hours |", "|---|---|---:|---:|"]
    for stage, u, pf, h in rows:
        lines.append(f"| {stage} | {', '.join(f'{n:,} {k}' for k, n in u.items())} | {pf:,.1f} | {h:,.2f} |")
    lines.append(f"| **total** | | **{total_pf:,.0f}** | **{total / 3600:,.1f}** |")
    unit_line = ", ".join(f"{k} = {flops[k] / 1e9:.2f} GFLOP" for k in NAME)
    lines += ["", f"Units: {unit_line} (torch FlopCounterMode on the full-size twin, `bench_cifar10_twin.py`)."]
    text = "\n".join(lines)
    print(text)
    if a.md:
        Path(a.md).write_text(text + "\n")
    return text


if __name__ == "__main__":
    main()
