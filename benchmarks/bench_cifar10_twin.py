"""What one unit of each CIFAR-10 stage costs, measured on the full-size twin (`build_cifar10()`, DDPM's 35.7 M-parameter
network, random weights).

    python benchmarks/bench_cifar10_twin.py                   # CPU, 1 thread, writes benchmarks/results/cifar10_twin_cpu.json
    python benchmarks/bench_cifar10_twin.py --device cuda --train-batch 128 --out benchmarks/results/cifar10_twin_cuda.json

The twin is saved with `save_backbone` and loaded through `load_backbone("cifar10", folder)` -- the path a trained base
takes. For each unit (a training step of the recipe's batch of 128, one sampling step of one image without and with
classifier-free guidance, a judge forward, an Inception feature pass for FID) it records seconds (median of `--reps`
after one warm-up), FLOPs (torch's FlopCounterMode, one pass) and peak memory (CUDA: max_memory_allocated; CPU: the
process's peak resident set, which only grows, so read it per stage in order). On a CPU the training step runs at
`--train-batch` (default 32: a batch of 128 needs more memory than a shared machine should give) and its FLOPs and
seconds are scaled to 128 images: FLOPs exactly (every image costs the same), seconds approximately.
A twin proves mechanics, memory and cost, never quality: its samples are noise.
"""
import argparse, json, os, platform, resource, statistics, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RECIPE_BATCH = 128  # DDPM's (and SalUn's) CIFAR-10 batch: CIFAR10_RECIPES["paper"]["batch_size"]


def parse():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("UNLEARN_THREADS", 1)))
    ap.add_argument("--reps", type=int, default=2, help="timed repetitions per unit (after one warm-up)")
    ap.add_argument("--train-batch", type=int, default=None, help="images in the measured training step "
                    "(default: 128 on a GPU, 32 on a CPU, scaled to 128)")
    ap.add_argument("--twin", default=os.path.join(tempfile.gettempdir(), "cifar10-twin-full"), help="twin folder")
    ap.add_argument("--out", default=None)
    ap.add_argument("--skip", default="", help="comma-separated units to skip")
    return ap.parse_args()


def rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


def main():
    a = parse()
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from unlearn_study.backbones import (build_cifar10, save_backbone, load_backbone, predict_noise, condition,
                                         null_condition, CIFAR10_CLASSES, CIFAR10_RECIPES)
    from unlearn_study.train import diffusion_loss
    from unlearn_study.metrics import Judge
    from unlearn_study.evaluators import _pytorch_fid_model, ensure_fid_weights

    assert CIFAR10_RECIPES["paper"]["batch_size"] == RECIPE_BATCH
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    tb = a.train_batch or (RECIPE_BATCH if cuda else 32)
    twin = Path(a.twin)
    t0 = time.time()
    if not (twin / "backbone.json").exists():
        torch.manual_seed(0)
        save_backbone(build_cifar10(), twin)
    built = time.time() - t0
    t0 = time.time()
    bb = load_backbone("cifar10", twin, device=dev)
    loaded = time.time() - t0
    n_params = sum(p.numel() for p in bb.unet.parameters())
    g = torch.Generator(device="cpu").manual_seed(0)
    results = []

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def measure(name, fn, unit, scale=1.0, note=""):
        "seconds and FLOPs of fn() times `scale` (a training step measured on fewer images than the recipe's)."
        if name in a.skip.split(","):
            return
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        fn()  # warm-up
        sync()
        secs = []
        for _ in range(a.reps):
            t = time.perf_counter()
            fn()
            sync()
            secs.append(time.perf_counter() - t)
        with FlopCounterMode(display=False) as fc:
            fn()
        peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else rss_gb()
        row = {"unit": name, "per": unit, "seconds": statistics.median(secs) * scale, "flops": fc.get_total_flops() * scale,
               "peak_gb": round(peak, 2), "peak_kind": "cuda max allocated" if cuda else "process peak RSS so far",
               "note": note}
        results.append(row)
        print(f"{name:26s} {row['seconds']:9.4f} s  {row['flops'] / 1e9:10.2f} GFLOP  peak {row['peak_gb']:6.2f} GB  {note}",
              flush=True)

    ac = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda)
    label = condition(bb, [3])

    def sampling_step(cfg: bool):
        def step():  # one denoising step (DDPM or DDIM: the same U-Net call) of one image
            x = torch.randn(1, 3, bb.resolution, bb.resolution, generator=g).to(dev)
            with torch.no_grad(), ac:
                if cfg:  # classifier-free guidance: the conditional and the null-class prediction in one batch of 2
                    predict_noise(bb, torch.cat([x, x]), torch.tensor([500, 500], device=dev),
                                  torch.cat([label, null_condition(bb, 1)]))
                else:
                    predict_noise(bb, x, torch.tensor([500], device=dev), label)
        return step

    x_train = (torch.rand(tb, 3, bb.resolution, bb.resolution, generator=g) * 2 - 1).to(dev)
    y_train = condition(bb, torch.arange(tb) % len(CIFAR10_CLASSES))
    params = list(bb.unet.parameters())
    opt = torch.optim.Adam(params, lr=2e-4)

    def train_step():  # the recipe's step: loss, backward, clipping, Adam (EMA update: a few element-wise ops, left out)
        bb.unet.train()
        for p in params:
            p.requires_grad_(True)
        opt.zero_grad(set_to_none=True)
        with ac:
            loss = diffusion_loss(bb, x_train, y_train, g)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        bb.unet.eval()

    judge = Judge({"object": CIFAR10_CLASSES}).to(dev).eval()

    def judge_forward():
        with torch.no_grad():
            judge(torch.rand(1, 3, 32, 32, generator=g).to(dev) * 2 - 1)

    inception = _pytorch_fid_model(str(dev), 2048, str(ensure_fid_weights()))

    def inception_pass():  # pytorch-fid resizes the 32x32 image to 299x299 inside the network
        with torch.no_grad():
            inception(torch.rand(1, 3, 32, 32, generator=g).to(dev))

    measure("sampling_step", sampling_step(False), "1 image, 1 sampler step (no guidance: batch 1)")
    measure("sampling_step_cfg", sampling_step(True), "1 image, 1 sampler step (CFG: batch 2)")
    measure("judge_forward", judge_forward, "1 image (CIFAR-10 judge, width 48)")
    measure("inception_features", inception_pass, "1 image (pytorch-fid Inception, pool-3)")
    measure("train_step", train_step, f"{RECIPE_BATCH} images (one optimiser step of the recipe)",
            scale=RECIPE_BATCH / tb, note="" if tb == RECIPE_BATCH else f"measured at batch {tb}, scaled to {RECIPE_BATCH}")
    per = next((r for r in results if r["unit"] == "train_step"), None)
    if per:
        results.append(dict(per, unit="train_step_per_image", per="1 image", seconds=per["seconds"] / RECIPE_BATCH,
                            flops=per["flops"] / RECIPE_BATCH))

    out = {
        "device": a.device, "threads": a.threads, "torch": torch.__version__, "host": platform.node(),
        "cpu": platform.processor() or platform.machine(),
        "gpu": torch.cuda.get_device_name() if cuda else None,
        "twin": {"folder": str(twin), "build_seconds": round(built, 1), "load_seconds": round(loaded, 1),
                 "parameters": n_params, "resolution": bb.resolution, "train_batch_measured": tb},
        "units": results,
        "note": "full-size twin of DDPM's CIFAR-10 U-Net (random weights): mechanics, memory and cost only, never quality",
    }
    path = Path(a.out or ROOT / "benchmarks" / "results" / f"cifar10_twin_{a.device.split(':')[0]}.json")
    if a.skip and path.exists():  # keep the earlier measurement of each skipped unit
        done = {r["unit"] for r in results}
        out["units"] += [dict(r, note=(r["note"] + " (earlier run)").strip()) for r in json.loads(path.read_text())["units"]
                         if r["unit"] in a.skip.split(",") and r["unit"] not in done]
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"== {path}")


if __name__ == "__main__":
    main()
