"""Does `torch.compile` pay for a training step? Paired eager vs compiled measurement, on this machine.

    python benchmarks/bench_compile.py [--threads 1] [--steps 20] [--out benchmarks/results/compile_cpu.json]
    python benchmarks/bench_compile.py --device cuda --sd full      # on a GPU: also SD v1.4's full-size twin U-Net

For each backbone, the same training step (diffusion loss, backward, AdamW) is timed eagerly and with the U-Net
wrapped by `torch.compile` (default inductor mode), alternating eager / compiled blocks so that a shared host's noise
hits both; the compile time (first compiled step minus an eager step) is reported separately, with the number of steps
after which compiling has paid for itself. Backbones: the toy ones at batch 64, the tiny SD twin at batch 8 and, with
`--sd full`, SD v1.4's full-size twin at batch 1 (512 px; only sensible on a GPU). A twin measures speed, never quality.
"""
import argparse, json, statistics, tempfile, time
from pathlib import Path
import torch
from unlearn_study.core import set_threads, environment_info, get_device
from unlearn_study.backbones import build_toy_class, build_toy_t2i, save_sd14_twin, load_backbone
from unlearn_study.backbones import condition, encode_text
from unlearn_study.train import diffusion_loss

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--threads", type=int, default=None)
p.add_argument("--device", default="auto")
p.add_argument("--steps", type=int, default=20, help="timed steps per block (4 blocks each way)")
p.add_argument("--sd", default="tiny", choices=["none", "tiny", "full"])
p.add_argument("--only", default=None, help="comma-separated backbone names to run (others are kept from --out)")
p.add_argument("--out", default=None)
a = p.parse_args()
threads, dev = set_threads(a.threads), get_device(a.device)
sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)


def backbones():
    tmp = Path(tempfile.mkdtemp())
    todo = [("toy-class", lambda: build_toy_class().to(dev), 64), ("toy-t2i", lambda: build_toy_t2i().to(dev), 64)]
    if a.sd in ("tiny", "full"):
        todo.append(("sd14 tiny twin", lambda: load_backbone("sd14", str(save_sd14_twin(tmp / "tiny", "tiny")), device=dev), 8))
    if a.sd == "full":
        todo.append(("sd14 full-size twin", lambda: load_backbone("sd14", str(save_sd14_twin(tmp / "full", "full")), device=dev), 1))
    for name, build, batch in todo:
        if a.only is None or name in a.only.split(","):
            yield name, build(), batch


def steps(bb, n, x, c, opt, g):
    sync()
    t = time.perf_counter()
    for _ in range(n):
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            loss = diffusion_loss(bb, x, c, g)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    sync()
    return (time.perf_counter() - t) / n


path = Path(a.out or Path(__file__).parent / "results" / f"compile_{dev.type}.json")
rows = [r for r in json.loads(path.read_text())["rows"] if r["backbone"] not in a.only.split(",")] if a.only and path.exists() else []
for name, bb, batch in backbones():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    res = bb.resolution
    x = torch.rand(batch, 3, res, res, generator=g).to(dev) * 2 - 1
    c = condition(bb, [0] * batch) if bb.kind == "class" else encode_text(bb, ["a red star with dots"] * batch).to(dev)
    bb.unet.train()
    opt = torch.optim.AdamW(bb.unet.parameters(), 1e-5)
    eager_unet = bb.unet
    eager_first = steps(bb, 1, x, c, opt, g)  # warm-up
    compiled = torch.compile(eager_unet, dynamic=False)  # fixed shapes: one graph per batch shape
    bb.unet = compiled
    first = steps(bb, 1, x, c, opt, g)  # compiles the forward and backward graphs
    eager, comp = [], []
    for _ in range(4):
        bb.unet = eager_unet
        eager.append(steps(bb, a.steps, x, c, opt, g))
        bb.unet = compiled
        comp.append(steps(bb, a.steps, x, c, opt, g))
    bb.unet = eager_unet
    e, k = statistics.median(eager), statistics.median(comp)
    compile_s = first - e
    row = {"backbone": name, "batch": batch, "params_m": round(sum(p.numel() for p in eager_unet.parameters()) / 1e6, 1),
           "eager_s_per_step": round(e, 4), "compiled_s_per_step": round(k, 4), "speedup": round(e / k, 3),
           "compile_s": round(compile_s, 1),
           "break_even_steps": round(compile_s / (e - k)) if e > k else None}
    rows.append(row)
    print(json.dumps(row), flush=True)

out = {"device": str(dev), "threads": threads, "steps_per_block": a.steps, "blocks": 4, "rows": rows,
       "environment": environment_info(), "note": "random-weight twins: speed only, never quality"}
path.write_text(json.dumps(out, indent=2, default=str) + "\n")
print("==", path)
