"""Step 6 as a task: carry each photo's latent edit onto its ORIGINAL full-resolution file.

Per photo: render the frames G(w + (t/N)·α·n), t = 0..N, estimate the motion + colour flow between
them (iGAN §4.2, edit_core.transfer) and apply it to the centre square of the original photo, the
region ingest fed the GAN; the PNG keeps the original's size. A missing or unreadable original is
`rejected` with its reason (an edited image made from it earlier is kept). Each shard's records are written to parts/ with a fingerprint, so a
rerun at the same strength skips finished shards.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
from prefect import task
from prefect.cache_policies import NO_CACHE

from common import progress
from common.fingerprint import fingerprint
from common.params import Params
from common.storage import read_h5, read_parquet, sha256_file, write_parquet
from common.workspace import Workspace
from edit_core.checkpoint import load_generator
from edit_core.imageops import resolve_device, to_uint8
from edit_core.models.base import Generator
from edit_core.transfer import transfer
from tasks.images import centre_square, read_photo, write_png
from tasks.manifest import source_paths

TRANSFER_VERSION = 1
RENDER_BATCH = 32  # photos whose frames are rendered in one generator call
PART_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("status", pa.string()),
    ("reason", pa.string()),
    ("t_render", pa.float64()),
    ("t_transfer", pa.float64()),
    ("fingerprint", pa.string()),
])


def render_frames(G: Generator, w: torch.Tensor, alpha: torch.Tensor, n: torch.Tensor, frames: int) -> np.ndarray:
    """uint8 [B, N+1, R, R, 3]: G(w_i + (t/N)·α_i·n) for t = 0..N, latents w [B, ...], α [B]."""
    t = torch.linspace(0.0, 1.0, frames + 1, device=w.device)
    steps = (t.view(1, -1) * alpha.view(-1, 1)).view(len(w), frames + 1, *([1] * (w.ndim - 1)))
    latents = (w.unsqueeze(1) + steps * n).reshape(-1, *w.shape[1:])
    with torch.no_grad():
        images = to_uint8(G.synthesis(latents))
    return images.reshape(len(w), frames + 1, *images.shape[1:])


def edit_photo(photo: np.ndarray, frames: np.ndarray, params: Params) -> np.ndarray:
    """Transfer the edit seen in `frames` onto the centre square of `photo` (same size out); the
    full-resolution pass runs on params.runtime.device."""
    p = params.transfer
    rows, cols = centre_square(photo.shape)
    out = photo.copy()
    out[rows, cols] = transfer(np.ascontiguousarray(photo[rows, cols]), frames, iterations=p.iterations,
                               flow_method=p.flow_method, color_radius=p.color_radius, color_eps=p.color_eps,
                               guide_radius=p.guide_radius, guide_eps=p.guide_eps, subsample=p.subsample,
                               device=resolve_device(params.runtime.device))
    return out


def part_fingerprint(ws: Workspace, name: str, shard: str, table: pd.DataFrame, sources: dict[str, Path],
                     params: Params) -> str:
    """Inputs of one shard's edited photos: direction, latents, these photos' α, flag and original path,
    strength, transfer params (not the whole manifest: photos added to the catalog leave the shard done)."""
    rows = [[i, float(a), bool(f), str(sources.get(i, ""))]
            for i, a, f in zip(table["id"], table["alpha"], table["flagged"], strict=True)]
    return fingerprint(TRANSFER_VERSION, sha256_file(ws.edit(name).direction), sha256_file(ws.latents / shard), rows,
                       params.edit.strength, params.to_dict()["transfer"])


def edit_one(out: Path, source: Path, frames: np.ndarray, flagged: bool, params: Params) -> tuple[str, str, float]:
    """Edit one original into `out`; (status, reason, seconds). A missing original is rejected."""
    start = time.perf_counter()
    try:
        photo = read_photo(source)
    except OSError as exc:  # an edited image made earlier stays: the original may come back
        return "rejected", f"original unavailable: {exc.strerror or exc}", 0.0
    write_png(out, edit_photo(photo, frames, params))
    status, reason = ("flagged", "alpha outside the catalog's span along n") if flagged else ("edited", "")
    return status, reason, time.perf_counter() - start


@task(cache_policy=NO_CACHE, persist_result=False)
def transfer_shard(ws: Workspace, name: str, shard: str, table: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Edit every original photo of one shard; returns id, status, reason, t_render, t_transfer."""
    paths = ws.edit(name)
    part = paths.parts / Path(shard).with_suffix(".parquet").name
    sources = source_paths(ws)
    key = part_fingerprint(ws, name, shard, table, sources, params)
    if part.exists():
        done = read_parquet(part)
        edited = done[done["status"] != "rejected"]["id"]
        if (done["fingerprint"] == key).all() and all((paths.images / f"{i}.png").exists() for i in edited):
            return done.drop(columns="fingerprint")
    device = resolve_device(params.runtime.device)
    G = load_generator(ws.gan, device)
    n = torch.load(paths.direction, map_location=device, weights_only=True)["n"]
    latents = torch.from_numpy(read_h5(ws.latents / shard, ["w"])["w"]).to(device)
    rows = []
    with progress.track(f"transfer {shard}", total=len(table)) as bar:
        for start in range(0, len(table), RENDER_BATCH):
            chunk = table.iloc[start : start + RENDER_BATCH]
            t0 = time.perf_counter()
            index = torch.as_tensor(chunk["index"].to_numpy(copy=True), device=device)
            alpha = torch.as_tensor(chunk["alpha"].to_numpy(copy=True), dtype=latents.dtype, device=device)
            clips = render_frames(G, latents[index], alpha, n, params.transfer.frames)
            t_render = (time.perf_counter() - t0) / len(chunk)
            for r, frames in zip(chunk.itertuples(index=False), clips, strict=True):
                rows.append((r.id, *edit_one(paths.images / f"{r.id}.png", sources[r.id], frames, r.flagged,
                                             params), t_render))
                bar.advance()
    done = pd.DataFrame(rows, columns=["id", "status", "reason", "t_transfer", "t_render"])
    done = done.assign(fingerprint=key)[PART_SCHEMA.names]
    write_parquet(part, done, PART_SCHEMA)
    return done.drop(columns="fingerprint")
