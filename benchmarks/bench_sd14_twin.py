"""What one unit of each SD v1.4 stage costs, measured on the full-size twin (SD v1.4's architecture, random weights).

    python benchmarks/bench_sd14_twin.py                      # CPU, 1 thread, writes benchmarks/results/sd14_twin_cpu.json
    python benchmarks/bench_sd14_twin.py --device cuda --out benchmarks/results/sd14_twin_cuda.json

The twin is built once by `backbones.save_sd14_twin(folder, "full")` (diffusers format, fp16 on disk) and loaded through
`load_backbone("sd14", folder)` -- the path a user with the real weights takes. For each unit (a U-Net forward of a
CFG sampling step, a training step of the whole U-Net or of its cross-attention only, a VAE decode, a text encoding)
it records seconds (median of `--reps` after one warm-up), FLOPs (torch's FlopCounterMode, one pass) and peak memory
(CUDA: max_memory_allocated; CPU: the process's peak resident set, which only grows, so read it per stage in order).
A twin proves mechanics, memory and cost, never quality: its images are noise.
"""
import argparse, json, os, platform, resource, statistics, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("UNLEARN_THREADS", 1)))
    ap.add_argument("--reps", type=int, default=2, help="timed repetitions per unit (after one warm-up)")
    ap.add_argument("--twin", default=os.path.join(tempfile.gettempdir(), "sd14-twin-full"), help="twin folder (built once)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--skip", default="", help="comma-separated units to skip")
    return ap.parse_args()


def rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


def main():
    a = parse()
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from unlearn_study.backbones import save_sd14_twin, load_backbone, encode_text, predict_noise, from_latents, to_latents
    from unlearn_study.train import diffusion_loss

    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    twin = Path(a.twin)
    t0 = time.time()
    if not (twin / "model_index.json").exists():
        save_sd14_twin(twin, "full", dtype=torch.float16)
    built = time.time() - t0
    t0 = time.time()
    bb = load_backbone("sd14", str(twin), device=dev)  # fp32 U-Net, as the notebooks train it
    loaded = time.time() - t0
    n_params = {k: sum(p.numel() for p in m.parameters()) for k, m in
                (("unet", bb.unet), ("text_encoder", bb.text_encoder), ("vae", bb.vae))}
    half = torch.bfloat16 if cuda else torch.float32
    for m in (bb.text_encoder, bb.vae):  # frozen parts in half precision on the GPU
        m.to(dtype=half)
    prompts = [f"a photo of a church in the rain, oil painting number {i}" for i in range(8)]  # distinct: no cache hits
    lat = bb.resolution // 8
    g = torch.Generator(device="cpu").manual_seed(0)
    results = []

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def measure(name, fn, unit, note=""):
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
        row = {"unit": name, "per": unit, "seconds": statistics.median(secs), "flops": fc.get_total_flops(),
               "peak_gb": round(peak, 2), "peak_kind": "cuda max allocated" if cuda else "process peak RSS so far",
               "note": note}
        results.append(row)
        print(f"{name:28s} {row['seconds']:8.3f} s  {row['flops'] / 1e12:8.3f} TFLOP  peak {row['peak_gb']:6.2f} GB  {note}",
              flush=True)

    with torch.no_grad():
        cond = encode_text(bb, prompts[:1]).to(dev)
    ac = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda)

    def text_encode():
        bb.text_cache.clear()  # encode_text caches per prompt: measure the encoder, not the cache
        with torch.no_grad(), ac:
            encode_text(bb, prompts)

    def unet_cfg_step():  # one sampling step of one image with classifier-free guidance: a batch of 2
        x = torch.randn(2, 4, lat, lat, generator=g).to(dev)
        c = torch.cat([cond, cond])
        with torch.no_grad(), ac:
            predict_noise(bb, x, torch.tensor([500, 500], device=dev), c)

    def vae_decode():
        z = torch.randn(1, 4, lat, lat, generator=g).to(dev, half)
        with torch.no_grad(), ac:
            from_latents(bb, z)

    def vae_encode():  # a new image each call: the encoder, not to_latents' cache
        x = torch.rand(1, 3, bb.resolution, bb.resolution, generator=g).to(dev) * 2 - 1
        with torch.no_grad(), ac:
            to_latents(bb, x, g)

    x_fixed = torch.rand(1, 3, bb.resolution, bb.resolution, generator=g).to(dev) * 2 - 1

    def train_step(params):
        for p in bb.unet.parameters():
            p.requires_grad_(False)
        for p in params:
            p.requires_grad_(True)

        def step():
            x0 = x_fixed  # a training set's image: encoded once (in the warm-up), then its posterior is cached
            with ac:
                loss = diffusion_loss(bb, x0, cond, g)
            loss.backward()
            for p in params:
                p.grad = None
        return step

    xattn = [p for n, p in bb.unet.named_parameters() if "attn2" in n]
    measure("text_encode", text_encode, "8 prompts")
    measure("unet_cfg_sampling_step", unet_cfg_step, "1 image, 1 sampler step (CFG: batch 2)")
    measure("vae_decode", vae_decode, "1 image 512x512")
    measure("vae_encode", vae_encode, "1 image 512x512 (once per distinct training image)")
    measure("train_step_xattn", train_step(xattn), "1 image, latents cached (ESD-x, MACE LoRA region)",
            f"{sum(p.numel() for p in xattn) / 1e6:.0f} M trainable")
    bb.unet.enable_gradient_checkpointing()
    bb.unet.train()
    measure("train_step_full_ckpt", train_step(list(bb.unet.parameters())), "1 image (whole U-Net)",
            "gradient checkpointing on")
    bb.unet.disable_gradient_checkpointing()
    measure("train_step_full", train_step(list(bb.unet.parameters())), "1 image, latents cached (whole U-Net)", "no checkpointing")
    bb.unet.eval()

    out = {
        "device": a.device, "threads": a.threads, "torch": torch.__version__, "host": platform.node(),
        "cpu": platform.processor() or platform.machine(),
        "gpu": torch.cuda.get_device_name() if cuda else None,
        "twin": {"folder": str(twin), "build_seconds": round(built, 1), "load_seconds": round(loaded, 1),
                 "parameters": n_params, "resolution": bb.resolution},
        "units": results,
        "note": "full-size twin of SD v1.4 (random weights): mechanics, memory and cost only, never quality",
    }
    path = Path(a.out or ROOT / "benchmarks" / "results" / f"sd14_twin_{a.device.split(':')[0]}.json")
    if a.skip and path.exists():  # keep the earlier measurement of each skipped unit
        done = {r["unit"] for r in results}
        out["units"] += [dict(r, note=(r["note"] + " (earlier run)").strip()) for r in json.loads(path.read_text())["units"]
                         if r["unit"] in a.skip.split(",") and r["unit"] not in done]
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"== {path}")


if __name__ == "__main__":
    main()
