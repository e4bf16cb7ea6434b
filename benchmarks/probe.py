"""The linear probe (issue 2's criterion for the default backbone): how well each demo attribute can be
read from w by a linear fit, per GAN, next to the estimators' own reading of the renders (the ceiling).
"""

from __future__ import annotations

import numpy as np

from benchmarks.driver import Setup
from benchmarks.models import held_out_rows, probe_gans
from benchmarks.registry import ProbeOptions, choices
from edit_core.checkpoint import load_checkpoint, load_generator
from edit_core.demo_catalog import ATTRIBUTES, render
from edit_core.estimators import estimate_attributes
from edit_core.metrics import attribute_probe
from edit_core.models import GENERATORS

PROBE_GOAL = 0.9  # issue 2: every attribute linearly readable from w of the default backbone


def run(o: ProbeOptions, s: Setup) -> dict:
    """Linear-probe R² (w -> attribute) of each GAN, next to the estimators' own R² on renders.

    The GANs are `o.gan`, or else one per backbone trained (resumed, reused) with params.model / gan on
    `o.train_images` demo renders (`benchmarks.models.probe_gans`).

    The estimators' R² against the renders' ground truth (held-out rows, at the model's resolution)
    is the ceiling: a probe cannot read an attribute more reliably than `estimate_attributes` measures it.
    """
    p, device = s.params, s.device
    gans = o.gan or probe_gans(o.workspace, p, choices(o.backbones, GENERATORS, "--backbones"), o.train_images,
                               device)
    rows = held_out_rows(o.test, p)
    ceilings: dict[int, dict[str, float]] = {}
    models = []
    for path in gans:
        ckpt = load_checkpoint(path, "cpu")
        G = load_generator(path, device)
        if G.resolution not in ceilings:
            estimated = estimate_attributes(render(rows, G.resolution))
            ceilings[G.resolution] = {a: float(np.corrcoef(estimated[a], rows[a])[0, 1] ** 2) for a in ATTRIBUTES}
        r2 = attribute_probe(G, estimate_attributes, o.train, o.test, seed=o.seed)
        batch = ckpt["train"]["batch_size"]
        models.append({"path": str(path), "config": ckpt["config"], "step": ckpt["step"], "batch_size": batch,
                       "images_seen": ckpt["step"] * batch, "r2": r2, "min_r2": min(r2.values()),
                       "meets_goal": min(r2.values()) >= PROBE_GOAL,
                       "estimator_r2_on_renders": ceilings[G.resolution]})
        print(f"{path} ({ckpt['config']['backbone']}, step {ckpt['step']}): "
              + " ".join(f"{k} {v:.3f}" for k, v in r2.items()))
    return {"goal": PROBE_GOAL, "models": models, "n_train": o.train, "n_test": o.test, "seed": o.seed,
            "train_images": None if o.gan else o.train_images}
