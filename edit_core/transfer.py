"""Edit transfer: motion + colour flow (iGAN §4.2), numpy / OpenCV only.

The caller renders frames G(w + (t/N)·α·n), t = 0..N. Between consecutive frames we estimate a
*step change* (flow, A) and chain the steps into the total change frame 0 -> frame N, then
upsample that change to the photo (guided filter) and apply it to the photo.

Conventions (all fields live on the grid of the *later* image, so that applying them is a
backward warp with `cv2.remap`, which never leaves holes):

- flow  [h, w, 2] float32 (dx, dy): pixel x of the later image comes from x + flow(x) of the
  earlier image.
- color [h, w, 3, 4] float32: per-pixel affine colour map on (r, g, b, 1) in [0, 1] units,
  later(x) = color(x) · (earlier(x + flow(x)), 1).

This is the paper's objective ||I_t(x) − A·I_{t+1}(x + u)||² with the roles of t and t+1
swapped; both describe the same correspondence, this direction is the one that can be applied.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import cv2
import numpy as np

FLOW_METHODS = ("dis", "farneback", "tvl1")


@dataclass(frozen=True)
class Change:
    """A motion + colour change, fields on the grid of the image it produces (see module doc)."""

    flow: np.ndarray  # [h, w, 2] float32
    color: np.ndarray  # [h, w, 3, 4] float32

    @classmethod
    def identity(cls, h: int, w: int) -> Change:
        """No motion, identity colour map."""
        color = np.zeros((h, w, 3, 4), np.float32)
        color[..., :3, :3] = np.eye(3, dtype=np.float32)
        return cls(np.zeros((h, w, 2), np.float32), color)


# ---------------------------------------------------------------------------------------------
# small image helpers


def _as_float_frames(frames: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] or float [-1, 1] (G's range) frames -> float32 in [0, 1]."""
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"expected frames of shape [T, h, w, 3], got {arr.shape}")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if np.issubdtype(arr.dtype, np.floating):
        return np.clip((arr.astype(np.float32) + 1.0) * 0.5, 0.0, 1.0)
    raise TypeError(f"expected uint8 or float frames, got {arr.dtype}")


def _check_photo(photo: np.ndarray) -> np.ndarray:
    """Validate a uint8 HxWx3 photo and return it as float32 in [0, 1]."""
    if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[-1] != 3:
        raise ValueError(f"expected a uint8 [H, W, 3] photo, got {photo.dtype} {photo.shape}")
    return photo.astype(np.float32) / 255.0


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """float [0, 1] -> uint8, rounded and clipped."""
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def _gray_u8(image: np.ndarray) -> np.ndarray:
    """float RGB [0, 1] -> uint8 luminance (the optical-flow methods take 8-bit grey)."""
    return cv2.cvtColor(_to_uint8(image), cv2.COLOR_RGB2GRAY)


def _resize(field: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of a multi-channel float field, keeping pixel centres aligned."""
    return cv2.resize(field, (width, height), interpolation=cv2.INTER_LINEAR)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: out(x) = image(x + flow(x)), bilinear, borders replicated."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def apply_color(image: np.ndarray, color: np.ndarray) -> np.ndarray:
    """Per-pixel affine colour map: out = color[..., :3] @ rgb + color[..., 3]."""
    return np.einsum("hwck,hwk->hwc", color[..., :3], image) + color[..., 3]


def apply_change(image: np.ndarray, change: Change) -> np.ndarray:
    """Warp then recolour a float [0, 1] image (same grid as the change's fields)."""
    return apply_color(warp(image, change.flow), change.color)


# ---------------------------------------------------------------------------------------------
# one step: flow + locally affine colour


def estimate_flow(target: np.ndarray, source: np.ndarray, method: str = "dis") -> np.ndarray:
    """Flow on target's grid with target(x) ≈ source(x + flow(x)); images float RGB [0, 1].

    DIS (default) had the lowest end-point error on 64 px test frames at ~1-3 ms a call;
    Farneback is less biased but noisier, and TV-L1 both underestimates sub-pixel steps and is
    ~50× slower. Farneback runs on float grey, DIS and TV-L1 need 8-bit grey.
    """
    t, s = _gray_u8(target), _gray_u8(source)
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        dis.setFinestScale(0)  # frames are small (64 px): estimate at full resolution
        flow = dis.calc(t, s, None)
    elif method == "farneback":
        tf, sf = (cv2.cvtColor(im, cv2.COLOR_RGB2GRAY) * 255.0 for im in (target, source))
        flow = cv2.calcOpticalFlowFarneback(tf, sf, None, 0.5, 3, 5, 5, 5, 1.1, 0)
    elif method == "tvl1":
        flow = cv2.optflow.DualTVL1OpticalFlow_create().calc(t, s, None)
    else:
        raise ValueError(f"unknown flow method {method!r}; expected one of {FLOW_METHODS}")
    return flow.astype(np.float32)


def fit_color(target: np.ndarray, source: np.ndarray, radius: int = 4, eps: float = 3e-3) -> np.ndarray:
    """Locally affine colour map with target ≈ A·(source, 1), its linear part pulled toward I.

    For every pixel, over a (2r+1)² box window: minimise mean ||A X − Y||² + eps·||A₃ₓ₃ − I||²,
    i.e. (mean X Xᵀ + R) Aᵀ = mean X Yᵀ + R·[I|0]ᵀ with R = diag(eps, eps, eps, 0). The offset
    is not penalised, so the window's mean colour change is always reproduced and eps only
    decides how much of it is explained by gain (needs texture) rather than offset. Window means
    are box filters and the 4×4 systems are solved in one batched call. The coefficients are
    then box-averaged (as in the guided filter) so that A is smooth (the paper's σ_c ||∇A||²).
    """
    h, w = target.shape[:2]
    x = np.concatenate([source, np.ones((h, w, 1), np.float32)], axis=-1)  # [h, w, 4]
    xx = (x[..., :, None] * x[..., None, :]).reshape(h, w, 16)
    xy = (x[..., :, None] * target[..., None, :]).reshape(h, w, 12)
    k = (2 * radius + 1, 2 * radius + 1)
    m = cv2.blur(xx, k, borderType=cv2.BORDER_REFLECT).reshape(h, w, 4, 4)
    n = cv2.blur(xy, k, borderType=cv2.BORDER_REFLECT).reshape(h, w, 4, 3)
    reg = np.diag(np.float32([eps, eps, eps, 0.0]))
    a_t = np.linalg.solve(m + reg, n + reg @ np.eye(4, 3, dtype=np.float32))
    color = np.ascontiguousarray(np.swapaxes(a_t, -1, -2)).reshape(h, w, 12)
    return cv2.blur(color, k, borderType=cv2.BORDER_REFLECT).reshape(h, w, 3, 4).astype(np.float32)


def _undo_color(image: np.ndarray, color: np.ndarray) -> np.ndarray:
    """Invert the per-pixel affine map: returns X with color·(X, 1) = image, clipped to [0, 1]."""
    inv = np.linalg.inv(color[..., :3])
    return np.clip(np.einsum("hwck,hwk->hwc", inv, image - color[..., 3]), 0.0, 1.0)


def estimate_step(source: np.ndarray, target: np.ndarray, iterations: int = 3, flow_method: str = "dis",
                  color_radius: int = 4, color_eps: float = 3e-3) -> Change:
    """Change from source to target (float [0, 1] frames): alternate flow and colour fits.

    Iteration 1 estimates the flow under colour constancy; later iterations estimate it between
    the colour-compensated target A⁻¹(target − b) and the source, then refit A.
    """
    if iterations < 1:
        raise ValueError("iterations must be >= 1")
    compensated = target
    for _ in range(iterations):
        flow = estimate_flow(compensated, source, flow_method)
        color = fit_color(target, warp(source, flow), color_radius, color_eps)
        compensated = _undo_color(target, color)
    return Change(flow, color)


# ---------------------------------------------------------------------------------------------
# chaining, upsampling, the whole transfer


def compose(first: Change, second: Change) -> Change:
    """Change a -> c from a -> b (`first`, on b's grid) then b -> c (`second`, on c's grid).

    c(x) = A2(x)·(b(y), 1) with y = x + f2(x), and b(y) = A1(y)·(a(y + f1(y)), 1), so the first
    change's fields are warped onto c's grid by f2: f = f2 + f1∘y and A = A2 · A1∘y (3×4 affines
    multiplied as 4×4 homogeneous matrices).
    """
    h, w = second.flow.shape[:2]
    flow1 = warp(first.flow, second.flow)
    col1 = warp(first.color.reshape(h, w, 12), second.flow).reshape(h, w, 3, 4)
    a2 = second.color
    color = np.einsum("hwij,hwjk->hwik", a2[..., :3], col1)
    color[..., 3] += a2[..., 3]
    return Change(second.flow + flow1, color.astype(np.float32))


def estimate_change(frames: np.ndarray, iterations: int = 3, flow_method: str = "dis",
                    color_radius: int = 4, color_eps: float = 3e-3, refinements: int = 2) -> Change:
    """Total change frames[0] -> frames[-1]: chain the consecutive step changes, then refine.

    Optical flow underestimates the sub-pixel motions of consecutive 64 px frames a little, and
    chaining adds these errors up (−1.82 px instead of −2 px in the tests). Each refinement
    estimates the residual step from frames[0] carried by the current total to frames[-1] and
    composes it in (two bring the tests' translation to −1.96 px).
    """
    f = _as_float_frames(frames)
    kw = dict(iterations=iterations, flow_method=flow_method, color_radius=color_radius, color_eps=color_eps)
    total = Change.identity(*f.shape[1:3])
    for t in range(len(f) - 1):
        total = compose(total, estimate_step(f[t], f[t + 1], **kw))
    for _ in range(refinements):
        total = compose(total, estimate_step(apply_change(f[0], total), f[-1], **kw))
    return total


def upsample_change(change: Change, photo: np.ndarray, radius: int = 8, eps: float = 1e-3) -> Change:
    """Bring a low-resolution change to the photo's grid; guided filter guided by the photo.

    The fields live on the edited grid, so the guide is the photo moved there by the bilinearly
    upsampled flow; the flow is rescaled to photo pixels. photo: float [0, 1] HxWx3.
    """
    h, w = change.flow.shape[:2]
    big_h, big_w = photo.shape[:2]
    flow = _resize(change.flow, big_h, big_w) * np.array([big_w / w, big_h / h], np.float32)
    color = _resize(np.ascontiguousarray(change.color.reshape(h, w, 12)), big_h, big_w)
    guide = warp(photo, flow)
    fields = cv2.ximgproc.guidedFilter(guide, np.concatenate([flow, color], axis=-1), radius, eps, -1)
    return Change(fields[..., :2], fields[..., 2:].reshape(big_h, big_w, 3, 4))


def transfer(photo: np.ndarray, frames: np.ndarray, iterations: int = 3, flow_method: str = "dis",
             color_radius: int = 4, color_eps: float = 3e-3, refinements: int = 2, guide_radius: int = 8,
             guide_eps: float = 1e-3) -> np.ndarray:
    """Apply the edit seen in `frames` to the full-resolution `photo`.

    photo: uint8 HxWx3 RGB. frames: [T, h, w, 3] uint8, or float in [-1, 1]; frames[0] ≈ the
    photo's projection, frames[-1] = the edited render. Returns the edited photo, uint8 HxWx3.
    """
    image = _check_photo(photo)
    change = estimate_change(frames, iterations, flow_method, color_radius, color_eps, refinements)
    big = upsample_change(change, image, guide_radius, guide_eps)
    return _to_uint8(apply_change(image, big))


# ---------------------------------------------------------------------------------------------
# baselines and timing


def naive_transfer(photo: np.ndarray, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Baseline: photo + upsample(after − before) (the paper's misaligned pixel-difference transfer)."""
    image = _check_photo(photo)
    diff = _as_float_frames(np.stack([after, before]))
    return _to_uint8(image + _resize(diff[0] - diff[1], *image.shape[:2]))


def upsampled_gan(photo: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Baseline: the edited render resized (bicubic) to the photo's size."""
    _check_photo(photo)
    rendered = _as_float_frames(after[None])[0]
    return _to_uint8(cv2.resize(rendered, photo.shape[1::-1], interpolation=cv2.INTER_CUBIC))


def time_transfer(runs: int = 7, size: int = 512, frame_size: int = 64, num_frames: int = 8,
                  seed: int = 0, **transfer_kw) -> float:
    """Median wall time (s) of `transfer` on one random smooth size² photo and num_frames frames."""
    rng = np.random.default_rng(seed)
    noise = rng.random((size // 16, size // 16, 3), dtype=np.float32)
    photo = _to_uint8(cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 1))
    small = cv2.resize(photo, (frame_size, frame_size), interpolation=cv2.INTER_AREA)
    shifts = np.linspace(0.0, 2.0, num_frames)
    frames = np.stack([warp(small.astype(np.float32), np.full((frame_size, frame_size, 2), -s, np.float32))
                       for s in shifts]).astype(np.uint8)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        transfer(photo, frames, **transfer_kw)
        times.append(time.perf_counter() - start)
    return statistics.median(times)
