"""Which differentiable image reading tracks each attribute? R² vs ground truth on the catalog renders G(w_i)."""
import sys, json, numpy as np, torch
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from common_exp import load
from benchmarks.edits import example_edit
from edit_core.alphas import distances, unit_normal
from edit_core.demo_catalog import ATTRIBUTES
from edit_core.metrics import linearity_r2
from edit_core.features import HOGFeatures
ws, params, m, lat, rows, order = load(sys.argv[1])
W = torch.from_numpy(lat["w"])
ex = int(np.flatnonzero(order == 0)[0])
hog = HOGFeatures()
def phi(x, kind):
    with torch.no_grad():
        if kind == "dpool":
            return torch.cat([f.mean((2, 3)) for f in m.features(x)] + [x.mean((2, 3))], 1)
        if kind == "dflat":
            return torch.cat([f.flatten(1) for f in m.features(x)[-2:]], 1)
        if kind == "hogflat":
            return hog(x)[0].flatten(1)
        if kind == "pix":
            return x.flatten(1)
with torch.no_grad():
    X = torch.cat([m.G.synthesis(W[s:s+100]) for s in range(0, len(W), 100)])
for attr in ATTRIBUTES:
    run = example_edit(m, params, rows, ex, attr)
    truth = rows[attr]
    n = unit_normal(run.delta_star)
    res = {"attr": attr, "r2_n": linearity_r2(distances(W, run.w0 + run.delta_star, n), truth)}
    with torch.no_grad():
        pair = m.G.synthesis(torch.stack([run.w0, run.w0 + run.delta_star]))
    for kind in ("dpool", "dflat", "hogflat", "pix"):
        f = phi(X, kind); fp = phi(pair, kind)
        u = fp[1] - fp[0]
        res["r2_" + kind] = linearity_r2(f @ u, truth)
        # per-photo effect direction: average over the catalog of phi(G(w+Δ*)) − phi(G(w))
    with torch.no_grad():
        Xe = torch.cat([m.G.synthesis(W[s:s+100] + run.delta_star) for s in range(0, len(W), 100)])
    for kind in ("dpool", "dflat", "hogflat", "pix"):
        f = phi(X, kind); u = (phi(Xe, kind) - f).mean(0)
        res["r2avg_" + kind] = linearity_r2(f @ u, truth)
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in res.items()}), flush=True)
