"""Linearity (Edit One for All Fig. 8a): R² of each catalog photo's attribute against its signed distance
to the edit's hyperplane, for the normal of the user's Δw and for that of the fitted Δ*.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from benchmarks.driver import Setup
from benchmarks.edits import EditRun, attributes, example_runs, render_latents
from benchmarks.models import Models, catalog_latents, demo_models
from benchmarks.registry import LinearityOptions
from benchmarks.stats import summarize
from edit_core.alphas import distances, unit_normal
from edit_core.estimators import estimate_attributes
from edit_core.metrics import linearity_r2


def run(o: LinearityOptions, s: Setup) -> dict:
    """R² of attribute vs distance to the edit's hyperplane, Δw vs Δ*, per attribute and overall."""
    p = s.params
    m = demo_models(o.workspace, p, s.device)
    w, latent_source = catalog_latents(o.workspace, m, p, o.images)
    names = attributes(o.attributes)
    runs, _ = example_runs(m, p, o.workspace, names, o.examples, o.seed)
    values = {a: v for a, v in estimate_attributes(render_latents(m, w)).items() if a in names}
    records = [linearity_record(m, r, w, values[r.attribute]) for r in runs]
    return {"r2_naive": summarize(records, "r2_naive")["mean"], "r2_ours": summarize(records, "r2_ours")["mean"],
            "r2_naive_std": summarize(records, "r2_naive")["std"], "r2_ours_std": summarize(records, "r2_ours")["std"],
            "per_attribute": {a: {k: summarize([r for r in records if r["attribute"] == a], k)
                                  for k in ("r2_naive", "r2_ours", "cos_dw_dstar")} for a in names},
            "values": "attribute of G(w_i) (unedited catalog latents) read by edit_core.estimators",
            "latents": latent_source, "models": m.describe(), "runs": records}


def linearity_record(m: Models, run: EditRun, w: Tensor, values: np.ndarray) -> dict:
    """R² of attribute ~ signed distance to the hyperplane, for the Δw normal and for the Δ* normal."""
    n_naive, n_ours = unit_normal(run.delta_w), unit_normal(run.delta_star)
    d_naive = distances(w, run.w0 + run.delta_w, n_naive)
    d_ours = distances(w, run.target_latent, n_ours)
    cos = float((n_naive.reshape(-1) @ n_ours.reshape(-1)).clamp(-1, 1))
    return {"attribute": run.attribute, "example": run.example, "r2_naive": linearity_r2(d_naive, values),
            "r2_ours": linearity_r2(d_ours, values), "cos_dw_dstar": cos}
