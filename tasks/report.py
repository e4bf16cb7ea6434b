"""The report of one edit: static HTML (before/after grid, α histogram, final-state plot, metrics),
metrics.json + alphas.csv for DVC, and Prefect markdown/table artifacts. Plots are drawn with OpenCV.
"""

from __future__ import annotations

import html
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from common.params import Params
from common.storage import atomic_path, read_json, read_parquet, write_json
from common.workspace import Workspace
from edit_core.estimators import estimate_attributes
from tasks.alphas import EDITED
from tasks.images import Rejected, read_photo, write_png
from tasks.manifest import source_hashes, source_paths

PLOT_W, PLOT_H, PAD = 480, 320, 44
INK, GRID, ACCENT, MARK = (40, 40, 40), (225, 225, 225), (200, 90, 30), (30, 110, 200)


# --------------------------------------------------------------------------------------------
# plots (pure: arrays in, uint8 RGB image out)


def _canvas() -> np.ndarray:
    img = np.full((PLOT_H, PLOT_W, 3), 255, np.uint8)
    cv2.rectangle(img, (PAD, 10), (PLOT_W - 10, PLOT_H - PAD), INK, 1)
    return img


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.4) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, INK, 1, cv2.LINE_AA)


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


def thumbnail(rgb: np.ndarray, size: int) -> np.ndarray:
    """Fit a photo into size x size (aspect kept), INTER_AREA."""
    h, w = rgb.shape[:2]
    s = size / max(h, w)
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


# --------------------------------------------------------------------------------------------
# metrics


def edit_metrics(results: pd.DataFrame) -> dict:
    """Counts per status and α / final-state / reconstruction statistics (latent space)."""
    done = results[results["status"].isin(EDITED)]
    m = {"images": len(results), **{f"n_{s}": int((results["status"] == s).sum()) for s in
                                    (*EDITED, "skipped", "rejected")}}
    if len(done):
        m |= {"alpha_mean": float(done["alpha"].mean()), "alpha_std": float(done["alpha"].std(ddof=0)),
              "alpha_min": float(done["alpha"].min()), "alpha_max": float(done["alpha"].max()),
              "distance_before_std": float(done["distance_before"].std(ddof=0)),
              "distance_after_max_abs": float(done["distance_after"].abs().max()),
              "err_pixel_mean": float(done["err_pixel"].mean()),
              "t_transfer_mean": float(done["t_transfer"].mean())}
    return m


def attribute_final_state(before: np.ndarray, after: np.ndarray, value: float) -> dict:
    """Demo only: how close each photo's measured attribute lands to the example's after value."""
    return {"attr_target": value, "attr_before_mae": float(np.abs(before - value).mean()),
            "attr_after_mae": float(np.abs(after - value).mean()), "attr_after_std": float(after.std())}


def _sample(ids: pd.Series, k: int, key: pd.Series) -> list[str]:
    """Up to k ids spread evenly over the order of `key` (e.g. α)."""
    order = ids.iloc[np.argsort(key.to_numpy(), kind="stable")].tolist()
    if len(order) <= k:
        return order
    return [order[i] for i in np.linspace(0, len(order) - 1, k).round().astype(int)]


# --------------------------------------------------------------------------------------------
# the task


def _html(name: str, spec: dict, metrics: dict, grid: list[dict], example: list[str], plots: list[str]) -> str:
    esc = html.escape
    rows = "".join(
        f"<tr><td><img src='{g['before']}'></td><td><img src='{g['after']}'></td>"
        f"<td>{esc(g['id'])}<br>α = {g['alpha']:.3f}<br>{esc(g['status'])}</td></tr>" for g in grid)
    ex = "".join(f"<figure><img src='{p}'><figcaption>{esc(Path(p).stem)}</figcaption></figure>" for p in example)
    figs = "".join(f"<figure><img src='{p}'><figcaption>{esc(c)}</figcaption></figure>" for p, c in plots)
    table = "".join(f"<tr><td>{esc(k)}</td><td>{v:.4g}</td></tr>" if isinstance(v, float) else
                    f"<tr><td>{esc(k)}</td><td>{esc(str(v))}</td></tr>" for k, v in metrics.items())
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>OneEdit report: {esc(name)}</title>
<style>body{{font-family:sans-serif;margin:2em;color:#222}} figure{{display:inline-block;margin:4px}}
img{{max-width:{grid[0]['size'] if grid else 160}px}} figure img{{max-width:480px}}
table{{border-collapse:collapse}} td{{padding:3px 8px;border-bottom:1px solid #ddd;vertical-align:middle}}</style>
</head><body>
<h1>OneEdit report: {esc(name)}</h1>
<p>Example {esc(str(spec.get('example_id') or spec.get('example')))} ({esc(spec.get('kind', ''))} edit).
Every photo is moved along n = Δ*/‖Δ*‖ onto the hyperplane through the example's edited latent
(α<sub>i</sub> = (w0' − w<sub>i</sub>)·n), then the latent edit is transferred onto the original photo.</p>
<h2>Example edit</h2>{ex}
<h2>Before / after</h2><table><tr><th>before</th><th>after</th><th></th></tr>{rows}</table>
<h2>Plots</h2>{figs}
<h2>Metrics</h2><table>{table}</table>
</body></html>
"""


@task(cache_policy=NO_CACHE, persist_result=False)
def write_report(ws: Workspace, name: str, params: Params) -> dict:
    """report/index.html + plots + thumbnails; metrics.json + alphas.csv beside it (DVC); returns the metrics."""
    paths = ws.edit(name)
    out = paths.report
    results = read_parquet(paths.results)
    spec = read_json(paths.spec)
    done = results[results["status"].isin(EDITED)].drop_duplicates("id")
    metrics = edit_metrics(results)
    sources, hashes = source_paths(ws), source_hashes(ws)

    def pair(i: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(original, edited) of photo i; None when either is gone or the original changed since ingest."""
        try:
            return (read_photo(sources[i], sha256=hashes.get(i)), read_photo(paths.images / f"{i}.png"))
        except Rejected:
            return None

    grid = []
    for i in _sample(done["id"], params.report.grid, done["alpha"]):
        row = done[done["id"] == i].iloc[0]
        if (photos := pair(i)) is None:
            continue
        write_png(out / "thumbs" / f"{i}-before.png", thumbnail(photos[0], params.report.thumb))
        write_png(out / "thumbs" / f"{i}-after.png", thumbnail(photos[1], params.report.thumb))
        grid.append({"id": i, "alpha": row["alpha"], "status": row["status"], "size": params.report.thumb,
                     "before": f"thumbs/{i}-before.png", "after": f"thumbs/{i}-after.png"})

    write_png(out / "alpha_hist.png", histogram_plot(done["alpha"].to_numpy(), "alpha (closed form)"))
    write_png(out / "final_state.png", scatter_plot(done["distance_before"].to_numpy(),
                                                    done["distance_after"].to_numpy(),
                                                    "signed distance to the example's hyperplane: before (x), after (y)",
                                                    target=0.0))
    plots = [("alpha_hist.png", "α histogram"), ("final_state.png", "final state in latent space")]
    pairs = [p for i in _sample(done["id"], params.report.estimate, done["alpha"]) if (p := pair(i)) is not None] \
        if "truth" in spec and len(done) and params.report.estimate else []
    if pairs:
        attr, value = spec["truth"]["attribute"], float(spec["truth"]["value"])
        small = [[cv2.resize(im, (64, 64), interpolation=cv2.INTER_AREA) for im in p] for p in pairs]
        before = estimate_attributes(np.stack([b for b, _ in small]))[attr]
        after = estimate_attributes(np.stack([a for _, a in small]))[attr]
        metrics |= attribute_final_state(before, after, value)
        write_png(out / "final_state_attribute.png",
                  scatter_plot(before, after, f"{attr}: measured before (x), after (y); line = example's target",
                               target=value))
        plots.append(("final_state_attribute.png", f"final state: measured {attr}"))

    example = [f"../example/{p.name}" for p in sorted(paths.example.glob("*.png"))]
    write_json(paths.root / "metrics.json", metrics)
    with atomic_path(paths.root / "alphas.csv") as tmp:
        done[["id", "alpha", "distance_before", "distance_after"]].to_csv(tmp, index=False)
    with atomic_path(out / "index.html") as tmp:
        tmp.write_text(_html(name, spec, metrics, grid, example, plots), encoding="utf-8")
    return metrics


@task(cache_policy=NO_CACHE, persist_result=False)
def publish_artifacts(name: str, index: Path, metrics: dict) -> None:
    """Prefect markdown + table artifacts of the edit's metrics."""
    lines = "\n".join(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items())
    create_markdown_artifact(f"# OneEdit edit `{name}`\n\nReport: `{index}`\n\n| metric | value |\n|---|---|\n{lines}\n",
                             key=f"oneedit-{name.lower().replace('_', '-').replace('.', '-')}-summary")
    create_table_artifact([{"metric": k, "value": v} for k, v in metrics.items()],
                          key=f"oneedit-{name.lower().replace('_', '-').replace('.', '-')}-metrics")
