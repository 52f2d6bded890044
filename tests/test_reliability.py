"""Runs that cannot lie or litter: a diverged model stops the run with a clear error instead of being scored, and a
run killed mid-way (SIGKILL: no cleanup code runs) leaves nothing that the next run keeps."""
import dataclasses, json, os, signal, subprocess, sys, time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from unlearn_study.core import DivergenceError
from unlearn_study.backbones import load_backbone
from unlearn_study.world import make_split
from unlearn_study.train import ImageData
from unlearn_study.methods.registry import run_method
from unlearn_study.attacks import dimra

ROOT = Path(__file__).resolve().parents[1]
PAPERMILL = str(Path(sys.executable).with_name("papermill"))


@pytest.fixture(scope="module")
def toy():
    return load_backbone("toy-class"), make_split("star", 16, 18, 9)


def test_unlearning_at_lr_1e3_diverges_and_is_not_scored(toy):
    "GradDiff at lr = 1e3 turned every weight non-finite and was scored UA 1.00 (black images); now it stops."
    bb, sp = toy
    with pytest.raises(DivergenceError, match=r"graddiff: training diverged at step \d+ of 30 .* lr=1000"):
        run_method("graddiff", bb, sp["forget"], sp["retain"], lr=1e3, steps=30)


def test_dimra_attack_at_lr_1e3_diverges_and_is_not_scored(toy):
    bb, sp = toy
    cfg = dataclasses.replace(dimra.default_config(bb), lr=1e3, steps=30)
    with pytest.raises(DivergenceError, match=r"training diverged at step \d+ of 30 .* lr=1000"):
        dimra.dimra(bb, ImageData.from_dataset(sp["aux"]), "star", cfg)


def _papermill(out_nb, out_dir, env):
    cmd = [PAPERMILL, str(ROOT / "nbs" / "03_dimra.ipynb"), str(out_nb), "--cwd", str(ROOT), "-k", "python3",
           "-p", "scale", "smoke", "-p", "out_dir", str(out_dir), "-p", "forget_class", "ring",
           "-p", "methods", "graddiff,dimum"]   # two cached models: the killed build, and one after it (not all six)
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)   # its own process group: the kernel is killed with it


def test_killed_run_leaves_nothing_behind(tmp_path):
    "SIGKILL a smoke run while it builds a cached model, rerun it: it completes and no staging/temporary folder remains."
    cache, out = tmp_path / "cache", tmp_path / "runs"
    env = {**os.environ, "UNLEARN_CACHE": str(cache)}
    p = _papermill(tmp_path / "killed.ipynb", out, env)
    t0 = time.time()
    while not list(cache.glob("*/.tmp-*")) and time.time() - t0 < 600 and p.poll() is None:
        time.sleep(0.5)   # wait until an unlearned model is being built into the cache
    assert p.poll() is None, "the run ended before it could be killed: " + p.stderr.read()[-2000:]
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    litter = list(cache.glob("*/.tmp-*")) + list((out / "dimra" / ".staging").glob("*"))
    assert litter, "the kill should have left a temporary cache entry and a staging folder"

    p2 = _papermill(tmp_path / "rerun.ipynb", out, env)
    _, err = p2.communicate(timeout=1500)
    assert p2.returncode == 0, err[-3000:]
    runs = [d for d in (out / "dimra").iterdir()]
    assert len(runs) == 1 and not runs[0].name.startswith("."), runs   # the run folder, and no .staging
    assert json.loads((runs[0] / "metrics.json").read_text())["finding"]
    assert not list(cache.glob("*/.tmp-*")), list(cache.glob("*/.tmp-*"))
    assert not [f for f in runs[0].rglob("*") if f.name in (".owner",) or f.name.endswith(".tmp")]


WRITER = """
import sys, time
from unlearn_study.core import RunDir, StudyError
out, lr, pause = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
try:
    with RunDir(out, "demo", {"lr": lr}) as run:
        for i in range(200):
            run.log_metrics(**{f"m{i}": i * lr})
            time.sleep(pause / 200)
    print("finished", run.final)
except StudyError as e:
    print("refused:", e)
"""


def test_concurrent_runs_into_one_out_dir_do_not_corrupt_each_other(tmp_path):
    "Two different runs and a duplicate of one, started at once into the same out_dir: two complete run folders."
    out = tmp_path / "runs"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(out), lr, "3"], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for lr in ("0.1", "0.2")]
    time.sleep(1.0)   # both are writing now; start a duplicate of the first
    dup = subprocess.run([sys.executable, "-c", WRITER, str(out), "0.1", "0"], cwd=ROOT, text=True,
                         capture_output=True, timeout=120)
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [r[1][-1500:] for r in results]
    assert all(r[0].startswith("finished") for r in results), results
    assert "refused: a run with the same configuration is being written by another process" in dup.stdout, dup
    runs = sorted(d for d in (out / "demo").iterdir())
    assert [d.name.startswith(".") for d in runs] == [False, False], runs   # no .staging left either
    for d, lr in zip(runs, sorted(runs)):
        metrics = json.loads((d / "metrics.json").read_text())
        config = json.loads((d / "config.json").read_text())
        assert len(metrics) == 200 and metrics["m199"] == 199 * config["lr"], (d, config)


def _netns_ok():
    "Can this machine run a command in a network namespace with only loopback up (unprivileged user namespaces)?"
    import shutil
    if not (shutil.which("unshare") and shutil.which("ip")):
        return False
    p = subprocess.run(["unshare", "-rn", "sh", "-c", "ip link set lo up"], capture_output=True)
    return p.returncode == 0


@pytest.mark.skipif(not _netns_ok(), reason="no unprivileged network namespaces here (unshare -rn failed)")
def test_smoke_run_needs_no_network(tmp_path):
    "03 at smoke scale in a network namespace with only loopback up (papermill talks to its kernel over 127.0.0.1)."
    out = tmp_path / "runs"
    probe = "import socket; socket.create_connection(('1.1.1.1', 443), timeout=3)"
    cmd = (f"ip link set lo up && ! {sys.executable} -c \"{probe}\" 2>/dev/null && "
           f"{PAPERMILL} {ROOT / 'nbs' / '03_dimra.ipynb'} {tmp_path / 'out.ipynb'} --cwd {ROOT} -k python3 "
           f"-p scale smoke -p methods graddiff -p forget_class heart -p out_dir {out}")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_OFFLINE")}   # nothing told to stay offline
    p = subprocess.run(["unshare", "-rn", "sh", "-c", cmd], env=env, capture_output=True, text=True, timeout=1500)
    assert p.returncode == 0, (p.stdout + p.stderr)[-3000:]
    runs = [d for d in (out / "dimra").iterdir()]
    assert len(runs) == 1 and json.loads((runs[0] / "metrics.json").read_text())["finding"]


def test_judge_training_at_huge_lr_diverges():
    "Pretraining loops are checked too: the toy judge's training at lr = 1e9 stops with the step and the rate."
    from unlearn_study.metrics import train_judge
    with pytest.raises(DivergenceError, match=r"judge: training diverged at step \d+ of 20 .* lr=1e\+09"):
        train_judge(n_images=64, steps=20, lr=1e9, batch_size=16)


@pytest.mark.parametrize("case,said", [
    ("one-folder", "gives no labelled images"),
    ("unreadable", "cannot identify image file"),
    ("wrong-size", "a.png is 64×64"),
])
def test_bad_image_folders_name_the_folder_or_file(tmp_path, case, said):
    "A CIFAR-10 image folder that cannot be used: a StudyError naming it or the bad file (was KeyError 'label')."
    from PIL import Image
    from unlearn_study.core import StudyError
    from unlearn_study.backbones import load_cifar10_data
    root = tmp_path / case
    for c in (["cat"] if case == "one-folder" else ["cat", "dog"]):
        (root / c).mkdir(parents=True)
        Image.new("RGB", (64, 64) if case == "wrong-size" else (32, 32)).save(root / c / "a.png")
    if case == "unreadable":
        (root / "cat" / "b.png").write_text("not a png")
    with pytest.raises(StudyError, match=said):
        load_cifar10_data(str(root))
