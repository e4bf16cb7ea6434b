"""What the report's page says (pure reads of results.parquet, streamed in row groups): the verdict's text,
the compact columns the metrics come from, the table rows, the photos to review, and the before/after grid."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from common.storage import reading
from common.workspace import EditPaths
from edit_core.alphas import EDITED, STATUSES
from edit_core.metrics import LANDED_RATIO
from tasks.alphas import RESULTS_ROWS
from tasks.report.figures import ReportFolder, thumbnail

SUMMARY_COLUMNS = ("status", "alpha", "distance_before", "distance_after", "err_pixel", "t_transfer")
ROW_COLUMNS = ("source_path", "id", "status", "reason", "alpha", "err_pixel", "distance_before", "final_state",
               "final_gap")


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
    """A table cell as a float, None where it is empty (NaN, None)."""
    return float(v) if v is not None and pd.notna(v) else None


def to_review(status: str, final_state: str) -> bool:
    """A photo a team should look at: not plainly edited (flagged, clamped, skipped, rejected) or short of the
    example's final state."""
    return status != "edited" or final_state == "short"


def table_rows(path: Path, which: Callable[[str, str], bool] = lambda status, final_state: True) -> Iterator[dict]:
    """The page's table rows of results.parquet (those whose status and final state pass `which`), read in row
    groups: the page is written as it is rendered, never a row per photo of the whole catalog in memory."""
    for batch in pq.ParquetFile(path).iter_batches(batch_size=RESULTS_ROWS, columns=list(ROW_COLUMNS)):
        for r in batch.to_pandas().itertuples(index=False):
            if which(r.status, r.final_state):
                yield {"file": r.source_path, "id": r.id, "status": r.status, "reason": r.reason or "",
                       "alpha": _num(r.alpha), "err": _num(r.err_pixel), "before": _num(r.distance_before),
                       "final": r.final_state or "", "gap": _num(r.final_gap)}


def review_count(path: Path) -> int:
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


def shown_rows(path: Path, ids: list[str]) -> dict[str, dict]:
    """id -> the first results row of each of `ids` with an edited image (pyarrow filter: only those rows)."""
    if not ids:
        return {}
    with reading(path):
        table = pq.read_table(path, filters=[("id", "in", ids), ("status", "in", list(EDITED))])
    rows: dict[str, dict] = {}
    for r in table.to_pylist():
        rows.setdefault(r["id"], r)
    return rows


def grid(folder: ReportFolder, paths: EditPaths, ids: list[str], rows: dict[str, dict], sources: dict[str, Path],
         hashes: dict[str, str], size: int) -> list[dict]:
    """The before/after grid of photos `ids` (their `rows`), thumbnails of `size` px written into the folder;
    a photo whose original (`sources`, checked against `hashes`) or edited image is gone is left out."""
    cells = []
    for i in ids:
        row = rows[i]
        before = thumbnail(sources.get(i), size, hashes.get(i))
        after = thumbnail(paths.image(i), size)
        if before is None or after is None:
            continue
        cells.append({"file": row["source_path"], "alpha": float(row["alpha"]), "status": row["status"],
                      "err": float(row["err_pixel"]), "reason": row["reason"],
                      "before": folder.png(f"thumbs/{i}-before.png", before),
                      "after": folder.png(f"thumbs/{i}-after.png", after)})
    return cells
