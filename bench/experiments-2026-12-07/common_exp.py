"""Experiment helpers: load the demo workspace, latents aligned with catalog rows."""
import sys, numpy as np, pandas as pd, torch
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
from pathlib import Path
from common.params import load_params
from common.workspace import Workspace
from tasks.latents import load_latents
from benchmarks.models import load_models, rows_slice
from tasks.catalog import read_demo_catalog
torch.set_num_threads(1)

def load(ws_root):
    ws = Workspace.open(ws_root)
    params = load_params(None, [])
    m = load_models(ws.models, params, torch.device("cpu"), "workspace")
    lat = load_latents(ws)
    man = pd.read_parquet(ws.manifest)
    df, rows = read_demo_catalog(Path(ws_root) / "catalog")
    file_of = dict(zip(man["id"], man["source_path"]))
    row_of = {f: k for k, f in enumerate(df["file"])}
    order = np.array([row_of[file_of[i]] for i in lat["ids"]])
    return ws, params, m, lat, rows_slice(rows, order), order
