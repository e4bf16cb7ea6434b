"""Speed (Edit One for All Table 1) on this machine: the example edit, the direction fit, α + rendering and
transfer per photo (extrapolated to 1,000), projection batched vs one at a time and its share of this
machine's matmul rate (FLOPs counted with torch's FlopCounterMode), the catalog-size scaling of α +
rendering and of projection, and optionally the edit stage measured end to end through the flows.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.driver import Setup
from benchmarks.edit_stage import edit_catalog_seconds
from benchmarks.edits import example_edit, method_offsets
from benchmarks.models import (
    Models,
    catalog_rows,
    demo_models,
    held_out_rows,
    project_batched,
    project_kwargs,
    rows_slice,
)
from benchmarks.registry import SpeedOptions
from benchmarks.timing import matmul_gflops, peak_rss_mb, time_transfer, timed
from common.params import Params
from common.workspace import bench_folder
from edit_core.alphas import apply_alphas, closed_form_alphas, example_target, unit_normal
from edit_core.demo_catalog import render
from edit_core.imageops import to_tensor
from edit_core.project import project
from tasks.refine import example_look, render_path
from tasks.transfer import edit_photo


def run(o: SpeedOptions, s: Setup) -> dict:
    """Edit One for All Table 1 on this machine: edit, direction, α + render, transfer, projection."""
    p, workspace = s.params, o.workspace
    m = demo_models(workspace, p, s.device)
    gflops = matmul_gflops()
    rows = catalog_rows(workspace, p)
    edit_run = example_edit(m, p, rows, p.demo.example % len(rows["hue"]), p.demo.attribute)

    test = render(held_out_rows(max(o.loop_images, 1), p), m.G.resolution)
    batched = img_steps_per_s(m, test, o.steps, p, batched=True)
    loop = img_steps_per_s(m, test, o.steps, p, batched=False)
    # the same ratio per CPU-second (both clocks on all threads): what a shared machine does not distort
    cpu_fraction = (img_steps_per_s(m, test, o.steps, p, batched=True, clock=time.process_time)
                    / matmul_gflops(clock=time.process_time))
    flops = projection_flops_per_img_step(m, p)

    scaling_project = {}
    for n in (int(size) for size in o.project_sizes.split(",")):
        imgs = render(held_out_rows(n, p), m.G.resolution)
        _, seconds = timed(lambda imgs=imgs: project_batched(m, imgs, p.project.batch_size, **project_kwargs(p)))
        scaling_project[str(n)] = {"images": n, "seconds": seconds, "s_per_image": seconds / n}
    largest = scaling_project[max(scaling_project, key=int)]
    scaling_render = {str(n): alpha_render_seconds(m, n, p.edit.strength)
                      for n in (int(size) for size in o.render_sizes.split(","))}
    biggest = scaling_render[max(scaling_render, key=int)]
    render_per_image = (biggest["alpha_s"] + biggest["render_s"]) / biggest["images"]

    picks = [i for i in range(len(rows["hue"])) if i != edit_run.example][:o.transfer_images]
    photos = render(rows_slice(rows, picks), o.photo_res)
    thumbs = render(rows_slice(rows, picks), m.G.resolution)
    w = project_batched(m, thumbs, p.project.batch_size, **project_kwargs(p)).w
    all_frames, t_frames = timed(lambda: render_path(m.G, w, method_offsets(m, edit_run, w, p), p.transfer.frames))
    look = example_look(m.G, edit_run.state(), p.edit.strength, p.transfer.frames)

    def edit(photo: np.ndarray, frames: np.ndarray) -> np.ndarray:
        return edit_photo(photo, frames, p, look)

    transfer_per_image = time_transfer(list(photos), list(all_frames), threads=1, edit=edit)
    transfer_cpu_per_image = time_transfer(list(photos), list(all_frames), threads=1, edit=edit,
                                           clock=time.thread_time)
    frames_per_image = t_frames / len(photos)
    per_image_edit = render_per_image + frames_per_image + transfer_per_image
    result = {
        "example_edit_s": edit_run.edit_s, "direction_fit_s": edit_run.direction_s,
        "transfer_s_per_image": transfer_per_image, "transfer_cpu_s_per_image": transfer_cpu_per_image,
        "refine_frames_s_per_image": frames_per_image,  # the refinement and the frames it renders
        "alpha_render_s_per_image": render_per_image,
        "transfer_1000_s_extrapolated": 1000 * per_image_edit,
        "table1_total_1000_s_extrapolated": edit_run.edit_s + edit_run.direction_s + 1000 * per_image_edit,
        "project_s_per_image": largest["s_per_image"],
        "project_1000_s_extrapolated": 1000 * largest["s_per_image"],
        "batched_img_steps_per_s": batched, "loop_img_steps_per_s": loop, "batched_over_loop": batched / loop,
        "projection_gflop_per_img_step": flops / 1e9, "matmul_gflops": gflops,
        "projection_fraction_of_matmul_rate": batched * flops / 1e9 / gflops,
        "projection_cpu_fraction_of_matmul_rate": cpu_fraction * flops / 1e9,
        "scaling_alpha_render": scaling_render, "scaling_project": scaling_project,
        "peak_rss_mb": peak_rss_mb(),
        "paper_table1_s": {"edit": 2, "direction": 30, "transfer_1000": 50, "device": "GPU (paper)"},
        "notes": "1000-image figures extrapolate the measured per-image medians linearly (marked _extrapolated)",
        "models": m.describe(),
    }
    if o.edit_photos:  # measured end to end through the pipeline's flows, not extrapolated
        result["edit_catalog"] = edit_catalog_seconds(bench_folder(workspace), m, p, o.edit_photos, o.photo_res)
    return result


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
