"""Steps 4-5 as tasks: the example edit, the direction Δ* (§3.1), α for every photo (§3.2), results.

The direction stage writes spec.json (the durable record of the edit), example/*.png and
direction.pt; the α stage reads only direction.pt and the stored latents, so a new strength
never projects anything again.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
from prefect import task
from prefect.cache_policies import NO_CACHE

from edit_core.alphas import alphas, apply_alphas, distances, example_target, range_guard, unit_normal
from edit_core.checkpoint import load_discriminator, load_encoder, load_generator
from edit_core.direction import fit_direction
from edit_core.edits import (
    WEAK_CAPTURE,
    BrushConstraints,
    ExampleEdit,
    edit_capture,
    edit_from_brush,
    edit_from_offset,
    edit_from_pair,
)
from edit_core.imageops import resolve_device, to_tensor, to_uint8
from edit_core.models.base import Generator
from edit_core.project import project
from oneedit import progress
from oneedit.params import Params
from oneedit.workspace import EditPaths, Workspace
from tasks.errors import InputError
from tasks.images import read_photo, write_png
from tasks.ingest import Rejected, decode
from tasks.project import feature_extractor, load_latents
from tasks.storage import atomic_path, read_h5, read_parquet, sha256_file, write_json, write_parquet

RESULTS_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("source_path", pa.string()),
    ("alpha", pa.float64()),
    ("distance_before", pa.float64()),
    ("distance_after", pa.float64()),
    ("err_pixel", pa.float64()),
    ("status", pa.string()),
    ("reason", pa.string()),
    ("t_render", pa.float64()),
    ("t_transfer", pa.float64()),
])


# --------------------------------------------------------------------------------------------
# the example


def read_thumbnail(path: Path, resolution: int) -> np.ndarray:
    """An image file at model resolution, preprocessed exactly as ingest does."""
    try:
        return decode(Path(path).read_bytes(), resolution, max_pixels=120_000_000, min_side=8)[0]
    except (Rejected, OSError) as exc:
        raise InputError(f"{path}: {exc}") from None


def resolve_example(ws: Workspace, example: str, resolution: int) -> dict:
    """The example as {id (None if not in the catalog), thumb uint8 [R, R, 3], w (stored latent or None)}."""
    manifest = read_parquet(ws.manifest)
    accepted = manifest[manifest["status"] == "accepted"]
    example_id = example if example in set(accepted["id"]) else None
    if example_id is None and Path(example).is_file():
        digest = sha256_file(example)[:16]
        example_id = digest if digest in set(accepted["id"]) else None
        if example_id is None:
            return {"id": None, "thumb": read_thumbnail(Path(example), resolution), "w": None}
    if example_id is None:
        raise InputError(f"--example {example!r} is neither a catalog photo id nor an image file")
    latents = load_latents(ws)
    i = int(np.flatnonzero(latents["ids"] == example_id)[0])
    images = read_h5(ws.ingest / str(latents["shard"][i]), ["images"])["images"]
    return {"id": example_id, "thumb": images[int(latents["index"][i])], "w": latents["w"][i]}


def example_size(ws: Workspace, example: str) -> tuple[int, int]:
    """(height, width) of the example's original photo; a one-line error if it is neither id nor file."""
    manifest = read_parquet(ws.manifest)
    row = manifest[(manifest["id"] == example) & (manifest["status"] == "accepted")]
    if len(row):
        return int(row["height"].iloc[0]), int(row["width"].iloc[0])
    if Path(example).is_file():
        return photo_size(Path(example), "--example")
    raise InputError(f"--example {example!r} is neither a catalog photo id nor an image file")


def photo_size(path: Path, what: str) -> tuple[int, int]:
    """(height, width) of an image file after EXIF orientation, or a one-line error."""
    try:
        return read_photo(path).shape[:2]
    except (OSError, ValueError) as exc:
        raise InputError(f"{what} {path}: not a readable image ({str(exc).splitlines()[0]})") from None


def check_example_form(ws: Workspace, form: dict) -> None:
    """Before any work: the example exists and the after photo / brush masks have the example's size."""
    size = example_size(ws, form["example"])
    if form["kind"] == "pair":
        after = photo_size(Path(form["path"]), "--after")
        if after != size:
            raise InputError(f"--after {form['path']}: size {after[1]}x{after[0]} differs from the example's "
                             f"{size[1]}x{size[0]}; the after photo must be the example, edited")
    elif form["kind"] == "brush":
        try:
            spec = json.loads(Path(form["path"]).read_text(encoding="utf-8"))
            masks = [v for stroke in ("color", "sketch") if isinstance(spec.get(stroke), dict)
                     for k, v in spec[stroke].items() if k in ("mask", "edges")]
        except (OSError, ValueError, AttributeError) as exc:
            raise InputError(f"--constraints {form['path']}: {str(exc).splitlines()[0]}") from None
        for name in masks:
            mask = photo_size(Path(form["path"]).parent / str(name), "--constraints mask")
            if mask != size:
                raise InputError(f"--constraints mask {name}: size {mask[1]}x{mask[0]} differs from the example's "
                                 f"{size[1]}x{size[0]}; draw strokes on the example photo itself")


def read_brush(path: Path, resolution: int, device: torch.device) -> BrushConstraints:
    """Brush strokes: JSON {"color": {"mask": PNG, "rgb": [r, g, b] 0-255}, "sketch": {"edges": PNG, "mask": PNG}}.

    PNG paths are relative to the JSON file; masks are white-on-black and brought to model
    resolution exactly as ingest brings the photos.
    """
    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(spec, dict) or not ({"color", "sketch"} & set(spec)):
            raise ValueError("expected a JSON object with 'color' and/or 'sketch'")
        color, sketch = spec.get("color"), spec.get("sketch")

        def plane(name: str) -> torch.Tensor:
            grey = read_thumbnail(Path(path).parent / name, resolution).mean(axis=-1) / 255.0
            return torch.from_numpy(grey.astype(np.float32)).to(device)

        constraints = BrushConstraints()
        if color is not None:
            rgb = np.asarray(color["rgb"], dtype=np.float32) / 127.5 - 1.0
            constraints.color_mask, constraints.color_rgb = plane(color["mask"]) > 0.5, torch.from_numpy(rgb).to(device)
        if sketch is not None:
            constraints.sketch, constraints.sketch_mask = plane(sketch["edges"]), plane(sketch["mask"]) > 0.5
        constraints.check(resolution)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"--constraints {path}: {str(exc).splitlines()[0]}") from None
    return constraints


def make_example_edit(G: Generator, ws: Workspace, form: dict, params: Params,
                      device: torch.device) -> tuple[ExampleEdit, dict]:
    """The user's edit of ONE example in latent space, from a before/after pair, a brush or an offset."""
    res = G.resolution
    example = resolve_example(ws, form["example"], res)
    p = params.project
    encoder = load_encoder(ws.encoder, device) if p.mode != "optimize" else None
    features = feature_extractor(p.features, ws.gan, device)
    images = {"before": example["thumb"]}
    if form["kind"] == "pair":
        images["after"] = read_thumbnail(Path(form["path"]), res)
        edit = edit_from_pair(G, to_tensor(example["thumb"], device), to_tensor(images["after"], device), encoder,
                              features, steps=params.edit.example_steps, lr=p.lr, feature_weight=p.feature_weight,
                              w_plus=p.w_plus)
        return edit, {**images, "id": example["id"]}
    if example["w"] is not None:
        w0 = torch.from_numpy(example["w"]).to(device)
    else:
        w0 = project(G, to_tensor(example["thumb"], device), mode=p.mode, encoder=encoder, features=features,
                     steps=p.steps, lr=p.lr, feature_weight=p.feature_weight, w_plus=p.w_plus, starts=p.starts,
                     seed=p.seed).w[0]
    if form["kind"] == "brush":
        b = params.edit.brush
        D = load_discriminator(ws.gan, device) if b.lambda_d > 0 else None
        edit = edit_from_brush(G, w0, read_brush(Path(form["path"]), res, device), lambda_s=b.lambda_s,
                               lambda_d=b.lambda_d, D=D, starts=b.starts, steps=b.steps, lr=b.lr, seed=b.seed,
                               spread=b.spread)
    else:
        offset = torch.from_numpy(np.load(form["path"]).astype(np.float32)).to(device)
        if offset.shape != w0.shape:
            raise InputError(f"--offset {form['path']}: shape {tuple(offset.shape)}, expected {tuple(w0.shape)}")
        edit = edit_from_offset(w0, offset)
    return edit, {**images, "id": example["id"]}


@task(cache_policy=NO_CACHE, persist_result=False)
def fit_edit_direction(ws: Workspace, name: str, form: dict, params: Params) -> dict:
    """Example edit -> Δ* (§3.1); writes spec.json, example/*.png and direction.pt."""
    paths = ws.edit(name)
    device = resolve_device(params.runtime.device)
    G = load_generator(ws.gan, device)
    with progress.track(f"example edit ({form['kind']})", total=None):
        edit, example = make_example_edit(G, ws, form, params, device)
    d = params.edit.direction
    origin = G.mean_w().to(device) if d.origin == "mean" else None
    with progress.track("fit direction Δ*", total=None):
        delta_star = fit_direction(G, edit.w0, edit.delta_w, lam=d.lam, steps=d.steps, lr=d.lr, init=d.init,
                                   origin=origin, anchors=d.anchors, seed=d.seed)
    capture = None
    if edit.kind == "pair":  # share of the user's pixel change that G reproduces (edits.edit_capture)
        before, after = (to_tensor(example[k], device) for k in ("before", "after"))
        capture = {"direction": edit_capture(G, edit.w0, delta_star, before, after),
                   "user_edit": edit_capture(G, edit.w0, edit.delta_w, before, after)}
        capture["weak"] = capture["direction"] < WEAK_CAPTURE
        if capture["weak"]:
            print(f"warning: the edit reproduces only {capture['direction']:.0%} of the example's pixel change "
                  f"(capture < {WEAK_CAPTURE:.0%}); the photos reach the example's state only as far as G renders it",
                  file=sys.stderr)
    with torch.no_grad():
        renders = to_uint8(G.synthesis(torch.stack([edit.w0, edit.w0_edited, edit.w0 + delta_star])))
    for key, image in {**{k: v for k, v in example.items() if k != "id"},
                       "render_before": renders[0], "render_user_edit": renders[1],
                       "render_direction": renders[2]}.items():
        write_png(paths.example / f"{key}.png", image)
    state = {"delta_star": delta_star.detach().cpu(), "n": unit_normal(delta_star).detach().cpu(),
             "w0": edit.w0.detach().cpu(), "w0_edited": edit.w0_edited.detach().cpu(),
             "gan_sha256": sha256_file(ws.gan), "kind": edit.kind}
    with atomic_path(paths.direction) as tmp:
        torch.save(state, tmp)
    spec = {"name": name, "kind": form["kind"], "example": form["example"], "example_id": example["id"],
            "input": form["path"], "input_sha256": sha256_file(form["path"]),
            "capture": capture,
            "params": {"edit.example_steps": params.edit.example_steps,
                       "edit.direction": params.to_dict()["edit"]["direction"],
                       "edit.brush": params.to_dict()["edit"]["brush"], "project": params.to_dict()["project"]},
            **({"truth": form["truth"]} if "truth" in form else {})}
    write_json(paths.spec, spec)
    return {"delta_norm": float(delta_star.norm()), "example_id": example["id"], "capture": capture}


# --------------------------------------------------------------------------------------------
# α for every photo


def load_direction(ws: Workspace, paths: EditPaths) -> dict[str, torch.Tensor]:
    """direction.pt, refusing one fitted on another generator."""
    state = torch.load(paths.direction, map_location="cpu", weights_only=True)
    if state["gan_sha256"] != sha256_file(ws.gan):
        raise InputError(f"{paths.direction} was fitted on another generator; run `oneedit edit` again")
    return state


def alpha_table(w: np.ndarray, state: dict, strength: float, margin: float) -> dict[str, np.ndarray]:
    """α_i, signed distances before/after and the range-guard flag for latents w [N, ...] (pure)."""
    W = torch.from_numpy(w)
    n = state["n"]
    target = example_target(state["w0"], state["delta_star"], strength)
    a = alphas(W, target, n)
    before = distances(W, target, n)
    after = distances(apply_alphas(W, a, n), target, n)
    flagged = range_guard(a, before, margin)
    return {"alpha": a.numpy(), "distance_before": before.numpy(), "distance_after": after.numpy(),
            "flagged": flagged.numpy()}


@task(cache_policy=NO_CACHE, persist_result=False)
def compute_alphas(ws: Workspace, name: str, params: Params) -> pd.DataFrame:
    """α for every stored latent at params.edit.strength: id, shard, index, alpha, distances, err_pixel, flagged."""
    state = load_direction(ws, ws.edit(name))
    latents = load_latents(ws)
    table = alpha_table(latents["w"], state, params.edit.strength, params.guard.margin)
    return pd.DataFrame({"id": latents["ids"], "shard": latents["shard"], "index": latents["index"],
                         "err_pixel": latents["err_pixel"].astype(np.float64), **table})


@task(cache_policy=NO_CACHE, persist_result=False)
def write_results(ws: Workspace, name: str, table: pd.DataFrame, parts: list[pd.DataFrame]) -> dict:
    """results.parquet: one row per manifest row (accepted, duplicate, rejected at ingest)."""
    manifest = read_parquet(ws.manifest)
    done = table.merge(pd.concat(parts, ignore_index=True), on="id", how="left")
    by_id = done.set_index("id")
    rows = []
    for m in manifest.itertuples(index=False):
        if m.status == "rejected":
            rows.append({"id": m.id, "source_path": m.source_path, "status": "rejected", "reason": m.reason})
            continue
        r = by_id.loc[m.id]
        reason = r["reason"] if m.status == "accepted" else f"{m.reason}; same output images/{m.id}.png"
        rows.append({"id": m.id, "source_path": m.source_path, "alpha": r["alpha"],
                     "distance_before": r["distance_before"], "distance_after": r["distance_after"],
                     "err_pixel": r["err_pixel"], "status": r["status"], "reason": reason,
                     "t_render": r["t_render"], "t_transfer": r["t_transfer"]})
    results = pd.DataFrame(rows, columns=RESULTS_SCHEMA.names)
    results["reason"] = results["reason"].fillna("")
    write_parquet(ws.edit(name).results, results, RESULTS_SCHEMA)
    return {"status": results["status"].value_counts().to_dict(), "images": len(results)}

