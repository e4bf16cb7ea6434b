"""Checkpoints: one torch file per trained artefact, with the model config stored inside.

Layout (a dict): `format_version`, `kind` ("gan" | "encoder"), `config` (ModelConfig as a dict) and
the state dicts (`G`, `G_ema`, `D` for a GAN; `E` and `w_plus` for an encoder), plus whatever training
state the trainer adds. Saves are atomic (fsynced temp file in the same folder + os.replace), so an
interrupted run never leaves a truncated checkpoint behind. Loads use `weights_only=True`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import torch

from edit_core.imageops import resolve_device
from edit_core.models import (
    Discriminator,
    Encoder,
    Generator,
    ModelConfig,
    build_discriminator,
    build_encoder,
    build_generator,
)

FORMAT_VERSION = 1


class CheckpointMismatch(ValueError):
    """The checkpoint's kind / backbone / resolution / format differs from what the caller expects."""


def save_checkpoint(path: str | Path, **state: object) -> None:
    """Atomically write `state` (must hold `config`: ModelConfig or dict) with `format_version`."""
    path = Path(path)
    cfg = state.get("config")
    if cfg is None:
        raise ValueError("save_checkpoint needs a `config`")
    payload = {**state, "config": cfg.to_dict() if isinstance(cfg, ModelConfig) else dict(cfg),
               "format_version": FORMAT_VERSION}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")  # as common.storage names them
    try:
        with open(tmp, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint and check its format version."""
    ckpt = torch.load(Path(path), map_location=map_location, weights_only=True)
    version = ckpt.get("format_version") if isinstance(ckpt, dict) else None
    if version != FORMAT_VERSION:
        raise CheckpointMismatch(f"{path}: checkpoint format_version {version}, this code reads {FORMAT_VERSION}")
    return ckpt


def checkpoint_config(ckpt: dict, path: str | Path, kind: str, backbone: str | None = None,
                      resolution: int | None = None) -> ModelConfig:
    """The ModelConfig of `ckpt`, raising CheckpointMismatch if kind/backbone/resolution differ."""
    if ckpt.get("kind") != kind:
        raise CheckpointMismatch(f"{path}: a {ckpt.get('kind')!r} checkpoint, expected {kind!r}")
    cfg = ModelConfig.from_dict(ckpt["config"])
    if backbone is not None and cfg.backbone != backbone:
        raise CheckpointMismatch(f"{path}: backbone {cfg.backbone!r}, expected {backbone!r}")
    if resolution is not None and cfg.resolution != resolution:
        raise CheckpointMismatch(f"{path}: resolution {cfg.resolution}, expected {resolution}")
    return cfg


def load_generator(path: str | Path, device: str | torch.device = "cpu", ema: bool = True,
                   backbone: str | None = None, resolution: int | None = None) -> Generator:
    """Generator (the EMA weights by default) in eval mode with frozen parameters."""
    device = resolve_device(device)
    ckpt = load_checkpoint(path, device)
    cfg = checkpoint_config(ckpt, path, "gan", backbone, resolution)
    G = build_generator(cfg)
    G.load_state_dict(ckpt["G_ema" if ema else "G"])
    return G.to(device).eval().requires_grad_(False)


def load_discriminator(path: str | Path, device: str | torch.device = "cpu", backbone: str | None = None,
                       resolution: int | None = None) -> Discriminator:
    """Discriminator of a GAN checkpoint in eval mode with frozen parameters."""
    device = resolve_device(device)
    ckpt = load_checkpoint(path, device)
    cfg = checkpoint_config(ckpt, path, "gan", backbone, resolution)
    D = build_discriminator(cfg)
    D.load_state_dict(ckpt["D"])
    return D.to(device).eval().requires_grad_(False)


def load_encoder(path: str | Path, device: str | torch.device = "cpu", backbone: str | None = None,
                 resolution: int | None = None) -> Encoder:
    """Encoder in eval mode with frozen parameters (W or W+ as it was trained)."""
    device = resolve_device(device)
    ckpt = load_checkpoint(path, device)
    cfg = checkpoint_config(ckpt, path, "encoder", backbone, resolution)
    E = build_encoder(cfg, w_plus=bool(ckpt.get("w_plus", False)))
    E.load_state_dict(ckpt["E"])
    return E.to(device).eval().requires_grad_(False)
