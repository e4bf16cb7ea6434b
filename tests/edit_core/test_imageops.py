import numpy as np
import pytest

from edit_core.imageops import to_tensor, to_uint8


def test_round_trip_is_exact() -> None:
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(4, 8, 8, 3), dtype=np.uint8)
    t = to_tensor(imgs)
    assert t.shape == (4, 3, 8, 8)
    assert float(t.min()) >= -1.0 and float(t.max()) <= 1.0
    np.testing.assert_array_equal(to_uint8(t), imgs)


def test_rejects_float_input() -> None:
    with pytest.raises(TypeError):
        to_tensor(np.zeros((2, 4, 4, 3), dtype=np.float32))
