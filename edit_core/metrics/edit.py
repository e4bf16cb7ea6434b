"""Metrics of one catalog edit: counts per status and α / final-state / reconstruction statistics, and,
where an attribute can be measured, how close each edited photo lands to the example's final state."""

from __future__ import annotations

import numpy as np

from edit_core.alphas import EDITED, STATUSES


def edit_summary(status: np.ndarray, alpha: np.ndarray, distance_before: np.ndarray, distance_after: np.ndarray,
                 err_pixel: np.ndarray, t_transfer: np.ndarray) -> dict:
    """One row per photo (results.parquet columns) -> counts per status and statistics of the edited ones."""
    status = np.asarray(status)
    done = np.isin(status, EDITED)
    m: dict = {"images": len(status), **{f"n_{s}": int((status == s).sum()) for s in STATUSES}}
    if done.any():
        a = np.asarray(alpha, np.float64)[done]
        m |= {"alpha_mean": float(a.mean()), "alpha_std": float(a.std()),
              "alpha_min": float(a.min()), "alpha_max": float(a.max()),
              "distance_before_std": float(np.asarray(distance_before, np.float64)[done].std()),
              "err_pixel_mean": float(np.asarray(err_pixel, np.float64)[done].mean()),
              "t_transfer_mean": float(np.asarray(t_transfer, np.float64)[done].mean())}
        after = np.asarray(distance_after, np.float64)[done]
        if np.isfinite(after).any():  # read off the outputs (tasks/final_state.py)
            m["distance_after_max_abs"] = float(np.nanmax(np.abs(after)))
    return m


def attribute_final_state(before: np.ndarray, after: np.ndarray, value: float) -> dict:
    """How close each photo's measured attribute lands to the example's after value (before and after)."""
    return {"attr_target": value, "attr_before_mae": float(np.abs(before - value).mean()),
            "attr_after_mae": float(np.abs(after - value).mean()), "attr_after_std": float(after.std())}


LANDED_RATIO = 0.3  # landed: the outputs' gap to the example's final state at most 0.3× the originals'


def photo_final_states(final_gap: np.ndarray, landed_below: float) -> np.ndarray:
    """Per photo "landed" (final_gap ≤ landed_below), "short" (above) or "" (no gap measured)."""
    gap = np.asarray(final_gap, np.float64)
    out = np.full(len(gap), "", dtype=object)
    out[np.isfinite(gap)] = "short"
    out[np.isfinite(gap) & (gap <= landed_below)] = "landed"
    return out


def final_state_verdict(before_gap: np.ndarray, final_gap: np.ndarray) -> dict:
    """Did the edit land? Per photo, the gap between what the edit sets (its look in its edit region, or its
    reading along the edit) and the example's final state: on the original (before) and on the output
    (after; a photo left unedited counts with its before gap, so skipping is never a way to land).

    ratio = mean after / mean before over the photos with both; the edit landed when it is at most
    LANDED_RATIO. A photo landed when its own gap is at most LANDED_RATIO × the originals' mean gap (so a
    photo that already looked like the final state lands without moving)."""
    before = np.asarray(before_gap, np.float64)
    after = np.asarray(final_gap, np.float64)
    ok = np.isfinite(before) & np.isfinite(after)
    if not ok.any():
        return {"final_state_photos": 0, "landed": None}
    b, a = float(before[ok].mean()), float(after[ok].mean())
    ratio = a / b if b > 0 else float("inf") if a > 0 else 0.0
    states = photo_final_states(after[ok], LANDED_RATIO * b)
    return {"final_state_photos": int(ok.sum()), "final_gap_before_mean": b, "final_gap_after_mean": a,
            "final_state_ratio": ratio, "landed": bool(ratio <= LANDED_RATIO), "landed_below": LANDED_RATIO * b,
            "n_landed": int((states == "landed").sum()), "n_short": int((states == "short").sum())}
