"""Procedural demo catalog: studio "product shots" of a toy car, with ground-truth attributes.

Every image is drawn from a row of attributes by evaluating signed distance functions in
normalized frame coordinates (frame = [-0.5, 0.5]^2), with analytic edge smoothing (a one-pixel
coverage ramp). Geometry therefore does not depend on the resolution: a 512 px render
downsampled with cv2.INTER_AREA matches the 64 px render of the same row. This gives the project
a catalog whose edits have a known answer (`render_edited`), which the metrics need.

Editable attributes (`ATTRIBUTES`) are visually strong; nuisance variables (`NUISANCE`:
backdrop, lighting, paint texture, small position jitter) are moderate so a small GAN can learn
the distribution quickly. High-resolution photos also carry band-limited fine detail (backdrop
weave, paint flake) that the 64 px training images cannot hold, as real photos do.
"""

from __future__ import annotations

import numpy as np

ATTRIBUTES: dict[str, tuple[float, float]] = {
    "hue": (0.0, 0.7),  # body paint hue as a fraction of the colour wheel (red .. blue, no wrap)
    "size": (0.5, 0.8),  # car length as a fraction of the frame width
    "rotation": (-15.0, 15.0),  # in-plane rotation in degrees, counter-clockwise
    "roof_height": (0.10, 0.26),  # cabin height above the body, in car lengths
    "wheel_size": (0.075, 0.125),  # wheel radius, in car lengths
}

NUISANCE: dict[str, tuple[float, float]] = {
    "bg_hue": (0.0, 1.0),  # backdrop tint
    "bg_sat": (0.0, 0.2),
    "bg_top": (0.72, 0.97),  # backdrop value above / below the studio horizon
    "bg_bottom": (0.62, 0.9),
    "horizon": (0.0, 0.3),  # horizon height (frame units, downwards from the centre)
    "bg_tilt": (-0.08, 0.08),  # left-right brightness tilt of the backdrop
    "light_angle": (-60.0, 60.0),  # key-light direction, degrees from straight above
    "light_strength": (0.3, 1.0),
    "texture": (0.0, 0.08),  # amplitude of the paint's low-frequency pattern
    "tex_phase_u": (0.0, 2 * np.pi),
    "tex_phase_v": (0.0, 2 * np.pi),
    "offset_x": (-0.02, 0.02),  # position jitter of the car in the frame
    "offset_y": (-0.02, 0.02),
}

# Fixed car geometry, in car lengths (u along the car, v up, origin at the body centre).
_BODY_HALF = (0.5, 0.11)
_BODY_RADIUS = 0.07
_CABIN_BOTTOM, _CABIN_HALF_BOTTOM, _CABIN_HALF_TOP, _CABIN_RADIUS = 0.08, 0.33, 0.2, 0.03
_WINDOW_INSET, _PILLAR_HALF = 0.035, 0.018
_WHEEL_X, _WHEEL_Y, _HUB_FRACTION = 0.3, -0.11, 0.45
_V_CENTRE = 0.07  # object-frame v that sits at the frame centre (centres the car's bounding box)
_TYRE_RGB = np.array([0.09, 0.09, 0.1], np.float32)
_HUB_RGB = np.array([0.62, 0.63, 0.66], np.float32)
_GLASS_RGB = np.array([0.14, 0.18, 0.24], np.float32)
_LAMP_RGB = np.array([0.99, 0.96, 0.8], np.float32)
_BODY_SAT, _BODY_VAL = 0.8, 0.88
# Fine detail, present only well above the 64 px training resolution: backdrop weave (cycles per frame) and paint flake
# (cycles per car length, direction in radians).
_WEAVE_FREQ, _WEAVE_AMP = 128.0, 0.02
_FLAKE = ((70.0, 0.35), (80.0, 1.4), (90.0, 2.44))
_FLAKE_AMP = 0.08


def sample_attributes(n: int, seed: int) -> dict[str, np.ndarray]:
    """Draw `n` rows uniformly: every attribute and nuisance variable, float64 arrays of length n."""
    rng = np.random.default_rng(seed)
    ranges = {**ATTRIBUTES, **NUISANCE}
    return {k: rng.uniform(lo, hi, size=n) for k, (lo, hi) in ranges.items()}


def with_attribute(attrs: dict[str, np.ndarray], name: str, value: float | np.ndarray) -> dict[str, np.ndarray]:
    """Copy of the rows with attribute `name` replaced by `value` (the ideal edit's ground truth)."""
    if name not in ATTRIBUTES:
        raise KeyError(f"unknown attribute {name!r}; editable: {sorted(ATTRIBUTES)}")
    n = len(attrs[name])
    out = {k: np.asarray(v).copy() for k, v in attrs.items()}
    out[name] = np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy()
    return out


def render_edited(
    attrs: dict[str, np.ndarray], name: str, value: float | np.ndarray, resolution: int
) -> np.ndarray:
    """Ideal edited photos: the same rows rendered with attribute `name` set to `value`."""
    return render(with_attribute(attrs, name, value), resolution)


def render(attrs: dict[str, np.ndarray], resolution: int, chunk: int = 256) -> np.ndarray:
    """Render rows of attributes (+ nuisance) to uint8 [N, R, R, 3] RGB images."""
    missing = [k for k in (*ATTRIBUTES, *NUISANCE) if k not in attrs]
    if missing:
        raise KeyError(f"attribute rows lack {missing}")
    n = len(attrs["hue"])
    out = np.empty((n, resolution, resolution, 3), np.uint8)
    step = max(1, chunk * 64 * 64 // (resolution * resolution))
    for s in range(0, n, step):
        rows = {k: np.asarray(attrs[k][s : s + step], np.float32)[:, None, None] for k in (*ATTRIBUTES, *NUISANCE)}
        out[s : s + step] = _render_chunk(rows, resolution)
    return out


def hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorized HSV (all in [0, 1]) -> RGB float, stacked on a new last axis."""
    k = np.stack([(5.0 + h * 6.0) % 6.0, (3.0 + h * 6.0) % 6.0, (1.0 + h * 6.0) % 6.0], axis=-1)
    f = np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return v[..., None] - (v * s)[..., None] * f


def _detail_gain(freq: np.ndarray, res: int) -> np.ndarray:
    """Box-filter response of a sinusoid of `freq` cycles per frame rendered at `res` pixels; zero at
    and above Nyquist. Fine detail thus appears in high-resolution photos only and averages out
    when they are downsampled, keeping every resolution consistent."""
    return np.where(freq < res / 2, np.sinc(freq / res), 0.0).astype(np.float32)


def _coverage(sd: np.ndarray, pix: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage of the region sd < 0: a linear ramp one pixel wide."""
    return np.clip(0.5 - sd / pix, 0.0, 1.0)


def _sd_round_box(u: np.ndarray, v: np.ndarray, hx: float, hy: float, r: float) -> np.ndarray:
    """Exact signed distance to a box of half-sizes (hx, hy) centred at 0 with corner radius r."""
    qx = np.abs(u) - (hx - r)
    qy = np.abs(v) - (hy - r)
    outside = np.sqrt(np.maximum(qx, 0.0) ** 2 + np.maximum(qy, 0.0) ** 2)
    return outside + np.minimum(np.maximum(qx, qy), 0.0) - r


def _sd_trapezoid(u: np.ndarray, v: np.ndarray, r1: float, r2: np.ndarray | float, he: np.ndarray) -> np.ndarray:
    """Exact signed distance to a trapezoid symmetric about u = 0, centred at v = 0.

    r1: bottom half width, r2: top half width, he: half height (Inigo Quilez's formula)."""
    px = np.abs(u)
    ca_x = px - np.minimum(px, np.where(v < 0.0, r1, r2))
    ca_y = np.abs(v) - he
    k2x, k2y = r2 - r1, 2.0 * he
    t = np.clip(((r2 - px) * k2x + (he - v) * k2y) / (k2x * k2x + k2y * k2y), 0.0, 1.0)
    cb_x = px - r2 + k2x * t
    cb_y = v - he + k2y * t
    sign = np.where((cb_x < 0.0) & (ca_y < 0.0), -1.0, 1.0)
    return sign * np.sqrt(np.minimum(ca_x * ca_x + ca_y * ca_y, cb_x * cb_x + cb_y * cb_y))


def _mix(img: np.ndarray, rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Alpha-composite colour `rgb` (broadcastable to img) with coverage `alpha` [B, H, W]."""
    d = rgb - img
    d *= alpha[..., None]
    d += img
    return d


def _render_chunk(p: dict[str, np.ndarray], res: int) -> np.ndarray:
    """Render one batch of rows (values shaped [B, 1, 1], float32) at `res` pixels."""
    c = ((np.arange(res, dtype=np.float32) + 0.5) / res - 0.5).astype(np.float32)
    x, y = c[None, None, :], c[None, :, None]

    # Backdrop: studio sweep (two tones blended across a soft horizon) with a brightness tilt.
    t = 1.0 / (1.0 + np.exp(-(y - p["horizon"]) / 0.06))
    val = p["bg_top"] + t * (p["bg_bottom"] - p["bg_top"]) + p["bg_tilt"] * x
    bg_gain = _detail_gain(np.float32(_WEAVE_FREQ), res)
    if bg_gain > 0:  # fabric weave of the backdrop: only where the resolution can carry it
        weave = np.sin(2 * np.pi * _WEAVE_FREQ * x + p["tex_phase_u"]) + np.sin(2 * np.pi * _WEAVE_FREQ * y + p["tex_phase_v"])
        val = val + (0.5 * _WEAVE_AMP * bg_gain) * weave
    tint = hsv_to_rgb(p["bg_hue"], p["bg_sat"], np.ones_like(p["bg_hue"]))  # HSV -> RGB is linear in V
    img = val[..., None] * tint

    # Object frame: rotate about the car's centre, scale to car lengths.
    theta = np.deg2rad(p["rotation"])
    cs, sn = np.cos(theta), np.sin(theta)
    dx, dy = x - p["offset_x"], -(y - p["offset_y"])
    u = (cs * dx + sn * dy) / p["size"]
    v = (-sn * dx + cs * dy) / p["size"] + _V_CENTRE
    pix = 1.0 / (res * p["size"])  # one pixel, in car lengths

    # Soft contact shadow on the floor, under the wheels.
    floor = _WHEEL_Y - p["wheel_size"]
    shadow = 0.22 * np.exp(-((u / 0.55) ** 2) - ((v - floor) / 0.05) ** 2)
    img = img * (1.0 - shadow[..., None])

    # Body + cabin share the paint; simple directional shading, a specular band and texture.
    he = p["roof_height"] * 0.5 + (_BODY_HALF[1] - _CABIN_BOTTOM) * 0.5
    cabin_mid = _CABIN_BOTTOM + he
    sd_cabin = _sd_trapezoid(
        u, v - cabin_mid, _CABIN_HALF_BOTTOM - _CABIN_RADIUS, _CABIN_HALF_TOP - _CABIN_RADIUS, he - _CABIN_RADIUS
    ) - _CABIN_RADIUS
    sd_body = np.minimum(_sd_round_box(u, v, *_BODY_HALF, _BODY_RADIUS), sd_cabin)
    light = np.deg2rad(p["light_angle"])
    top = _BODY_HALF[1] + p["roof_height"]
    nv = (v - 0.5 * (top - _BODY_HALF[1])) / (0.5 * (top + _BODY_HALF[1]))
    lam = 0.86 + 0.16 * p["light_strength"] * (np.sin(light) * 2.0 * u + np.cos(light) * nv)
    lam = lam * (1.0 + p["texture"] * np.sin(2 * np.pi * 5.0 * u + p["tex_phase_u"]) * np.sin(
        2 * np.pi * 4.0 * v + p["tex_phase_v"]))
    for k, (freq, angle) in enumerate(_FLAKE):  # fine metallic flake, band-limited like the weave
        gain = _detail_gain(freq / p["size"], res)
        if np.any(gain > 0):
            phase = p["tex_phase_u"] * (k + 1) + p["tex_phase_v"]
            wave = np.sin(2 * np.pi * freq * (np.cos(angle) * u + np.sin(angle) * v) + phase)
            lam = lam * (1.0 + (_FLAKE_AMP / len(_FLAKE)) * gain * wave)
    paint = hsv_to_rgb(p["hue"], np.full_like(p["hue"], _BODY_SAT), np.full_like(p["hue"], _BODY_VAL))
    body_rgb = np.clip(paint * lam[..., None], 0.0, 1.0)
    spec = 0.25 * p["light_strength"] * np.exp(-(((v - 0.05) / 0.025) ** 2))
    body_rgb = body_rgb + spec[..., None] * (1.0 - body_rgb)
    img = _mix(img, body_rgb, _coverage(sd_body, pix))

    # Side windows: the cabin inset, above the body line, split by a pillar; a faint reflection.
    sd_win = np.maximum(np.maximum(sd_cabin + _WINDOW_INSET, _BODY_HALF[1] + 0.015 - v), _PILLAR_HALF - np.abs(u))
    glass = _GLASS_RGB + (0.06 * (u + v - 0.1))[..., None]
    img = _mix(img, glass, _coverage(sd_win, pix))

    # Headlamp at the front (+u), clipped to the body outline.
    sd_lamp = np.maximum(np.sqrt((u - 0.47) ** 2 + (v - 0.03) ** 2) - 0.035, sd_body)
    img = _mix(img, _LAMP_RGB, _coverage(sd_lamp, pix))

    # Wheels: tyres with metal hubs.
    r = p["wheel_size"]
    dist = np.minimum(np.sqrt((u - _WHEEL_X) ** 2 + (v - _WHEEL_Y) ** 2), np.sqrt((u + _WHEEL_X) ** 2 + (v - _WHEEL_Y) ** 2))
    img = _mix(img, _TYRE_RGB, _coverage(dist - r, pix))
    img = _mix(img, _HUB_RGB, _coverage(dist - _HUB_FRACTION * r, pix))

    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
