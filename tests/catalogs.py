"""Helpers the tests' tiny catalogs share: the demo example's edited "after" photo, and torch's thread
count set for a fixture's training and projection (restored after)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from edit_core import demo_catalog
from tasks.images import write_png


def write_after(path: Path, attrs: dict[str, np.ndarray], value: float, resolution: int) -> np.ndarray:
    """The first row of `attrs` re-rendered with hue = `value`, written to `path` (the pair's after)."""
    after = demo_catalog.render_edited({k: v[:1] for k, v in attrs.items()}, "hue", value, resolution)[0]
    write_png(path, after)
    return after


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch.set_num_threads(n) for the block, the previous count restored whatever happens."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
