"""Step 7 as a task: carry each photo's latent edit onto its ORIGINAL full-resolution file.

Per photo: render the frames G(w + (t/N)·δ), t = 0..N (δ: its refined offset, or α·n), estimate the
motion + colour flow between them inside the photo's edit region (iGAN §4.2, edit_core.transfer) and
apply it to the centre square of the original photo, the region ingest fed the GAN; the PNG keeps the
original's size, and the gap of the output to the final state is measured beside it (tasks/final_state.py). A missing or unreadable original is
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
from common.errors import OutputWriteError, UnreadableFile, first_line
from common.fingerprint import fingerprint
from common.params import Params
from common.storage import read_h5, read_parquet, reading, sha256_file, write_parquet
from common.workspace import EditPaths, Workspace
from edit_core.alphas import EDITED, STATUSES
from edit_core.checkpoint import load_encoder, load_generator
from edit_core.imageops import resolve_device
from edit_core.refine import FinalLook
from edit_core.transfer import transfer
from tasks.direction import load_direction
from tasks.final_state import photo_gaps
from tasks.images import (
    Rejected,
    centre_square,
    edit_capped,
    paste_back,
    read_photo,
    square_thumbnail,
    write_png,
)
from tasks.manifest import source_hashes, source_paths
from tasks.refine import closed_form_offsets, read_offsets, render_path

TRANSFER_VERSION = 3
RENDER_BATCH = 32  # photos whose frames are rendered in one generator call
MEASURED = ("before_gap", "final_gap", "distance_after")  # tasks/final_state.photo_gaps
PART_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("status", pa.string()),
    ("reason", pa.string()),
    ("t_render", pa.float64()),
    ("t_transfer", pa.float64()),
    *((c, pa.float64()) for c in MEASURED),
    ("fingerprint", pa.string()),
])


def edit_photo(photo: np.ndarray, frames: np.ndarray, params: Params, look: FinalLook | None = None) -> np.ndarray:
    """Transfer the edit seen in `frames` onto the centre square of `photo` (same size out); the
    full-resolution pass runs on params.runtime.device. With the example's final `look`, the transfer carries
    only what the example's edit changes: no motion when it moves nothing, no chroma when it sets none."""
    p = params.transfer
    rows, cols = centre_square(photo.shape)
    out = photo.copy()
    out[rows, cols] = transfer(np.ascontiguousarray(photo[rows, cols]), frames, iterations=p.iterations,
                               flow_method=p.flow_method, color_radius=p.color_radius, color_eps=p.color_eps,
                               guide_radius=p.guide_radius, guide_eps=p.guide_eps, subsample=p.subsample,
                               device=resolve_device(params.runtime.device),
                               motion=look is None or look.moves, chroma=look is None or look.sets_chroma)
    return out


def edit_original(photo: np.ndarray, frames: np.ndarray, params: Params, look: FinalLook | None = None) -> np.ndarray:
    """The edit seen in `frames` on a whole original: its centre square edited by `edit_photo` (at most
    transfer.max_side px, only the change upsampled beyond), pasted back with a feathered border."""
    p = params.transfer
    rows, cols = centre_square(photo.shape)
    square = np.ascontiguousarray(photo[rows, cols])
    edited = edit_capped(square, lambda sq: edit_photo(sq, frames, params, look), p.max_side)
    return paste_back(photo, edited, p.feather)


def part_fingerprint(ws: Workspace, name: str, shard: str, table: pd.DataFrame, sources: dict[str, Path],
                     refined: Path | None, look: dict, line: dict | None, params: Params) -> str:
    """Inputs of one shard's edited photos: direction, latents, these photos' α, planned status and original
    path, their refined offsets, the example's look, strength, transfer and guard params (not the whole
    manifest: photos added to the catalog leave the shard done)."""
    rows = [[i, float(a), str(st), str(sources.get(i, ""))]
            for i, a, st in zip(table["id"], table["alpha"], table["status"], strict=True)]
    return fingerprint(TRANSFER_VERSION, sha256_file(ws.edit(name).direction), sha256_file(ws.latent_shard(shard)), rows,
                       sha256_file(refined) if refined is not None else None, look, line, params.edit.strength,
                       params.to_dict()["transfer"], params.to_dict()["guard"])


def edit_one(out: Path, source: Path, frames: np.ndarray, planned: str, params: Params,
             sha256: str | None = None, look: FinalLook | None = None) -> tuple[str, str, float, np.ndarray | None]:
    """Edit one original into `out`; (status, reason, seconds, the output at model resolution), status
    `planned` (edited / flagged / clamped) unless the photo is rejected: missing, changed since ingest
    (sha256), too large, or any failure while editing it. A rejected photo leaves no image; a write error or
    a signal stops the run."""
    start = time.perf_counter()
    try:
        photo = read_photo(source, max_pixels=params.transfer.max_pixels, sha256=sha256)
        edited = edit_original(photo, frames, params, look)
        write_png(out, edited)
    except (OutputWriteError, Interrupted):
        raise
    except Rejected as exc:  # an edited image made earlier stays: the original may come back
        return "rejected", f"original {exc}", 0.0, None
    except Exception as exc:  # one photo's failure is that photo's rejection, not its shard's
        out.unlink(missing_ok=True)
        return "rejected", f"edit failed: {type(exc).__name__}: {first_line(exc)}".rstrip(": "), 0.0, None
    seconds = time.perf_counter() - start
    return planned, "", seconds, square_thumbnail(edited, frames.shape[1])


def _read_part(part: Path, key: str, paths: EditPaths) -> pd.DataFrame | None:
    """A finished shard's record when it was made from these inputs and its images are all there."""
    if not part.exists():
        return None
    try:
        done = read_parquet(part)
    except UnreadableFile:  # a damaged record of a finished shard: redo the shard
        return None
    edited = done[done["status"].isin(EDITED)]["id"]
    if (done["fingerprint"] == key).all() and all(paths.image(i).exists() for i in edited):
        return done.drop(columns="fingerprint")
    return None


def _columns(shard: str, table: pd.DataFrame, done: pd.DataFrame) -> dict:
    """The shard's rows as compact columns (tasks.alphas.Catalog), in `table`'s order."""
    done = done.set_index("id").loc[table["id"]]
    codes = {s: k for k, s in enumerate(STATUSES)}
    return {"shard": shard, "id": np.char.encode(table["id"].to_numpy(str), "utf-8"),
            "index": table["index"].to_numpy(np.int32),
            **{k: table[k].to_numpy(np.float64) for k in ("alpha", "distance_before", "err_pixel")},
            **{k: done[k].to_numpy(np.float64) for k in ("t_render", "t_transfer", *MEASURED)},
            "status": np.array([codes[s] for s in done["status"]], np.int8),
            "reason": np.array([r or "" for r in done["reason"]], dtype=object)}


@task(cache_policy=NO_CACHE, persist_result=False)
def transfer_shard(ws: Workspace, name: str, shard: str, table: pd.DataFrame, refined: Path | None, look: dict,
                   line: dict | None, params: Params) -> dict:
    """Step 7 for one shard: edit every original the guard let through along its path G(w_i + (t/N)·δ_i) (δ_i
    refined, tasks/refine.py, or α_i·n), and measure every photo's gap to the final state
    (tasks/final_state.py: a skipped photo keeps its before gap); the shard's record goes to parts/ with
    the fingerprint of its inputs (a rerun skips it). Returns the rows as compact columns (`Catalog`)."""
    paths = ws.edit(name)
    part = paths.part(shard)
    sources = source_paths(ws, table["id"])  # this shard's photos only: no whole-catalog dict per shard
    hashes = source_hashes(ws, table["id"])
    key = part_fingerprint(ws, name, shard, table, sources, refined, look, line, params)
    done = _read_part(part, key, paths)
    if done is None:
        done = _transfer(ws, name, shard, table, refined, FinalLook.from_dict(look), line, sources, hashes, params)
        write_parquet(part, done.assign(fingerprint=key)[PART_SCHEMA.names], PART_SCHEMA)
    return _columns(shard, table, done)


def _transfer(ws: Workspace, name: str, shard: str, table: pd.DataFrame, refined: Path | None, look: FinalLook,
              line: dict | None, sources: dict[str, Path], hashes: dict[str, str], params: Params) -> pd.DataFrame:
    paths = ws.edit(name)
    rows = []
    nan = float("nan")
    for r in table[table["status"] == "rejected"].itertuples(index=False):  # not finite: nothing to measure
        paths.image(r.id).unlink(missing_ok=True)
        rows.append((r.id, r.status, r.reason, 0.0, 0.0, nan, nan, nan))
    todo = table[table["status"] != "rejected"]
    if len(todo):
        device = resolve_device(params.runtime.device)
        with reading(ws.gan):
            G = load_generator(ws.gan, device)
        encoder = load_encoder(ws.encoder, device).eval() if ws.encoder.exists() else None
        state = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in load_direction(ws, paths).items()}
        latents = torch.from_numpy(read_h5(ws.latent_shard(shard), ["w"])["w"]).to(device)
        originals = read_h5(ws.ingest_shard(shard), ["images"])["images"]
        offsets = read_offsets(refined) if refined is not None else {}
    with progress.track(f"transfer {shard}", total=int(todo["status"].isin(EDITED).sum())) as bar:
        for start in range(0, len(todo), RENDER_BATCH):
            chunk = todo.iloc[start : start + RENDER_BATCH]
            t0 = time.perf_counter()
            index = torch.as_tensor(chunk["index"].to_numpy(copy=True), device=device)
            alpha = torch.as_tensor(chunk["alpha"].to_numpy(copy=True), dtype=latents.dtype, device=device)
            delta = closed_form_offsets(alpha, state["n"])
            for k, i in enumerate(chunk["id"]):  # refined where the photo is edited (skipped ones were not)
                if i in offsets:
                    delta[k] = torch.from_numpy(offsets[i]).to(delta)
            clips = render_path(G, latents[index], delta, params.transfer.frames)
            t_render = (time.perf_counter() - t0) / len(chunk)
            outputs = originals[chunk["index"].to_numpy()].copy()
            done = []
            for k, (r, frames) in enumerate(zip(chunk.itertuples(index=False), clips, strict=True)):
                if r.status not in EDITED:  # skipped by the guard: no image, measured as it is
                    paths.image(r.id).unlink(missing_ok=True)
                    done.append((r.id, r.status, r.reason, 0.0, 0.0))
                    continue
                status, reason, seconds, thumb = edit_one(paths.image(r.id), sources[r.id], frames,
                                                          r.status, params, hashes.get(r.id), look)
                if thumb is not None:
                    outputs[k] = thumb
                done.append((r.id, status, reason if status == "rejected" else r.reason, seconds, t_render))
                bar.advance()
            gaps = photo_gaps(encoder, state, params.edit.strength, look, line, originals[chunk["index"].to_numpy()],
                              outputs, clips[:, 0], clips[:, -1])
            for k, row in enumerate(done):
                measured = row[1] != "rejected"
                rows.append((*row, *(float(gaps[c][k]) if measured else nan for c in MEASURED)))
    order = {i: k for k, i in enumerate(table["id"])}
    rows.sort(key=lambda row: order[row[0]])
    return pd.DataFrame(rows, columns=["id", "status", "reason", "t_transfer", "t_render", *MEASURED])
