"""Step 6 as a task: every photo refined toward the example's final look (edit_core/refine.py), per shard.

The example's final look at the edit's strength is measured once from its own frames G(w_ex) ...
G(w_ex + s·Δ*) (`example_look`). Each shard's photos then start from their closed-form offsets α_i·n and
take edit.refine.steps steps; the refined offsets δ_i are written to parts/<shard>.refine.h5 with the
fingerprint of their inputs, so a rerun skips finished shards and the transfer reads them from there.
With edit.refine.steps 0, or an edit whose look sets nothing (a rotation, a resize), nothing is written:
the transfer then follows α_i·n, exactly the closed form.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from prefect import task
from prefect.cache_policies import NO_CACHE

from common import progress
from common.fingerprint import fingerprint
from common.params import Params
from common.storage import read_h5, read_torch, reading, sha256_file, write_h5
from common.workspace import Workspace
from edit_core.alphas import EDITED
from edit_core.checkpoint import load_generator
from edit_core.imageops import resolve_device, to_uint8
from edit_core.models.base import Generator
from edit_core.refine import FinalLook, final_look, refine
from tasks.project import is_current

REFINE_VERSION = 1
BATCH = 32  # photos refined in one generator call


def closed_form_offsets(alpha: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    """δ_i = α_i·n, [B, *n.shape]: where the closed form moves each latent."""
    return alpha.reshape(-1, *([1] * n.ndim)) * n


def render_path(G: Generator, w: torch.Tensor, delta: torch.Tensor, frames: int) -> np.ndarray:
    """uint8 [B, N+1, R, R, 3]: G(w_i + (t/N)·δ_i) for t = 0..N, latents w and offsets δ [B, ...]."""
    t = torch.linspace(0.0, 1.0, frames + 1, device=w.device).view(1, -1, *([1] * (w.ndim - 1)))
    latents = (w.unsqueeze(1) + t * delta.unsqueeze(1)).reshape(-1, *w.shape[1:])
    with torch.no_grad():
        images = to_uint8(G.synthesis(latents))
    return images.reshape(len(w), frames + 1, *images.shape[1:])


def example_look(G: Generator, state: dict, strength: float, frames: int) -> FinalLook:
    """The example's final look at `strength`, from its frames G(w_ex) ... G(w_ex + s·Δ*)."""
    device = next(G.parameters()).device
    w = state["w_example"].to(device)[None]
    return final_look(render_path(G, w, strength * state["delta_star"].to(device)[None], frames)[0])


def refined_offsets(G: Generator, w: torch.Tensor, alpha: torch.Tensor, n: torch.Tensor, look: FinalLook,
                    params: Params) -> torch.Tensor:
    """δ_i for latents w [B, ...] at closed-form α [B]: α_i·n refined with params.edit.refine."""
    r = params.edit.refine
    return refine(G, w, closed_form_offsets(alpha, n), look, steps=r.steps, lr=r.lr, keep=r.keep, pull=r.pull)


def refines(look: FinalLook, params: Params) -> bool:
    """Whether the refinement moves anything: steps > 0 and a look that sets something."""
    return params.edit.refine.steps > 0 and look.sets_anything


@task(cache_policy=NO_CACHE, persist_result=False)
def look_of_edit(ws: Workspace, state: dict, params: Params) -> dict:
    """The example's final look at params.edit.strength (FinalLook.to_dict)."""
    with reading(ws.gan):
        G = load_generator(ws.gan, resolve_device(params.runtime.device))
    return example_look(G, state, params.edit.strength, params.transfer.frames).to_dict()


def refine_path(ws: Workspace, name: str, shard: str) -> Path:
    """Where one shard's refined offsets are kept."""
    return ws.edit(name).refined(shard)


def refine_fingerprint(ws: Workspace, name: str, shard: str, table: pd.DataFrame, look: dict, params: Params) -> str:
    """Inputs of one shard's refined offsets: direction, latents, the photos' α and status, the look, params."""
    rows = [[i, float(a), str(s)] for i, a, s in zip(table["id"], table["alpha"], table["status"], strict=True)]
    return fingerprint(REFINE_VERSION, sha256_file(ws.edit(name).direction), sha256_file(ws.latent_shard(shard)), rows,
                       look, params.to_dict()["edit"]["refine"])


def read_offsets(path: Path) -> dict[str, np.ndarray]:
    """The refined offset of every photo of one shard's file, by id."""
    data = read_h5(path, ["ids", "delta"])
    return dict(zip(data["ids"].astype(str), data["delta"], strict=True))


@task(cache_policy=NO_CACHE, persist_result=False)
def refine_shard(ws: Workspace, name: str, shard: str, table: pd.DataFrame, look: dict, params: Params) -> Path | None:
    """Refine the offsets of one shard's photos that get an image (EDITED statuses) into
    parts/<shard>.refine.h5; skipped when that file is current. None when there is nothing to refine
    (the transfer then follows the closed form)."""
    final = FinalLook.from_dict(look)
    todo = table[table["status"].isin(EDITED)]
    if not refines(final, params) or not len(todo):
        return None
    out = refine_path(ws, name, shard)
    key = refine_fingerprint(ws, name, shard, table, look, params)
    if is_current(out, key):
        return out
    device = resolve_device(params.runtime.device)
    with reading(ws.gan):
        G = load_generator(ws.gan, device)
    n = read_torch(ws.edit(name).direction)["n"].to(device)
    latents = torch.from_numpy(read_h5(ws.latent_shard(shard), ["w"])["w"]).to(device)
    deltas = []
    with progress.track(f"refine {shard}", total=len(todo)) as bar:
        for start in range(0, len(todo), BATCH):
            chunk = todo.iloc[start : start + BATCH]
            index = torch.as_tensor(chunk["index"].to_numpy(copy=True), device=device)
            alpha = torch.as_tensor(chunk["alpha"].to_numpy(copy=True), dtype=latents.dtype, device=device)
            deltas.append(refined_offsets(G, latents[index], alpha, n, final, params).cpu().numpy())
            bar.advance(len(chunk))
    write_offsets(out, todo["id"], np.concatenate(deltas), key)
    return out


def write_offsets(path: Path, ids: pd.Series, delta: np.ndarray, key: str) -> None:
    """One shard's refined offsets (by id), with the fingerprint of their inputs."""
    write_h5(path, {"ids": ids.to_numpy(str), "delta": delta}, {"fingerprint": key})
