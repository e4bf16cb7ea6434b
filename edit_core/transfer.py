"""Edit transfer: motion + colour flow (iGAN §4.2), estimated once on the frames, applied at full resolution.

The caller renders frames G(w + (t/N)·α·n), t = 0..N, at the model's resolution. Two stages:

1. `estimate_change` (frame grid, numpy / OpenCV): flow and ONE locally affine colour model from frames[0]
   to frames[-1], alternated (one DIS object; the colour model is undone before each flow), the colour
   model pulled toward identity. The flow is kept only where it explains what the colour model cannot,
   and both fade out where the frames do not change, so nothing happens there.
2. `guide_change` + `apply_change` (photo): the colour model is evaluated on the photo's own colours on a
   subsampled grid, held to the colour range and the chroma change the frames show, and refitted there as
   a local affine map of the warped photo (the fast guided filter, He & Sun 2015, the photo as guide).
   The flow, that map and per-channel bounds of the coarse change are upsampled bilinearly and applied
   to the full-resolution photo in one torch pass, on any device (the upsampling is OpenCV on the CPU).

Conventions (all fields live on the grid of the *later* image, so that applying them is a backward warp,
which never leaves holes):

- flow  [h, w, 2] float32 (dx, dy): pixel x of the later image comes from x + flow(x) of the earlier one.
- color [h, w, 3, 4] float32: per-pixel affine colour map on (r, g, b, 1) in [0, 1] units,
  later(x) = color(x) · (earlier(x + flow(x)), 1).

This is the paper's objective ||I_t(x) − A·I_{t+1}(x + u)||² with the roles of t and t+1 swapped; both
describe the same correspondence, this direction is the one that can be applied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from edit_core.configs import TransferConfig
from edit_core.region import relative_region

FLOW_METHODS = ("dis", "farneback")
CHANGE_FLOOR = 2.0 / 255.0  # a change below a couple of grey levels is G's rounding: no evidence either way
COLOR_GROWTH = 1  # px (frame grid): how far the colour model reaches past the edit region (change_confidence)
EVIDENCE_RADIUS, EVIDENCE_FLOOR, EVIDENCE_FULL = 8, 0.2, 0.6  # see motion_evidence
RANGE_MARGIN = 0.05  # photo colours up to this far outside the frames' local range get the model as is
# G's renders of a grey catalog wobble in chroma by a few levels between frames: that is not a colour edit.
CHROMA_FLOOR = 4.0 / 255.0


@dataclass(frozen=True)
class Change:
    """A motion + colour change on the frame grid, with what the frames show of it (see module doc).

    low / high: the local colour range of the moved first frame (where the colour model was fitted);
    chroma: how much the frames' chroma changes locally, less CHROMA_FLOOR (caps the photo's chroma change).
    """

    flow: np.ndarray  # [h, w, 2] float32
    color: np.ndarray  # [h, w, 3, 4] float32
    low: np.ndarray  # [h, w, 3] float32
    high: np.ndarray  # [h, w, 3] float32
    chroma: np.ndarray  # [h, w] float32

    @classmethod
    def identity(cls, h: int, w: int) -> Change:
        """No motion, identity colour map, nothing shown."""
        zeros = np.zeros((h, w, 3), np.float32)
        return cls(np.zeros((h, w, 2), np.float32), _identity_color(h, w), zeros, zeros + 1.0,
                   np.zeros((h, w), np.float32))


# ---------------------------------------------------------------------------------------------
# small image helpers (numpy, frame grid)


def _identity_color(h: int, w: int) -> np.ndarray:
    color = np.zeros((h, w, 3, 4), np.float32)
    color[..., :3, :3] = np.eye(3, dtype=np.float32)
    return color


def unit_frames(frames: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] or float [-1, 1] (G's range) frames -> float32 in [0, 1]."""
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"expected frames of shape [T, h, w, 3], got {arr.shape}")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if np.issubdtype(arr.dtype, np.floating):
        return np.clip((arr.astype(np.float32) + 1.0) * 0.5, 0.0, 1.0)
    raise TypeError(f"expected uint8 or float frames, got {arr.dtype}")


def unit_photo(photo: np.ndarray) -> np.ndarray:
    """Validate a uint8 HxWx3 photo and return it as float32 in [0, 1]."""
    if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[-1] != 3:
        raise ValueError(f"expected a uint8 [H, W, 3] photo, got {photo.dtype} {photo.shape}")
    return photo.astype(np.float32) / 255.0


def unit_to_uint8(image: np.ndarray) -> np.ndarray:
    """float [0, 1] -> uint8, rounded and clipped."""
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def _gray_u8(image: np.ndarray) -> np.ndarray:
    """float RGB [0, 1] -> uint8 luminance (DIS takes 8-bit grey)."""
    return cv2.cvtColor(unit_to_uint8(image), cv2.COLOR_RGB2GRAY)


def _resize(field: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of a multi-channel float field, keeping pixel centres aligned."""
    return cv2.resize(field, (width, height), interpolation=cv2.INTER_LINEAR)


def _box(field: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the (2r+1)² window, borders reflected."""
    return cv2.blur(field, (2 * radius + 1,) * 2, borderType=cv2.BORDER_REFLECT)


def _chroma(image: np.ndarray) -> np.ndarray:
    """The colour part of RGB: what is left after removing the grey (channel mean) component."""
    return image - image.mean(axis=-1, keepdims=True)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: out(x) = image(x + flow(x)), bilinear, borders replicated."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def apply_color(image: np.ndarray, color: np.ndarray) -> np.ndarray:
    """Per-pixel affine colour map: out = color[..., :3] @ rgb + color[..., 3]."""
    return np.einsum("hwck,hwk->hwc", color[..., :3], image) + color[..., 3]


# ---------------------------------------------------------------------------------------------
# the local affine model, solved in closed form


_ROW, _COL = [0, 0, 0, 1, 1, 2], [0, 1, 2, 1, 2, 2]  # the 6 distinct entries of a symmetric 3×3 matrix
_FULL = [0, 1, 2, 1, 3, 4, 2, 4, 5]  # and where each of its 9 entries is among them


def _inverse_sym3(m: np.ndarray) -> np.ndarray:
    """Inverses [..., 3, 3] of symmetric 3×3 matrices given by their 6 distinct entries [..., 6], via the adjugate."""
    a, b, c, d, e, f = np.moveaxis(m, -1, 0)
    cof = np.stack([d * f - e * e, c * e - b * f, b * e - c * d, a * f - c * c, b * c - a * e, a * d - b * b], -1)
    det = a * cof[..., 0] + b * cof[..., 1] + c * cof[..., 2]
    return (cof / det[..., None])[..., _FULL].reshape(*m.shape[:-1], 3, 3)


def local_affine(target: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Per-window affine colour map [h, w, 3, 4] with target ≈ A·source + b, A pulled toward I.

    For every pixel, over its (2r+1)² window: minimise mean ||A x + b − y||² + eps·||A − I||². The offset
    is free, so b = ȳ − A x̄ and (Σxx + eps I) Aᵀ = Σxy + eps I with the window covariances; the 3×3
    systems are solved in closed form. Where the target equals the source the solution is exactly the
    identity; eps decides how much texture a gain needs.
    """
    h, w = target.shape[:2]
    x, y = source.astype(np.float32), target.astype(np.float32)
    xy = (x[..., :, None] * y[..., None, :]).reshape(h, w, 9)
    means = _box(np.concatenate([x, y, x[..., _ROW] * x[..., _COL], xy], -1), radius)
    mx, my = means[..., 0:3], means[..., 3:6]
    cov_xx = means[..., 6:12] - mx[..., _ROW] * mx[..., _COL]
    cov_xx[..., [0, 3, 5]] += eps
    cov_xy = means[..., 12:21].reshape(h, w, 3, 3) - mx[..., :, None] * my[..., None, :]
    cov_xy[..., [0, 1, 2], [0, 1, 2]] += eps
    a = np.swapaxes(_inverse_sym3(cov_xx) @ cov_xy, -1, -2)  # A = (Σxx⁻¹ Σxy)ᵀ
    b = my - (a @ mx[..., None])[..., 0]
    return np.concatenate([a, b[..., None]], -1)


def fit_color(target: np.ndarray, source: np.ndarray, radius: int = 3, eps: float = 1e-3) -> np.ndarray:
    """Smooth locally affine colour map [h, w, 3, 4], target ≈ color·(source, 1).

    `local_affine` per window, then its coefficients box-averaged over the same window (as the guided
    filter does), so that the map varies smoothly (the paper's σ_c ||∇A||²).
    """
    h, w = target.shape[:2]
    return _box(local_affine(target, source, radius, eps).reshape(h, w, 12), radius).reshape(h, w, 3, 4)


# ---------------------------------------------------------------------------------------------
# stage 1: the change seen in the frames


def _flow_estimator(method: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """flow(target, source) on target's grid with target(x) ≈ source(x + flow(x)), grey uint8 inputs.

    DIS (default; one object reused for all calls, frames are small so it runs at full resolution) had
    the lowest end-point error on 64 px test frames at ~1 ms a call; Farneback is noisier.
    """
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        dis.setFinestScale(0)
        return lambda t, s: dis.calc(t, s, None)
    if method == "farneback":
        return lambda t, s: cv2.calcOpticalFlowFarneback(t, s, None, 0.5, 3, 5, 5, 5, 1.1, 0)
    raise ValueError(f"unknown flow method {method!r}; expected one of {FLOW_METHODS}")


def change_confidence(frames: np.ndarray, radius: int) -> np.ndarray:
    """[h, w] in [0, 1]: the frames' edit region (edit_core/region.py: where some frame differs from the
    first, relative to this photo's own change), grown and faded over `radius` px; outside it nothing is
    transferred.

    Flow in a flat, unchanging part of the frames is unobservable (DIS fills it in from neighbours), and a
    colour model fitted to G's few-level tint of the background would carry it, amplified, onto the photo.
    The colour model takes the region grown by COLOR_GROWTH px: grown by the colour window (3 px at 64 px)
    it left 1.0 grey levels of change outside the demo's cars and 2.2 outside Fashion-MNIST's garments
    (0.7 and 0.95 grown by 1; not grown at all, a colour change over the whole frame lost 2 dB on its
    weakest-changed pixels: BENCHMARKS.md, issue 25). The flow takes it grown by the colour window: the
    flat inside of a moving shape does not change between frames, yet moves.
    """
    diff = np.abs(frames[1:] - frames[:1]).max(axis=(0, -1))
    seen = relative_region(torch.from_numpy(np.ascontiguousarray(diff))[None])[0].numpy().astype(np.float32)
    if radius < 1:
        return seen
    kernel = np.ones((2 * radius + 1,) * 2, np.uint8)
    return np.clip(_box(cv2.dilate(seen, kernel), radius), 0.0, 1.0)


def motion_evidence(first: np.ndarray, last: np.ndarray, moved: np.ndarray, color: np.ndarray, radius: int,
                    eps: float) -> np.ndarray:
    """[h, w] in [0, 1]: how much of the change between the frames only the flow explains.

    moved: `first` warped by the flow, color: the colour model fitted from it to `last`.

    On blurry frames a local colour model alone explains a small shift of a smooth blob (a hue change
    reads as sub-pixel motion to DIS), but moving the photo's sharp detail by that spurious flow is what
    costs it most (a 1 px shift of its texture alone drops SSIM to 0.92). So the flow is kept where it
    removes at least EVIDENCE_FULL of the colour-only model's error over an EVIDENCE_RADIUS window, and
    dropped where it removes less than EVIDENCE_FLOOR.
    """
    def error(source: np.ndarray, model: np.ndarray) -> np.ndarray:
        return _box(((apply_color(source, model) - last) ** 2).sum(-1), EVIDENCE_RADIUS)

    still = error(first, fit_color(last, first, radius, eps))
    gain = (still - error(moved, color)) / np.maximum(still, CHANGE_FLOOR**2)
    return np.clip((gain - EVIDENCE_FLOOR) / (EVIDENCE_FULL - EVIDENCE_FLOOR), 0.0, 1.0).astype(np.float32)


def undo_color(image: np.ndarray, color: np.ndarray) -> np.ndarray:
    """X with color·(X, 1) = image (3×3 inverse by the adjugate), clipped to [0, 1]."""
    a = color[..., :3].astype(np.float64)
    adj = np.stack([np.cross(a[..., 1, :], a[..., 2, :]), np.cross(a[..., 2, :], a[..., 0, :]),
                    np.cross(a[..., 0, :], a[..., 1, :])], -1)  # columns: cofactor rows, i.e. adj(A)
    det = np.einsum("...i,...i->...", a[..., 0, :], adj[..., :, 0])
    rhs = (image - color[..., 3]).astype(np.float64)
    return np.clip(np.einsum("...ij,...j->...i", adj, rhs) / det[..., None], 0.0, 1.0).astype(np.float32)


def estimate_change(frames: np.ndarray, iterations: int = 3, flow_method: str = "dis", color_radius: int = 3,
                    color_eps: float = 1e-3, motion: bool = True, chroma: bool = True) -> Change:
    """Total change frames[0] -> frames[-1] on the frame grid.

    Flow and colour alternate `iterations` times: the flow from frames[0] to frames[-1] with the colour
    model of the last round undone on frames[-1] (brightness constancy then holds: a hue change alone
    must not read as motion), then the colour model between frames[0] moved by that flow and frames[-1].
    motion=False: no flow at all, the colour model alone (an edit that changes colours and moves nothing);
    chroma=False: no chroma change either (an edit that sets lightness only: a grey photo stays grey).
    """
    if iterations < 1:
        raise ValueError("iterations must be >= 1")
    f = unit_frames(frames)
    h, w = f.shape[1:3]
    if len(f) < 2:
        return Change.identity(h, w)
    confidence = change_confidence(f, COLOR_GROWTH)
    flow = np.zeros((h, w, 2), np.float32)
    if motion:
        flow_of = _flow_estimator(flow_method)
        first = _gray_u8(f[0])
        target = f[-1]
        for i in range(iterations):
            flow = flow_of(_gray_u8(target), first)
            moved = warp(f[0], flow)
            color = fit_color(f[-1], moved, color_radius, color_eps)
            if i < iterations - 1:
                target = undo_color(f[-1], color)
        moving = change_confidence(f, color_radius)
        flow = flow * (moving * motion_evidence(f[0], f[-1], moved, color, color_radius, color_eps))[..., None]
    moved = warp(f[0], flow)
    color = fit_color(f[-1], moved, color_radius, color_eps)
    identity = _identity_color(h, w)
    color = identity + confidence[..., None, None] * (color - identity)
    kernel = np.ones((2 * color_radius + 1,) * 2, np.uint8)
    shown = np.maximum(np.linalg.norm(_chroma(f[-1] - moved), axis=-1) - CHROMA_FLOOR, 0.0) * confidence * chroma
    return Change(flow.astype(np.float32), color.astype(np.float32), cv2.erode(moved, kernel),
                  cv2.dilate(moved, kernel), cv2.dilate(shown.astype(np.float32), kernel))


# ---------------------------------------------------------------------------------------------
# stage 2: onto the photo


def limited_edit(image: np.ndarray, change: Change) -> np.ndarray:
    """The change's colour model applied to `image` (on the change's grid), adding nothing the frames lack.

    Colours outside the frames' local range (± RANGE_MARGIN) get the change of the nearest colour in it
    rather than an extrapolated one (no glow in a black background, no holes in a white one), and the
    chroma change is capped by the frames' (a grey catalog stays grey). Result clipped to [0, 1].
    """
    clamped = np.clip(image, change.low - RANGE_MARGIN, change.high + RANGE_MARGIN)
    delta = apply_color(clamped, change.color) - clamped
    grey = delta.mean(axis=-1, keepdims=True)
    chroma = delta - grey
    norm = np.linalg.norm(chroma, axis=-1, keepdims=True)
    chroma *= np.minimum(1.0, change.chroma[..., None] / np.maximum(norm, 1e-12))
    return np.clip(image + grey + chroma, 0.0, 1.0)


def guide_change(change: Change, photo: np.ndarray, radius: int = 8, eps: float = 1e-3,
                 subsample: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The change as fields for the full-resolution photo, on a grid `subsample`× coarser than it.

    (He & Sun's fast guided filter:) the photo, moved by the flow, is recoloured by `limited_edit`, and a
    local affine map from the moved photo to that result is fitted (radius/subsample px); applied to the
    full-resolution moved photo, the map keeps the photo's own edges and detail. Returns flow [h', w', 2]
    in photo px, that map [h', w', 3, 4], and bounds [h', w', 6]: per channel, the least and the most
    the coarse edit changes the photo around each pixel (the full-resolution change stays inside: the
    map's fit over an edge must not make a glow or a fringe there). photo: float [0, 1] HxWx3.

    The grid is never coarser than the frames' own: a 112 px photo of 64 px frames is fitted at full
    resolution, not on 14 px cells that smear the change over the garment's edge (Fashion-MNIST's
    background changed by 1.2 grey levels on the 14 px grid).
    """
    big_h, big_w = photo.shape[:2]
    h, w = change.flow.shape[:2]
    subsample = max(1, min(subsample, min(big_h // h, big_w // w)))
    size = (max(1, round(big_h / subsample)), max(1, round(big_w / subsample)))
    small = cv2.resize(photo, size[::-1], interpolation=cv2.INTER_AREA)
    on_grid = {k: _resize(getattr(change, k), *size) for k in ("flow", "low", "high", "chroma")}
    color = _resize(np.ascontiguousarray(change.color.reshape(h, w, 12)), *size).reshape(*size, 3, 4)
    flow = on_grid["flow"] * np.array([size[1] / w, size[0] / h], np.float32)
    moved = warp(small, flow)
    target = limited_edit(moved, Change(flow, color, on_grid["low"], on_grid["high"], on_grid["chroma"]))
    fitted = fit_color(target, moved, max(1, round(radius / subsample)), eps)
    delta, kernel = target - moved, np.ones((3, 3), np.uint8)
    bounds = np.concatenate([cv2.erode(delta, kernel), cv2.dilate(delta, kernel)], -1)
    return flow * np.array([big_w / size[1], big_h / size[0]], np.float32), fitted, bounds


def _planes(array: np.ndarray, device: str | torch.device) -> torch.Tensor:
    """HxWxC numpy -> float32 [1, C, H, W] tensor, one contiguous plane per channel."""
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(array, -1, 0), np.float32)).to(device)[None]


def upsample_fields(fields: np.ndarray, height: int, width: int, device: torch.device,
              opencv: bool | None = None) -> torch.Tensor:
    """Bilinear upsampling of HxWxC fields to [C, height, width] planes on `device`.

    On the CPU OpenCV resizing plane by plane is ~10× faster than torch's interpolate for 20 channels
    (and a HWC -> CHW copy at full resolution costs more than the resize; torch 2.13, one thread); both
    align pixel centres, so the two give the same planes. opencv: force one path (default: OpenCV on the CPU).
    """
    if not (device.type == "cpu" if opencv is None else opencv):
        return F.interpolate(_planes(fields, device), size=(height, width), mode="bilinear", align_corners=False)[0]
    low = np.ascontiguousarray(np.moveaxis(fields, -1, 0), np.float32)
    planes = np.empty((len(low), height, width), np.float32)
    for src, dst in zip(low, planes, strict=True):
        cv2.resize(src, (width, height), dst=dst, interpolation=cv2.INTER_LINEAR)
    return torch.from_numpy(planes)


def apply_change(photo: np.ndarray, flow: np.ndarray, color: np.ndarray, bounds: np.ndarray,
                 device: str | torch.device = "cpu") -> np.ndarray:
    """Upsample (bilinear) the fields of `guide_change` to the uint8 photo, warp it and recolour it (torch).

    One pass at full resolution: m = photo(x + flow(x)), out = m + clamp(color·(m, 1) − m, bounds),
    rounded and clipped to uint8; the arithmetic runs on whole planes.
    """
    big_h, big_w = photo.shape[:2]
    fields = upsample_fields(np.concatenate([flow, color.reshape(*color.shape[:2], 12), bounds], -1), big_h, big_w,
                       torch.device(device))
    xs = torch.arange(big_w, dtype=torch.float32, device=fields.device).add_(0.5)
    ys = torch.arange(big_h, dtype=torch.float32, device=fields.device).add_(0.5)
    grid = torch.stack([fields[0].add_(xs).mul_(2.0 / big_w).sub_(1.0),
                        fields[1].add_(ys[:, None]).mul_(2.0 / big_h).sub_(1.0)], -1)
    image = _planes(photo, device).div_(255.0)
    moved = F.grid_sample(image, grid[None], mode="bilinear", padding_mode="border", align_corners=False)[0]
    coef, low, high = fields[2:14].view(3, 4, big_h, big_w), fields[14:17], fields[17:20]
    out = coef[:, 3] - moved  # the change color·(m, 1) − m, clamped to the bounds, then added to m
    for j in range(3):
        out.addcmul_(coef[:, j], moved[j])
    out = torch.minimum(torch.maximum(out, low, out=out), high, out=out).add_(moved)
    out = out.mul_(255.0).round_().clamp_(0.0, 255.0).to(torch.uint8)
    return out.permute(1, 2, 0).cpu().numpy()


def transfer(photo: np.ndarray, frames: np.ndarray, iterations: int = TransferConfig.iterations,
             flow_method: str = TransferConfig.flow_method, color_radius: int = TransferConfig.color_radius,
             color_eps: float = TransferConfig.color_eps, guide_radius: int = TransferConfig.guide_radius,
             guide_eps: float = TransferConfig.guide_eps, subsample: int = TransferConfig.subsample,
             device: str | torch.device = "cpu", motion: bool = True, chroma: bool = True) -> np.ndarray:
    """Apply the edit seen in `frames` to the full-resolution `photo`.

    photo: uint8 HxWx3 RGB. frames: [T, h, w, 3] uint8, or float in [-1, 1]; frames[0] ≈ the photo's
    projection, frames[-1] = the edited render. Returns the edited photo, uint8 HxWx3. `device` runs the
    full-resolution pass (the frame-grid estimation is OpenCV on the CPU); motion=False carries colour only,
    chroma=False no chroma change (see `estimate_change`).
    """
    image = unit_photo(photo)
    change = estimate_change(frames, iterations, flow_method, color_radius, color_eps, motion, chroma)
    return apply_change(photo, *guide_change(change, image, guide_radius, guide_eps, subsample), device)
