"""Projection quality (iGAN's encoder / optimize / hybrid table), on the demo catalog and Fashion-MNIST.

The three modes at the same number of optimization steps, and optimize again at the wall time hybrid
took (so hybrid's encoder pass is paid for in steps); each model on its own data and on the other's
(cross-category).
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.driver import Setup
from benchmarks.fashion_mnist import fashion_mnist_images
from benchmarks.models import (
    FmnistBudget,
    Models,
    demo_models,
    fmnist_models,
    held_out_rows,
    project_batched,
    project_kwargs,
)
from benchmarks.registry import ProjectionOptions
from benchmarks.timing import timed
from common.params import Params
from edit_core.demo_catalog import render


def run(o: ProjectionOptions, s: Setup) -> dict:
    """Reconstruction error of encoder / optimize / hybrid (iGAN), demo catalog + Fashion-MNIST, cross-category."""
    p, device = s.params, s.device
    budget = FmnistBudget(o.fmnist_resolution, o.fmnist_width, o.fmnist_train_images, o.fmnist_gan_steps,
                          o.fmnist_encoder_steps)
    demo = demo_models(o.workspace, p, device)
    t0 = time.perf_counter()
    fmnist = fmnist_models(o.workspace, p, budget, device)
    fmnist_train_s = time.perf_counter() - t0
    held_out = held_out_rows(o.images, p)
    data = {"demo": lambda r: render(held_out, r), "fmnist": lambda r: fashion_mnist_images("t10k", o.images, r)}
    settings = {}
    for model_name, m in (("demo", demo), ("fmnist", fmnist)):
        for data_name, make in data.items():
            settings[f"{model_name}_model_on_{data_name}"] = projection_table(m, make(m.G.resolution), p)
    main = settings["demo_model_on_demo"]
    return {**{k: main[k]["pixel"] for k in ("encoder", "optimize", "hybrid")},
            "optimize_equal_time": main["optimize_equal_time"]["pixel"],
            "steps": max(1, p.project.steps),
            "cross_category_ratio": {
                "demo_model": settings["demo_model_on_fmnist"]["hybrid"]["pixel"] / main["hybrid"]["pixel"],
                "fmnist_model": settings["fmnist_model_on_demo"]["hybrid"]["pixel"]
                / settings["fmnist_model_on_fmnist"]["hybrid"]["pixel"]},
            "error": "mean squared pixel error in [-1, 1] units (feature: the model's own D features)",
            "test_images": "demo: held-out rows (seed catalog.seed + 1000003); fmnist: first t10k images",
            "models": {"demo": demo.describe(), "fmnist": {**fmnist.describe(), "budget": vars(budget),
                                                           "train_s": fmnist_train_s}},
            "settings": settings}


def errors(m: Models, images: np.ndarray, batch_size: int, **kw: object) -> dict:
    """Projection of `images` with `kw`: mean ± std pixel MSE and feature distance, wall time."""
    result, seconds = timed(lambda: project_batched(m, images, batch_size, **kw))
    pix, feat = result.err_pixel.double(), result.err_feature.double()
    return {"pixel": float(pix.mean()), "pixel_std": float(pix.std()), "feature": float(feat.mean()),
            "time_s": seconds, "steps": 0 if kw.get("mode") == "encoder" else int(kw["steps"])}


def projection_table(m: Models, images: np.ndarray, params: Params) -> dict:
    """encoder / optimize / hybrid at params.project.steps, and optimize at hybrid's wall time."""
    kw = {**project_kwargs(params), "steps": max(1, params.project.steps)}
    bs = params.project.batch_size
    out = {"images": len(images), "resolution": m.G.resolution,
           "encoder": errors(m, images, bs, **{**kw, "mode": "encoder"}),
           "optimize": errors(m, images, bs, **{**kw, "mode": "optimize"}),
           "hybrid": errors(m, images, bs, **{**kw, "mode": "hybrid"})}
    per_step = out["optimize"]["time_s"] / kw["steps"]
    steps = max(1, round(out["hybrid"]["time_s"] / per_step))
    out["optimize_equal_time"] = errors(m, images, bs, **{**kw, "mode": "optimize", "steps": steps})
    return out
