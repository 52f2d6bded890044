"""Integration test: the unmodified pytorch-fid CLI runs offline on weights built by `ensure_fid_weights`,
and agrees with `evaluators.fid` (in-memory arrays) and `evaluators.fid_from_dirs` on the same images."""
import math, os, re, subprocess, sys, time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytorch_fid")
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from unlearn_study import evaluators as ev


def _images(seed, n=12, size=32):
    "Smooth random colour fields (a) or the same plus strong noise (b): two clearly different sets."
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        c = rng.uniform(0, 1, (3, 3))
        img = np.stack([c[k, 0] + c[k, 1] * xx + c[k, 2] * yy for k in range(3)], -1)
        out.append(np.clip(img / img.max() * 255, 0, 255).astype(np.uint8))
    return np.stack(out)


@pytest.mark.slow  # ~70 s on one thread: three 2048-d sqrtm of ~12 s each, plus two Inception passes
def test_pytorch_fid_cli_matches_fid(tmp_path, monkeypatch):
    torch_home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(torch_home))  # in-process fid() uses the same (temporary) weights
    w = ev.ensure_fid_weights(torch_home)
    assert w == torch_home / "hub" / "checkpoints" / ev.FID_WEIGHTS_FILE and w.stat().st_size > 90e6

    a = _images(0)
    rng = np.random.default_rng(1)
    b = np.clip(_images(1).astype(int) + rng.integers(-80, 80, a.shape), 0, 255).astype(np.uint8)
    dirs = []
    for name, imgs in (("a", a), ("b", b)):
        d = tmp_path / name; d.mkdir()
        for i, img in enumerate(imgs): Image.fromarray(img).save(d / f"{i:03d}.png")
        dirs.append(d)

    env = {**os.environ, "TORCH_HOME": str(torch_home), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "CUDA_VISIBLE_DEVICES": ""}
    t0 = time.time()
    res = subprocess.run([sys.executable, "-m", "pytorch_fid", str(dirs[0]), str(dirs[1]),
                          "--device", "cpu", "--num-workers", "0"],
                         env=env, capture_output=True, text=True, timeout=300)
    t_cli = time.time() - t0
    assert res.returncode == 0, res.stderr[-3000:]
    m = re.search(r"FID:\s+(\S+)", res.stdout)
    assert m, res.stdout
    fid_cli = float(m.group(1))
    assert math.isfinite(fid_cli) and fid_cli > 0

    t0 = time.time(); fid_mem = ev.fid(a, b); t_mem = time.time() - t0
    t0 = time.time(); fid_dirs = ev.fid_from_dirs(dirs[0], dirs[1]); t_dirs = time.time() - t0
    print(f"\nFID: CLI {fid_cli:.6f} ({t_cli:.1f}s), fid() {fid_mem:.6f} ({t_mem:.1f}s), "
          f"fid_from_dirs {fid_dirs:.6f} ({t_dirs:.1f}s); rel diff {abs(fid_mem - fid_cli) / fid_cli:.2e}")
    assert fid_mem == pytest.approx(fid_cli, rel=1e-3)
    assert fid_dirs == pytest.approx(fid_cli, rel=1e-3)
