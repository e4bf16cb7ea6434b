"""The example edits the demo-catalog benchmarks share (consistency, linearity, transfer, speed).

Every example edit is a real before/after pair: one catalog row rendered, then rendered again with one
attribute moved to the other side of its range (`edit_value`); both are projected (`edit_from_pair`),
Δ* is fitted (§3.1) and α computed for every catalog latent (§3.2), all with the pipeline's params.
Attribute values are read with `edit_core.estimators` from G's renders (or from the transferred
photos). The target of every catalog image is the attribute read from the example's edited photo.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from benchmarks.models import Models, catalog_rows, project_batched, project_kwargs, rows_slice
from benchmarks.registry import choices
from common.params import Params
from edit_core.alphas import closed_form_alphas, example_target, unit_normal
from edit_core.demo_catalog import ATTRIBUTES, render, render_edited
from edit_core.direction import fit_direction
from edit_core.edits import edit_from_pair
from edit_core.estimators import estimate_attributes
from edit_core.imageops import to_tensor, to_uint8
from tasks.refine import example_look, refined_offsets


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


def attributes(spec: str) -> list[str]:
    """The --attributes option: comma-separated names of the demo catalog's editable attributes."""
    return choices(spec, ATTRIBUTES, "--attributes")


def example_runs(m: Models, p: Params, ws: Path, names: list[str], examples: int,
                 seed: int) -> tuple[list[EditRun], dict[str, np.ndarray]]:
    """Example edits: `examples` catalog rows per attribute, each edited, projected and Δ* fitted."""
    rows = catalog_rows(ws, p)
    picks = pick_examples(len(rows["hue"]), examples, seed)
    return [example_edit(m, p, rows, i, a) for a in names for i in picks], rows
