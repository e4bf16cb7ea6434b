"""The sliders: principal directions of W (GANSpace-style PCA of G's own latents), each named for what it
changes in G's renders, and slider values turned into an offset Δw (the CLI's `--offset`)."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch

from edit_core.imageops import to_uint8

PCA_SAMPLES, PCA_COMPONENTS = 2000, 5
PCA_LABEL_SIGMAS = 2.0  # a direction is named from the mean latent moved this many standard deviations each way
CHANGES = (("brightness", "darker", "brighter"), ("warmth", "cooler", "warmer"), ("tint", "greener", "redder"),
           ("colourfulness", "greyer", "more colourful"), ("contrast", "flatter", "more contrast"))
NOTICEABLE = 3.0  # CIELAB units (lightness 0-100): a smaller change of every statistic is shape, not colour


def principal_directions(G: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """GANSpace-style PCA of PCA_SAMPLES sampled w: (components [K, w_dim], their standard deviations [K])."""
    w = G.sample_w(PCA_SAMPLES, seed=0).float().cpu()
    centred = w - w.mean(0)
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    k = min(PCA_COMPONENTS, len(s))
    return vh[:k], s[:k] / (len(w) - 1) ** 0.5


def direction_looks(G: Any, components: torch.Tensor, sigma: torch.Tensor) -> list[dict]:
    """What each principal direction changes, for the page's slider names: G's mean latent moved
    PCA_LABEL_SIGMAS standard deviations each way, rendered (the slider's tiny end images) and compared
    (`describe_change`)."""
    looks = []
    with torch.no_grad():
        mean = G.mean_w().float().cpu()
        for k in range(len(sigma)):
            step = PCA_LABEL_SIGMAS * sigma[k] * components[k]
            w = torch.stack([mean - step, mean + step]).to(G.device)
            minus, plus = to_uint8(G.synthesis(w))
            what, less, more = describe_change(minus, plus)
            looks.append({"minus": minus, "plus": plus, "what": what, "less": less, "more": more})
    return looks


def describe_change(minus: np.ndarray, plus: np.ndarray) -> tuple[str, str, str]:
    """(what changes, the word for its − end, for its + end) between two renders (uint8 RGB): the largest change
    of their mean lightness, yellow-blue and red-green axes, colourfulness and lightness contrast (CIELAB);
    "shape" when none of them changes noticeably."""

    def stats(rgb: np.ndarray) -> np.ndarray:
        lab = cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
        lightness, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
        return np.array([lightness.mean(), b.mean(), a.mean(), np.hypot(a, b).mean(), lightness.std()])

    change = stats(plus) - stats(minus)
    k = int(np.argmax(np.abs(change)))
    if abs(change[k]) < NOTICEABLE:
        return "shape", "shape −", "shape +"
    what, less, more = CHANGES[k]
    return (what, less, more) if change[k] > 0 else (what, more, less)


def slider_offset(components: torch.Tensor, sigma: torch.Tensor, offsets: list[float],
                  shape: tuple[int, ...]) -> np.ndarray:
    """Δw for slider values (in standard deviations along each principal direction), float32, broadcast to
    the example latent's `shape` (W or W+)."""
    delta = sum((float(v) * sigma[k] * components[k] for k, v in enumerate(offsets)),
                torch.zeros(components.shape[1]))
    return np.broadcast_to(delta.numpy(), shape).astype(np.float32)
