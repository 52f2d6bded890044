"""Tiny labelled image folders for the tests (the `datasets` imagefolder layout: one sub-folder of PNGs per class)."""
import numpy as np


def class_folder(root, colours:dict, n_per_class:int, rng, size=(10, 20), noise:float=10.0):
    "One sub-folder of 32×32 PNGs per class in `colours` (name -> RGB): a square of that colour on a dark noisy background."
    from PIL import Image
    for name, rgb in colours.items():
        (root/name).mkdir(parents=True)
        for i in range(n_per_class):
            im = np.full((32, 32, 3), rng.integers(0, 60, 3), np.int64)
            s = int(rng.integers(*size)); y, x = rng.integers(0, 32 - s, 2)
            im[y:y + s, x:x + s] = rgb
            Image.fromarray(np.clip(im + rng.normal(0, noise, im.shape), 0, 255).astype(np.uint8)).save(root/name/f"{i}.png")
    return root
