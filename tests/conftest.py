"""Test-wide settings: offline, one CPU thread, and a fresh cache per session.

Set at import time (before any test module imports torch or huggingface_hub), so they also reach the
subprocesses tests start (papermill kernels, pip, nbdev)."""
import os, shutil, tempfile

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["UNLEARN_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["MPLBACKEND"] = "Agg"
# A cache nobody else writes to: pretrained toy models, unlearned weights ... are rebuilt once per session.
# pytest-xdist workers inherit the controller's (this module runs there first) and share it: a model one worker built
# is not rebuilt by the other (entries are written atomically under a lock, `core.cached`). Tests that need an empty
# cache make their own.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
_INHERITED = os.environ.get("UNLEARN_CACHE") if _WORKER else None
_CACHE = _INHERITED if _INHERITED and os.path.basename(_INHERITED).startswith("unlearn_cache_") else tempfile.mkdtemp(prefix="unlearn_cache_")
os.environ["UNLEARN_CACHE"] = _CACHE

try:
    import torch
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
except (ImportError, RuntimeError):  # the packaging checks do not need torch
    pass


def pytest_report_header(config):
    return f"UNLEARN_CACHE={_CACHE} HF_HUB_OFFLINE=1 UNLEARN_THREADS=1"


def pytest_unconfigure(config):
    if not _WORKER:  # the controller (or a run without xdist) owns the cache; workers leave it to it
        shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Tests marked `xdist_group` share an expensive fixture (the docs site, the CIFAR-10 world, the wheel) and must run
    on one worker: xdist's `--dist loadgroup` marks them by suffixing their ids with `@group`. pytest 9 silently broke
    that (each worker built its own site); stop instead of paying for it again."""
    if not (_WORKER and config.getvalue("loadgroup")):
        return
    lost = [i.nodeid for i in items if i.get_closest_marker("xdist_group") and "@" not in i.nodeid]
    if lost:
        raise pytest.UsageError(
            f"pytest-xdist's loadgroup did not group {len(lost)} tests (e.g. {lost[0]}): this pytest/pytest-xdist pair "
            "does not support it; install them with -c constraints.txt (pytest<9)"
        )
