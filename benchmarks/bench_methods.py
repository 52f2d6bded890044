"""Time every unlearning method at its toy-world default scale and record forget/retain numbers.

    python benchmarks/bench_methods.py [--methods salun,rgd] [--n-eval 50] [--out benchmarks/results/methods.json]

Class methods forget `star` from the shipped toy-class base (UA/RA by the judge, n-eval samples per class);
text methods erase `star` from the shipped toy-t2i base (concept rate on prompts asking for a star, alignment on
the others). One CPU thread per process (UNLEARN_THREADS); the target is <= 2 min per method. `retrain` is the
exact-unlearning oracle, the whole base recipe: for the class with a shipped oracle (star) the row times loading it
and records its measured training time (`train_seconds`); otherwise it is skipped."""
import argparse, json, os, time
from pathlib import Path
import torch
from unlearn_study.core import set_seed, set_threads, write_json, environment_info
from unlearn_study.backbones import load_backbone
from unlearn_study.world import make_split
from unlearn_study.train import ImageData
from unlearn_study.metrics import load_judge, eval_class_model, eval_concept
from unlearn_study.methods.registry import method_names, method_config, run_method
from unlearn_study.methods import retrain

p = argparse.ArgumentParser()
p.add_argument("--methods", default=",".join(method_names()))
p.add_argument("--n-eval", type=int, default=50)
p.add_argument("--concept", default="star")
p.add_argument("--out", default="benchmarks/results/methods.json")
a = p.parse_args()
threads = set_threads(); judge = load_judge()
out = Path(a.out); results = json.loads(out.read_text()) if out.exists() else {}
bases = {"class": load_backbone("toy-class"), "text": load_backbone("toy-t2i")}
base_eval = {"class": eval_class_model(bases["class"], judge, forget=a.concept, n_per_class=a.n_eval, seed=7),
             "text": eval_concept(bases["text"], judge, a.concept, n=a.n_eval * 2, seed=7)}
for m in [x.strip() for x in a.methods.split(",") if x.strip()]:
    for kind in ("class", "text"):
        if m not in method_names(kind): continue
        base = bases[kind]; set_seed(0)
        split = make_split(a.concept, 256, 450, 8, seed=0, res=base.resolution)
        cfg = method_config(m, base)
        over = {k: v for k, v in {"concept": a.concept, "concepts": [a.concept], "anchor": "shape", "anchors": ["shape"]}.items()
                if k in cfg.__dataclass_fields__}
        cfg = method_config(m, base, **over)
        t0 = time.perf_counter()
        extra = {}
        if m == "retrain" and kind == "class" and (shipped := retrain.shipped_oracle(base, a.concept)) is not None:
            # the oracle is the full base recipe (pretraining length, not a 2-minute method): the study loads the one
            # 08_pretrain trained and shipped for this class; its training time is the recorded one
            model, secs, cfg = shipped, time.perf_counter() - t0, method_config(m, base)
            info = shipped.history.attrs["shipped"]
            extra = {"shipped": True, "train_seconds": info["train_seconds"], "train_steps": info["recipe"]["steps"]}
        elif m == "retrain":
            print(f"{m:10s} {base.name:9s} skipped: no shipped oracle; its toy default is the full base recipe "
                  f"({cfg.steps} steps, pretraining time)", flush=True); continue
        else:
            model = run_method(m, base, ImageData.from_dataset(split["forget"]), ImageData.from_dataset(split["retain"]), cfg)
            secs = time.perf_counter() - t0
        if kind == "class":
            ev = eval_class_model(model, judge, forget=a.concept, n_per_class=a.n_eval, seed=7)
            row = {"UA": ev["UA"], "RA": ev["RA"], "base_UA": base_eval["class"]["UA"], "base_RA": base_eval["class"]["RA"]}
        else:
            ev = eval_concept(model, judge, a.concept, n=a.n_eval * 2, seed=7)
            row = {"concept_rate": ev["concept_rate"], "retain_alignment": ev["retain_alignment"],
                   "base_concept_rate": base_eval["text"]["concept_rate"], "base_retain_alignment": base_eval["text"]["retain_alignment"]}
        results[f"{m}[{kind}]"] = {"method": m, "backbone": base.name, "seconds": secs, "threads": threads, **row, **extra,
                                   "config": {k: (v if isinstance(v, (int, float, str, bool, type(None), list)) else str(v)) for k, v in cfg.__dict__.items()}}
        print(f"{m:10s} {base.name:9s} {secs:6.1f} s  " + "  ".join(f"{k} {v:.2f}" for k, v in row.items()), flush=True)
        write_json(out, results)
write_json(out.with_name("methods_environment.json"), environment_info("cpu"))
