"""The report's images: the folder they are written into (`ReportFolder`), thumbnails of photos, and the
example's figures (before, after, brush strokes, the generator's renders) and the models' (samples, losses)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from common.storage import atomic_path, read_json
from common.workspace import EditPaths, Workspace
from tasks.images import Rejected, fit_within, read_photo, write_png
from tasks.report.plots import line_plot, stroke_overlay

EXAMPLE_SIZE = 512  # px, longest side of the example's photos in the report
RENDERS = (("render_before", "The generator's reconstruction of the example, G(w0)"),
           ("render_user_edit", "Your edit, in the generator, G(w0')"),
           ("render_direction", "The fitted catalog direction on the example, G(w0 + Δ*)"))


class ReportFolder:
    """The report folder being written: every image goes in through here, so the page links only
    files inside it (no ../ links) and files a previous report left behind can be removed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.written: set[Path] = set()

    def png(self, rel: str, rgb: np.ndarray) -> str:
        write_png(self.root / rel, rgb)
        self.written.add(self.root / rel)
        return rel

    def copy(self, rel: str, src: Path) -> str:
        with atomic_path(self.root / rel) as tmp:
            shutil.copyfile(src, tmp)
        self.written.add(self.root / rel)
        return rel

    def remove_others(self) -> None:
        for p in sorted(self.root.rglob("*"), reverse=True):
            if p.is_file() and p not in self.written:
                p.unlink()
            elif p.is_dir() and not any(p.iterdir()):
                p.rmdir()


def thumbnail(path: Path | None, size: int, sha256: str | None = None) -> np.ndarray | None:
    """A thumbnail of the photo at `path`; None when it is gone, unreadable or (with `sha256`) changed."""
    try:
        return fit_within(read_photo(path, sha256=sha256), size, enlarge=True) if path is not None else None
    except (OSError, Rejected):
        return None


def brush_strokes(spec: dict, root: Path) -> tuple[list[dict], tuple | None, tuple | None]:
    """Descriptions of the brush strokes and the masks to draw (None where absent or unreadable); the
    spec's input is relative to the edit's folder `root` (its own copy)."""
    path = root / spec.get("input", "")
    try:
        strokes = json.loads(path.read_text(encoding="utf-8"))

        def grey(name: str) -> np.ndarray:
            return read_photo(path.parent / name).mean(axis=-1) / 255.0

        color = sketch = None
        lines = []
        if isinstance(strokes.get("color"), dict):
            c = strokes["color"]
            color = (grey(c["mask"]), tuple(int(v) for v in c["rgb"]))
            lines.append({"kind": "colour", "rgb": "#{:02x}{:02x}{:02x}".format(*color[1]),
                          "text": f"colour rgb{color[1]} over {float((color[0] > 0.5).mean()):.1%} of the photo"})
        if isinstance(strokes.get("sketch"), dict):
            s = strokes["sketch"]
            sketch = (grey(s["edges"]), grey(s["mask"]))
            lines.append({"kind": "sketch", "rgb": "#000000",
                          "text": f"sketch over {float((sketch[1] > 0.5).mean()):.1%} of the photo"})
        return lines, color, sketch
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return [{"kind": "missing", "rgb": "#999999",
                 "text": f"the strokes file {path} is no longer readable"}], None, None


def example_figures(folder: ReportFolder, paths: EditPaths, spec: dict, sources: dict[str, Path]) -> dict:
    """The example's figures, in order: before, after (yours, then OneEdit's), brush strokes, renders."""
    example_id = spec.get("example_id")
    before_path = sources.get(example_id) if example_id else Path(spec.get("example", ""))
    before = thumbnail(before_path, EXAMPLE_SIZE)
    if spec.get("example_input"):  # an example from outside the catalog: the edit's own copy of it
        before = thumbnail(paths.root / spec["example_input"], EXAMPLE_SIZE)
    if before is None and paths.render("before").exists():
        before = thumbnail(paths.render("before"), EXAMPLE_SIZE)
    figures, strokes = [], []
    label = before_path.name if before_path is not None else "example"
    if before is not None:
        figures.append({"src": folder.png("example/before.png", before), "caption": f"Before: {label}"})
    if spec.get("kind") == "pair":
        after = thumbnail(paths.root / spec.get("input", ""), EXAMPLE_SIZE)
        if after is not None:
            figures.append({"src": folder.png("example/after.png", after),
                            "caption": f"After, your edit: {Path(spec['input']).name}"})
    if spec.get("kind") == "brush":
        strokes, color, sketch = brush_strokes(spec, paths.root)
        if before is not None and (color is not None or sketch is not None):
            figures.append({"src": folder.png("example/strokes.png", stroke_overlay(before, color, sketch)),
                            "caption": "Your brush strokes on the example"})
    if spec.get("kind") == "offset":
        strokes = [{"kind": "offset", "rgb": "#999999", "text": f"latent offset {Path(spec.get('input', '')).name}"}]
    applied = thumbnail(paths.image(example_id), EXAMPLE_SIZE) if example_id else None
    if applied is not None:
        figures.append({"src": folder.png("example/applied.png", applied),
                        "caption": "After, as OneEdit applied it to the photo"})
    renders = [{"src": folder.copy(f"example/{key}.png", paths.render(key)), "caption": caption}
               for key, caption in RENDERS if paths.render(key).exists()]
    return {"label": label, "figures": figures, "renders": renders, "strokes": strokes}


def model_figures(folder: ReportFolder, ws: Workspace) -> list[dict]:
    """Per model (gan, encoder): its latest sample grid and its loss curves."""
    models = []
    for name in ("gan", "encoder"):
        samples = sorted(ws.samples.glob(f"{name}-*.png"))
        entry: dict = {"name": {"gan": "Generator (GAN)", "encoder": "Encoder"}[name], "sample": None, "losses": None}
        if samples:
            step = int(samples[-1].stem.split("-")[-1])
            entry["sample"] = {"src": folder.copy(f"models/{samples[-1].name}", samples[-1]),
                               "caption": f"samples at step {step}"}
        losses = ws.model_losses(name)
        if losses.exists():
            table = pd.DataFrame(read_json(losses))
            if "step" in table and len(table):
                curves = {c: table[c].to_numpy(float) for c in table.columns
                          if c != "step" and pd.api.types.is_numeric_dtype(table[c])}
                entry["losses"] = {"src": folder.png(f"models/{name}_losses.png",
                                                     line_plot(table["step"].to_numpy(float), curves,
                                                               f"{name} losses over training steps")),
                                   "caption": f"{entry['name']}: losses over {int(table['step'].max())} steps"}
        if entry["sample"] or entry["losses"]:
            models.append(entry)
    return models
