"""The transfer benchmark's baselines (Edit One for All's comparison): the naive pixel difference and the
GAN's render upsampled, against which the pipeline's motion + colour flow (`edit_core.transfer`) is scored.
"""

from __future__ import annotations

import cv2
import numpy as np

from edit_core.transfer import unit_frames, unit_photo, unit_to_uint8


def naive_transfer(photo: np.ndarray, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Baseline: photo + upsample(after − before) (the paper's misaligned pixel-difference transfer)."""
    image = unit_photo(photo)
    diff = unit_frames(np.stack([after, before]))
    change = cv2.resize(diff[0] - diff[1], image.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    return unit_to_uint8(image + change)


def upsampled_gan(photo: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Baseline: the edited render resized (bicubic) to the photo's size."""
    unit_photo(photo)
    rendered = unit_frames(after[None])[0]
    return unit_to_uint8(cv2.resize(rendered, photo.shape[1::-1], interpolation=cv2.INTER_CUBIC))
