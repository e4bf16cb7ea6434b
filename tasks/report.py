"""The report of one edit: a self-contained folder (report/index.html + every image it shows) that a
catalog team can send on, plus metrics.json + alphas.csv for DVC and Prefect markdown/table artifacts.

The page names photos by their file name, shows the example large and in order (before, after, then
the generator's renders), the strength, the brush strokes, whether the edit landed, flagged and rejected
photos with their reasons, a table sortable by α or error, and the model's samples and loss curves.
Plots are drawn with OpenCV; the page is rendered from templates/report.html.j2 (Jinja2).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import jinja2
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from common.params import Params
from common.storage import atomic_path, read_json, reading, write_json
from common.workspace import EditPaths, Workspace
from edit_core.alphas import EDITED, STATUSES
from edit_core.estimators import estimate_attributes
from edit_core.metrics import LANDED_RATIO, attribute_final_state, edit_summary
from tasks.alphas import RESULTS_ROWS, applied_strength, spread_over_alpha
from tasks.images import Rejected, read_photo, write_png
from tasks.manifest import source_hashes, source_root

PLOT_W, PLOT_H, PAD = 480, 320, 44
EXAMPLE_SIZE = 512  # px, longest side of the example's photos in the report
SUMMARY_COLUMNS = ("status", "alpha", "distance_before", "distance_after", "err_pixel", "t_transfer")
ROW_COLUMNS = ("source_path", "id", "status", "reason", "alpha", "err_pixel", "distance_before", "final_state",
               "final_gap")
INK, GRID, ACCENT, MARK = (40, 40, 40), (225, 225, 225), (200, 90, 30), (30, 110, 200)
SERIES = ((30, 110, 200), (200, 90, 30), (40, 150, 60), (150, 60, 170), (120, 120, 120), (200, 40, 60))
RENDERS = (("render_before", "The generator's reconstruction of the example, G(w0)"),
           ("render_user_edit", "Your edit, in the generator, G(w0')"),
           ("render_direction", "The fitted catalog direction on the example, G(w0 + Δ*)"))
TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                               autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


# --------------------------------------------------------------------------------------------
# plots (pure: arrays in, uint8 RGB image out)


def _canvas() -> np.ndarray:
    img = np.full((PLOT_H, PLOT_W, 3), 255, np.uint8)
    cv2.rectangle(img, (PAD, 10), (PLOT_W - 10, PLOT_H - PAD), INK, 1)
    return img


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.4,
          color: tuple[int, int, int] = INK) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)


def _scale(v: np.ndarray, lo: float, hi: float, a: int, b: int) -> np.ndarray:
    span = hi - lo if hi > lo else 1.0
    return (a + (np.asarray(v, float) - lo) / span * (b - a)).round().astype(int)


def histogram_plot(values: np.ndarray, title: str, bins: int = 30) -> np.ndarray:
    """Histogram of `values` as an RGB image."""
    img = _canvas()
    values = values[np.isfinite(values)]
    _text(img, title, (PAD, PLOT_H - 12), 0.45)
    if values.size == 0:
        return img
    lo, hi = float(values.min()), float(values.max())
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi if hi > lo else lo + 1))
    xs = _scale(edges, edges[0], edges[-1], PAD + 2, PLOT_W - 12)
    ys = _scale(counts, 0, counts.max(), PLOT_H - PAD - 1, 16)
    for i, y in enumerate(ys):
        cv2.rectangle(img, (int(xs[i]), int(y)), (int(xs[i + 1]) - 1, PLOT_H - PAD - 1), MARK, -1)
    _text(img, f"{lo:.3g}", (PAD, PLOT_H - PAD + 14))
    _text(img, f"{hi:.3g}", (PLOT_W - 60, PLOT_H - PAD + 14))
    _text(img, str(int(counts.max())), (4, 20))
    return img


def scatter_plot(x: np.ndarray, y: np.ndarray, title: str, target: float | None = None) -> np.ndarray:
    """Scatter of (x, y) with an optional horizontal target line, as an RGB image."""
    img = _canvas()
    _text(img, title, (PAD, PLOT_H - 12), 0.45)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size == 0:
        return img
    ys_all = np.concatenate([y, x, [target] if target is not None else []])
    lo, hi = float(ys_all.min()), float(ys_all.max())
    pad = 0.05 * (hi - lo if hi > lo else 1.0)
    lo, hi = lo - pad, hi + pad
    px = _scale(x, lo, hi, PAD + 4, PLOT_W - 14)
    py = _scale(y, lo, hi, PLOT_H - PAD - 4, 14)
    d0, d1 = _scale([lo, hi], lo, hi, PAD + 4, PLOT_W - 14), _scale([lo, hi], lo, hi, PLOT_H - PAD - 4, 14)
    cv2.line(img, (int(d0[0]), int(d1[0])), (int(d0[1]), int(d1[1])), GRID, 1, cv2.LINE_AA)  # y = x: no edit
    if target is not None:
        ty = int(_scale([target], lo, hi, PLOT_H - PAD - 4, 14)[0])
        cv2.line(img, (PAD + 1, ty), (PLOT_W - 11, ty), ACCENT, 1, cv2.LINE_AA)
    for a, b in zip(px, py, strict=True):
        cv2.circle(img, (int(a), int(b)), 2, MARK, -1, cv2.LINE_AA)
    _text(img, f"{lo:.3g}", (PAD, PLOT_H - PAD + 14))
    _text(img, f"{hi:.3g}", (PLOT_W - 60, PLOT_H - PAD + 14))
    _text(img, f"{hi:.3g}", (2, 20))
    _text(img, f"{lo:.3g}", (2, PLOT_H - PAD))
    return img


def line_plot(x: np.ndarray, series: dict[str, np.ndarray], title: str) -> np.ndarray:
    """Several curves y(x) on one axis (e.g. losses over training steps), with a colour legend."""
    img = _canvas()
    _text(img, title, (PAD, PLOT_H - 12), 0.45)
    x = np.asarray(x, float)
    values = np.concatenate([np.asarray(v, float) for v in series.values()]) if series else np.array([])
    values = values[np.isfinite(values)]
    if x.size == 0 or values.size == 0:
        return img
    lo, hi = float(values.min()), float(values.max())
    px = _scale(x, float(x.min()), float(x.max()), PAD + 4, PLOT_W - 14)
    for k, (label, y) in enumerate(series.items()):
        color = SERIES[k % len(SERIES)]
        y = np.asarray(y, float)
        ok = np.isfinite(y)
        pts = np.stack([px[ok], _scale(y[ok], lo, hi, PLOT_H - PAD - 4, 14)], axis=1).astype(np.int32)
        cv2.polylines(img, [pts], False, color, 1, cv2.LINE_AA)
        _text(img, label, (PLOT_W - 150, 26 + 14 * k), 0.4, color)
    _text(img, f"{x.min():.0f}", (PAD, PLOT_H - PAD + 14))
    _text(img, f"{x.max():.0f}", (PLOT_W - 60, PLOT_H - PAD + 14))
    _text(img, f"{hi:.3g}", (2, 20))
    _text(img, f"{lo:.3g}", (2, PLOT_H - PAD))
    return img


def thumbnail(rgb: np.ndarray, size: int) -> np.ndarray:
    """Fit a photo into size x size (aspect kept), INTER_AREA."""
    h, w = rgb.shape[:2]
    s = size / max(h, w)
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def stroke_overlay(photo: np.ndarray, color: tuple[np.ndarray, tuple[int, int, int]] | None,
                   sketch: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """The brush strokes drawn over the example photo: colour mask tinted with its colour, sketch edges in black.

    Masks are greyscale images of any size (white = painted); they are resized to the photo.
    """
    out = photo.astype(np.float32)
    h, w = photo.shape[:2]

    def fit(mask: np.ndarray) -> np.ndarray:
        return cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0.5

    if color is not None:
        mask, rgb = fit(color[0]), np.asarray(color[1], np.float32)
        out[mask] = 0.35 * out[mask] + 0.65 * rgb
    if sketch is not None:
        edges, mask = cv2.resize(sketch[0].astype(np.float32), (w, h), interpolation=cv2.INTER_AREA), fit(sketch[1])
        out[mask & (edges > 0.5)] = 0.0
    return out.round().clip(0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# what the page says (pure)


def verdict(metrics: dict) -> dict:
    """Did the edit land on every photo at the example's final state? {state, headline, details}.

    state is "landed", "missed", "unmeasured" or "failed" (no photo has an edited image: the run is a
    failure, whatever else was measured). The final state measured on every output decides
    (tasks/final_state.py: each photo's gap to the example's final state in what the edit sets, against the
    original's); the demo catalog's attribute estimate is shown beside it.
    """
    if metrics.get("images") and not sum(metrics.get(f"n_{s}", 0) for s in EDITED):
        return {"state": "failed", "headline": "The edit failed: no photo was edited.",
                "details": list(metrics.get("warnings", [])) or ["Every photo's status and reason are in the "
                                                                  "table below."]}
    details = []
    if "attr_after_mae" in metrics:
        details.append(f"Measured attribute: distance to the example's final state {metrics['attr_before_mae']:.3g} "
                       f"before, {metrics['attr_after_mae']:.3g} after (spread {metrics['attr_after_std']:.3g}).")
    details += list(metrics.get("warnings", []))
    landed = metrics.get("landed")
    if landed is None:
        details.append("No photo could be measured (none was edited or skipped with a readable original).")
        return {"state": "unmeasured", "headline": "Not measured on the photos.", "details": details}
    details.insert(0, f"Measured on {metrics['final_state_photos']} photos ({metrics.get('reading', 'look')}): gap to "
                      f"the example's final state {metrics['final_gap_before_mean']:.3g} before, "
                      f"{metrics['final_gap_after_mean']:.3g} after ({metrics['final_state_ratio']:.2f}x; landed at "
                      f"most {LANDED_RATIO}x). {metrics['n_landed']} photos landed, {metrics['n_short']} fell short "
                      "(listed below).")
    return {"state": "landed" if landed else "missed", "details": details,
            "headline": "The edit landed: the photos now share the example's final state." if landed else
                        "The edit did not bring the photos to the example's final state."}


def _num(v: object) -> float | None:
    return float(v) if v is not None and pd.notna(v) else None


# --------------------------------------------------------------------------------------------
# the folder


class _Folder:
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


def _photo(path: Path | None, size: int, sha256: str | None = None) -> np.ndarray | None:
    """A thumbnail of the photo at `path`; None when it is gone, unreadable or (with `sha256`) changed."""
    try:
        return thumbnail(read_photo(path, sha256=sha256), size) if path is not None else None
    except (OSError, Rejected):
        return None


def _brush(spec: dict, root: Path) -> tuple[list[dict], tuple | None, tuple | None]:
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


def _example(folder: _Folder, paths: EditPaths, spec: dict, sources: dict[str, Path]) -> dict:
    """The example's figures, in order: before, after (yours, then OneEdit's), brush strokes, renders."""
    example_id = spec.get("example_id")
    before_path = sources.get(example_id) if example_id else Path(spec.get("example", ""))
    before = _photo(before_path, EXAMPLE_SIZE)
    if spec.get("example_input"):  # an example from outside the catalog: the edit's own copy of it
        before = _photo(paths.root / spec["example_input"], EXAMPLE_SIZE)
    if before is None and (paths.example / "before.png").exists():
        before = _photo(paths.example / "before.png", EXAMPLE_SIZE)
    figures, strokes = [], []
    label = before_path.name if before_path is not None else "example"
    if before is not None:
        figures.append({"src": folder.png("example/before.png", before), "caption": f"Before: {label}"})
    if spec.get("kind") == "pair":
        after = _photo(paths.root / spec.get("input", ""), EXAMPLE_SIZE)
        if after is not None:
            figures.append({"src": folder.png("example/after.png", after),
                            "caption": f"After, your edit: {Path(spec['input']).name}"})
    if spec.get("kind") == "brush":
        strokes, color, sketch = _brush(spec, paths.root)
        if before is not None and (color is not None or sketch is not None):
            figures.append({"src": folder.png("example/strokes.png", stroke_overlay(before, color, sketch)),
                            "caption": "Your brush strokes on the example"})
    if spec.get("kind") == "offset":
        strokes = [{"kind": "offset", "rgb": "#999999", "text": f"latent offset {Path(spec.get('input', '')).name}"}]
    applied = _photo(paths.images / f"{example_id}.png", EXAMPLE_SIZE) if example_id else None
    if applied is not None:
        figures.append({"src": folder.png("example/applied.png", applied),
                        "caption": "After, as OneEdit applied it to the photo"})
    renders = [{"src": folder.copy(f"example/{key}.png", paths.example / f"{key}.png"), "caption": caption}
               for key, caption in RENDERS if (paths.example / f"{key}.png").exists()]
    return {"label": label, "figures": figures, "renders": renders, "strokes": strokes}


def _models(folder: _Folder, ws: Workspace) -> list[dict]:
    """Per model (gan, encoder): its latest sample grid and its loss curves."""
    models = []
    for name in ("gan", "encoder"):
        samples = sorted(ws.samples.glob(f"{name}-*.png"))
        entry: dict = {"name": {"gan": "Generator (GAN)", "encoder": "Encoder"}[name], "sample": None, "losses": None}
        if samples:
            step = int(samples[-1].stem.split("-")[-1])
            entry["sample"] = {"src": folder.copy(f"models/{samples[-1].name}", samples[-1]),
                               "caption": f"samples at step {step}"}
        losses = ws.models / f"{name}_losses.json"
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


def to_review(status: str, final_state: str) -> bool:
    """A photo a team should look at: not plainly edited (flagged, clamped, skipped, rejected) or short of the
    example's final state."""
    return status != "edited" or final_state == "short"


def _rows(path: Path, which: Callable[[str, str], bool] = lambda status, final_state: True) -> Iterator[dict]:
    """The page's table rows of results.parquet (those whose status and final state pass `which`), read in row
    groups: the page is written as it is rendered, never a row per photo of the whole catalog in memory."""
    for batch in pq.ParquetFile(path).iter_batches(batch_size=RESULTS_ROWS, columns=list(ROW_COLUMNS)):
        for r in batch.to_pandas().itertuples(index=False):
            if which(r.status, r.final_state):
                yield {"file": r.source_path, "id": r.id, "status": r.status, "reason": r.reason or "",
                       "alpha": _num(r.alpha), "err": _num(r.err_pixel), "before": _num(r.distance_before),
                       "final": r.final_state or "", "gap": _num(r.final_gap)}


def _review_count(path: Path) -> int:
    """How many photos `to_review` picks, streamed."""
    count = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=RESULTS_ROWS, columns=["status", "final_state"]):
        count += sum(to_review(s, f) for s, f in zip(batch["status"].to_pylist(), batch["final_state"].to_pylist(),
                                                       strict=True))
    return count


def read_summary_columns(path: Path) -> dict[str, np.ndarray]:
    """results.parquet's id (utf-8 bytes), status (an object array of the few STATUSES strings) and
    SUMMARY_COLUMNS' numbers (float64, NaN where empty), read in row groups: 57 bytes per photo."""
    parts: dict[str, list] = {"id": [], "status": [], **{c: [] for c in SUMMARY_COLUMNS if c != "status"}}
    statuses = np.array(STATUSES, dtype=object)
    codes = {s: k for k, s in enumerate(STATUSES)}
    with reading(path):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=RESULTS_ROWS, columns=["id", *SUMMARY_COLUMNS]):
            parts["id"].append(np.char.encode(batch["id"].to_numpy(zero_copy_only=False).astype(str), "utf-8"))
            parts["status"].append(np.array([codes[v] for v in batch["status"].to_pylist()], np.int8))
            for c in SUMMARY_COLUMNS:
                if c != "status":
                    parts[c].append(batch[c].to_numpy(zero_copy_only=False).astype(np.float64))
    out = {k: np.concatenate(v) if v else np.array([]) for k, v in parts.items()}
    out["status"] = statuses[out["status"].astype(np.int8)]
    return out


def render_page(context: dict) -> Iterator[str]:
    """The report's HTML from its context (templates/report.html.j2), in pieces as it is rendered."""
    return TEMPLATES.get_template("report.html.j2").generate(**context)


# --------------------------------------------------------------------------------------------
# the task


def _done_rows(path: Path, ids: list[str]) -> dict[str, dict]:
    """id -> the first results row of each of `ids` with an edited image (pyarrow filter: only those rows)."""
    if not ids:
        return {}
    with reading(path):
        table = pq.read_table(path, filters=[("id", "in", ids), ("status", "in", list(EDITED))])
    rows: dict[str, dict] = {}
    for r in table.to_pylist():
        rows.setdefault(r["id"], r)
    return rows


@task(cache_policy=NO_CACHE, persist_result=False)
def write_report(ws: Workspace, name: str, params: Params) -> dict:
    """report/index.html + the images it shows; metrics.json + alphas.csv beside it (DVC); returns the metrics.

    Reads results.parquet as compact columns (`read_summary_columns`) and, for the photos it shows, their
    rows only; the page's per-photo tables are streamed into index.html."""
    paths = ws.edit(name)
    folder = _Folder(paths.report)
    cols = read_summary_columns(paths.results)
    spec = read_json(paths.spec)
    edited = np.flatnonzero(np.isin(cols["status"], EDITED))
    done = edited[np.sort(np.unique(cols["id"][edited], return_index=True)[1])]  # first row of each photo
    done_ids = cols["id"][done]
    done_alpha = cols["alpha"][done]
    metrics = edit_summary(*(cols[c] for c in SUMMARY_COLUMNS))
    strength = applied_strength(paths)
    if strength is not None:
        metrics["strength"] = strength
    if (paths.root / "final_state.json").exists():  # the verdict measured after the edit (tasks/final_state.py)
        metrics |= read_json(paths.root / "final_state.json")

    def sample(k: int) -> list[str]:
        return [i.decode("utf-8") for i in spread_over_alpha(done_ids, done_alpha, k)]

    shown = sample(params.report.grid)
    estimated = sample(params.report.estimate) if "truth" in spec and len(done) and params.report.estimate else []
    rows = _done_rows(paths.results, sorted({*shown, *estimated, *([spec["example_id"]] if spec.get("example_id")
                                                                    else [])}))
    root = source_root(ws)
    sources = {i: root / r["source_path"] for i, r in rows.items()}  # as results were made
    hashes = source_hashes(ws, list(rows))

    grid = []
    for i in shown:
        row = rows[i]
        before = _photo(sources.get(i), params.report.thumb, hashes.get(i))
        after = _photo(paths.images / f"{i}.png", params.report.thumb)
        if before is None or after is None:
            continue
        grid.append({"file": row["source_path"], "alpha": float(row["alpha"]), "status": row["status"],
                     "err": float(row["err_pixel"]), "reason": row["reason"],
                     "before": folder.png(f"thumbs/{i}-before.png", before),
                     "after": folder.png(f"thumbs/{i}-after.png", after)})

    plots = [{"src": folder.png("alpha_hist.png", histogram_plot(done_alpha, "alpha (closed form)")),
              "caption": "How far each photo was moved along the edit (α)"},
             {"src": folder.png("final_state.png", scatter_plot(
                 cols["distance_before"][done], cols["distance_after"][done],
                 "signed distance to the example's hyperplane: before (x), after (y)", target=0.0)),
              "caption": "Final state in latent space: after the edit every photo sits on the line"}]
    if estimated:
        attr, value = spec["truth"]["attribute"], float(spec["truth"]["value"])
        pairs = [(_photo(sources[i], 64, hashes.get(i)), _photo(paths.images / f"{i}.png", 64))
                 for i in estimated if i in sources]
        pairs = [(b, a) for b, a in pairs if b is not None and a is not None]  # gone or changed: not measured
    else:
        pairs = []
    if pairs:

        def square(thumb: np.ndarray) -> np.ndarray:
            return cv2.resize(thumb, (64, 64), interpolation=cv2.INTER_AREA)

        before = estimate_attributes(np.stack([square(b) for b, _ in pairs]))[attr]
        after = estimate_attributes(np.stack([square(a) for _, a in pairs]))[attr]
        metrics |= attribute_final_state(before, after, value)
        plots.append({"src": folder.png("final_state_attribute.png", scatter_plot(
            before, after, f"{attr}: measured before (x), after (y); line = example's target", target=value)),
            "caption": f"Final state on the photos: measured {attr} before and after"})

    context = {
        "name": name, "spec": spec, "metrics": metrics, "strength": strength, "verdict": verdict(metrics),
        "example": _example(folder, paths, spec, sources), "grid": grid, "plots": plots,
        "models": _models(folder, ws), "rows": _rows(paths.results),
        "problems": _rows(paths.results, to_review), "problem_count": _review_count(paths.results),
        "counts": pd.Series(cols["status"], dtype=object).value_counts().to_dict(), "thumb": params.report.thumb,
    }
    write_json(paths.root / "metrics.json", metrics)
    with atomic_path(paths.root / "alphas.csv") as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        for start in range(0, max(len(done), 1), RESULTS_ROWS):
            at = done[start : start + RESULTS_ROWS]
            pd.DataFrame({"id": pd.Series([i.decode("utf-8") for i in cols["id"][at]], dtype=object),
                          **{c: cols[c][at] for c in ("alpha", "distance_before", "distance_after")}}
                         ).to_csv(fh, index=False, header=start == 0)
    with atomic_path(paths.report / "index.html") as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.writelines(render_page(context))
    folder.written.add(paths.report / "index.html")
    folder.remove_others()
    return metrics


@task(cache_policy=NO_CACHE, persist_result=False)
def publish_artifacts(name: str, index: Path, metrics: dict) -> None:
    """Prefect markdown + table artifacts of the edit's metrics."""
    lines = "\n".join(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items())
    create_markdown_artifact(f"# OneEdit edit `{name}`\n\nReport: `{index}`\n\n| metric | value |\n|---|---|\n{lines}\n",
                             key=f"oneedit-{name.lower().replace('_', '-').replace('.', '-')}-summary")
    create_table_artifact([{"metric": k, "value": v} for k, v in metrics.items()],
                          key=f"oneedit-{name.lower().replace('_', '-').replace('.', '-')}-metrics")
