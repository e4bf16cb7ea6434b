"""The Fashion-MNIST edit's measurements against their definitions (benchmarks.fashion)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.fashion import (
    background_change,
    brightness,
    class_ids,
    colour_cast,
    darkened,
    garment_mask,
)
from common.errors import InputError


def _garment() -> np.ndarray:
    """A 40 px grey photo: a 16 x 20 garment of level 200 (one stripe 120) on black."""
    photo = np.zeros((40, 40, 3), np.uint8)
    photo[10:26, 10:30] = 200
    photo[14:16, 10:30] = 120
    return photo


def test_darkened_scales_the_garment_only() -> None:
    photo = _garment()
    after = darkened(photo, 0.5)
    mask = garment_mask(photo)
    assert mask.sum() == 16 * 20
    assert brightness(after, mask) == pytest.approx(0.5 * brightness(photo, mask), abs=0.5)
    assert (after[~mask] == photo[~mask]).all() and (after[14, 12] == 60).all()


def test_colour_cast_is_zero_on_grey_and_the_channel_spread_otherwise() -> None:
    photo = _garment()
    assert colour_cast(photo) == 0
    tinted = photo.copy()
    tinted[..., 2] = np.clip(tinted[..., 2].astype(int) + 30, 0, 255)
    assert colour_cast(tinted) == pytest.approx(30 - 30 * (tinted[..., 0] == 255).mean())


def test_background_change_ignores_the_garment_and_reads_the_rest() -> None:
    photo = _garment()
    inside = darkened(photo, 0.3)
    assert background_change(inside, photo) == 0  # only the garment changed
    glow = photo.copy()
    glow[garment_mask(photo) == 0] += 10
    assert background_change(glow, photo) == pytest.approx(10)


def test_class_ids_take_names_or_numbers_and_refuse_others() -> None:
    assert class_ids("t-shirt, pullover") == [0, 2] and class_ids("9,coat") == [9, 4]
    for bad in ("hat", "10", ""):
        with pytest.raises(InputError):
            class_ids(bad)
