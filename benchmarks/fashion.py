"""A real-photo edit end to end (issue 14): Fashion-MNIST garments, one of them darkened as the pair's
"after", the same edit applied to the whole catalog through the pipeline's own flows (ingest, train,
project, edit), and the edit measured on the edited photos themselves.

The attribute is the garment's brightness: the mean grey level over the garment's pixels, the garment
being where the original photo is brighter than `GARMENT_LEVEL` (Fashion-MNIST's backgrounds are black).
It is read on each output with its original's mask, so a change of shape does not count as a change of
brightness. Beside it, what the edit must not do (issue 14.6): invent colour (a grey catalog stays
grey: the colour cast is the mean of max - min over the RGB channels, 0 for every original) or change the
background (mean |output - original| outside the dilated garment).

Everything lives under WS/bench/fashion-<digest>/ (photos, the pipeline's workspace, the pair) and is
resumed: finished stages are skipped by the flows as on any catalog.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from benchmarks.driver import Setup
from benchmarks.fashion_mnist import LABELS, export_pngs
from benchmarks.registry import FashionOptions
from benchmarks.stats import summary
from common.errors import InputError
from common.fingerprint import fingerprint
from common.params import Params
from common.storage import read_json
from common.workspace import Workspace, bench_folder
from tasks.images import read_photo, write_png
from tasks.pretrained import check_init

GARMENT_LEVEL = 20  # grey level (0-255) above which a pixel of an original belongs to the garment
BACKGROUND_MARGIN = 0.04  # of the photo's size: the garment mask is dilated by this before the background is compared
EDIT = "fashion"


def grey(photo: np.ndarray) -> np.ndarray:
    """Grey level (float, 0-255) of an RGB uint8 photo: the mean of its channels."""
    return photo.astype(np.float64).mean(axis=-1)


def garment_mask(original: np.ndarray) -> np.ndarray:
    """Where the original photo shows the garment (bool, H x W)."""
    return grey(original) > GARMENT_LEVEL


def brightness(photo: np.ndarray, mask: np.ndarray) -> float:
    """The attribute: the photo's mean grey level over the garment's pixels."""
    return float(grey(photo)[mask].mean())


def colour_cast(photo: np.ndarray) -> float:
    """Mean over pixels of max - min of the RGB channels: 0 for a grey photo."""
    p = photo.astype(np.int16)
    return float((p.max(axis=-1) - p.min(axis=-1)).mean())


def background_change(output: np.ndarray, original: np.ndarray) -> float:
    """Mean |output - original| (grey levels) outside the garment dilated by BACKGROUND_MARGIN (NaN: no background)."""
    size = 2 * max(1, round(BACKGROUND_MARGIN * original.shape[0])) + 1
    near = cv2.dilate(garment_mask(original).astype(np.uint8), np.ones((size, size), np.uint8)) > 0
    far = np.abs(grey(output) - grey(original))[~near]
    return float(far.mean()) if far.size else float("nan")


def darkened(photo: np.ndarray, factor: float) -> np.ndarray:
    """The pair's "after": the garment's pixels scaled by `factor`, the background untouched."""
    out = photo.astype(np.float64)
    mask = garment_mask(photo)
    out[mask] *= factor
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _pick_example(paths: list[Path]) -> Path:
    """The photo whose garment brightness is the catalog's median (a typical garment, not an extreme)."""
    levels = np.array([brightness(p := read_photo(path), garment_mask(p)) for path in paths])
    return paths[int(np.argsort(levels)[len(levels) // 2])]


def run(o: FashionOptions, s: Setup) -> dict:
    """A real-photo edit: Fashion-MNIST garments, one darkened as the pair, through ingest .. edit."""
    p = s.params
    ids = class_ids(o.classes)
    if o.init is not None:
        check_init(o.init, p, "--init")
    result = fashion_edit(bench_folder(o.workspace), p, o.photos, ids, o.photo_res, o.darken, o.init)
    return result | {"classes": [LABELS[i] for i in ids], "photo_resolution": o.photo_res, "darken": o.darken,
                     "init": str(o.init) if o.init else None,
                     "attribute": "garment brightness: mean grey level (0-255) over the original's garment pixels"}


def fashion_edit(root: Path, p: Params, photos: int, classes: list[int], photo_res: int, factor: float,
                 init: Path | None) -> dict:
    """Run the darkening edit on `photos` Fashion-MNIST garments of `classes` at `photo_res` px; measure it."""
    from flows.edit import edit_flow
    from flows.project import project_flow
    from flows.report import report_flow
    from flows.train import ingest_flow, train_flow

    folder = root / f"fashion-{fingerprint(photos, sorted(classes), photo_res, factor)[:12]}"
    source = folder / "photos"
    if not source.is_dir() or len(list(source.glob("*.png"))) != photos:
        export_pngs(source, photos, split="train", labels=classes, size=photo_res)
    paths = sorted(source.glob("*.png"))
    example = _pick_example(paths)
    before = read_photo(example)
    mask = garment_mask(before)
    after = darkened(before, factor)
    after_path = folder / "pair" / "after.png"
    write_png(after_path, after)
    target = brightness(after, mask)

    ws_root = folder / "ws"
    Workspace.create(ws_root)
    ingest_flow(source, ws_root, p)
    train_flow(ws_root, p, None, init)
    project_flow(ws_root, p)
    form = {"kind": "pair", "example": str(example), "path": str(after_path)}
    edit_flow(ws_root, EDIT, form, p)
    report_flow(ws_root, EDIT, p)  # the pipeline's own verdict (metrics.json: landed, capture, final state)
    return {"target": target, "example": example.name, "example_before": brightness(before, mask),
            **measure(Workspace.open(ws_root), source, example.name, target)}


def measure(ws: Workspace, source: Path, example: str, target: float) -> dict:
    """The edit read on its outputs: brightness MAE to the example's target before and after, the colour
    cast and background change the edit added, and the example's own output. Every photo of the catalog
    counts: one the pipeline skipped counts as it is (its original is its output), so skipping is never a
    way to score; photos flagged for review are also measured on their own (`by_status`)."""
    import pyarrow.parquet as pq

    paths = ws.edit(EDIT)
    rows = [r for r in pq.read_table(paths.results, columns=["id", "source_path", "status"]).to_pylist()
            if r["status"] != "rejected"]
    per: dict[str, list[float]] = {k: [] for k in ("before", "after", "cast_before", "cast_after", "background")}
    status, own = [], None
    for row in rows:
        out_path = paths.images / f"{row['id']}.png"
        original = read_photo(source / row["source_path"])
        output = read_photo(out_path) if out_path.is_file() else original
        if output.shape != original.shape:
            output = cv2.resize(output, original.shape[1::-1], interpolation=cv2.INTER_AREA)
        mask = garment_mask(original)
        per["before"].append(brightness(original, mask))
        per["after"].append(brightness(output, mask))
        per["cast_before"].append(colour_cast(original))
        per["cast_after"].append(colour_cast(output))
        per["background"].append(background_change(output, original))
        status.append(row["status"])
        if row["source_path"] == example:
            own = per["after"][-1]
    metrics = read_json(paths.metrics)
    edit_metrics = {k: metrics.get(k) for k in ("landed", "example_capture", "final_state_ratio", "n_landed", "n_short",
                                                "n_edited", "n_flagged", "n_skipped", "warnings")}
    if not rows:
        return {"photos": 0, "edited_photos": 0, "edit_metrics": edit_metrics}
    status_arr = np.array(status)
    error_before = np.abs(np.array(per["before"]) - target)
    error_after = np.abs(np.array(per["after"]) - target)
    by_status = {s: {"photos": int((status_arr == s).sum()), "mae_before": float(error_before[status_arr == s].mean()),
                     "mae_after": float(error_after[status_arr == s].mean())} for s in sorted(set(status))}
    edited = int(np.isin(status_arr, ["edited", "flagged", "clamped"]).sum())
    return {"photos": len(rows), "edited_photos": edited, "statuses": {s: v["photos"] for s, v in by_status.items()},
            "skipped_share": float((status_arr == "skipped").mean()), "by_status": by_status,
            "brightness_before": summary(per["before"]), "brightness_after": summary(per["after"]),
            "mae_before": float(error_before.mean()), "mae_after": float(error_after.mean()),
            "mae_ratio": float(error_after.mean() / error_before.mean()),
            "example_after": own, "colour_cast_before": float(np.mean(per["cast_before"])),
            "colour_cast_after": float(np.mean(per["cast_after"])),
            "background_change": float(np.nanmean(per["background"])), "edit_metrics": edit_metrics}


def class_ids(spec: str) -> list[int]:
    """'t-shirt,pullover' or '0,2' -> class indices (see benchmarks.fashion_mnist.LABELS)."""
    ids = []
    for name in (s.strip() for s in spec.split(",") if s.strip()):
        if not (name.isdigit() and int(name) < len(LABELS)) and name not in LABELS:
            raise InputError(f"--classes: unknown Fashion-MNIST class {name!r}; use 0-9 or one of {', '.join(LABELS)}")
        ids.append(int(name) if name.isdigit() else LABELS.index(name))
    if not ids:
        raise InputError("--classes: name at least one class")
    return ids
