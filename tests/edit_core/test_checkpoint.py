from pathlib import Path

import pytest
import torch

from edit_core.checkpoint import (
    FORMAT_VERSION,
    CheckpointMismatch,
    load_checkpoint,
    load_discriminator,
    load_encoder,
    load_generator,
    save_checkpoint,
)
from edit_core.models import ModelConfig, build_discriminator, build_encoder, build_generator

CFG = ModelConfig(backbone="style", resolution=8, z_dim=8, w_dim=8, width=4, mapping_layers=1)


def save_gan(path: Path, cfg: ModelConfig = CFG) -> tuple:
    G, G_ema, D = build_generator(cfg, seed=0), build_generator(cfg, seed=1), build_discriminator(cfg)
    save_checkpoint(path, kind="gan", config=cfg, G=G.state_dict(), G_ema=G_ema.state_dict(), D=D.state_dict())
    return G, G_ema, D


def test_round_trip_stores_config_and_version(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "gan.pt"
    G, G_ema, D = save_gan(path)
    ckpt = load_checkpoint(path)
    assert ckpt["format_version"] == FORMAT_VERSION
    assert ckpt["config"] == CFG.to_dict()
    w = G.sample_w(2, seed=0)
    loaded = load_generator(path, "cpu")
    assert loaded.config == CFG and not loaded.training
    assert not any(p.requires_grad for p in loaded.parameters())
    torch.testing.assert_close(loaded.synthesis(w), G_ema.eval().synthesis(w))
    torch.testing.assert_close(load_generator(path, "cpu", ema=False).synthesis(w), G.eval().synthesis(w))
    x = torch.zeros(1, 3, 8, 8)
    torch.testing.assert_close(load_discriminator(path, "cpu")(x), D(x))


def test_encoder_round_trip_keeps_w_plus(tmp_path: Path) -> None:
    E = build_encoder(CFG, w_plus=True)
    save_checkpoint(tmp_path / "e.pt", kind="encoder", config=CFG, E=E.state_dict(), w_plus=True)
    loaded = load_encoder(tmp_path / "e.pt", "cpu")
    x = torch.zeros(2, 3, 8, 8)
    torch.testing.assert_close(loaded(x), E(x))
    assert loaded(x).shape == (2, 3, 8)


def test_mismatches_raise_one_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "gan.pt"
    save_gan(path)
    cases = [
        (lambda: load_generator(path, "cpu", backbone="dcgan"), "backbone"),
        (lambda: load_generator(path, "cpu", resolution=64), "resolution"),
        (lambda: load_encoder(path, "cpu"), "expected 'encoder'"),
    ]
    for load, words in cases:
        with pytest.raises(CheckpointMismatch) as err:
            load()
        assert words in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)
    torch.save({"config": CFG.to_dict(), "kind": "gan"}, tmp_path / "old.pt")
    with pytest.raises(CheckpointMismatch, match="format_version"):
        load_generator(tmp_path / "old.pt", "cpu")


def test_save_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "gan.pt"
    save_gan(path)
    before = path.read_bytes()
    with pytest.raises(Exception):  # noqa: B017 - whatever pickling raises, the old file must survive
        save_checkpoint(path, kind="gan", config=CFG, bad=lambda: None)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["gan.pt"]
    with pytest.raises(ValueError):
        save_checkpoint(path, kind="gan")
