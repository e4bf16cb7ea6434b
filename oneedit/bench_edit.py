"""Edit benchmarks on the demo catalog: final-state consistency (Edit One for All Table 2), linearity
(Fig. 8a) and full-resolution edit transfer against the ideal re-render.

Every example edit is a real before/after pair: one catalog row rendered, then rendered again with one
attribute moved to the other side of its range (`edit_value`); both are projected (`edit_from_pair`),
Δ* is fitted (§3.1) and α computed for every catalog latent (§3.2), all with the pipeline's params.
Attribute values are read with `edit_core.estimators` from G's renders (or from the transferred
photos). The target of every catalog image is the attribute read from the example's edited photo.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import Tensor

from common.params import Params
from edit_core.alphas import apply_alphas, closed_form_alphas, distances, example_target, unit_normal
from edit_core.demo_catalog import ATTRIBUTES, render, render_edited
from edit_core.direction import fit_direction
from edit_core.edits import edit_from_pair
from edit_core.estimators import estimate_attributes
from edit_core.imageops import to_tensor, to_uint8
from edit_core.metrics import edit_region_mask, final_state_mae, linearity_r2, metric, outside_change
from edit_core.transfer import naive_transfer, upsampled_gan
from oneedit.bench_models import Models, project_batched, project_kwargs, rows_slice
from tasks.refine import example_look, refined_offsets, render_path
from tasks.transfer import edit_photo

VARIANTS = ("before", "naive", "direction_only", "closed_form", "ours")  # ours: closed form + refinement
TRANSFER_METHODS = ("flow", "naive", "gan", "identity")


@dataclass
class EditRun:
    """One example edit: the pair's ground truth, its latents, Δ* and the timings."""

    attribute: str
    example: int  # catalog row of the example
    value_before: float  # ground-truth attribute of the example photo
    value_after: float  # ground-truth attribute of the edited example photo
    target: float  # the attribute as read (estimator) from the example's edited photo
    w0: Tensor
    delta_w: Tensor
    delta_star: Tensor
    w_example: Tensor  # the example photo projected as catalog photos are (params.project): the target's base
    edit_s: float
    direction_s: float

    @property
    def target_latent(self) -> Tensor:
        """w_ex + Δ* (strength applied by the caller)."""
        return self.w_example + self.delta_star

    def state(self) -> dict[str, Tensor]:
        """What tasks.refine.example_look reads of an edit."""
        return {"w_example": self.w_example, "delta_star": self.delta_star}


def edit_value(attribute: str, current: float) -> float:
    """The example's edited value: 20 % or 80 % of the attribute's range, on the side away from `current`."""
    lo, hi = ATTRIBUTES[attribute]
    return lo + (0.8 if current < (lo + hi) / 2 else 0.2) * (hi - lo)


def pick_examples(n_rows: int, k: int, seed: int) -> list[int]:
    """k distinct catalog rows, deterministic in seed."""
    return sorted(int(i) for i in np.random.default_rng(seed).choice(n_rows, size=min(k, n_rows), replace=False))


def example_edit(m: Models, params: Params, rows: dict[str, np.ndarray], index: int, attribute: str) -> EditRun:
    """Render the example pair, project it (edit_from_pair), fit Δ* with the pipeline's params."""
    row = rows_slice(rows, [index])
    value = edit_value(attribute, float(row[attribute][0]))
    res = m.G.resolution
    before, after = render(row, res), render_edited(row, attribute, value, res)
    p, d = params.project, params.edit.direction
    device = m.G.device
    start = time.perf_counter()
    edit = edit_from_pair(m.G, to_tensor(before, device), to_tensor(after, device), m.E, m.features,
                          steps=params.edit.example_steps, lr=p.lr, feature_weight=p.feature_weight, w_plus=p.w_plus)
    mid = time.perf_counter()
    origin = m.G.mean_w().to(device) if d.origin == "mean" else None
    delta_star = fit_direction(m.G, edit.w0, edit.delta_w, lam=d.lam, steps=d.steps, lr=d.lr, init=d.init,
                               origin=origin, anchors=d.anchors, seed=d.seed)
    end = time.perf_counter()
    target = float(estimate_attributes(after)[attribute][0])
    w_example = project_batched(m, before, params.project.batch_size, **project_kwargs(params)).w[0]
    return EditRun(attribute, index, float(row[attribute][0]), value, target, edit.w0, edit.delta_w, delta_star,
                   w_example, mid - start, end - mid)


def render_latents(m: Models, w: Tensor, batch_size: int = 256) -> np.ndarray:
    """G(w) as uint8 [N, R, R, 3], in batches."""
    with torch.no_grad():
        return np.concatenate([to_uint8(m.G.synthesis(w[s : s + batch_size])) for s in range(0, len(w), batch_size)])


def read_attribute(m: Models, w: Tensor, attribute: str) -> np.ndarray:
    """The attribute of G(w) as read by the estimator."""
    return estimate_attributes(render_latents(m, w))[attribute]


def method_offsets(m: Models, run: EditRun, w: Tensor, params: Params) -> Tensor:
    """The pipeline's offsets δ_i of latents w: closed-form α (target from the example's catalog latent), then
    the per-photo refinement with params.edit.refine (tasks.refine)."""
    n = unit_normal(run.delta_star)
    alpha = closed_form_alphas(w, example_target(run.w_example, run.delta_star, params.edit.strength), n)
    look = example_look(m.G, run.state(), params.edit.strength, params.transfer.frames)
    return torch.cat([refined_offsets(m.G, w[s : s + 64], alpha[s : s + 64], n, look, params)
                      for s in range(0, len(w), 64)])


def edited_latents(m: Models, run: EditRun, w: Tensor, params: Params) -> dict[str, Tensor]:
    """The catalog latents under every variant: unedited, + Δw, + Δ*, α-scaled along n (closed form), and
    the method as the pipeline runs it (closed form + refinement)."""
    n = unit_normal(run.delta_star)
    target = example_target(run.w_example, run.delta_star, params.edit.strength)
    return {"before": w, "naive": w + run.delta_w, "direction_only": w + run.delta_star,
            "closed_form": apply_alphas(w, closed_form_alphas(w, target, n), n),
            "ours": w + method_offsets(m, run, w, params)}


def consistency_record(m: Models, run: EditRun, w: Tensor, rows: dict[str, np.ndarray], params: Params) -> dict:
    """Final-state MAE of each variant (raw and as a fraction of the attribute's range), latent spread, floor."""
    lo, hi = ATTRIBUTES[run.attribute]
    n = unit_normal(run.delta_star)
    target_latent = example_target(run.w_example, run.delta_star, params.edit.strength)
    rec: dict = {"attribute": run.attribute, "example": run.example, "value_before": run.value_before,
                 "value_after": run.value_after, "target": run.target, "images": len(w)}
    for name, latents in edited_latents(m, run, w, params).items():
        values = read_attribute(m, latents, run.attribute)
        rec[f"{name}_mae_raw"] = final_state_mae(values, run.target)
        rec[f"{name}_mae"] = rec[f"{name}_mae_raw"] / (hi - lo)
        rec[f"{name}_latent_spread"] = float(distances(latents, target_latent, n).std())
    ideal = estimate_attributes(render_edited(rows, run.attribute, run.value_after, m.G.resolution))[run.attribute]
    rec["ideal_mae"] = final_state_mae(ideal, run.target) / (hi - lo)
    rec["example_own_mae"] = abs(float(read_attribute(m, target_latent[None], run.attribute)[0]) - run.target) / (hi - lo)
    return rec


def linearity_record(m: Models, run: EditRun, w: Tensor, values: np.ndarray) -> dict:
    """R² of attribute ~ signed distance to the hyperplane, for the Δw normal and for the Δ* normal."""
    n_naive, n_ours = unit_normal(run.delta_w), unit_normal(run.delta_star)
    d_naive = distances(w, run.w0 + run.delta_w, n_naive)
    d_ours = distances(w, run.target_latent, n_ours)
    cos = float((n_naive.reshape(-1) @ n_ours.reshape(-1)).clamp(-1, 1))
    return {"attribute": run.attribute, "example": run.example, "r2_naive": linearity_r2(d_naive, values),
            "r2_ours": linearity_r2(d_ours, values), "cos_dw_dstar": cos}


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
