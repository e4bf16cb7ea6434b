"""Attribute estimators on fresh renders at several resolutions (goal: MAE <= 5% of each range)."""

import numpy as np
import pytest

from edit_core.demo_catalog import ATTRIBUTES, render, sample_attributes
from edit_core.estimators import estimate_attributes


@pytest.fixture(scope="module")
def rows():
    return sample_attributes(200, 424242)  # not the calibration seed


@pytest.mark.parametrize("resolution", [64, 128])
def test_estimator_mae_within_5_percent_of_range(rows, resolution):
    est = estimate_attributes(render(rows, resolution))
    assert set(est) == set(ATTRIBUTES)
    for k, (lo, hi) in ATTRIBUTES.items():
        assert est[k].shape == (200,)
        mae = np.abs(est[k] - rows[k]).mean() / (hi - lo)
        assert mae < 0.05, (k, mae)


def test_estimator_is_batch_independent_and_deterministic(rows):
    x = render({k: v[:5] for k, v in rows.items()}, 64)
    full = estimate_attributes(x)
    one = estimate_attributes(x[3:4])
    again = estimate_attributes(x)
    for k in ATTRIBUTES:
        np.testing.assert_allclose(one[k][0], full[k][3], rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(again[k], full[k])


def test_estimator_tracks_a_single_attribute_sweep():
    base = sample_attributes(1, 9)
    for k, (lo, hi) in ATTRIBUTES.items():
        vals = np.linspace(lo, hi, 6)
        sweep = {n: np.repeat(v, 6) for n, v in base.items()}
        sweep[k] = vals
        est = estimate_attributes(render(sweep, 64))[k]
        assert np.all(np.diff(est) > 0), k
        assert np.corrcoef(est, vals)[0, 1] > 0.98, k


def test_estimator_input_checks():
    with pytest.raises(ValueError):
        estimate_attributes(np.zeros((2, 64, 64, 3), np.float32))
    with pytest.raises(ValueError):
        estimate_attributes(np.zeros((2, 64, 48, 3), np.uint8))
    empty = estimate_attributes(np.zeros((0, 64, 64, 3), np.uint8))
    assert set(empty) == set(ATTRIBUTES) and all(v.shape == (0,) for v in empty.values())
