"""Would a CPU training step get faster? The attacks' and methods' step (toy backbones, batch 8, one thread) in eager
fp32 against the options one reaches for: torch.compile, bf16 autocast, channels-last, AdamW foreach/fused.

    python benchmarks/bench_cpu_options.py [--steps 15] [--rounds 3] [--no-compile] [--out benchmarks/results/cpu_options.json]

Each option is timed in `rounds` rounds interleaved with eager ones (the host's load drifts; a paired ratio per round
is what is reported, with its spread), after warm-up steps. torch.compile's first step (the compile) is reported apart.
Speed only: bf16 changes the numbers, the others reorder floating-point sums."""
import argparse, statistics, time
import torch
from unlearn_study.core import set_threads, write_json, environment_info
from unlearn_study.backbones import build_toy_class, build_toy_t2i, encode_text, condition
from unlearn_study.train import diffusion_loss

p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=15)
p.add_argument("--rounds", type=int, default=3)
p.add_argument("--batch", type=int, default=8)
p.add_argument("--no-compile", action="store_true")
p.add_argument("--out", default="benchmarks/results/cpu_options.json")
a = p.parse_args()
set_threads(1)
BUILD = {"toy-class": build_toy_class, "toy-t2i": build_toy_t2i}


def setup(name, opt_kw=None, channels_last=False, compiled=False):
    torch.manual_seed(0)
    bb = BUILD[name]()
    x = torch.randn(a.batch, 3, 16, 16)
    if bb.kind == "class":
        c = condition(bb, [0] * a.batch)
    else:
        c = encode_text(bb, ["a red star with dots on a white background"] * a.batch)
    if channels_last:
        bb.unet.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    if compiled:
        bb.unet.forward = torch.compile(bb.unet.forward)
    opt = torch.optim.AdamW(bb.unet.parameters(), 1e-4, **(opt_kw or {}))
    return bb, x, c, opt


def step(bb, x, c, opt, bf16=False):
    torch.manual_seed(1)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = diffusion_loss(bb, x, c)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return float(loss)


def timed(run, n):
    t = time.perf_counter()
    for _ in range(n):
        loss = run()
    return (time.perf_counter() - t) / n, loss


OPTIONS = {
    "bf16 autocast": dict(bf16=True),
    "channels-last": dict(channels_last=True),
    "AdamW foreach": dict(opt_kw={"foreach": True}),
    "AdamW fused": dict(opt_kw={"fused": True}),
}
if not a.no_compile:
    OPTIONS["torch.compile"] = dict(compiled=True)

res = {"batch": a.batch, "steps": a.steps, "rounds": a.rounds, "threads": 1}
for name in BUILD:
    out = {}
    models = {"eager": setup(name)}
    for opt_name, kw in OPTIONS.items():
        models[opt_name] = setup(name, kw.get("opt_kw"), kw.get("channels_last", False), kw.get("compiled", False))
    bf16 = {k: OPTIONS.get(k, {}).get("bf16", False) for k in models}
    for k, m in models.items():  # warm-up (torch.compile compiles here)
        t = time.perf_counter()
        step(*m, bf16=bf16[k])
        first = time.perf_counter() - t
        for _ in range(2):
            step(*m, bf16=bf16[k])
        if k == "torch.compile":
            out["torch.compile first step (compile) s"] = round(first, 1)
    ratios = {k: [] for k in OPTIONS}
    eager_ms = []
    for _ in range(a.rounds):
        for k in OPTIONS:
            e, _ = timed(lambda: step(*models["eager"]), a.steps)
            o, _ = timed(lambda: step(*models[k], bf16=bf16[k]), a.steps)
            ratios[k].append(e / o)
            eager_ms.append(e * 1000)
    out["eager ms/step (median)"] = round(statistics.median(eager_ms), 1)
    for k, r in ratios.items():
        out[k] = {
            "speed-up vs eager (median of paired rounds)": round(statistics.median(r), 3),
            "range": [round(min(r), 3), round(max(r), 3)],
        }
    res[name] = out
    print(name, out, flush=True)
res["environment"] = environment_info(torch.device("cpu"))
write_json(a.out, res)
