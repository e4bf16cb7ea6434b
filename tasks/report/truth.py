"""The demo's ground truth on the report: a generated catalog knows the attribute its edit sets, so the
estimator (`edit_core.estimators.estimate_attributes`) reads it on the photos before and after the edit and
measures how close they came to the example's value (`attribute_final_state`: attr_before_mae, attr_after_mae)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from common.workspace import EditPaths
from edit_core.estimators import estimate_attributes
from edit_core.metrics import attribute_final_state
from tasks.report.figures import thumbnail
from tasks.report.plots import scatter_plot

ESTIMATE_SIZE = 64  # px: the estimator reads the photos at the demo catalog's render size


def measured_pairs(ids: list[str], paths: EditPaths, sources: dict[str, Path],
                   hashes: dict[str, str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(before, after) thumbnails of photos `ids`; a photo whose original (`sources`, checked against `hashes`)
    or edited image is gone or changed is not measured."""
    pairs = [(thumbnail(sources[i], ESTIMATE_SIZE, hashes.get(i)), thumbnail(paths.image(i), ESTIMATE_SIZE))
             for i in ids if i in sources]
    return [(b, a) for b, a in pairs if b is not None and a is not None]


def measure_truth(truth: dict, pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[dict, np.ndarray]:
    """The attribute `truth` names, estimated on every (before, after) pair against the example's value: the
    metrics (`attribute_final_state`) and their before/after scatter plot."""
    attr, value = truth["attribute"], float(truth["value"])

    def square(thumb: np.ndarray) -> np.ndarray:
        return cv2.resize(thumb, (ESTIMATE_SIZE, ESTIMATE_SIZE), interpolation=cv2.INTER_AREA)

    before = estimate_attributes(np.stack([square(b) for b, _ in pairs]))[attr]
    after = estimate_attributes(np.stack([square(a) for _, a in pairs]))[attr]
    plot = scatter_plot(before, after, f"{attr}: measured before (x), after (y); line = example's target", target=value)
    return attribute_final_state(before, after, value), plot
