"""Closed form with target from w0 (pair projection) vs from the example's catalog latent, 5 attributes, on renders."""
import sys, json, numpy as np, torch
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from common_exp import load
from benchmarks.edits import example_edit, read_attribute
from edit_core.alphas import closed_form_alphas, apply_alphas, unit_normal
from edit_core.demo_catalog import ATTRIBUTES
from edit_core.estimators import estimate_attributes
ws, params, m, lat, rows, order = load(sys.argv[1])
W = torch.from_numpy(lat["w"])
ex = int(np.flatnonzero(order == 0)[0])  # catalog row 0 = the demo's example
for attr in ATTRIBUTES:
    run = example_edit(m, params, rows, ex, attr)
    n = unit_normal(run.delta_star)
    lo, hi = ATTRIBUTES[attr]
    before = read_attribute(m, W, attr)
    res = {"attr": attr, "target": run.target, "before": float(np.abs(before - run.target).mean() / (hi - lo))}
    for name, base in (("w0", run.w0), ("wex", W[ex])):
        a = closed_form_alphas(W, base + run.delta_star, n)
        vals = read_attribute(m, apply_alphas(W, a, n), attr)
        res[name] = float(np.abs(vals - run.target).mean() / (hi - lo))
        res[name + "_ex_alpha"] = float(a[ex]) / float(run.delta_star.norm())
    res["ratio_w0"] = res["w0"] / res["before"]; res["ratio_wex"] = res["wex"] / res["before"]
    print(json.dumps(res), flush=True)
