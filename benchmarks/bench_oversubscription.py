"""Does running more 1-thread processes than CPU cores cost CPU time? The study's unit of work (one toy attack: a
fine-tune at batch 16, then 12 samples at 10 DDIM steps, on toy-class and on toy-t2i), run as `cores` processes at a
time and as 2 × `cores`, in interleaved rounds (a shared host's speed drifts), reporting the CPU-seconds each process
used for the same work.

    python benchmarks/bench_oversubscription.py [--rounds 3] [--steps 40] [--cores N] [--out FILE.json]

`scripts/study.sh` runs as many notebooks at a time as there are cores (JOBS) because of this measurement.
"""
import argparse, json, os, statistics, subprocess, sys, time

WORK = """
import dataclasses, json, sys, time
from unlearn_study.core import set_threads
from unlearn_study.backbones import load_backbone, sample
from unlearn_study.attacks.finetune import finetune, default_config, benign_data
set_threads(1)
name, steps, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
bb = load_backbone(name)
data = benign_data("star", "random", n=256, seed=0, res=bb.resolution)
cfg = dataclasses.replace(default_config(bb), steps=steps, batch_size=16, eval_every=10_000)
cond = [0] * 12 if bb.kind == "class" else ["a star"] * 12
finetune(bb, data, dataclasses.replace(cfg, steps=3))  # warm-up
c0, w0 = time.process_time(), time.time()
for _ in range(repeats):
    m, _ = finetune(bb, data, cfg)
    sample(m, cond, seeds=list(range(12)), steps=10)
print(json.dumps({"backbone": name, "cpu_s": time.process_time() - c0, "wall_s": time.time() - w0}))
"""
# the two workloads take about as long: 5 toy-class attacks, 3 toy-t2i attacks
UNITS = (("toy-class", 5), ("toy-t2i", 3))


def run_batch(n_procs: int, steps: int) -> dict:
    "n_procs processes at once (half of each workload); CPU-seconds per workload, summed over its processes."
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    procs = [
        subprocess.Popen([sys.executable, "-c", WORK, UNITS[i % 2][0], str(steps), str(UNITS[i % 2][1])],
                         stdout=subprocess.PIPE, text=True, env=env)
        for i in range(n_procs)
    ]
    t0 = time.time()
    rows = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit("a worker failed")
    sets = n_procs / 2  # one set = one process of each workload
    return {"processes": n_procs, "wall_s": round(time.time() - t0, 1),
            "cpu_s_per_set": round(sum(r["cpu_s"] for r in rows) / sets, 1)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--cores", type=int, default=os.cpu_count())
    p.add_argument("--out", default="benchmarks/results/oversubscription.json")
    a = p.parse_args()
    rounds = []
    for r in range(a.rounds):
        one = run_batch(a.cores, a.steps)
        two = run_batch(2 * a.cores, a.steps)
        extra = round(two["cpu_s_per_set"] / one["cpu_s_per_set"] - 1, 3)
        rounds.append({"cores": one, "twice_cores": two, "extra_cpu": extra})
        print(f"round {r}: {one} | {two} | extra CPU {extra:+.1%}", flush=True)
    extras = [x["extra_cpu"] for x in rounds]
    res = {"cores": a.cores, "steps": a.steps, "units": dict(UNITS), "rounds": rounds,
           "extra_cpu_median": statistics.median(extras), "extra_cpu_range": [min(extras), max(extras)]}
    from unlearn_study.core import write_json, environment_info
    import torch

    res["environment"] = environment_info(torch.device("cpu"))
    write_json(a.out, res)
    print(f"{2 * a.cores} processes on {a.cores} cores used {statistics.median(extras):+.1%} CPU-seconds (median; "
          f"range {min(extras):+.1%} to {max(extras):+.1%}) for the same work as {a.cores}")


if __name__ == "__main__":
    main()
