"""Metrics of one catalog edit: counts per status and α / final-state / reconstruction statistics, and,
where an attribute can be measured, how close each edited photo lands to the example's final state."""

from __future__ import annotations

import numpy as np

STATUSES = ("edited", "flagged", "rejected")


def edit_summary(status: np.ndarray, alpha: np.ndarray, distance_before: np.ndarray, distance_after: np.ndarray,
                 err_pixel: np.ndarray, t_transfer: np.ndarray) -> dict:
    """One row per photo (results.parquet columns) -> counts per status and statistics of the non-rejected."""
    status = np.asarray(status)
    done = status != "rejected"
    m: dict = {"images": len(status), **{f"n_{s}": int((status == s).sum()) for s in STATUSES}}
    if done.any():
        a = np.asarray(alpha, np.float64)[done]
        m |= {"alpha_mean": float(a.mean()), "alpha_std": float(a.std()),
              "alpha_min": float(a.min()), "alpha_max": float(a.max()),
              "distance_before_std": float(np.asarray(distance_before, np.float64)[done].std()),
              "distance_after_max_abs": float(np.abs(np.asarray(distance_after, np.float64)[done]).max()),
              "err_pixel_mean": float(np.asarray(err_pixel, np.float64)[done].mean()),
              "t_transfer_mean": float(np.asarray(t_transfer, np.float64)[done].mean())}
    return m


def attribute_final_state(before: np.ndarray, after: np.ndarray, value: float) -> dict:
    """How close each photo's measured attribute lands to the example's after value (before and after)."""
    return {"attr_target": value, "attr_before_mae": float(np.abs(before - value).mean()),
            "attr_after_mae": float(np.abs(after - value).mean()), "attr_after_std": float(after.std())}
