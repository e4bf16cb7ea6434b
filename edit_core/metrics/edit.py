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
        if np.isfinite(after).any():  # measured on the re-projected sample only
            m["distance_after_max_abs"] = float(np.nanmax(np.abs(after)))
    return m


def attribute_final_state(before: np.ndarray, after: np.ndarray, value: float) -> dict:
    """How close each photo's measured attribute lands to the example's after value (before and after)."""
    return {"attr_target": value, "attr_before_mae": float(np.abs(before - value).mean()),
            "attr_after_mae": float(np.abs(after - value).mean()), "attr_after_std": float(after.std())}


def final_state_verdict(distance_before: np.ndarray, distance_after: np.ndarray,
                        distance_floor: np.ndarray | None = None, landed_ratio: float = 0.5) -> dict:
    """Did the edit land? Signed distances to the example's final-state hyperplane along n, of the same
    photos before the edit (their projections), after it (the edited photos projected again) and, as the
    measurement's floor, of their renders G(w_i + α_i·n) projected again the same way.

    The renders lie on the hyperplane, yet a projection does not bring them back to 0: it leans toward the
    catalog's typical latents (on Fashion-MNIST they came back 0.58× as far as the unedited photos). So
    each photo is compared with its floor: the ratio is mean |after − floor| / mean |before − floor|, how
    far the edited photos stay from where a fully edited photo is measured, relative to the unedited ones
    (without a floor, against 0). The edit landed when that ratio is at most `landed_ratio`: a measurement on
    the outputs, not on the latents the edit was computed from (those lie on the hyperplane by construction)."""
    before = np.asarray(distance_before, np.float64)
    after = np.asarray(distance_after, np.float64)
    floor = np.zeros_like(after) if distance_floor is None else np.asarray(distance_floor, np.float64)
    ok = np.isfinite(before) & np.isfinite(after) & np.isfinite(floor)
    if not ok.any():
        return {"final_state_photos": 0, "landed": None}
    b, a = float(np.abs(before[ok]).mean()), float(np.abs(after[ok]).mean())
    gap_before, gap_after = float(np.abs(before - floor)[ok].mean()), float(np.abs(after - floor)[ok].mean())
    ratio = gap_after / gap_before if gap_before > 0 else float("inf") if gap_after > 0 else 0.0
    return {"final_state_photos": int(ok.sum()), "final_state_before_mae": b, "final_state_after_mae": a,
            "final_state_floor_mae": float(np.abs(floor[ok]).mean()), "final_state_ratio": ratio,
            "landed": bool(ratio <= landed_ratio)}
