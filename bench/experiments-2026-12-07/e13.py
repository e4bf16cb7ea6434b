"""Calibrate the encoder's reading along n on G's own renders (known distances), then read the outputs."""
import sys, json, numpy as np, pandas as pd, torch
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2])); torch.set_num_threads(1)
from pathlib import Path
from common.workspace import Workspace
from common.storage import read_h5
from edit_core.checkpoint import load_generator, load_encoder
from edit_core.alphas import distances, example_target
from edit_core.imageops import to_tensor
from tasks.direction import load_direction
from tasks.images import read_photo, square_thumbnail
from tasks.latents import load_latents
ws = Workspace.open(sys.argv[1])
G = load_generator(ws.gan, "cpu"); E = load_encoder(ws.encoder, "cpu").eval()
st = load_direction(ws, ws.edit("demo")); target = example_target(st["w_example"], st["delta_star"], 1.0); n = st["n"]
lat = load_latents(ws); W = torch.from_numpy(lat["w"])
d0 = distances(W, target, n)
# calibration: catalog latents moved to random distances spread over the catalog's range, rendered, read by E
g = torch.Generator().manual_seed(0)
idx = torch.randperm(len(W), generator=g)[:128]
t = torch.empty(128).uniform_(float(d0.min()), float(max(d0.max(), 0.5)), generator=g)
wc = W[idx] + (t - d0[idx])[:, None] * n
with torch.no_grad():
    x = G.synthesis(wc); x = ((x.clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1
    rd = distances(E(x), target, n)
A = torch.stack([t, torch.ones_like(t)], 1).double(); k, b = torch.linalg.lstsq(A, rd.double()[:, None]).solution[:, 0].tolist()
print("calibration k %.3f b %.3f" % (k, b))
r = pd.read_parquet(ws.edit("demo").results); r = r[r.status == "edited"]
src = Path(json.load(open(ws.source))["source"])
def read(imgs):
    with torch.no_grad():
        return distances(E(to_tensor(imgs)), target, n).double().numpy()
orig = np.stack([square_thumbnail(read_photo(src / f), 64) for f in r.source_path])
outs = np.stack([square_thumbnail(read_photo(ws.edit("demo").images / f"{i}.png"), 64) for i in r.id])
rb, ra = read(orig), read(outs)
print("raw ratio %.3f" % (np.abs(ra).mean() / np.abs(rb).mean()))
cb, ca = (rb - b) / k, (ra - b) / k
print("calibrated ratio %.3f" % (np.abs(ca).mean() / np.abs(cb).mean()))
