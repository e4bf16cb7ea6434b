"""Transfer settings on the refined demo edit: outside change, PSNR/SSIM vs ideal, hue ratio (60 photos, 512 px)."""
import sys, numpy as np, torch, cv2, time
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from common_exp import load
from edit_core.demo_catalog import render, render_edited
from edit_core.estimators import estimate_attributes
from edit_core.metrics import psnr, ssim, edit_region_mask, outside_change
from benchmarks.models import rows_slice
from tasks.transfer import edit_photo
from tasks.refine import example_look, refined_offsets, render_path
from tasks.direction import load_direction
from edit_core.alphas import closed_form_alphas, example_target
from common.params import load_params
ws, params, m, lat, rows, order = load(sys.argv[1])
W = torch.from_numpy(lat["w"]); G = m.G
state = load_direction(ws, ws.edit("demo"))
n = state["n"]; a = closed_form_alphas(W, example_target(state["w_example"], state["delta_star"], 1.0), n)
look = example_look(G, state, 1.0, 7)
pick = np.linspace(0, len(W) - 1, 60).round().astype(int)
d = refined_offsets(G, W[pick], a[pick], n, look, params)
fr = render_path(G, W[pick], d, 7)
sub = rows_slice(rows, pick)
photos = render(sub, 512); ideal = render_edited(sub, "hue", 0.6, 512)
mask = edit_region_mask(photos, ideal, threshold=8.0, dilate=8)
hb = estimate_attributes(np.stack([cv2.resize(o, (64, 64), interpolation=cv2.INTER_AREA) for o in photos]))["hue"]
print("unedited psnr %.2f ssim %.3f" % (np.mean(psnr(photos, ideal)), np.mean(ssim(photos, ideal))))
for sets in [s.split() for s in sys.argv[2:]]:
    p = load_params(None, sets)
    t = time.time()
    outs = np.stack([edit_photo(ph, f, p, look) for ph, f in zip(photos, fr)])
    dt = (time.time() - t) / len(photos)
    h = estimate_attributes(np.stack([cv2.resize(o, (64, 64), interpolation=cv2.INTER_AREA) for o in outs]))["hue"]
    print(sets, "hue %.3f" % (np.abs(h - 0.6).mean() / np.abs(hb - 0.6).mean()), "psnr %.2f ssim %.3f" % (np.mean(psnr(outs, ideal)), np.mean(ssim(outs, ideal))),
          "outside %.2f" % np.nanmean(outside_change(photos, outs, mask)), "%.3f s" % dt, flush=True)
    cv2.imwrite(f"/tmp/e10_{'_'.join(sets) or 'default'}.png", cv2.cvtColor(np.concatenate([np.concatenate(list(photos[50:54]), 1), np.concatenate(list(outs[50:54]), 1)], 0), cv2.COLOR_RGB2BGR))
