"""Projection quality (iGAN's encoder / optimize / hybrid table) and speed (Edit One for All Table 1).

Projection: the three modes at the same number of optimization steps, and optimize again at the wall
time hybrid took (so hybrid's encoder pass is paid for in steps). Speed: the stages of one edit,
batched vs per-image projection, the catalog-size scaling of α + rendering and of projection, and
the fraction of this machine's measured matmul rate that projection achieves (FLOPs counted with
torch's FlopCounterMode).
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from common.params import Params
from edit_core.alphas import apply_alphas, closed_form_alphas, example_target, unit_normal
from edit_core.imageops import to_tensor
from edit_core.project import project
from oneedit.bench_models import Models, project_batched, project_kwargs


def timed(fn: Callable[[], object], clock: Callable[[], float] = time.perf_counter) -> tuple[object, float]:
    """(result, seconds of `clock`) of fn(): wall time by default; time.process_time for CPU time (all threads),
    which a loaded machine does not inflate."""
    start = clock()
    out = fn()
    return out, clock() - start


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


def matmul_gflops(size: int = 1024, reps: int = 10, rounds: int = 5,
                  clock: Callable[[], float] = time.perf_counter) -> float:
    """Median float32 matmul rate of this machine (GFLOP/s) with the current torch thread setting, per second
    of `clock` (wall by default; per CPU-second with time.process_time)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    rates = []
    for _ in range(rounds):
        _, seconds = timed(lambda: [a @ b for _ in range(reps)], clock)
        rates.append(2 * size**3 * reps / seconds / 1e9)
    return statistics.median(rates)


def projection_flops_per_img_step(m: Models, params: Params, batch: int = 8) -> float:
    """FLOPs of one projection step per image: G forward + features + backward to w (FlopCounterMode)."""
    x = torch.zeros(batch, 3, m.G.resolution, m.G.resolution, device=m.G.device)
    w = m.G.mean_w().expand(batch, -1).clone().requires_grad_(True)
    with FlopCounterMode(display=False) as counter:
        recon = m.G.synthesis(w)
        loss = (recon - x).pow(2).sum()
        if params.project.feature_weight > 0:
            loss = loss + sum(f.pow(2).sum() for f in m.features(recon))
        loss.backward()
    return counter.get_total_flops() / batch


def img_steps_per_s(m: Models, images: np.ndarray, steps: int, params: Params, batched: bool,
                    clock: Callable[[], float] = time.perf_counter) -> float:
    """Projection throughput (images·steps per second of `clock`): one batch, or one image at a time."""
    kw = {**project_kwargs(params), "steps": steps, "mode": "optimize"}
    x = to_tensor(images, m.G.device)
    if batched:
        _, seconds = timed(lambda: project(m.G, x, encoder=m.E, features=m.features, **kw), clock)
    else:
        _, seconds = timed(lambda: [project(m.G, x[i : i + 1], encoder=m.E, features=m.features, **kw)
                                    for i in range(len(x))], clock)
    return len(images) * steps / seconds


def alpha_render_seconds(m: Models, n_images: int, strength: float, batch_size: int = 256) -> dict:
    """α for n latents and G renders of the edited latents (sampled from G; cost does not depend on values)."""
    w = m.G.sample_w(n_images, seed=1)
    w0, delta = w[0], w[1] - w[0]
    n = unit_normal(delta)
    a, t_alpha = timed(lambda: closed_form_alphas(w, example_target(w0, delta, strength), n))
    edited = apply_alphas(w, a, n)

    def draw() -> None:
        with torch.no_grad():
            for s in range(0, n_images, batch_size):
                m.G.synthesis(edited[s : s + batch_size])

    _, t_render = timed(draw)
    return {"images": n_images, "alpha_s": t_alpha, "render_s": t_render}


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
