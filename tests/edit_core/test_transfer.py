"""Edit transfer (iGAN §4.2): known motions and colour changes seen in 64 px frames must land on
a 512 px photo (8× larger); steps must chain correctly; identity frames must change nothing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from edit_core.transfer import (
    Change,
    apply_change,
    compose,
    estimate_change,
    estimate_step,
    naive_transfer,
    transfer,
    upsampled_gan,
    warp,
)

PHOTO, FRAME, N = 512, 64, 7  # 8 frames, t = 0..N
SCALE = PHOTO // FRAME


def _texture(size: int, cells: int, seed: int) -> np.ndarray:
    """Smooth random RGB texture in [0, 1], `cells` features across."""
    noise = np.random.default_rng(seed).random((cells, cells, 3), dtype=np.float32)
    return cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC).clip(0.0, 1.0)


def _layer(size: int, seed: int, base: float, coarse: float, fine: float) -> np.ndarray:
    """Coarse texture plus 2 px detail that 64 px frames cannot show (as in a real photo)."""
    return base + coarse * _texture(size, 12, seed) + fine * _texture(size, size // 2, seed + 100)


def _disc(dx: float, dy: float, size: int) -> np.ndarray:
    """Anti-aliased disc mask [size, size, 1], radius size/4, centre moved by (dx, dy)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dist = np.hypot(xx - size / 2 - dx, yy - size / 2 - dy)
    return np.clip(0.25 * size - dist + 0.5, 0.0, 1.0)[..., None]


def _scene(dx: float, dy: float = 0.0, size: int = PHOTO) -> np.ndarray:
    """Light background with a dark textured disc (a product on a studio backdrop) whose centre and
    texture are moved by (dx, dy) photo px."""
    background = _layer(size, 0, 0.65, 0.2, 0.1)
    shift = np.float32([[1, 0, dx], [0, 1, dy]])
    foreground = cv2.warpAffine(_layer(size, 1, 0.1, 0.5, 0.2), shift, (size, size), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT)
    alpha = _disc(dx, dy, size)
    return background * (1.0 - alpha) + foreground * alpha


def _u8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def _down(image: np.ndarray) -> np.ndarray:
    """What the GAN would render: the photo at 64 px (area average)."""
    return cv2.resize(image, (FRAME, FRAME), interpolation=cv2.INTER_AREA)


def _affine(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Global 3×4 affine colour map on float RGB."""
    return image @ matrix[:, :3].T + matrix[:, 3]


def _psnr(truth: np.ndarray, result: np.ndarray) -> float:
    return float(peak_signal_noise_ratio(truth, result, data_range=255))


COLOR = np.float32([[1.15, 0.10, 0.00, -0.05],
                    [0.00, 0.85, 0.05, 0.08],
                    [0.05, 0.00, 0.90, 0.02]])
IDENTITY = np.eye(3, 4, dtype=np.float32)


def _motion_case(k: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Object moved by k frame px over the sequence: (photo, frames, ground-truth edited photo)."""
    frames = np.stack([_u8(_down(_scene(SCALE * k * t / N))) for t in range(N + 1)])
    return _u8(_scene(0.0)), frames, _u8(_scene(SCALE * k))


def _color_case(local: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Affine colour change blended in over the sequence, no motion; on the whole image, or only
    on the disc (the product is recoloured, the backdrop is not)."""
    photo = _scene(0.0)
    mask = _disc(0.0, 0.0, PHOTO) if local else np.ones((PHOTO, PHOTO, 1), np.float32)

    def recolor(image: np.ndarray, m: np.ndarray, s: float) -> np.ndarray:
        return image + m * (_affine(image, (1 - s) * IDENTITY + s * COLOR) - image)

    small, small_mask = _down(photo), _down(mask)[..., None]
    frames = np.stack([_u8(recolor(small, small_mask, t / N)) for t in range(N + 1)])
    return _u8(photo), frames, _u8(recolor(photo, mask, 1.0))


@pytest.fixture(scope="module")
def motion_case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _motion_case(2.0)


def _shift(a: np.ndarray, b: np.ndarray, cx: float, cy: float, half: int = 64) -> tuple[float, float]:
    """Phase-correlation shift (dx, dy) of b's content relative to a's, in a window at (cx, cy)."""
    x0, y0 = int(cx) - half, int(cy) - half
    crops = [cv2.cvtColor(im[y0:y0 + 2 * half, x0:x0 + 2 * half], cv2.COLOR_RGB2GRAY).astype(np.float64)
             for im in (a, b)]
    (dx, dy), _ = cv2.phaseCorrelate(*crops)
    return dx, dy


def test_translation_in_frames_moves_photo_content_8x(motion_case) -> None:
    photo, frames, truth = motion_case
    change = estimate_change(frames)
    yy, xx = np.mgrid[0:FRAME, 0:FRAME] + 0.5
    inside = np.hypot(xx - FRAME / 2 - 2.0, yy - FRAME / 2) < 0.2 * FRAME
    assert np.allclose(change.flow[inside].mean(axis=0), [-2.0, 0.0], atol=0.1)  # backward flow, frame px

    out = transfer(photo, frames)
    dx, dy = _shift(photo, out, PHOTO / 2 + SCALE * 2.0, PHOTO / 2)
    assert abs(dx - SCALE * 2.0) < 1.0 and abs(dy) < 1.0  # 2 frame px -> 16 photo px
    assert _psnr(truth, out) > 29.0


def test_flow_transfer_beats_naive_on_misaligned_edit(motion_case) -> None:
    photo, frames, truth = motion_case
    flow_psnr = _psnr(truth, transfer(photo, frames))
    naive_psnr = _psnr(truth, naive_transfer(photo, frames[0], frames[-1]))
    assert flow_psnr > naive_psnr + 1.5  # the naive difference leaves a ghost of the old position


@pytest.mark.parametrize("local", [False, True])
def test_affine_color_change_is_reproduced_on_photo(local: bool) -> None:
    photo, frames, truth = _color_case(local)
    out = transfer(photo, frames)
    assert out.shape == photo.shape and out.dtype == np.uint8
    psnr = _psnr(truth, out)
    assert psnr > (43.0 if local else 38.0)
    assert psnr > _psnr(truth, upsampled_gan(photo, frames[-1])) + 8.0  # keeps the photo's detail


def _smooth_field(channels: int, amplitude: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal((4, 4, channels)).astype(np.float32)
    return amplitude * cv2.resize(noise, (FRAME, FRAME), interpolation=cv2.INTER_CUBIC)


def _random_change(seed: int) -> Change:
    color = IDENTITY + _smooth_field(12, 0.15, seed + 1).reshape(FRAME, FRAME, 3, 4)
    return Change(_smooth_field(2, 3.0, seed), color)


def test_compose_equals_applying_the_two_steps() -> None:
    image = _texture(FRAME, 4, 7)  # smooth, so bilinear resampling twice ≈ once
    first, second = _random_change(0), _random_change(10)
    chained = apply_change(apply_change(image, first), second)
    total = compose(first, second)
    inner = (slice(8, -8), slice(8, -8))  # replicated borders differ between one and two warps
    err = np.abs(chained - apply_change(image, total))[inner]
    assert err.mean() < 1e-3 and err.max() < 1e-2
    # the first step's colour field must be read where the second step's flow points (mean error ≈ 0.03)
    unwarped = np.einsum("hwij,hwjk->hwik", second.color[..., :3], first.color)
    unwarped[..., 3] += second.color[..., 3]
    assert np.abs(chained - apply_change(image, Change(total.flow, unwarped)))[inner].mean() > 1e-2


def test_compose_constant_fields_exactly() -> None:
    a1, a2 = COLOR, IDENTITY * 0.9 + np.float32([[0, 0, 0.1, 0.05]] * 3)
    first = Change(np.full((8, 8, 2), [1.0, -0.5], np.float32), np.broadcast_to(a1, (8, 8, 3, 4)).copy())
    second = Change(np.full((8, 8, 2), [0.25, 2.0], np.float32), np.broadcast_to(a2, (8, 8, 3, 4)).copy())
    total = compose(first, second)
    homogeneous = np.vstack([a2, [0, 0, 0, 1]]) @ np.vstack([a1, [0, 0, 0, 1]])
    assert np.allclose(total.flow, [1.25, 1.5]) and np.allclose(total.color, homogeneous[:3], atol=1e-6)


def test_composed_steps_match_direct_two_step_estimate() -> None:
    frames = np.stack([_down(_scene(SCALE * s)) for s in (0.0, 0.75, 1.5)])
    steps = compose(estimate_step(frames[0], frames[1]), estimate_step(frames[1], frames[2]))
    direct = estimate_step(frames[0], frames[2])
    yy, xx = np.mgrid[0:FRAME, 0:FRAME] + 0.5
    inside = np.hypot(xx - FRAME / 2 - 1.5, yy - FRAME / 2) < 0.2 * FRAME
    assert np.abs(steps.flow - direct.flow)[inside].mean() < 0.1
    assert np.abs(apply_change(frames[0], steps) - frames[2]).mean() < 0.01


@pytest.mark.parametrize("as_float", [False, True])
def test_identity_frames_leave_photo_unchanged(as_float: bool) -> None:
    photo = _u8(_scene(0.0))
    frame = _u8(_down(_scene(0.0)))
    frames = np.stack([frame] * (N + 1))
    if as_float:
        frames = frames.astype(np.float32) / 127.5 - 1.0  # G's range
    out = transfer(photo, frames)
    assert np.abs(out.astype(int) - photo).max() <= 1


def test_baselines() -> None:
    photo, frames, _ = _color_case()
    assert np.array_equal(naive_transfer(photo, frames[0], frames[0]), photo)
    gan = upsampled_gan(photo, frames[-1])
    assert gan.shape == photo.shape and gan.dtype == np.uint8
    assert np.abs(cv2.resize(gan, (FRAME, FRAME), interpolation=cv2.INTER_AREA).astype(int) - frames[-1]).mean() < 2


def test_warp_follows_backward_convention() -> None:
    image = _texture(FRAME, 8, 3)
    moved = warp(image, np.full((FRAME, FRAME, 2), [-3.0, 0.0], np.float32))  # out(x) = image(x - 3)
    assert np.allclose(moved[:, 3:], image[:, :-3], atol=1e-5)
