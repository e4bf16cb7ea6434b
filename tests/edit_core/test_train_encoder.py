from pathlib import Path

import numpy as np
import torch

from edit_core.checkpoint import load_checkpoint, load_encoder, load_generator
from edit_core.models import ModelConfig
from edit_core.train_encoder import EncoderTrainConfig, train_encoder
from edit_core.train_gan import GanTrainConfig, train_gan

CFG = ModelConfig(resolution=8, z_dim=8, w_dim=8, width=4, mapping_layers=1)
DATA = np.random.default_rng(0).integers(0, 256, size=(16, 8, 8, 3), dtype=np.uint8)
FAST = EncoderTrainConfig(steps=4, batch_size=4, sample_every=2, ckpt_every=2, log_every=1)


def small_gan(path: Path) -> Path:
    train_gan(DATA, CFG, GanTrainConfig(steps=2, batch_size=4), path, "cpu")
    return path


def test_history_resume_and_w_plus(tmp_path: Path) -> None:
    gan = small_gan(tmp_path / "gan.pt")
    events: list[dict] = []
    straight = train_encoder(DATA, gan, FAST, tmp_path / "e.pt", "cpu", on_progress=events.append)
    assert [e["step"] for e in events] == [1, 2, 3, 4]
    grid = straight["samples"][-1][1]
    assert grid.dtype == np.uint8 and grid.shape == (16, 64, 3)  # 8 images over their reconstructions
    train_encoder(DATA, gan, EncoderTrainConfig(**{**FAST.__dict__, "steps": 2}), tmp_path / "r.pt", "cpu")
    train_encoder(DATA, gan, FAST, tmp_path / "r.pt", "cpu")
    a, b = load_checkpoint(tmp_path / "e.pt"), load_checkpoint(tmp_path / "r.pt")
    for name, tensor in a["E"].items():
        assert torch.equal(tensor, b["E"][name]), name
    plus = EncoderTrainConfig(**{**FAST.__dict__, "steps": 1, "w_plus": True})
    train_encoder(DATA, gan, plus, tmp_path / "p.pt", "cpu")
    assert load_encoder(tmp_path / "p.pt", "cpu")(torch.zeros(2, 3, 8, 8)).shape == (2, 3, 8)


def test_tiny_encoder_beats_the_mean_w(tiny_models) -> None:
    """E(x) reconstructs catalog images and recovers sampled latents better than the mean w."""
    G, E, x = tiny_models.G, tiny_models.E, tiny_models.images[:128]
    with torch.no_grad():
        err_e = (G.synthesis(E(x)) - x).pow(2).mean()
        err_mean = (G.synthesis(G.mean_w().expand(len(x), -1)) - x).pow(2).mean()
        w = G.sample_w(128, seed=9)
        lat_e = (E(G.synthesis(w)) - w).pow(2).mean()
        lat_mean = (G.mean_w() - w).pow(2).mean()
    assert err_e < 0.7 * err_mean
    assert lat_e < 0.6 * lat_mean


def test_resumed_encoder_takes_the_mean_w_of_the_generator_it_now_inverts(tmp_path: Path) -> None:
    """Fine-tuning after the GAN moved: the encoder's w_avg is the new generator's, not the old one's."""
    old = small_gan(tmp_path / "old.pt")
    train_gan(DATA, CFG, GanTrainConfig(steps=2, batch_size=4, seed=5), tmp_path / "new.pt", "cpu")
    train_encoder(DATA, old, EncoderTrainConfig(**{**FAST.__dict__, "steps": 2}), tmp_path / "e.pt", "cpu")
    train_encoder(DATA, tmp_path / "new.pt", FAST, tmp_path / "e.pt", "cpu")
    new_mean = load_generator(tmp_path / "new.pt").mean_w()
    assert not torch.equal(load_generator(old).mean_w(), new_mean)
    assert torch.equal(load_encoder(tmp_path / "e.pt", "cpu").w_avg, new_mean)
