"""Seconds per training step and sampling throughput for each backbone, on this machine.

    python benchmarks/bench_steps.py [--threads 1] [--out benchmarks/results/steps.json]
    python benchmarks/bench_steps.py --quick --threads 1 --out host_speed.json   # toy-class steps only (seconds)

On CPU: the toy backbones (batch 64) and a tiny SD-format pipeline. On CUDA it also times an SD v1.4-sized U-Net
(random init: the real architecture, no download) in fp32 and bf16 autocast, with SDPA attention, optionally
torch.compile, and reports peak memory."""
import argparse, json, time, tempfile
from pathlib import Path
import torch
from unlearn_study.core import set_threads, write_json, environment_info, get_device
from unlearn_study.backbones import build_toy_class, build_toy_t2i, encode_text, sample, condition, Backbone, _ddpm_schedule
from unlearn_study.train import diffusion_loss

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=None)
p.add_argument("--steps", type=int, default=10)
p.add_argument("--out", default=None, help="JSON file (default: benchmarks/results/steps.json; --quick: none, only printed)")
p.add_argument("--quick", action="store_true", help="toy-class training steps only: this host's speed, for reading a run's timing")
a = p.parse_args()
threads = set_threads(a.threads); dev = get_device("auto")
res = {"threads": threads, "device": str(dev)}

def time_steps(bb, x, c, n, autocast=False):
    opt = torch.optim.AdamW(bb.unet.parameters(), 1e-4)
    def step():
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=autocast):
            loss = diffusion_loss(bb, x, c)
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
    step()
    if dev.type == "cuda": torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(n): step()
    if dev.type == "cuda": torch.cuda.synchronize()
    out = {"sec_per_step": (time.perf_counter() - t0) / n}
    if dev.type == "cuda": out["peak_mem_gb"] = torch.cuda.max_memory_allocated() / 2**30
    return out

for name, build in (("toy-class", build_toy_class),) + (() if a.quick else (("toy-t2i", build_toy_t2i),)):
    torch.manual_seed(0); bb = build().to(dev)
    x = torch.randn(64, 3, 16, 16, device=dev)
    c = condition(bb, [0] * 64) if bb.kind == "class" else encode_text(bb, ["a red star with dots on a white background"] * 64)
    r = time_steps(bb, x, c, a.steps)
    if a.quick: res[name] = r; print(f"{name}: {r['sec_per_step']:.3f} s per training step at batch 64, {threads} thread(s)", flush=True); continue
    t0 = time.perf_counter(); sample(bb, ([0] if bb.kind == "class" else ["a red star on a white background"]) * 200, steps=25)
    r["sample_200x25_seconds"] = time.perf_counter() - t0
    res[name] = r; print(name, r, flush=True)

# The model the project's targets were sized on (`notes/toy-world-measurements.md`: a plain class-conditional
# UNet2DModel, channels (32, 64, 64), one layer per block, no attention, batch 64, 2 threads: 0.086 s per step on the
# machine the notes were measured on). Timing the same model here says how much slower or faster this host is than
# that one, independently of this package's own (attention-carrying) toy base.
NOTES_REF_SEC = 0.086
if dev.type == "cpu":
    from diffusers import UNet2DModel
    set_threads(2); torch.manual_seed(0)
    ref = UNet2DModel(sample_size=16, in_channels=3, out_channels=3, block_out_channels=(32, 64, 64), layers_per_block=1,
                      down_block_types=("DownBlock2D",) * 3, up_block_types=("UpBlock2D",) * 3, num_class_embeds=10)
    rb = Backbone("reference", ref, _ddpm_schedule(), 16, "class", class_names=[str(i) for i in range(10)])
    r = time_steps(rb, torch.randn(64, 3, 16, 16), torch.zeros(64, dtype=torch.long), a.steps)
    r.update(threads=2, notes_sec_per_step=NOTES_REF_SEC, slower_than_notes_host=r["sec_per_step"] / NOTES_REF_SEC)
    res["sizing_reference"] = r; set_threads(threads)
    print(f"sizing reference model: {r['sec_per_step']:.3f} s per step at batch 64, 2 threads "
          f"({r['slower_than_notes_host']:.1f}x the {NOTES_REF_SEC} s of the host the targets were sized on)", flush=True)

if dev.type == "cuda" and not a.quick:
    from diffusers import UNet2DConditionModel
    unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768).to(dev)  # SD v1.4's U-Net config (860M params)
    bb = Backbone("sd14", unet, _ddpm_schedule(), 512, "text")
    for bs in (1, 4, 8):
        x = torch.randn(bs, 4, 64, 64, device=dev); c = torch.randn(bs, 77, 768, device=dev)
        res[f"sd14_unet_bs{bs}_fp32"] = time_steps(bb, x, c, a.steps)
        res[f"sd14_unet_bs{bs}_bf16"] = time_steps(bb, x, c, a.steps, autocast=True)
        print(bs, res[f"sd14_unet_bs{bs}_fp32"], res[f"sd14_unet_bs{bs}_bf16"], flush=True)
elif not a.quick:
    res["sd14_unet"] = "not measured: no CUDA device on this machine"
res["environment"] = environment_info(dev)
out = a.out or (None if a.quick else "benchmarks/results/steps.json")  # a quick check never overwrites the full results
if out:
    write_json(out, res)
