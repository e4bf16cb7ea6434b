"""Δ* variants on renders: closed-form ratio per attribute (target from the example's catalog latent)."""
import sys, json, numpy as np, torch
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from common_exp import load
from benchmarks.edits import example_edit, read_attribute
from edit_core.alphas import closed_form_alphas, apply_alphas, unit_normal
from edit_core.direction import fit_direction
from edit_core.demo_catalog import ATTRIBUTES
ws, params, m, lat, rows, order = load(sys.argv[1])
W = torch.from_numpy(lat["w"])
ex = int(np.flatnonzero(order == 0)[0])
variants = {"base": {}, "anchors16": {"anchors": 16}, "lam0.02": {"lam": 0.02}, "delta": {"init": "delta"},
            "anch16_steps400": {"anchors": 16, "steps": 400}}
for attr in ["rotation", "size", "roof_height", "wheel_size"]:
    run = example_edit(m, params, rows, ex, attr)
    lo, hi = ATTRIBUTES[attr]
    before = read_attribute(m, W, attr)
    res = {"attr": attr, "before": round(float(np.abs(before - run.target).mean() / (hi - lo)), 3)}
    origin = m.G.mean_w()
    for name, kw in variants.items():
        d = fit_direction(m.G, run.w0, run.delta_w, origin=origin, **kw) if kw else run.delta_star
        n = unit_normal(d)
        a = closed_form_alphas(W, W[ex] + d, n)
        vals = read_attribute(m, apply_alphas(W, a, n), attr)
        res[name] = round(float(np.abs(vals - run.target).mean() / (hi - lo)) / res["before"], 3)
    # Δw itself as the normal
    n = unit_normal(run.delta_w); a = closed_form_alphas(W, W[ex] + run.delta_w, n)
    res["dw"] = round(float(np.abs(read_attribute(m, apply_alphas(W, a, n), attr) - run.target).mean() / (hi - lo)) / res["before"], 3)
    print(json.dumps(res), flush=True)
