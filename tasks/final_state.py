"""Did the edit land? Measured on every output, in what the edit sets, against the example's final state.

Per photo (`photo_gaps`, run by the transfer task beside each output): its edit region M_i (where its own
frames change, edit_core/region.py) and two readings of the original and of the output at model
resolution, brought there exactly as ingest brings photos:

- the look: their mean colour in M_i against the example's final look, in the parts the example's edit
  sets (edit_core/refine.py: chroma for a repaint, lightness for a brightening);
- along the edit: the encoder's latent of each, its signed distance to the example's final state along n
  (`distance_after` for the output), for an edit that sets no part of the look (a rotation, a resize:
  what moves is shape, which the latent carries). The encoder, like any projection, pulls what it reads
  toward the catalog's typical latents, so a raw reading overstates how far an edited photo still is
  (0.62× read where the attribute estimator measured 0.30× on the demo's rotation); it is read through a
  line fitted on G's own renders at known distances (`calibrate_reading`), which gave 0.30×.

`before_gap` and `final_gap` use the look when the edit sets one, else the distance along the edit. The
verdict (`judge_final_state`) compares their catalog means (edit_core.metrics.final_state_verdict);
each photo is landed or short against the same threshold (results.parquet `final_state`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from prefect import task
from prefect.cache_policies import NO_CACHE

from common.params import Params
from common.storage import read_h5, read_json, reading, write_json
from common.workspace import Workspace
from edit_core.alphas import EDITED, STATUSES, distances, example_target
from edit_core.checkpoint import load_encoder, load_generator
from edit_core.edits import WEAK_CAPTURE
from edit_core.imageops import resolve_device, to_tensor, to_uint8
from edit_core.metrics import final_state_verdict
from edit_core.refine import FinalLook, look_gap
from edit_core.region import edit_region
from tasks.alphas import Catalog

CALIBRATION_RENDERS = 128  # catalog latents moved to known distances along n, rendered, read back


def read_along(encoder: torch.nn.Module, images: torch.Tensor, state: dict, strength: float) -> np.ndarray:
    """The encoder's raw reading of images [B, 3, R, R]: its latent's signed distance to the example's final
    state along n."""
    target = example_target(state["w_example"], state["delta_star"], strength).to(images.device)
    with torch.no_grad():
        w = encoder(images)
    if w.ndim < target.ndim + 1:  # a W encoder, W+ latents: every layer the same code
        w = w.unsqueeze(1).expand(-1, *target.shape[:-1], -1)
    return distances(w, target, state["n"].to(images.device)).double().cpu().numpy()


def reading_line(G: torch.nn.Module, encoder: torch.nn.Module, state: dict, strength: float, w: np.ndarray,
                 seed: int = 0) -> dict[str, float]:
    """The encoder's reading against the true distance: CALIBRATION_RENDERS latents of `w` (the catalog's)
    moved along n to distances spread over the catalog's range and the final state, rendered as photos
    (uint8), read back; a least-squares line reading ≈ slope·distance + offset."""
    device = next(G.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    W = torch.from_numpy(w)
    target = example_target(state["w_example"], state["delta_star"], strength)
    now = distances(W, target, state["n"])
    pick = torch.randperm(len(W), generator=gen)[:CALIBRATION_RENDERS]
    lo, hi = float(min(now.min(), 0.0)), float(max(now.max(), 0.0))
    true = torch.rand(len(pick), generator=gen, dtype=torch.float64) * (hi - lo) + lo
    moved = W[pick] + (true - now[pick].double()).to(W.dtype).view(-1, *([1] * (W.ndim - 1))) * state["n"]
    with torch.no_grad():
        photos = to_tensor(to_uint8(G.synthesis(moved.to(device))), device)
    read = read_along(encoder, photos, state, strength)
    slope, offset = np.polyfit(true.numpy(), read, 1)
    return {"slope": float(slope), "offset": float(offset)}


@task(cache_policy=NO_CACHE, persist_result=False)
def calibrate_reading(ws: Workspace, state: dict, params: Params) -> dict[str, float] | None:
    """`reading_line` on the first shard's latents at params' strength; None without an encoder."""
    if not ws.encoder.exists():
        return None
    device = resolve_device(params.runtime.device)
    with reading(ws.gan), reading(ws.encoder):
        G, E = load_generator(ws.gan, device), load_encoder(ws.encoder, device).eval()
    w = read_h5(ws.latent_shard(ws.ingest_shards()[0]), ["w"])["w"]
    return reading_line(G, E, state, params.edit.strength, w)


def photo_gaps(encoder: torch.nn.Module | None, state: dict, strength: float, look: FinalLook,
               line: dict[str, float] | None, originals: np.ndarray, outputs: np.ndarray, first: np.ndarray,
               last: np.ndarray) -> dict[str, np.ndarray]:
    """before_gap, final_gap and distance_after of photos (uint8 [B, R, R, 3] originals and outputs at model
    resolution, their frames' first and last [B, R, R, 3]); readings along the edit through the calibration
    `line` (`reading_line`); NaN where a reading needs the encoder and there is none."""
    device = next(encoder.parameters()).device if encoder is not None else torch.device("cpu")
    x0, x1 = to_tensor(originals, device), to_tensor(outputs, device)
    nan = np.full(len(originals), np.nan)
    along = {"before": nan, "after": nan}
    if encoder is not None and line is not None:
        for key, x in (("before", x0), ("after", x1)):
            along[key] = (read_along(encoder, x, state, strength) - line["offset"]) / line["slope"]
    if look.sets_anything:
        region = edit_region(to_tensor(first, device), to_tensor(last, device))
        before, after = (look_gap(x, region, look).double().cpu().numpy() for x in (x0, x1))
    else:
        before, after = np.abs(along["before"]), np.abs(along["after"])
    return {"before_gap": before, "final_gap": after, "distance_after": along["after"]}


@task(cache_policy=NO_CACHE, persist_result=False)
def judge_final_state(ws: Workspace, name: str, catalog: Catalog, look: dict, line: dict | None,
                      params: Params) -> dict:
    """The verdict over every photo the guard let through or skipped (a skipped photo counts unedited), with
    warnings (nothing edited, the edit did not land, the example's edit weakly captured by G), written to
    WS/edits/NAME/final_state.json."""
    paths = ws.edit(name)
    status = catalog.columns["status"]
    counted = np.isin(status, [STATUSES.index(s) for s in (*EDITED, "skipped")])
    verdict = final_state_verdict(catalog.columns["before_gap"][counted], catalog.columns["final_gap"][counted])
    final = FinalLook.from_dict(look)
    verdict |= {"reading": "look" if final.sets_anything else "along the edit", "look": look, "reading_line": line}
    capture = (read_json(paths.spec).get("capture") or {}).get("direction") if paths.spec.exists() else None
    warnings = []
    if len(catalog) and not len(catalog.edited()):
        text, reason = catalog.status(), catalog.columns["reason"]
        counts = ", ".join(f"{int((text == s).sum())} {s}" for s in dict.fromkeys(text))
        common = pd.Series(reason[reason != ""]).value_counts()
        why = f": {common.index[0]}" if len(common) else ""
        warnings.append(f"no photo was edited ({counts}){why}")
    if verdict["landed"] is False:
        warnings.append(f"the photos did not reach the example's final state: {verdict['n_short']} of "
                        f"{verdict['final_state_photos']} fell short (the outputs are {verdict['final_state_ratio']:.2f}x "
                        "as far from it as the originals); review them in the report")
    if capture is not None and capture < WEAK_CAPTURE:
        warnings.append(f"the example's own edit is only {max(capture, 0.0):.0%} reproduced by the generator (capture < "
                        f"{WEAK_CAPTURE:.0%}): the photos reach the example's state only as far as G renders it")
    verdict |= {"example_capture": capture, "warnings": warnings}
    write_json(paths.final_state, verdict)
    return verdict
