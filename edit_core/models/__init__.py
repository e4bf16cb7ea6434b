"""Model registry: build generators, discriminators and encoders from a `ModelConfig`.

Builders take a `seed` for the weight initialisation; the global torch RNG is saved and restored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

from edit_core.models.base import Generator, ModelConfig
from edit_core.models.dcgan import DCGANGenerator
from edit_core.models.discriminator import Discriminator
from edit_core.models.encoder import Encoder
from edit_core.models.style import StyleGenerator
from edit_core.models.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator

GENERATORS: dict[str, type[Generator]] = {"style": StyleGenerator, "dcgan": DCGANGenerator,
                                          "stylegan2": StyleGAN2Generator}
DISCRIMINATORS: dict[str, type[nn.Module]] = {"stylegan2": StyleGAN2Discriminator}  # default: Discriminator

M = TypeVar("M", bound=nn.Module)


def _seeded(build: Callable[[], M], seed: int) -> M:
    """Run `build` with the global RNG seeded, restoring its state afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def build_generator(cfg: ModelConfig, seed: int = 0) -> Generator:
    if cfg.backbone not in GENERATORS:
        raise ValueError(f"unknown backbone {cfg.backbone!r}; choose one of {sorted(GENERATORS)}")
    return _seeded(lambda: GENERATORS[cfg.backbone](cfg), seed)


def build_discriminator(cfg: ModelConfig, seed: int = 0) -> Discriminator | StyleGAN2Discriminator:
    """The backbone's own discriminator (stylegan2), else the project's residual D."""
    return _seeded(lambda: DISCRIMINATORS.get(cfg.backbone, Discriminator)(cfg), seed)


def build_encoder(cfg: ModelConfig, w_plus: bool = False, seed: int = 0) -> Encoder:
    """Encoder for generators of `cfg`; `w_plus` makes it predict one w per synthesis layer."""
    num_ws = GENERATORS[cfg.backbone].count_ws(cfg) if w_plus else None
    return _seeded(lambda: Encoder(cfg, num_ws), seed)


__all__ = [
    "DISCRIMINATORS",
    "GENERATORS",
    "Discriminator",
    "Encoder",
    "Generator",
    "ModelConfig",
    "StyleGAN2Discriminator",
    "StyleGAN2Generator",
    "build_discriminator",
    "build_encoder",
    "build_generator",
]
