"""Did the edit land? Measured on the outputs: a sample of the edited photos is projected again (as the
originals were) and its signed distance to the example's final state along n compared with the
unedited photos', each against its floor (its render G(w_i + α_i·n), on the hyperplane, projected again
the same way: what a fully edited photo measures); beside it a pixel check, the edited photo at model
resolution against the render G(w_i + α_i·n) it was meant to follow. Works on any catalog: no attribute
estimator needed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from prefect import task
from prefect.cache_policies import NO_CACHE

from common import progress
from common.params import Params
from common.storage import read_json, write_json
from common.workspace import Workspace
from edit_core.alphas import apply_alphas, distances, example_target
from edit_core.checkpoint import load_encoder, load_generator
from edit_core.edits import WEAK_CAPTURE
from edit_core.imageops import resolve_device, to_tensor, to_uint8
from edit_core.metrics import final_state_verdict, pixel_mse
from tasks.alphas import Catalog, edited_latents, spread_over_alpha
from tasks.direction import load_direction
from tasks.images import MAX_PIXELS, decode
from tasks.project import feature_extractor, project_images

MEASURED_COLUMNS = ["id", "distance_after", "pixel_err_edited"]


def _edited_thumbnails(ws: Workspace, name: str, ids: list[str], resolution: int) -> np.ndarray:
    """The edited photos, brought to model resolution exactly as ingest brings the originals."""
    images = ws.edit(name).images
    return np.stack([decode((images / f"{i}.png").read_bytes(), resolution, MAX_PIXELS, 8)[0] for i in ids])


@task(cache_policy=NO_CACHE, persist_result=False)
def measure_final_state(ws: Workspace, name: str, catalog: Catalog, params: Params) -> tuple[pd.DataFrame, dict]:
    """Re-project up to `edit.verify` edited photos (spread over α) and their edited renders (the floor); per
    photo the measured distance after and the pixel error against its render; the verdict in
    WS/edits/NAME/final_state.json."""
    paths = ws.edit(name)
    done = catalog.edited()
    picked = done[spread_over_alpha(np.arange(len(done)), catalog.columns["alpha"][done], params.edit.verify)]
    ids = [i.decode("utf-8") for i in catalog.columns["id"][picked]]
    verdict: dict = {"landed": None, "final_state_photos": 0}
    measured = pd.DataFrame({c: pd.Series(dtype=str if c == "id" else float) for c in MEASURED_COLUMNS})
    if len(picked):
        device = resolve_device(params.runtime.device)
        G = load_generator(ws.gan, device)
        encoder = load_encoder(ws.encoder, device) if params.project.mode != "optimize" else None
        features = feature_extractor(params.project.features, ws.gan, device)
        thumbs = _edited_thumbnails(ws, name, ids, G.resolution)
        with progress.track(f"measure the final state ({len(picked)} photos)", total=len(picked)) as bar:
            w_after = project_images(G, thumbs, params, encoder, features, bar)["w"]
        state = load_direction(ws, paths)
        target = example_target(state["w0"], state["delta_star"], params.edit.strength)
        after = distances(torch.from_numpy(w_after), target, state["n"]).numpy()
        w = edited_latents(ws, catalog, picked)
        alpha = catalog.columns["alpha"][picked]
        edited_w = apply_alphas(torch.from_numpy(w), torch.from_numpy(alpha.astype(w.dtype)), state["n"])
        with torch.no_grad():
            renders = G.synthesis(edited_w.to(device))
        pixel = pixel_mse(to_tensor(thumbs), renders)
        with progress.track(f"measure its floor ({len(picked)} renders)", total=len(picked)) as bar:
            w_floor = project_images(G, to_uint8(renders), params, encoder, features, bar)["w"]
        floor = distances(torch.from_numpy(w_floor), target, state["n"]).numpy()
        measured = pd.DataFrame({"id": ids, "distance_after": after.astype(np.float64), "pixel_err_edited": pixel})
        before = catalog.columns["distance_before"][picked].astype(w.dtype)  # as computed, in the latents' precision
        verdict = final_state_verdict(before, after, floor)
        verdict |= {"pixel_err_edited_mean": float(pixel.mean()),
                    "pixel_err_original_mean": float(catalog.columns["err_pixel"][picked].mean())}
    capture = (read_json(paths.spec).get("capture") or {}).get("direction") if paths.spec.exists() else None
    warnings = []
    if len(catalog) and not len(done):
        status, reason = catalog.status(), catalog.columns["reason"]
        counts = ", ".join(f"{int((status == s).sum())} {s}" for s in dict.fromkeys(status))
        common = pd.Series(reason[reason != ""]).value_counts()
        why = f": {common.index[0]}" if len(common) else ""
        warnings.append(f"no photo was edited ({counts}){why}")
    if verdict["landed"] is False:
        warnings.append("the edited photos did not reach the example's final state "
                        f"(distance to fully edited renders {verdict['final_state_ratio']:.2f}x the unedited catalog's)")
    if capture is not None and capture < WEAK_CAPTURE:
        warnings.append(f"the example's own edit is only {capture:.0%} reproduced by the generator (capture < "
                        f"{WEAK_CAPTURE:.0%}): the photos reach the example's state only as far as G renders it")
    verdict |= {"example_capture": capture, "warnings": warnings}
    write_json(paths.root / "final_state.json", verdict)
    return measured, verdict
