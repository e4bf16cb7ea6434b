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
from common.storage import read_h5, reading, sha256_file
from common.workspace import Workspace
from edit_core.checkpoint import load_discriminator, load_encoder
from edit_core.edits import BrushConstraints, ExampleEdit, edit_from_brush, edit_from_offset, edit_from_pair
from edit_core.imageops import to_tensor
from edit_core.models.base import Generator
from edit_core.project import project
from tasks.images import Rejected, read_mask, read_photo, read_thumbnail
from tasks.ingest import shard_name
from tasks.manifest import accepted_rows, source_paths
from tasks.project import feature_extractor


def resolve_example(ws: Workspace, example: str, resolution: int) -> dict:
    """The example as {id (None if not in the catalog), thumb uint8 [R, R, 3], w (stored latent or None)};
    a catalog photo's thumbnail and latent are read from its own shard (no whole-catalog read)."""
    row = accepted_rows(ws, ["id", "shard", "index"], [example])
    if not row["id"] and Path(example).is_file():
        row = accepted_rows(ws, ["id", "shard", "index"], [sha256_file(example)[:16]])
        if not row["id"]:
            return {"id": None, "thumb": read_thumbnail(Path(example), resolution), "w": None}
    if not row["id"]:
        raise InputError(f"--example {example!r} is neither a catalog photo id nor an image file")
    shard, index = ws.ingest / shard_name(row["shard"][0]), row["index"][0]
    if not ws.latent_shard(shard).exists():
        raise InputError(f"{ws.latents}: no latents for {shard.name}; run `oneedit project` first")
    w = read_h5(ws.latent_shard(shard), ["w"])["w"][index]
    return {"id": row["id"][0], "thumb": read_h5(shard, ["images"])["images"][index], "w": w}


def example_size(ws: Workspace, example: str) -> tuple[int, int]:
    """(height, width) of the example's original photo; a one-line error if it is neither id nor file."""
    row = accepted_rows(ws, ["height", "width"], [example])
    if row["height"]:
        return int(row["height"][0]), int(row["width"][0])
    if Path(example).is_file():
        return photo_size(Path(example), "--example")
    raise InputError(f"--example {example!r} is neither a catalog photo id nor an image file")


def example_path(ws: Workspace, example: str) -> Path:
    """The example's photo file: a catalog photo's original, or the file given."""
    return source_paths(ws, [example]).get(example, Path(example))


def photo_size(path: Path, what: str) -> tuple[int, int]:
    """(height, width) of an image file after EXIF orientation, or a one-line error."""
    try:
        return read_photo(path).shape[:2]
    except Rejected as exc:
        raise InputError(f"{what} {path}: not a readable image ({exc})") from None


def read_brush_spec(path: Path) -> dict:
    """The brush JSON, checked: {"color": {"mask": PNG, "rgb": [r, g, b] in 0-255}, "sketch": {"edges": PNG,
    "mask": PNG}}, at least one of the two; a one-line error naming the file otherwise."""
    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"--constraints {path}: not a readable JSON file ({str(exc).splitlines()[0]})") from None
    if not isinstance(spec, dict) or not ({"color", "sketch"} & set(spec)) or set(spec) - {"color", "sketch"}:
        raise InputError(f"--constraints {path}: expected a JSON object with 'color' and/or 'sketch' (only)")
    needs = {"color": {"mask", "rgb"}, "sketch": {"edges", "mask"}}
    for stroke, keys in needs.items():
        part = spec.get(stroke)
        if part is None:
            continue
        if not isinstance(part, dict) or set(part) != keys:
            raise InputError(f"--constraints {path}: '{stroke}' needs exactly the keys {sorted(keys)}")
        for key in keys - {"rgb"}:
            if not isinstance(part[key], str) or not (Path(path).parent / part[key]).is_file():
                raise InputError(f"--constraints {path}: {stroke}.{key} {part[key]!r} is not a file "
                                 "(paths are relative to the JSON file)")
    if "color" in spec:
        rgb = spec["color"]["rgb"]
        if not (isinstance(rgb, list) and len(rgb) == 3 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                                 and 0 <= v <= 255 for v in rgb)):
            raise InputError(f"--constraints {path}: color.rgb must be three numbers in 0-255, got {rgb!r}")
    return spec


def read_offset(path: Path) -> np.ndarray:
    """A latent offset Δw from a .npy file: float32, every value finite; a one-line error otherwise."""
    try:
        offset = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"--offset {path}: not a readable .npy array ({str(exc).splitlines()[0]})") from None
    if not isinstance(offset, np.ndarray) or offset.dtype.kind not in "fiu" or offset.ndim not in (1, 2):
        raise InputError(f"--offset {path}: expected a 1-D (W) or 2-D (W+) array of numbers")
    if not np.isfinite(offset).all():
        raise InputError(f"--offset {path}: {int((~np.isfinite(offset)).sum())} of {offset.size} values are not "
                         "finite (NaN or inf)")
    if not np.abs(offset).any():
        raise InputError(f"--offset {path}: the offset is zero, it edits nothing")
    return offset.astype(np.float32)


def check_example_form(ws: Workspace, form: dict) -> None:
    """Before any work: the example exists, the after photo / brush masks have the example's size, the
    brush JSON and the offset are well formed."""
    size = example_size(ws, form["example"])
    if form["kind"] == "pair":
        after = photo_size(Path(form["path"]), "--after")
        if after != size:
            raise InputError(f"--after {form['path']}: size {after[1]}x{after[0]} differs from the example's "
                             f"{size[1]}x{size[0]}; the after photo must be the example, edited")
        if np.array_equal(read_photo(Path(form["path"])), read_photo(example_path(ws, form["example"]))):
            raise InputError(f"--after {form['path']}: identical to the example photo: there is no edit to carry")
    elif form["kind"] == "brush":
        spec = read_brush_spec(Path(form["path"]))
        masks = [part[k] for part in spec.values() for k in ("mask", "edges") if k in part]
        for name in masks:
            mask = photo_size(Path(form["path"]).parent / name, "--constraints mask")
            if mask != size:
                raise InputError(f"--constraints mask {name}: size {mask[1]}x{mask[0]} differs from the example's "
                                 f"{size[1]}x{size[0]}; draw strokes on the example photo itself")
    else:
        read_offset(Path(form["path"]))


def read_brush(path: Path, resolution: int, device: torch.device) -> BrushConstraints:
    """Brush strokes (`read_brush_spec`) at model resolution: masks white-on-black, brought down with any
    coverage (a model pixel is painted when any photo pixel under it is, so thin strokes survive), edges
    area-averaged as ingest brings the photos."""
    spec = read_brush_spec(path)
    root = Path(path).parent

    def mask(name: str) -> torch.Tensor:
        return torch.from_numpy(read_mask(root / name, resolution)).to(device)

    def plane(name: str) -> torch.Tensor:
        grey = read_thumbnail(root / name, resolution).mean(axis=-1) / 255.0
        return torch.from_numpy(grey.astype(np.float32)).to(device)

    constraints = BrushConstraints()
    if "color" in spec:
        rgb = np.asarray(spec["color"]["rgb"], dtype=np.float32) / 127.5 - 1.0
        constraints.color_mask, constraints.color_rgb = mask(spec["color"]["mask"]), torch.from_numpy(rgb).to(device)
    if "sketch" in spec:
        constraints.sketch, constraints.sketch_mask = plane(spec["sketch"]["edges"]), mask(spec["sketch"]["mask"])
    try:
        constraints.check(resolution)
    except ValueError as exc:
        raise InputError(f"--constraints {path}: {str(exc).splitlines()[0]}") from None
    return constraints


def _projector(ws: Workspace, params: Params, device: torch.device) -> tuple:
    """(encoder or None, perceptual features): what the catalog's projection uses (tasks/project.py)."""
    p = params.project
    with reading(ws.encoder):
        encoder = load_encoder(ws.encoder, device) if p.mode != "optimize" else None
    with reading(ws.gan):
        features = feature_extractor(p.features, ws.gan, device)
    return encoder, features


def _project(G: Generator, thumb: np.ndarray, params: Params, encoder, features, device: torch.device):
    p = params.project
    return project(G, to_tensor(thumb, device), mode=p.mode, encoder=encoder, features=features, steps=p.steps,
                   lr=p.lr, feature_weight=p.feature_weight, w_plus=p.w_plus, wplus_pull=p.wplus_pull,
                   starts=p.starts, seed=p.seed)


def project_example(G: Generator, ws: Workspace, thumb: np.ndarray, params: Params,
                    device: torch.device) -> dict:
    """A photo outside the catalog projected exactly as the catalog is (params.project: E init +
    optimization): {w [w_dim] or [L, w_dim], err_pixel}; what the edit of such an example starts from."""
    result = _project(G, thumb, params, *_projector(ws, params, device), device)
    return {"w": result.w[0], "err_pixel": float(result.err_pixel[0])}


def example_edit_steps(ws: Workspace, form: dict, params: Params) -> int:
    """The optimizer steps `make_example_edit` takes (its progress bar's total): a pair's two projections,
    or the example's projection when it is not in the catalog plus a brush's optimization."""
    projecting = params.project.steps if params.project.mode != "encoder" else 0
    if form["kind"] == "pair":
        return 2 * params.edit.example_steps
    outside = not accepted_rows(ws, ["id"], [form["example"]])["id"]
    return projecting * outside + (params.edit.brush.steps if form["kind"] == "brush" else 0)


def make_example_edit(G: Generator, ws: Workspace, form: dict, params: Params,
                      device: torch.device) -> tuple[ExampleEdit, dict]:
    """The user's edit of ONE example in latent space, from a before/after pair, a brush or an offset.

    Also returns the example's latent as the catalog sees it (`w_catalog`: its stored latent, or for a photo
    from outside the catalog its projection with params.project, as catalog photos are projected): the
    example's final state is placed from it (alphas.example_target), so the example, edited as a catalog
    photo, moves by exactly s·||Δ*|| and no photo under- or overshoots by how differently the pair was
    projected (edit.example_steps)."""
    res = G.resolution
    example = resolve_example(ws, form["example"], res)
    p = params.project
    encoder, features = _projector(ws, params, device)
    images = {"before": example["thumb"]}
    if example["w"] is not None:
        w_catalog = torch.from_numpy(example["w"]).to(device)
    else:
        w_catalog = _project(G, example["thumb"], params, encoder, features, device).w[0]
    if form["kind"] == "pair":
        images["after"] = read_thumbnail(Path(form["path"]), res)
        edit = edit_from_pair(G, to_tensor(example["thumb"], device), to_tensor(images["after"], device), encoder,
                              features, steps=params.edit.example_steps, lr=p.lr, feature_weight=p.feature_weight,
                              w_plus=p.w_plus)
    elif form["kind"] == "brush":
        b = params.edit.brush
        with reading(ws.gan):
            D = load_discriminator(ws.gan, device) if b.lambda_d > 0 else None
        edit = edit_from_brush(G, w_catalog, read_brush(Path(form["path"]), res, device), lambda_s=b.lambda_s,
                               lambda_d=b.lambda_d, D=D, starts=b.starts, steps=b.steps, lr=b.lr, seed=b.seed,
                               spread=b.spread)
    else:
        offset = torch.from_numpy(read_offset(Path(form["path"]))).to(device)
        if offset.shape != w_catalog.shape:
            raise InputError(f"--offset {form['path']}: shape {tuple(offset.shape)}, expected {tuple(w_catalog.shape)}")
        edit = edit_from_offset(w_catalog, offset)
    return edit, {**images, "id": example["id"], "w_catalog": w_catalog}
