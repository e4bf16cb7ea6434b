"""What the GAN and encoder training loops share: the image source they sample, batch indices, sample
grids, the resume check and the per-step tail (log, samples, progress, checkpoint)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from edit_core.checkpoint import CheckpointMismatch
from edit_core.imageops import to_uint8
from edit_core.models import ModelConfig


class ImageSource(Protocol):
    """len() and __getitem__(sorted unique int indices) -> uint8 [N, R, R, 3]; a numpy array works."""

    def __len__(self) -> int: ...

    def __getitem__(self, idx: np.ndarray) -> np.ndarray: ...


TelemetryFn = Callable[[dict], None]
"""What training reports each step: {"step", "steps"} and, when logged, losses, throughput and samples
(tasks.train turns it into the pipeline's progress calls, common.progress.ProgressFn)."""


def sample_indices(n: int, batch_size: int, gen: torch.Generator) -> np.ndarray:
    """Sorted unique random indices into a source of n images (sorted + unique suits HDF5 reads)."""
    return torch.randperm(n, generator=gen)[: min(batch_size, n)].sort().values.numpy()


def image_grid(images: Tensor, cols: int) -> np.ndarray:
    """[N, 3, R, R] in [-1, 1] -> one uint8 [rows*R, cols*R, 3] grid (row-major)."""
    imgs = to_uint8(images)
    n, r, _, c = imgs.shape
    rows = -(-n // cols)
    grid = np.zeros((rows * r, cols * r, c), dtype=np.uint8)
    for i, img in enumerate(imgs):
        grid[(i // cols) * r: (i // cols + 1) * r, (i % cols) * r: (i % cols + 1) * r] = img
    return grid


def check_resume(ckpt: dict, path: Path, kind: str, model: dict) -> None:
    """A checkpoint can only be resumed by the same kind of run on the same model config."""
    if ckpt.get("kind") != kind or ModelConfig.from_dict(ckpt["config"]).to_dict() != model:  # keys added later: defaults
        raise CheckpointMismatch(f"{path}: cannot resume, checkpoint has {ckpt.get('kind')} {ckpt['config']}, "
                                 f"run wants {kind} {model}")


class CheckpointClock:
    """Wall time since the last checkpoint: one is due every `seconds` (0: never by time), so an interrupted
    run loses less than that whatever a step costs."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.reset()

    def reset(self) -> None:
        self.since = time.monotonic()

    def due(self) -> bool:
        return self.seconds > 0 and time.monotonic() - self.since >= self.seconds


def after_step(step: int, train: Any, losses: dict[str, Tensor], img_per_s: float,
               history: dict[str, list], add_samples: Callable[[], np.ndarray], save: Callable[[], None],
               on_progress: TelemetryFn | None, clock: CheckpointClock | None = None) -> None:
    """Shared tail of the GAN and encoder loops (`train`: either config): log losses every `log_every` steps, add a sample grid every
    `sample_every`, report progress (every step: {step, steps}; log steps add losses), and checkpoint every `ckpt_every`
    steps, when `clock` says one is due (every ckpt_seconds) and always on the last step."""
    last = step == train.steps
    sampled = step % train.sample_every == 0 or last
    if step % train.log_every == 0 or sampled:
        event = {"step": step, "steps": train.steps, **{k: v.item() for k, v in losses.items()},
                 "img_per_s": img_per_s}
        for key in ("step", *losses):
            history[key].append(event[key])
        if sampled:
            event["samples"] = add_samples()
        if on_progress is not None:
            on_progress(event)
    elif on_progress is not None:  # every step reports its count, so a progress bar moves and can estimate
        on_progress({"step": step, "steps": train.steps})
    if step % train.ckpt_every == 0 or last or (clock is not None and clock.due()):
        save()
        if clock is not None:
            clock.reset()
