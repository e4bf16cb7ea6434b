"""A preview of an edit on a sample of the catalog, without writing anything the catalog's edit owns.

The same steps as `oneedit edit` (the example edit, Δ* fitted, closed-form α for every stored latent,
the motion + colour transfer), but in memory and on a few photos, each first reduced to `size` px so
a preview takes seconds. A new strength re-uses the fitted Δ*: α(s') = α(s) + (s' − s)·‖Δ*‖ (the
closed form again), so only the sample's transfer runs again. Used by the studio and `edit --preview`
/ `edit --only`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from common import progress
from common.params import Params
from common.progress import ProgressFn
from common.storage import read_parquet, write_json
from common.workspace import Workspace
from edit_core.alphas import EDITED, unit_normal
from edit_core.checkpoint import load_generator
from edit_core.imageops import resolve_device, to_uint8
from edit_core.models.base import Generator
from tasks.alphas import alpha_table, guard_limits, reference_latents, spread_over_alpha
from tasks.direction import fit_example_direction
from tasks.example import make_example_edit
from tasks.images import read_photo, write_png
from tasks.latents import load_latents
from tasks.manifest import source_paths
from tasks.refine import BATCH, example_look, refined_offsets, render_path
from tasks.review import common_reason
from tasks.transfer import edit_photo


@dataclass
class Preview:
    """A fitted edit held in memory: the example's latents, Δ*, its renders and the catalog's latents."""

    example_id: str | None
    w0: torch.Tensor
    w0_edited: torch.Tensor
    delta_star: torch.Tensor
    renders: dict[str, np.ndarray]  # render_before G(w0), render_user_edit G(w0'), render_direction G(w0 + Δ*)
    ids: np.ndarray
    w: np.ndarray
    err_pixel: np.ndarray
    reference: np.ndarray  # latents of G's own samples: the range guard's span
    w_example: torch.Tensor  # the example's latent as the catalog sees it (the final state is placed from it)

    @property
    def state(self) -> dict[str, torch.Tensor]:
        return {"delta_star": self.delta_star, "n": unit_normal(self.delta_star), "w0": self.w0,
                "w_example": self.w_example}


def fit_preview(ws: Workspace, form: dict, params: Params, on_progress: ProgressFn = progress.quiet) -> Preview:
    """The user's edit of one example -> Δ* (exactly as `oneedit edit` fits it), and the catalog's latents."""
    device = resolve_device(params.runtime.device)
    G = load_generator(ws.gan, device)
    on_progress(0, 2, "example edit")
    with progress.track("example edit", total=None) as bar, progress.optimizer_steps(bar):  # a cancel point a step
        edit, example = make_example_edit(G, ws, form, params, device)
    on_progress(1, 2, "fit direction Δ*")
    with progress.track("fit direction Δ*", total=None) as bar, progress.optimizer_steps(bar):
        delta_star = fit_example_direction(G, edit, params)
    with torch.no_grad():
        renders = to_uint8(G.synthesis(torch.stack([edit.w0, edit.w0_edited, edit.w0 + delta_star])))
    latents = load_latents(ws)
    reference = reference_latents(G, latents["w"], params.guard)
    on_progress(2, 2, "fit direction Δ*")
    return Preview(example_id=example["id"], w0=edit.w0.detach().cpu(), w0_edited=edit.w0_edited.detach().cpu(),
                   delta_star=delta_star.cpu(), ids=latents["ids"], w=latents["w"], err_pixel=latents["err_pixel"],
                   reference=reference, w_example=example["w_catalog"].detach().cpu(),
                   renders=dict(zip(("render_before", "render_user_edit", "render_direction"), renders, strict=True)))


def catalog_alphas(ws: Workspace, preview: Preview, strength: float, params: Params) -> pd.DataFrame:
    """α and the range guard's decision of every stored latent at `strength`, with the photo's file name."""
    err = preview.err_pixel.astype(np.float64)
    limits = guard_limits(preview.reference, err, preview.state, strength, params.guard)
    table = alpha_table(preview.w, preview.state, strength, err, limits, params.guard)
    manifest = read_parquet(ws.manifest)
    files = dict(zip(manifest.loc[manifest["status"] == "accepted", "id"],
                     manifest.loc[manifest["status"] == "accepted", "source_path"], strict=True))
    return pd.DataFrame({"id": preview.ids, "file": [files.get(i, "") for i in preview.ids],
                         "err_pixel": preview.err_pixel.astype(np.float64), "alpha": table["alpha"],
                         "flagged": table["flagged"], "status": table["status"], "reason": table["reason"]})


def catalog_summary(table: pd.DataFrame) -> dict:
    """What applying the edit would leave of the catalog (`catalog_alphas`' table): photos, flagged, counts per
    status, how many would be edited, the commonest reason of the others, α's range."""
    edited = table["status"].isin(EDITED)
    return {"photos": len(table), "flagged": int(table["flagged"].sum()),
            "status": {str(k): int(v) for k, v in table["status"].value_counts().items()},
            "would_edit": int(edited.sum()), "common_reason": common_reason(table.loc[~edited, "reason"]),
            "alpha_min": float(table["alpha"].min()), "alpha_max": float(table["alpha"].max())}


def _fit(rgb: np.ndarray, size: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = min(1.0, size / max(h, w))
    if s == 1.0:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def transfer_sample(ws: Workspace, preview: Preview, table: pd.DataFrame, ids: list[str], params: Params,
                    size: int | None = 256, G: Generator | None = None, on_progress: ProgressFn = progress.quiet) -> list[dict]:
    """The real transfer on each sampled photo (reduced to `size` px; None: full resolution):
    {id, file, alpha, flagged, status, err_pixel, before, after, reason}: status and reason as applying
    the edit would record them (edited / flagged / clamped / skipped / rejected, the range guard's reason).

    A photo the edit would not edit (skipped, rejected) is returned with its original as before, no after;
    one whose original cannot be read with before = after = None and its reason.
    """
    device = resolve_device(params.runtime.device)
    G = G if G is not None else load_generator(ws.gan, device)
    sources = source_paths(ws)
    rows = table.set_index("id")
    index = {i: k for k, i in enumerate(preview.ids)}
    n = preview.state["n"].to(device)
    look = example_look(G, preview.state, params.edit.strength, params.transfer.frames)
    out = []
    for i in ids:
        r = rows.loc[i]
        item = {"id": i, "file": str(r["file"]), "alpha": float(r["alpha"]), "flagged": bool(r["flagged"]),
                "status": str(r["status"]), "err_pixel": float(r["err_pixel"]), "before": None, "after": None,
                "reason": str(r["reason"] or "")}
        try:
            photo = read_photo(Path(sources[i]))
            item["before"] = _fit(photo, size) if size is not None else photo
        except (OSError, KeyError) as exc:
            item["reason"] = f"original unavailable: {getattr(exc, 'strerror', None) or exc}"
        out.append(item)
    edited = [item for item in out if item["before"] is not None and item["status"] in EDITED]  # what Apply edits
    done = 0
    for start in range(0, len(edited), BATCH):  # refined and rendered in batches, as the catalog's run does
        chunk = edited[start:start + BATCH]
        w = torch.from_numpy(preview.w[[index[item["id"]] for item in chunk]]).to(device)
        alpha = torch.tensor([item["alpha"] for item in chunk], dtype=w.dtype, device=device)
        with progress.track("refine the sample", total=None) as bar, progress.optimizer_steps(bar):
            delta = refined_offsets(G, w, alpha, n, look, params)
        for item, frames in zip(chunk, render_path(G, w, delta, params.transfer.frames), strict=True):
            on_progress(done, len(edited), "transfer the sample")
            item["after"] = edit_photo(item["before"], frames, params, look)
            done += 1
    on_progress(len(edited), len(edited), "transfer the sample")
    return out


def write_preview(ws: Workspace, name: str, form: dict, params: Params, sample: int | list[str],
                  on_progress: ProgressFn = progress.quiet) -> dict:
    """`oneedit edit --preview K` (`sample` K: photos spread over α) or `--only IDS` (`sample`: those
    ids): the photos edited at full resolution into WS/edits/NAME/preview/ (PNGs + preview.json);
    spec.json, direction.pt, results and images of the edit are left as they are."""
    folder = ws.edit(name).preview
    preview = fit_preview(ws, form, params, on_progress)
    table = catalog_alphas(ws, preview, params.edit.strength, params)
    ids = spread_over_alpha(table["id"], table["alpha"], sample) if isinstance(sample, int) else sample
    sample = transfer_sample(ws, preview, table, ids, params, size=None, on_progress=on_progress)
    rows = []
    for n, item in enumerate(sample):
        row = {key: item[key] for key in ("file", "alpha", "flagged", "status", "reason")}
        for which in ("before", "after"):
            if item[which] is not None:
                write_png(folder / f"{n:02d}-{which}.png", item[which])
                row[which] = f"{n:02d}-{which}.png"
        rows.append(row)
    summary = {"name": name, "strength": params.edit.strength, "delta_norm": float(preview.delta_star.norm()),
               **catalog_summary(table), "sample": rows}
    write_json(folder / "preview.json", summary)
    return summary
