"""Summary statistics of a benchmark's repeated measurements."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def summary(values: Iterable[float]) -> dict:
    """Mean, standard deviation and median of the values (float64)."""
    a = np.asarray(list(values), dtype=np.float64)
    return {"mean": float(a.mean()), "std": float(a.std()), "median": float(np.median(a))}


def summarize(records: list[dict], key: str) -> dict:
    """`summary` of one key over a list of per-run records."""
    return summary(r[key] for r in records)
