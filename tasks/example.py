"""Step 4a: the user's edit of ONE example, in latent space (before/after pair, brush strokes or offset).

Also the checks the CLI runs before any work: the example exists and the after photo / brush masks
have the example photo's size.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from common.errors import InputError
from common.params import Params
from common.storage import read_h5, read_parquet, sha256_file
from common.workspace import Workspace
from edit_core.checkpoint import load_discriminator, load_encoder
from edit_core.edits import BrushConstraints, ExampleEdit, edit_from_brush, edit_from_offset, edit_from_pair
from edit_core.imageops import to_tensor
from edit_core.models.base import Generator
from edit_core.project import project
from tasks.images import read_photo, read_thumbnail
from tasks.latents import load_latents
from tasks.project import feature_extractor


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
                     steps=p.steps, lr=p.lr, feature_weight=p.feature_weight, w_plus=p.w_plus,
                     wplus_pull=p.wplus_pull, starts=p.starts, seed=p.seed).w[0]
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
