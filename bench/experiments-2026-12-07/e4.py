"""Oracle: best linear hyperplane for each attribute (ridge of render attribute on w), closed-form ratio on renders."""
import sys, json, numpy as np, torch
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from common_exp import load
from benchmarks.edits import example_edit, read_attribute
from edit_core.alphas import closed_form_alphas, apply_alphas, unit_normal
from edit_core.demo_catalog import ATTRIBUTES
ws, params, m, lat, rows, order = load(sys.argv[1])
W = torch.from_numpy(lat["w"])
ex = int(np.flatnonzero(order == 0)[0])
# extra training latents from G
Ws = m.G.sample_w(3000, 5).detach()
for attr in ATTRIBUTES:
    run = example_edit(m, params, rows, ex, attr)
    lo, hi = ATTRIBUTES[attr]
    before = read_attribute(m, W, attr)
    y = read_attribute(m, Ws, attr)
    X = torch.cat([Ws, torch.ones(len(Ws), 1)], 1).double()
    coef = torch.linalg.solve(X.T @ X + 1e-2 * torch.eye(X.shape[1]).double(), X.T @ torch.from_numpy(y))
    n = unit_normal(coef[:-1].float())
    # target: the example's final render attribute = run.target; place hyperplane through w_ex + Δ*
    a = closed_form_alphas(W, W[ex] + run.delta_star, n)
    vals = read_attribute(m, apply_alphas(W, a, n), attr)
    cos = float(n @ unit_normal(run.delta_star))
    print(json.dumps({"attr": attr, "oracle_ratio": round(float(np.abs(vals - run.target).mean()) / float(np.abs(before - run.target).mean()), 3), "cos_dstar": round(cos, 3)}), flush=True)
