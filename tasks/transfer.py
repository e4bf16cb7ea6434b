"""Step 6 as a task: carry each photo's latent edit onto its ORIGINAL full-resolution file.

Per photo: render the frames G(w + (t/N)·α·n), t = 0..N, estimate the motion + colour flow between
them (iGAN §4.2, edit_core.transfer) and apply it to the centre square of the original photo, the
region ingest fed the GAN; the PNG keeps the original's size. A missing or unreadable original is
`rejected` with its reason (an edited image made from it earlier is kept), as is an original whose bytes are no longer the ones ingested, one
above transfer.max_pixels, or any failure while editing one photo (that photo only). Centre squares
larger than transfer.max_side are edited at that side (bounded memory); the change is pasted back
with a feathered border. Photos the range guard skipped get no image. Each shard's records are written to parts/ with a fingerprint, so a
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
from common.cancel import Interrupted
from common.errors import OutputWriteError, UnreadableFile
from common.fingerprint import fingerprint
from common.params import Params
from common.storage import read_h5, read_parquet, read_torch, reading, sha256_file, write_parquet
from common.workspace import Workspace
from edit_core.alphas import EDITED
from edit_core.checkpoint import load_generator
from edit_core.imageops import resolve_device, to_uint8
from edit_core.models.base import Generator
from edit_core.transfer import transfer
from tasks.images import Rejected, centre_square, edit_capped, paste_back, read_photo, write_png
from tasks.manifest import source_hashes, source_paths

TRANSFER_VERSION = 2
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


def edit_original(photo: np.ndarray, frames: np.ndarray, params: Params) -> np.ndarray:
    """The edit seen in `frames` on a whole original: its centre square edited by `edit_photo` (at most
    transfer.max_side px, only the change upsampled beyond), pasted back with a feathered border."""
    p = params.transfer
    rows, cols = centre_square(photo.shape)
    square = np.ascontiguousarray(photo[rows, cols])
    edited = edit_capped(square, lambda sq: edit_photo(sq, frames, params), p.max_side)
    return paste_back(photo, edited, p.feather)


def part_fingerprint(ws: Workspace, name: str, shard: str, table: pd.DataFrame, sources: dict[str, Path],
                     params: Params) -> str:
    """Inputs of one shard's edited photos: direction, latents, these photos' α, planned status and original
    path, strength, transfer and guard params (not the whole manifest: photos added to the catalog leave
    the shard done)."""
    rows = [[i, float(a), str(st), str(sources.get(i, ""))]
            for i, a, st in zip(table["id"], table["alpha"], table["status"], strict=True)]
    return fingerprint(TRANSFER_VERSION, sha256_file(ws.edit(name).direction), sha256_file(ws.latents / shard), rows,
                       params.edit.strength, params.to_dict()["transfer"], params.to_dict()["guard"])


def edit_one(out: Path, source: Path, frames: np.ndarray, planned: str, params: Params,
             sha256: str | None = None) -> tuple[str, str, float]:
    """Edit one original into `out`; (status, reason, seconds), status `planned` (edited / flagged /
    clamped) unless the photo is rejected: missing, changed since ingest (sha256), too large, or any
    failure while editing it. A rejected photo leaves no image; a write error or a signal stops the run."""
    start = time.perf_counter()
    try:
        photo = read_photo(source, max_pixels=params.transfer.max_pixels, sha256=sha256)
        write_png(out, edit_original(photo, frames, params))
    except (OutputWriteError, Interrupted):
        raise
    except Rejected as exc:  # an edited image made earlier stays: the original may come back
        return "rejected", f"original {exc}", 0.0
    except Exception as exc:  # one photo's failure is that photo's rejection, not its shard's
        out.unlink(missing_ok=True)
        text = str(exc).strip().splitlines()
        return "rejected", f"edit failed: {type(exc).__name__}: {text[0] if text else ''}".rstrip(": "), 0.0
    return planned, "", time.perf_counter() - start


@task(cache_policy=NO_CACHE, persist_result=False)
def transfer_shard(ws: Workspace, name: str, shard: str, table: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Edit every original photo of one shard; returns id, status, reason, t_render, t_transfer."""
    paths = ws.edit(name)
    part = paths.parts / Path(shard).with_suffix(".parquet").name
    sources = source_paths(ws, table["id"])  # this shard's photos only: no whole-catalog dict per shard
    hashes = source_hashes(ws, table["id"])
    key = part_fingerprint(ws, name, shard, table, sources, params)
    if part.exists():
        try:
            done = read_parquet(part)
        except UnreadableFile:  # a damaged record of a finished shard: redo the shard
            done = pd.DataFrame({"fingerprint": ["damaged"], "status": ["rejected"], "id": [""]})
        edited = done[done["status"].isin(EDITED)]["id"]
        if (done["fingerprint"] == key).all() and all((paths.images / f"{i}.png").exists() for i in edited):
            return done.drop(columns="fingerprint")
    rows = []
    for r in table[~table["status"].isin(EDITED)].itertuples(index=False):  # range guard: skipped, or not finite
        (paths.images / f"{r.id}.png").unlink(missing_ok=True)
        rows.append((r.id, r.status, r.reason, 0.0, 0.0))
    todo = table[table["status"].isin(EDITED)]
    if len(todo):
        device = resolve_device(params.runtime.device)
        with reading(ws.gan):
            G = load_generator(ws.gan, device)
        n = read_torch(paths.direction)["n"].to(device)
        latents = torch.from_numpy(read_h5(ws.latents / shard, ["w"])["w"]).to(device)
    with progress.track(f"transfer {shard}", total=len(todo)) as bar:
        for start in range(0, len(todo), RENDER_BATCH):
            chunk = todo.iloc[start : start + RENDER_BATCH]
            t0 = time.perf_counter()
            index = torch.as_tensor(chunk["index"].to_numpy(copy=True), device=device)
            alpha = torch.as_tensor(chunk["alpha"].to_numpy(copy=True), dtype=latents.dtype, device=device)
            clips = render_frames(G, latents[index], alpha, n, params.transfer.frames)
            t_render = (time.perf_counter() - t0) / len(chunk)
            for r, frames in zip(chunk.itertuples(index=False), clips, strict=True):
                status, reason, seconds = edit_one(paths.images / f"{r.id}.png", sources[r.id], frames, r.status,
                                                   params, hashes.get(r.id))
                rows.append((r.id, status, reason if status == "rejected" else r.reason, seconds, t_render))
                bar.advance()
    order = {i: k for k, i in enumerate(table["id"])}
    rows.sort(key=lambda row: order[row[0]])
    done = pd.DataFrame(rows, columns=["id", "status", "reason", "t_transfer", "t_render"])
    done = done.assign(fingerprint=key)[PART_SCHEMA.names]
    write_parquet(part, done, PART_SCHEMA)
    return done.drop(columns="fingerprint")
