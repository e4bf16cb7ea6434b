"""1-D attributes: can a shape reading in the refinement beat the closed form? HOG / D-feature readings along the
example's own change; measured on renders with the estimator."""
import sys, json, numpy as np, torch
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from common_exp import load
from benchmarks.edits import example_edit, read_attribute
from edit_core.alphas import closed_form_alphas, apply_alphas, unit_normal
from edit_core.demo_catalog import ATTRIBUTES
from edit_core.features import HOGFeatures
from edit_core.region import edit_region
ws, params, m, lat, rows, order = load(sys.argv[1])
W = torch.from_numpy(lat["w"]); G = m.G
ex = int(np.flatnonzero(order == 0)[0])
hog = HOGFeatures()
readers = {"hog": lambda x: hog(x)[0].flatten(1), "dfeat": lambda x: torch.cat([f.flatten(1) for f in m.features(x)[-2:]], 1)}
for attr in ["rotation", "size", "roof_height", "wheel_size"]:
    run = example_edit(m, params, rows, ex, attr)
    n = unit_normal(run.delta_star); lo, hi = ATTRIBUTES[attr]
    before = read_attribute(m, W, attr); b = np.abs(before - run.target).mean()
    a = closed_form_alphas(W, W[ex] + run.delta_star, n); Ws = apply_alphas(W, a, n)
    res = {"attr": attr, "closed": round(np.abs(read_attribute(m, Ws, attr) - run.target).mean() / b, 3)}
    for name, rd in readers.items():
        for wgt in (1.0, 10.0):
            with torch.no_grad():
                pb, pa = rd(G.synthesis(torch.stack([W[ex], W[ex] + run.delta_star]))).split(1)
            u = (pa - pb)[0]; un = u / u.norm()
            out = []
            for s in range(0, len(W), 64):
                w = W[s:s+64]; d0 = (Ws[s:s+64] - w).clone()
                with torch.no_grad():
                    start = G.synthesis(w + d0); M = edit_region(G.synthesis(w), start)
                d = d0.clone().requires_grad_(True); opt = torch.optim.Adam([d], lr=0.05)
                for _ in range(10):
                    x = G.synthesis(w + d)
                    r = ((rd(x) - pa) @ un) / u.norm()
                    loss = wgt * r.pow(2) + 20 * ((x - start).pow(2) * (1 - M)).flatten(1).mean(1) + 0.05 * (d - d0).pow(2).mean(1)
                    (d.grad,) = torch.autograd.grad(loss.sum(), d); opt.step()
                out.append((w + d).detach())
            res[f"{name}_{wgt}"] = round(np.abs(read_attribute(m, torch.cat(out), attr) - run.target).mean() / b, 3)
    print(json.dumps(res), flush=True)
