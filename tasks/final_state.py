"""Did the edit land? Measured on every output, in what the edit sets, against the example's final state.

Per photo (`photo_gaps`, run by the transfer task beside each output): its edit region M_i (where its own
frames change, edit_core/region.py) and two readings of the original and of the output at model
resolution, brought there exactly as ingest brings photos:

- the look: their mean colour in M_i against the example's final look, in the parts the example's edit
  sets (edit_core/refine.py: chroma for a repaint, lightness for a brightening);
- along the edit: the encoder's latent of each, its signed distance to the example's final state along n
  (`distance_after` for the output), for an edit that sets no part of the look (a rotation, a resize:
  what moves is shape, which the latent carries).

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
from common.storage import read_json, write_json
from common.workspace import Workspace
from edit_core.alphas import EDITED, STATUSES, distances, example_target
from edit_core.edits import WEAK_CAPTURE
from edit_core.imageops import to_tensor
from edit_core.metrics import final_state_verdict
from edit_core.refine import FinalLook, look_gap
from edit_core.region import edit_region
from tasks.alphas import Catalog


def photo_gaps(encoder: torch.nn.Module | None, state: dict, strength: float, look: FinalLook, originals: np.ndarray,
               outputs: np.ndarray, first: np.ndarray, last: np.ndarray) -> dict[str, np.ndarray]:
    """before_gap, final_gap and distance_after of photos (uint8 [B, R, R, 3] originals and outputs at model
    resolution, their frames' first and last [B, R, R, 3]); NaN where a reading needs the encoder and
    there is none."""
    device = next(encoder.parameters()).device if encoder is not None else torch.device("cpu")
    x0, x1 = to_tensor(originals, device), to_tensor(outputs, device)
    nan = np.full(len(originals), np.nan)
    along = {"before": nan, "after": nan}
    if encoder is not None:
        target = example_target(state["w_example"], state["delta_star"], strength).to(device)
        with torch.no_grad():
            for key, x in (("before", x0), ("after", x1)):
                w = encoder(x)
                if w.ndim < target.ndim + 1:  # a W encoder, W+ latents: every layer the same code
                    w = w.unsqueeze(1).expand(-1, *target.shape[:-1], -1)
                along[key] = distances(w, target, state["n"].to(device)).double().cpu().numpy()
    if look.sets_anything:
        region = edit_region(to_tensor(first, device), to_tensor(last, device))
        before, after = (look_gap(x, region, look).double().cpu().numpy() for x in (x0, x1))
    else:
        before, after = np.abs(along["before"]), np.abs(along["after"])
    return {"before_gap": before, "final_gap": after, "distance_after": along["after"]}


@task(cache_policy=NO_CACHE, persist_result=False)
def judge_final_state(ws: Workspace, name: str, catalog: Catalog, look: dict, params: Params) -> dict:
    """The verdict over every photo the guard let through or skipped (a skipped photo counts unedited), with
    warnings (nothing edited, the edit did not land, the example's edit weakly captured by G), written to
    WS/edits/NAME/final_state.json."""
    paths = ws.edit(name)
    status = catalog.columns["status"]
    counted = np.isin(status, [STATUSES.index(s) for s in (*EDITED, "skipped")])
    verdict = final_state_verdict(catalog.columns["before_gap"][counted], catalog.columns["final_gap"][counted])
    final = FinalLook.from_dict(look)
    verdict |= {"reading": "look" if final.sets_anything else "along the edit", "look": look}
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
