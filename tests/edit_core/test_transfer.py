"""Edit transfer (iGAN §4.2): known motions and colour changes seen in 64 px frames must land on
a 512 px photo (8× larger); nothing the frames do not show may be added (no chroma on a grey photo,
no change where the frames do not change, no motion for a pure colour change); the fast closed-form
and subsampled paths must equal their references."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio

from benchmarks.baselines import naive_transfer, upsampled_gan
from benchmarks.timing import time_transfer
from edit_core.transfer import (
    apply_change,
    estimate_change,
    fit_color,
    guide_change,
    local_affine,
    transfer,
    undo_color,
    upsample_fields,
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
    assert _psnr(truth, out) > 33.0


def test_flow_transfer_beats_naive_on_misaligned_edit(motion_case) -> None:
    photo, frames, truth = motion_case
    flow_psnr = _psnr(truth, transfer(photo, frames))
    naive_psnr = _psnr(truth, naive_transfer(photo, frames[0], frames[-1]))
    assert flow_psnr > naive_psnr + 4.0  # the naive difference leaves a ghost of the old position


@pytest.mark.parametrize("local", [False, True])
def test_affine_color_change_is_reproduced_on_photo(local: bool) -> None:
    photo, frames, truth = _color_case(local)
    out = transfer(photo, frames)
    assert out.shape == photo.shape and out.dtype == np.uint8
    psnr = _psnr(truth, out)
    # a change over the whole photo: its weakest-changed pixels sit on the relative region's ramp (42.8 dB
    # measured, 43.x with the absolute 6-level threshold that spilled G's tints onto backgrounds)
    assert psnr > (47.0 if local else 42.5)
    assert psnr > _psnr(truth, upsampled_gan(photo, frames[-1])) + 8.0  # keeps the photo's detail


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


def _grey(image: np.ndarray) -> np.ndarray:
    return np.repeat(image.mean(axis=-1, keepdims=True), 3, axis=-1)


def _max_chroma(image: np.ndarray) -> int:
    """Largest distance (grey levels) of a channel from the pixel's grey value."""
    i = image.astype(np.float64)
    return int(np.ceil(np.abs(i - i.mean(axis=-1, keepdims=True)).max()))


def _garment(size: int, darken: float = 0.0) -> np.ndarray:
    """A grey striped T-shirt on a black backdrop (a Fashion-MNIST product photo), RGB [0, 1]."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    body = ((np.abs(xx - 0.5) < 0.22) & (yy > 0.2) & (yy < 0.85)) | ((np.abs(xx - 0.5) < 0.4) & (yy > 0.2) & (yy < 0.4))
    stripes = 0.75 + 0.2 * np.sign(np.sin(yy * size / 6.0))
    grey = cv2.GaussianBlur(body.astype(np.float32), (0, 0), size / 256) * stripes * (1.0 - darken)
    return np.repeat(grey[..., None], 3, axis=-1)


@pytest.mark.parametrize("tint", [0.0, 1.0])
def test_grey_photo_and_grey_frames_stay_grey(tint: float) -> None:
    """A grey garment darkened in blurry frames (G's renders: no stripes, a lifted black, and ±`tint` levels
    of chroma wobble between frames) stays grey, and its black backdrop gets no glow. The earlier
    transfer gave 4 levels of chroma and an 11-level glow here."""
    photo = _u8(_garment(PHOTO))
    rng = np.random.default_rng(0)
    frames = []
    for t in range(N + 1):
        small = cv2.resize(_garment(PHOTO, 0.4 * t / N), (FRAME, FRAME), interpolation=cv2.INTER_AREA)
        wobble = cv2.resize(rng.normal(0.0, 1.0, (3, 3, 3)).astype(np.float32), (FRAME, FRAME),
                            interpolation=cv2.INTER_CUBIC)
        frames.append(_u8(cv2.GaussianBlur(small, (0, 0), 1.5) * 0.9 + 0.04 + tint / 255.0 * wobble))
    out = transfer(photo, np.stack(frames))
    assert _max_chroma(photo) == 0 and _max_chroma(out) <= 2
    assert out[photo.max(axis=-1) == 0].max() <= 6
    assert out.astype(int).mean() < photo.astype(int).mean() - 15  # the darkening did land


def test_pixels_where_the_frames_do_not_change_stay_unchanged() -> None:
    """Only the disc is recoloured in the frames: the textured backdrop away from it keeps every pixel."""
    photo, frames, _ = _color_case(local=True)
    out = transfer(photo, frames)
    far = _disc(0.0, 0.0, PHOTO)[..., 0] == 0
    far &= cv2.erode(far.astype(np.uint8), np.ones((65, 65), np.uint8)).astype(bool)  # 8 frame px margin
    assert far.mean() > 0.4
    assert np.abs(out.astype(int) - photo)[far].max() <= 1


def test_hue_change_moves_nothing() -> None:
    """A red product turning blue in the frames reads as sub-pixel motion to the flow on the blurry grey
    frames; the photo's texture must stay in place (a 1 px shift costs its detail) and turn blue."""
    photo_f = _scene(0.0)
    mask = _disc(0.0, 0.0, PHOTO)
    swap = photo_f[..., ::-1]  # red <-> blue
    truth = photo_f + mask * (swap - photo_f)
    small, small_mask = _down(photo_f), _down(mask)[..., None]
    frames = np.stack([_u8(small + t / N * small_mask * (small[..., ::-1] - small)) for t in range(N + 1)])
    assert np.abs(estimate_change(frames).flow).max() < 0.05
    out = transfer(_u8(photo_f), frames)
    dx, dy = _shift(_u8(photo_f), out, PHOTO / 2, PHOTO / 2)
    assert abs(dx) < 0.1 and abs(dy) < 0.1  # the earlier chained-flow transfer: (0.8, −0.7) px
    assert _psnr(_u8(truth), out) > _psnr(_u8(truth), naive_transfer(_u8(photo_f), frames[0], frames[-1])) + 2.0


def test_local_affine_matches_a_direct_window_solve() -> None:
    """The closed-form 3×3 solve equals the ridge least squares solved window by window."""
    rng = np.random.default_rng(1)
    source = _texture(32, 8, 5)
    target = np.clip(_affine(source, COLOR) + 0.02 * rng.standard_normal(source.shape), 0, 1).astype(np.float32)
    radius, eps = 2, 1e-3
    fast = local_affine(target, source, radius, eps)
    for y, x in [(5, 7), (16, 16), (20, 9), (26, 25)]:
        win = (slice(y - radius, y + radius + 1), slice(x - radius, x + radius + 1))
        xs = np.concatenate([source[win].reshape(-1, 3), np.ones((25, 1))], 1).astype(np.float64)
        ys = target[win].reshape(-1, 3).astype(np.float64)
        reg = np.diag([eps, eps, eps, 0.0])  # mean squared error + eps·||A − I||², offset free
        coef = np.linalg.solve(xs.T @ xs / 25 + reg, xs.T @ ys / 25 + reg @ np.eye(4, 3))
        np.testing.assert_allclose(fast[y, x], coef.T, atol=2e-4)


def test_undo_color_inverts_the_affine_map() -> None:
    image = _texture(FRAME, 6, 2) * 0.6 + 0.2
    color = np.broadcast_to(COLOR, (FRAME, FRAME, 3, 4))
    np.testing.assert_allclose(undo_color(_affine(image, COLOR), color), image, atol=1e-5)


def test_torch_full_resolution_pass_matches_opencv_reference() -> None:
    """apply_change (torch: bilinear upsampling, grid_sample, per-pixel affine) equals cv2.resize + cv2.remap."""
    photo = _u8(_scene(0.0, size=128))
    rng = np.random.default_rng(3)
    flow = cv2.resize(rng.normal(0, 3, (4, 4, 2)).astype(np.float32), (32, 32), interpolation=cv2.INTER_CUBIC)
    color = (IDENTITY + cv2.resize(rng.normal(0, 0.1, (4, 4, 12)).astype(np.float32), (32, 32),
                                   interpolation=cv2.INTER_CUBIC).reshape(32, 32, 3, 4)).astype(np.float32)
    bounds = np.concatenate([np.full((32, 32, 3), -0.1), np.full((32, 32, 3), 0.15)], -1).astype(np.float32)
    out = apply_change(photo, flow, color, bounds)
    big_flow = cv2.resize(flow, (128, 128), interpolation=cv2.INTER_LINEAR)
    big_color = cv2.resize(color.reshape(32, 32, 12), (128, 128), interpolation=cv2.INTER_LINEAR).reshape(128, 128, 3, 4)
    moved = warp(photo.astype(np.float32) / 255.0, big_flow)
    change = np.einsum("hwck,hwk->hwc", big_color[..., :3], moved) + big_color[..., 3] - moved
    reference = _u8(moved + np.clip(change, -0.1, 0.15))
    assert (np.abs(change) > 0.1).mean() > 0.05  # the bounds do bite
    assert np.abs(out.astype(int) - reference).max() <= 1


def test_opencv_and_torch_upsampling_agree() -> None:
    """The CPU path (OpenCV, plane by plane) and the device path (torch interpolate) give the same fields."""
    fields = np.random.default_rng(4).random((16, 24, 20), dtype=np.float32)
    cpu = torch.device("cpu")
    a = upsample_fields(fields, 128, 192, cpu, opencv=True)
    b = upsample_fields(fields, 128, 192, cpu, opencv=False)
    assert a.shape == b.shape == (20, 128, 192) and torch.allclose(a, b, atol=1e-5)


def test_subsampled_guided_fit_matches_full_resolution_fit() -> None:
    """He & Sun's fast guided filter: fitting the photo's colour map on a coarser grid gives the same photo
    as fitting it at full resolution (same radius in photo px): 60 dB apart at 8× here."""
    photo, frames, _ = _color_case(local=True)
    change = estimate_change(frames)
    image = photo.astype(np.float32) / 255.0
    full = apply_change(photo, *guide_change(change, image, radius=8, subsample=1))
    for subsample in (4, 8):
        assert _psnr(full, apply_change(photo, *guide_change(change, image, radius=8, subsample=subsample))) > 50.0


def test_fit_color_is_identity_where_nothing_changes() -> None:
    image = _texture(FRAME, 8, 4)
    np.testing.assert_allclose(fit_color(image, image), np.broadcast_to(IDENTITY, (FRAME, FRAME, 3, 4)), atol=1e-4)


def test_time_transfer_restores_threads() -> None:
    photo, frames, _ = _color_case()
    threads = cv2.getNumThreads()
    assert time_transfer([photo[:128, :128]] * 2, [frames] * 2) > 0
    assert time_transfer([photo[:128, :128]] * 2, [frames] * 2, clock=time.thread_time) > 0
    assert cv2.getNumThreads() == threads
