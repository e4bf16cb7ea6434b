"""Full-resolution edit transfer against the ideal re-render: PSNR / SSIM, change outside the edited
region and the attribute reached, for the pipeline's motion + colour flow, the naive pixel difference,
the GAN render upsampled and the unedited photo (`benchmarks.baselines`).
"""

from __future__ import annotations

import statistics
import time

import cv2
import numpy as np

from benchmarks.baselines import naive_transfer, upsampled_gan
from benchmarks.driver import Setup
from benchmarks.edits import EditRun, attributes, example_runs, method_offsets
from benchmarks.models import Models, demo_models, project_batched, project_kwargs, rows_slice
from benchmarks.registry import TransferOptions
from benchmarks.stats import summarize
from common.params import Params
from edit_core.demo_catalog import ATTRIBUTES, render, render_edited
from edit_core.estimators import estimate_attributes
from edit_core.metrics import edit_region_mask, final_state_mae, metric, outside_change
from tasks.refine import example_look, render_path
from tasks.transfer import edit_photo

TRANSFER_METHODS = ("flow", "naive", "gan", "identity")


def run(o: TransferOptions, s: Setup) -> dict:
    """Every method's scores, averaged over the example edits and their photos."""
    p = s.params
    m = demo_models(o.workspace, p, s.device)
    runs, rows = example_runs(m, p, o.workspace, attributes(o.attributes), o.examples, o.seed)
    records = []
    for r in runs:
        picks = [i for i in range(len(rows["hue"])) if i != r.example][:o.images]
        records.append(transfer_record(m, p, r, rows_slice(rows, picks), o.photo_res))
    metrics = [f"{k}_{score}" for k in TRANSFER_METHODS for score in ("psnr", "ssim", "outside_change", "attr_mae")]
    summary = {k: summarize(records, k) for k in metrics + ["transfer_s_median"]}
    return {**{k: summary[k]["mean"] for k in metrics},
            "transfer_s_per_image": summary["transfer_s_median"]["median"],
            "photo_resolution": o.photo_res,
            "ideal": "the same demo row re-rendered with the example's edited value (everything else unchanged)",
            "outside": "mean |output - photo| (grey levels) outside the ideal edit region (dilated)",
            "attr_mae": "estimator reading of the output vs the example's edited photo, fraction of range",
            "models": m.describe(), "summary": summary, "runs": records}


def transfer_record(m: Models, params: Params, run: EditRun, rows: dict[str, np.ndarray], photo_res: int) -> dict:
    """Transfer the run's edit onto full-resolution catalog photos; score each method against the ideal."""
    photos = render(rows, photo_res)
    ideal = render_edited(rows, run.attribute, run.value_after, photo_res)
    thumbs = np.stack([cv2.resize(p, (m.G.resolution,) * 2, interpolation=cv2.INTER_AREA) for p in photos])
    w = project_batched(m, thumbs, params.project.batch_size, **project_kwargs(params)).w
    outputs: dict[str, list[np.ndarray]] = {k: [] for k in TRANSFER_METHODS}
    times = []
    all_frames = render_path(m.G, w, method_offsets(m, run, w, params), params.transfer.frames)
    look = example_look(m.G, run.state(), params.edit.strength, params.transfer.frames)
    for photo, frames in zip(photos, all_frames, strict=True):
        start = time.perf_counter()
        outputs["flow"].append(edit_photo(photo, frames, params, look))
        times.append(time.perf_counter() - start)
        outputs["naive"].append(naive_transfer(photo, frames[0], frames[-1]))
        outputs["gan"].append(upsampled_gan(photo, frames[-1]))
        outputs["identity"].append(photo)
    lo, hi = ATTRIBUTES[run.attribute]
    mask = edit_region_mask(photos, ideal, threshold=8.0, dilate=max(1, photo_res // 64))
    rec: dict = {"attribute": run.attribute, "example": run.example, "photos": len(photos),
                 "edit_region_fraction": float(mask.mean()), "transfer_s_median": statistics.median(times)}
    for name, out in outputs.items():
        arr = np.stack(out)
        for score in ("psnr", "ssim"):
            rec[f"{name}_{score}"] = float(np.mean(metric(score)(arr, ideal)))
        rec[f"{name}_outside_change"] = float(np.nanmean(outside_change(photos, arr, mask)))
        rec[f"{name}_attr_mae"] = final_state_mae(estimate_attributes(arr)[run.attribute], run.target) / (hi - lo)
    return rec
