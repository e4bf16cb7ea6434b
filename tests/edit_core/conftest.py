"""Shared engine fixtures: `tiny_models`, a small but really trained style GAN + encoder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from edit_core import demo_catalog
from edit_core.checkpoint import load_discriminator, load_encoder, load_generator
from edit_core.imageops import to_tensor
from edit_core.models import Discriminator, Encoder, Generator, ModelConfig
from edit_core.train_encoder import EncoderTrainConfig, train_encoder
from edit_core.train_gan import GanTrainConfig, train_gan

TINY_RESOLUTION = 16
TINY_MODEL = ModelConfig(backbone="style", resolution=TINY_RESOLUTION, z_dim=16, w_dim=16, width=8,
                         mapping_layers=2)
TINY_GAN = GanTrainConfig(steps=600, batch_size=16, lr=0.003, r1_every=16, sample_every=600, ckpt_every=600,
                          log_every=100, seed=0)
TINY_ENCODER = EncoderTrainConfig(steps=400, batch_size=16, lr=0.003, latent_weight=0.1, sample_every=400,
                                  ckpt_every=400, log_every=100, seed=0)


@dataclass
class TinyModels:
    """Trained tiny models and their data (all on CPU, eval mode, parameters frozen)."""

    G: Generator  # EMA generator
    D: Discriminator
    E: Encoder  # W encoder (E(x) -> [B, w_dim])
    images: torch.Tensor  # training images [N, 3, R, R] in [-1, 1]
    images_uint8: np.ndarray  # the same, uint8 [N, R, R, 3]
    attributes: dict[str, np.ndarray]  # ground truth of the demo-catalog rows behind `images`
    gan_ckpt: Path
    encoder_ckpt: Path
    config: ModelConfig


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    """A tiny style GAN (16 px, w_dim 16, 5 ws in W+), its discriminator and a W encoder.

    Trained once per test session on 512 demo-catalog renders (toy cars) at 16 px: 600 GAN steps and
    400 encoder steps, batch 16, on one CPU thread (about 45 s of CPU time; one thread because on a
    shared machine two OpenMP threads are several times slower). Small, but a real model: its
    samples are car-like blobs with the catalog's colours, and E(x) reconstructs catalog images
    clearly better than the mean w does (see test_train_encoder), so it can compare projection
    modes (encoder / optimize / hybrid). Checkpoints are in `gan_ckpt` and
    `encoder_ckpt` (the standard checkpoint format, loadable with edit_core.checkpoint). Treat the
    models as read-only: they are shared by every test of the session. Set ONEEDIT_TINY_MODELS_DIR
    to keep the checkpoints between sessions (finished checkpoints are reused as they are; empty the
    folder after changing the models or the training code).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    cache = os.environ.get("ONEEDIT_TINY_MODELS_DIR")
    root = Path(cache) if cache else tmp_path_factory.mktemp("tiny_models")
    attrs = demo_catalog.sample_attributes(512, seed=0)
    images = demo_catalog.render(attrs, TINY_RESOLUTION)
    gan_ckpt, encoder_ckpt = root / "gan.pt", root / "encoder.pt"
    try:
        train_gan(images, TINY_MODEL, TINY_GAN, gan_ckpt, "cpu")
        train_encoder(images, gan_ckpt, TINY_ENCODER, encoder_ckpt, "cpu")
    finally:
        torch.set_num_threads(threads)
    return TinyModels(
        G=load_generator(gan_ckpt, "cpu"),
        D=load_discriminator(gan_ckpt, "cpu"),
        E=load_encoder(encoder_ckpt, "cpu"),
        images=to_tensor(images),
        images_uint8=images,
        attributes=attrs,
        gan_ckpt=gan_ckpt,
        encoder_ckpt=encoder_ckpt,
        config=TINY_MODEL,
    )
