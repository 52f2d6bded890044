"""Does keeping freed memory (`core.keep_freed_memory`, glibc's `mallopt`) save CPU time, and are the numbers the
same? Each round runs, in fresh 1-thread processes, one process with glibc's defaults and one with freed memory kept,
on toy-class and on toy-t2i: a fine-tune (batch 8, the toy attacks' batch) and then sampling (10 DDIM steps, the
evaluations' batch), timing each stage in CPU-seconds (user and system) and counting page faults. Rounds alternate
which process goes first (a shared host's speed drifts); medians are reported. The trained weights and the images
must be bit-identical between the two: the setting changes where memory comes from, not what is computed.

    python benchmarks/bench_malloc.py [--rounds 4] [--steps 80] [--out benchmarks/results/malloc.json]
"""
import argparse, json, os, statistics, subprocess, sys, time

from unlearn_study.core import write_json

WORK = """
import dataclasses, hashlib, json, resource, sys
from unlearn_study.core import set_threads, keep_freed_memory
from unlearn_study.backbones import load_backbone, sample
from unlearn_study.attacks.finetune import finetune, default_config, benign_data
set_threads(1)
name, steps, how = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if how == "kept":
    assert keep_freed_memory(), "this C library has no mallopt"
bb = load_backbone(name)
data = benign_data("star", "random", n=256, seed=0, res=bb.resolution)
cfg = dataclasses.replace(default_config(bb), steps=steps, batch_size=8, eval_every=10_000, seed=0)
cond = [bb.class_names[i % len(bb.class_names)] for i in range(256)] if bb.kind == "class" else ["a red star"] * 128
usage = lambda: resource.getrusage(resource.RUSAGE_SELF)
r0 = usage(); m, _ = finetune(bb, data, cfg); r1 = usage()
images = sample(m, cond, seeds=list(range(len(cond))), steps=10); r2 = usage()
weights = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in m.unet.parameters())).hexdigest()[:16]
stage = lambda a, b: {"user_s": b.ru_utime - a.ru_utime, "sys_s": b.ru_stime - a.ru_stime,
                      "page_faults": b.ru_minflt - a.ru_minflt}
print(json.dumps({"train": stage(r0, r1), "sample": stage(r1, r2), "weights": weights,
                  "images": hashlib.sha256(images.tobytes()).hexdigest()[:16], "max_rss_mb": r2.ru_maxrss // 1024}))
"""
HOWS = ("default", "kept")


def run(backbone: str, steps: int, how: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", WORK, backbone, str(steps), how], capture_output=True, text=True,
                         env=env, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--steps", type=int, default=80, help="fine-tuning steps per process")
    p.add_argument("--out", default="benchmarks/results/malloc.json")
    a = p.parse_args()
    res = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(), "steps": a.steps,
           "rounds": a.rounds, "backbones": {}}
    for backbone in ("toy-class", "toy-t2i"):
        runs = {how: [] for how in HOWS}
        for r in range(a.rounds):
            for how in (HOWS if r % 2 == 0 else HOWS[::-1]):
                runs[how].append(run(backbone, a.steps, how))
        same = all(len({x[k] for how in HOWS for x in runs[how]}) == 1 for k in ("weights", "images"))
        summary = {}
        for how in HOWS:
            med = lambda stage, key: statistics.median(x[stage][key] for x in runs[how])
            summary[how] = {
                stage: {"cpu_s": round(statistics.median(x[stage]["user_s"] + x[stage]["sys_s"] for x in runs[how]), 3),
                        "sys_s": round(med(stage, "sys_s"), 3), "page_faults": int(med(stage, "page_faults"))}
                for stage in ("train", "sample")
            }
            summary[how]["max_rss_mb"] = max(x["max_rss_mb"] for x in runs[how])
        saved = {stage: round(1 - summary["kept"][stage]["cpu_s"] / summary["default"][stage]["cpu_s"], 3)
                 for stage in ("train", "sample")}
        res["backbones"][backbone] = {**summary, "cpu_saved": saved, "bit_identical": same, "runs": runs}
        print(f"{backbone}: CPU-seconds saved: training {saved['train']:.1%}, sampling {saved['sample']:.1%}; "
              f"page faults {summary['default']['train']['page_faults']} -> {summary['kept']['train']['page_faults']} "
              f"(training); weights and images bit-identical: {same}", flush=True)
    write_json(a.out, res)
