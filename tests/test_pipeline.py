"ToyT2IPipeline: the shipped toy-t2i base as a diffusers pipeline gives `sample`'s pixels, also after save_pretrained/from_pretrained."
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from unlearn_study.core import StudyError
from unlearn_study.backbones import load_backbone, sample
from unlearn_study.pipeline import ToyT2IPipeline, as_pipeline, from_pipeline

PROMPTS, SEEDS, STEPS = ["a red star on a white background", "a blue ring on a black background"], [3, 7], 3
META = ("resolution", "max_length", "guidance", "sample_steps", "sampler", "source")


def generators(): return [torch.Generator().manual_seed(s) for s in SEEDS]
def as_uint8(images): return np.stack([np.asarray(im) for im in images])


def test_pipeline_matches_sample_and_survives_save_load(tmp_path):
    torch.set_num_threads(1)
    bb = load_backbone("toy-t2i")
    ref = sample(bb, PROMPTS, seeds=SEEDS, steps=STEPS)
    pipe = as_pipeline(bb)
    assert np.array_equal(as_uint8(pipe(PROMPTS, num_inference_steps=STEPS, generator=generators()).images), ref)

    pipe.save_pretrained(tmp_path/"pipe")
    loaded = ToyT2IPipeline.from_pretrained(tmp_path/"pipe")
    assert np.array_equal(as_uint8(loaded(PROMPTS, num_inference_steps=STEPS, generator=generators()).images), ref)
    out = loaded(PROMPTS, num_inference_steps=STEPS, seeds=SEEDS, output_type="np").images
    assert out.dtype == np.float32 and np.array_equal((out * 255).round().astype(np.uint8), ref)

    back = from_pipeline(loaded)
    assert {k: getattr(back, k) for k in META} == {k: getattr(bb, k) for k in META}
    assert np.array_equal(sample(back, PROMPTS, seeds=SEEDS, steps=STEPS), ref)


def test_as_pipeline_rejects_class_backbones():
    from unlearn_study.backbones import build_toy_class
    with pytest.raises(StudyError, match="class-conditional"): as_pipeline(build_toy_class(channels=(16, 16, 16)))
