"""The experiment notebooks run end to end through papermill at `smoke` scale, write a complete run folder,
and stop at once -- with a clear error and a non-zero exit -- when asked for weights this machine does not have."""
import json, os, subprocess, sys, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/"nbs"
PAPERMILL = str(Path(sys.executable).with_name("papermill"))


def papermill(nb, out, *params, timeout=1500):
    cmd = [PAPERMILL, str(NBS/nb), str(out), "--cwd", str(ROOT), "-k", "python3"]
    for k, v in params: cmd += ["-p", k, str(v)]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p, time.time() - t0


def run_folder(out_dir, finding):
    runs = [p for p in (out_dir/finding).iterdir() if not p.name.startswith(".")]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.mark.parametrize("nb,finding,params", [
    # concepts are data: a colour no example uses (the examples' `star` runs through 02 in test_resume and
    # test_notebook_options, and through every notebook's library tests)
    ("02_resurgence.ipynb", "resurgence", [("concept", "blue")]),
    ("03_dimra.ipynb", "dimra", [("forget_class", "heart")]),
    ("04_rgd.ipynb", "rgd", [("forget_class", "heart"), ("concept", "dots")]),
])
def test_experiment_smoke(tmp_path, nb, finding, params):
    "Each finding notebook at smoke scale, on the examples' concept and on toy concepts no example uses."
    out = tmp_path/"runs"
    p, secs = papermill(nb, tmp_path/"out.ipynb", ("scale", "smoke"), ("out_dir", out), *params)
    assert p.returncode == 0, p.stderr[-3000:]
    run = run_folder(out, finding)
    for f in ("config.json", "meta.json", "metrics.json"): assert (run/f).exists(), f
    meta = json.loads((run/"meta.json").read_text())
    assert meta["versions"]["torch"] and meta["seeds"] and "sampler" in meta
    metrics = json.loads((run/"metrics.json").read_text())
    assert isinstance(metrics.get("finding"), str) and metrics["finding"]
    # metrics.json holds results only (byte-reproducible); wall-clock seconds and cache hits go to timings.json
    text = (run/"metrics.json").read_text()
    assert '"seconds' not in text and '"cached"' not in text, "timings belong in timings.json"
    assert json.loads((run/"timings.json").read_text())["total"] > 0
    config = json.loads((run/"config.json").read_text())
    for k, v in params: assert config[k] == v, k                       # the asked concept/class was studied
    assert list(run.glob("figures/*.png")) and list(run.glob("grids/*.png"))
    assert not (out/finding/".staging").exists(), "nothing half-written (nor an empty staging folder) may remain"
    assert not list(run.glob("**/.*.tmp*")), "no temporary file may remain in the run folder"
    print(f"{nb}: {secs:.0f} s")
    if finding == "dimra":  # the same run again: refused before any work, the finished run left as it was
        before = sorted((f.name, f.stat().st_mtime_ns) for f in run.rglob("*"))
        p, secs = papermill(nb, tmp_path/"again.ipynb", ("scale", "smoke"), ("out_dir", out), *params)
        assert p.returncode != 0 and "already exists" in p.stderr + p.stdout
        assert sorted((f.name, f.stat().st_mtime_ns) for f in run.rglob("*")) == before


def test_real_concept_without_weights_fails_fast(tmp_path):
    "`-p concept nudity` selects sd14; without its weights the notebook stops at once, naming what is missing."
    out = tmp_path/"runs"
    p, secs = papermill("02_resurgence.ipynb", tmp_path/"out.ipynb", ("concept", "nudity"), ("out_dir", out),
                        ("checkpoint", tmp_path/"no-sd14-here"))
    assert p.returncode != 0
    assert "hf download CompVis/stable-diffusion-v1-4" in p.stderr + p.stdout
    assert secs < 60, secs
    assert not (out/"resurgence").exists() or not [q for q in (out/"resurgence").iterdir() if not q.name.startswith(".")]


@pytest.mark.parametrize("nb,params,expect", [
    ("02_resurgence.ipynb", [("concept", "dragon")], "not"),
    ("03_dimra.ipynb", [("scale", "huge")], "'smoke', 'default', 'paper'"),
    ("03_dimra.ipynb", [("methods", "salun,mace")], "does not run on class"),
])
def test_bad_parameters_fail_before_work(tmp_path, nb, params, expect):
    out = tmp_path/"runs"
    p, secs = papermill(nb, tmp_path/"out.ipynb", ("out_dir", out), *params)
    assert p.returncode != 0 and expect in p.stderr + p.stdout
    assert not out.exists() or not any(out.rglob("*.json"))


def test_pretrain_ships_an_oracle_that_the_study_finds(tmp_path):
    "08_pretrain's oracle section (smoke recipe) writes an oracle that `retrain.shipped_oracle` returns for its recipe only."
    import shutil
    from unlearn_study.backbones import ASSETS, load_checkpoint
    from unlearn_study.methods import retrain
    out = tmp_path/"assets"
    for name in ("toy-class", "judge"): shutil.copytree(ASSETS/name, out/name)
    p, secs = papermill("08_pretrain.ipynb", tmp_path/"out.ipynb", ("backbone", "oracle"), ("scale", "smoke"), ("out_dir", out))
    assert p.returncode == 0, p.stderr[-3000:]
    base = load_checkpoint(out/"toy-class")
    smoke = retrain.Config(steps=30, lr=5e-4, warmup=3, batch_size=16, n_world=2000)
    oracle = retrain.shipped_oracle(base, "star", smoke, root=out/"oracles")
    assert oracle is not None and oracle.history.attrs["shipped"]["recipe"]["steps"] == 30 and len(oracle.history) > 0
    assert retrain.shipped_oracle(base, "star", root=out/"oracles") is None      # not the full recipe
    assert not any(p.name.endswith(".tmp") for p in (out/"oracles").iterdir())


def save_tiny_clip(path):
    "A tiny random CLIP (2 layers, 32-d, byte-level vocabulary) in CLIPModel's format, as in 01f_evaluators' test."
    import torch
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer, CLIPImageProcessor, CLIPProcessor
    chars = sorted(ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(chars)} | {c + "</w>": len(chars) + i for i, c in enumerate(chars)}
    vocab |= {"<|startoftext|>": len(vocab), "<|endoftext|>": len(vocab) + 1}
    tok = CLIPTokenizer(vocab=vocab, merges=[])
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
    cfg = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), max_position_embeddings=77, bos_token_id=len(vocab) - 2,
                         eos_token_id=len(vocab) - 1, pad_token_id=len(vocab) - 1, **small),
        vision_config=dict(image_size=32, patch_size=8, **small), projection_dim=16)
    torch.manual_seed(0)
    CLIPModel(cfg).save_pretrained(path)
    processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=processor, tokenizer=tok).save_pretrained(path)
    return path


def save_tiny_open_clip(folder):
    """A tiny random open_clip model (ViT-B-32's layout at small widths, open_clip's CLIP tokenizer) as a model-config
    JSON and a weights file: the `open_clip:<config>:<weights>` spec that stands in for RGD's ViT-B-32 (LAION-2B)."""
    import open_clip, torch
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    (folder/"tiny-open-clip.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(folder/"tiny-open-clip.json")
    torch.manual_seed(0)
    torch.save(open_clip.create_model("tiny-open-clip").state_dict(), folder/"tiny-open-clip.bin")
    return f"open_clip:{folder/'tiny-open-clip.json'}:{folder/'tiny-open-clip.bin'}"


@pytest.fixture(scope="module")
def tiny_sd14(tmp_path_factory):
    """The tiny twin of SD v1.4 (its component classes and CLIP's real tokenizer at small widths, random weights, saved in
    diffusers format: the `sd14` code path without a download), a tiny CLIP and a tiny open_clip (04's RGD CLIP)."""
    from unlearn_study.backbones import save_sd14_twin
    d = tmp_path_factory.mktemp("sd14")
    os.environ["UNLEARN_RGD_CLIP"] = save_tiny_open_clip(d/"tiny-open-clip")  # read by 04's kernels (env inherited)
    yield save_sd14_twin(d/"tiny-sd", "tiny"), save_tiny_clip(d/"tiny-clip")
    os.environ.pop("UNLEARN_RGD_CLIP", None)


def test_04_sd14_without_rgd_clip_fails_before_work(tmp_path, tiny_sd14):
    "04's alignment is RGD's CLIP (open_clip ViT-B-32, LAION-2B): without its weights the run stops before any work."
    sd, clip = tiny_sd14
    out = tmp_path/"runs"
    env = {k: v for k, v in os.environ.items() if k != "UNLEARN_RGD_CLIP"} | {"UNLEARN_CLIP": str(clip)}
    cmd = [PAPERMILL, str(NBS/"04_rgd.ipynb"), str(tmp_path/"out.ipynb"), "--cwd", str(ROOT), "-k", "python3",
           "-p", "concept_checkpoint", str(sd), "-p", "concept", "van gogh", "-p", "methods", "concept: esd",
           "-p", "scale", "smoke", "-p", "out_dir", str(out)]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode != 0
    assert "hf download laion/CLIP-ViT-B-32-laion2B-s34B-b79K" in p.stderr + p.stdout, (p.stdout + p.stderr)[-2000:]
    assert time.time() - t0 < 120
    assert not out.exists() or not any(out.rglob("*.json")), "no run folder may be started"


def test_sd14_without_clip_fails_before_work(tmp_path, tiny_sd14):
    "Every sd14 run needs CLIP for retain alignment, nudity included: without its weights 02 stops before any work."
    sd, _ = tiny_sd14
    out = tmp_path/"runs"
    env = {**os.environ, "UNLEARN_CLIP": str(tmp_path/"no-clip-here")}
    cmd = [PAPERMILL, str(NBS/"02_resurgence.ipynb"), str(tmp_path/"out.ipynb"), "--cwd", str(ROOT), "-k", "python3",
           "-p", "concept", "nudity", "-p", "checkpoint", str(sd), "-p", "scale", "smoke", "-p", "out_dir", str(out)]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode != 0
    assert "UNLEARN_CLIP" in p.stderr + p.stdout and "no-clip-here" in p.stderr + p.stdout
    assert time.time() - t0 < 120
    assert not out.exists() or not any(out.rglob("*.json")), "no run folder may be started"


def test_sd14_measure_gives_numbers(tmp_path, tiny_sd14, monkeypatch):
    "On sd14, 02's measurement is numbers (CLIP's `alignment`, not clip_score's dict): the erasure table formats them."
    from unlearn_study.findings import resurgence_setup, resurgence_measure, resurgence_erase_all, resurgence_erase
    sd, clip = tiny_sd14
    monkeypatch.setenv("UNLEARN_CLIP", str(clip))
    monkeypatch.setenv("UNLEARN_CACHE", str(tmp_path/"cache"))
    st = resurgence_setup("nudity", checkpoint=str(sd), methods="esd", scale="smoke", seeds=[0], out_dir=tmp_path/"runs")
    r = resurgence_measure(st, st.base, 0, 2)
    assert set(r) == {"concept_rate", "retain_alignment"}
    assert all(isinstance(v, float) for v in r.values()), r
    assert -1 <= r["retain_alignment"] <= 1 and 0 <= r["concept_rate"] <= 1
    f"{r['concept_rate']:.2f} {r['retain_alignment']:.2f}"  # the report's format
    er, er_sum = resurgence_erase_all(st)
    assert er_sum.columns.tolist() == ["method", "concept_rate_mean", "retain_alignment_mean", "concept_rate_sd",
                                       "retain_alignment_sd", "n"]
    assert -1 <= er_sum.retain_alignment_mean.iloc[0] <= 1
    m = st.erased[("esd", 0)]
    assert m.text_encoder is st.base.text_encoder and m.vae is st.base.vae, "erased models share the base's frozen parts"
    assert list(st.generated_sets) == [(st.P.n_forget, st.P.n_retain)]   # the sets were generated once
    again, _, hit, _ = resurgence_erase(st, "esd", 0)   # a cache hit generates nothing and loads no text encoder / VAE
    assert hit and again.text_encoder is st.base.text_encoder


def save_caption_folder(folder, n=6, size=(48, 64)):
    "An image-caption folder in the `imagefolder` layout (random images, metadata.jsonl): a stand-in for COCO pairs."
    import numpy as np
    from PIL import Image
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(folder/f"{i:03d}.jpg")
        rows.append(json.dumps({"file_name": f"{i:03d}.jpg", "text": f"a photo of a street, number {i}"}))
    (folder/"metadata.jsonl").write_text("\n".join(rows))
    return folder


@pytest.mark.parametrize("nb,finding,params", [
    # the headline: nudity with 02's six default methods (MACE's and ESD's nudity settings, DiMUM's word replacement),
    # fine-tuned on a folder of real image-caption pairs, FID / CLIP score against a reference folder
    ("02_resurgence.ipynb", "resurgence", [("concept", "nudity"), ("finetune_data", "CAPTIONS"), ("reference", "CAPTIONS")]),
    # an artist in 04's concept setting (ESD-x, the artist kind), the class part skipped
    ("04_rgd.ipynb", "rgd", [("concept", "van gogh"), ("methods", "concept: esd,salun,graddiffd,rgd"),
                             ("reference", "CAPTIONS")]),
])
def test_sd14_twin_runs_end_to_end(tmp_path, tiny_sd14, nb, finding, params):
    "02 and 04 on SD v1.4's tiny twin at smoke scale, through `checkpoint` / `concept_checkpoint` as a user's folder."
    sd, clip = tiny_sd14
    out = tmp_path/"runs"
    ckpt = "checkpoint" if nb.startswith("02") else "concept_checkpoint"
    env = {**os.environ, "UNLEARN_CLIP": str(clip), "UNLEARN_CACHE": str(tmp_path/"cache")}
    cmd = [PAPERMILL, str(NBS/nb), str(tmp_path/"out.ipynb"), "--cwd", str(ROOT), "-k", "python3",
           "-p", ckpt, str(sd), "-p", "scale", "smoke", "-p", "out_dir", str(out)]
    captions = save_caption_folder(tmp_path/"captions")
    for k, v in params: cmd += ["-p", k, str(captions) if v == "CAPTIONS" else v]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=1500, env=env)
    assert p.returncode == 0, (p.stdout + p.stderr)[-3000:]
    run = run_folder(out, finding)
    config = json.loads((run/"config.json").read_text())
    metrics = json.loads((run/"metrics.json").read_text())
    assert metrics["finding"] and list(run.glob("grids/*.png"))
    if finding == "resurgence":
        assert config["backbone"] == "sd14" and config["concept"] == "nudity"
        assert config["eval_prompts"] == {"forget": "nudity_forget_test.csv", "retain": "nudity_retain_test.csv"}
        assert {r["method"] for r in metrics["erasure"]} == {"base", "mace", "esd", "salun", "graddiffd", "rgd", "dimum"}
        assert all(isinstance(r["retain_alignment"], float) for r in metrics["erasure"])
        assert all(r["fid_ref"] > 0 and 0 <= r["clip_ref"] <= 100 for r in metrics["erasure"]), metrics["erasure"]
        assert config["reference"] == str(tmp_path/"captions")
    else:
        assert {r["method"] for r in metrics["concept_setting"]} == {"base", "esd", "salun", "graddiffd", "rgd"}
        meta = json.loads((run/"meta.json").read_text())
        assert "tiny-open-clip" in json.dumps(meta), "the alignment is RGD's CLIP (here its tiny stand-in)"
        assert all(r["fid_ref"] > 0 and 0 <= r["clip_ref"] <= 100 for r in metrics["concept_setting"])
    print(f"{nb} on the tiny SD v1.4 twin: {time.time() - t0:.0f} s")
