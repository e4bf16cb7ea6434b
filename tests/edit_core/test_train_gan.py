from pathlib import Path

import numpy as np
import pytest
import torch

from edit_core.checkpoint import CheckpointMismatch, load_checkpoint
from edit_core.imageops import to_tensor
from edit_core.models import ModelConfig, build_generator
from edit_core.train_gan import (
    GanTrainConfig,
    augment_policy,
    diff_augment,
    path_length_penalty,
    schedule,
    train_gan,
)

CFG = ModelConfig(resolution=8, z_dim=8, w_dim=8, width=4, mapping_layers=1)
FAST = GanTrainConfig(steps=4, batch_size=4, r1_every=2, sample_every=2, ckpt_every=2, log_every=1, seed=0)
DATA = np.random.default_rng(0).integers(0, 256, size=(16, 8, 8, 3), dtype=np.uint8)


def test_history_progress_and_sample_grids(tmp_path: Path) -> None:
    events: list[dict] = []
    history = train_gan(DATA, CFG, FAST, tmp_path / "gan.pt", "cpu", on_progress=events.append)
    assert [e["step"] for e in events] == [1, 2, 3, 4]
    assert history["step"] == [1, 2, 3, 4] and all(np.isfinite(history["loss_D"]))
    assert [s for s, _ in history["samples"]] == [2, 4]
    grid = history["samples"][-1][1]
    assert grid.dtype == np.uint8 and grid.shape == (32, 32, 3)
    assert "samples" in events[1] and "samples" not in events[0]
    ckpt = load_checkpoint(tmp_path / "gan.pt")
    assert ckpt["step"] == 4 and ckpt["kind"] == "gan" and ckpt["config"] == CFG.to_dict()


@pytest.mark.parametrize("extra", [{}, {"pl_weight": 2.0}, {"tune_from": 3}, {"augment": "color,translation,cutout"}],
                         ids=["plain", "pl", "tune-phase", "augment"])
def test_resumed_run_equals_uninterrupted_run(tmp_path: Path, extra: dict) -> None:
    full = GanTrainConfig(**{**FAST.__dict__, "pl_every": 1, **extra})
    train_gan(DATA, CFG, full, tmp_path / "straight.pt", "cpu")
    half = GanTrainConfig(**{**full.__dict__, "steps": 2})
    train_gan(DATA, CFG, half, tmp_path / "resumed.pt", "cpu")
    history = train_gan(DATA, CFG, full, tmp_path / "resumed.pt", "cpu")
    assert history["step"] == [1, 2, 3, 4]
    a, b = load_checkpoint(tmp_path / "straight.pt"), load_checkpoint(tmp_path / "resumed.pt")
    for key in ("G", "G_ema", "D"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), (key, name)
    assert torch.equal(a["rng"], b["rng"])
    assert a["pl_mean"] == b["pl_mean"] and (a["pl_mean"] > 0) == bool(extra) - ("augment" in extra)


def test_schedule_switches_to_the_tune_phase_at_tune_from() -> None:
    cfg = GanTrainConfig(lr=0.002, ema_beta=0.995, pl_weight=0.0, tune_from=10, tune_lr=5e-4, tune_ema_beta=0.999,
                         tune_pl_weight=2.0)
    assert schedule(cfg, 9) == (0.002, 0.995, 0.0)
    assert schedule(cfg, 10) == schedule(cfg, 10**6) == (5e-4, 0.999, 2.0)
    assert schedule(GanTrainConfig(tune_from=0), 10**6) == (0.002, 0.995, 0.0)  # 0: no tune phase


def test_tune_phase_on_resume_takes_its_rate_and_path_length_reg(tmp_path: Path) -> None:
    """Continuing a trained checkpoint into the tune phase really lowers the rate (Adam's saved state
    carries the old one) and starts path-length regularization."""
    train_gan(DATA, CFG, GanTrainConfig(steps=1, batch_size=4), tmp_path / "gan.pt", "cpu")
    assert load_checkpoint(tmp_path / "gan.pt")["pl_mean"] == 0.0
    tune = GanTrainConfig(steps=2, batch_size=4, r1_every=16, tune_from=1, tune_lr=1e-4, pl_every=1)
    train_gan(DATA, CFG, tune, tmp_path / "gan.pt", "cpu")
    ckpt = load_checkpoint(tmp_path / "gan.pt")
    assert [g["lr"] for g in ckpt["opt_G"]["param_groups"]] == [1e-4]
    assert ckpt["opt_D"]["param_groups"][0]["lr"] == pytest.approx(1e-4 * 16 / 17)
    assert ckpt["pl_mean"] > 0


class _LinearG(torch.nn.Module):
    """G(w) = reshape(A w) with an identity mapping: its Jacobian is A."""

    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.a = torch.nn.Parameter(a)

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        return z

    def synthesis(self, w: torch.Tensor) -> torch.Tensor:
        return (w @ self.a.T).reshape(len(w), 3, 4, 4)


def test_path_length_penalty_matches_its_definition() -> None:
    gen = torch.Generator().manual_seed(0)
    a, z = torch.randn(48, 5, generator=gen), torch.randn(6, 5, generator=gen)
    y = torch.randn(6, 3, 4, 4, generator=gen)
    penalty, mean = path_length_penalty(_LinearG(a), z, y, torch.tensor(1.0), decay=0.5)
    lengths = (y.reshape(6, 48) / 4.0 @ a).norm(dim=1)  # ||J^T y|| / sqrt(H W), J = A
    expected_mean = 0.5 * 1.0 + 0.5 * lengths.mean()
    assert mean.item() == pytest.approx(expected_mean.item(), rel=1e-6)
    assert penalty.item() == pytest.approx(((lengths - expected_mean) ** 2).mean().item(), rel=1e-6)
    assert penalty.requires_grad  # it trains G


def test_resume_with_another_model_is_refused(tmp_path: Path) -> None:
    train_gan(DATA, CFG, GanTrainConfig(steps=1, batch_size=4), tmp_path / "gan.pt", "cpu")
    other = ModelConfig(**{**CFG.to_dict(), "width": 8})
    with pytest.raises(CheckpointMismatch, match="cannot resume"):
        train_gan(DATA, other, GanTrainConfig(steps=2, batch_size=4), tmp_path / "gan.pt", "cpu")


def test_checkpoint_from_before_a_config_key_existed_resumes_with_its_default(tmp_path: Path) -> None:
    train_gan(DATA, CFG, GanTrainConfig(steps=1, batch_size=4), tmp_path / "gan.pt", "cpu")
    ckpt = load_checkpoint(tmp_path / "gan.pt")
    del ckpt["config"]["mapping_lr_mul"]  # written by a version without that key
    torch.save(ckpt, tmp_path / "gan.pt")
    train_gan(DATA, CFG, GanTrainConfig(steps=2, batch_size=4), tmp_path / "gan.pt", "cpu")
    assert load_checkpoint(tmp_path / "gan.pt")["step"] == 2
    fast_mapping = ModelConfig(**{**CFG.to_dict(), "mapping_lr_mul": 0.1})
    with pytest.raises(CheckpointMismatch, match="cannot resume"):
        train_gan(DATA, fast_mapping, GanTrainConfig(steps=3, batch_size=4), tmp_path / "gan.pt", "cpu")


def test_tiny_gan_learned_the_catalog(tiny_models) -> None:
    """Trained samples are much closer to catalog images than an untrained generator's."""
    real = tiny_models.images

    def nearest(fake: torch.Tensor) -> float:
        return float(torch.cdist(fake.flatten(1), real.flatten(1)).min(dim=1).values.mean())

    G = tiny_models.G
    untrained = build_generator(G.config, seed=1).eval()
    with torch.no_grad():
        trained_d = nearest(G(G.sample_z(64, seed=5)))
        untrained_d = nearest(untrained(untrained.sample_z(64, seed=5)))
    assert trained_d < 0.6 * untrained_d
    assert to_tensor(tiny_models.images_uint8).shape == real.shape


def test_fine_tunes_a_checkpoint_without_training_state(tmp_path: Path) -> None:
    """An imported StyleGAN2 (G, G_ema, step 0; no optimizers, RNG, history, nor D) trains on from its
    weights, float16 blocks included."""
    from edit_core.checkpoint import save_checkpoint
    from edit_core.models.stylegan2 import default_spec

    spec = {**default_spec(8, w_dim=8, channel_base=64, channel_max=16), "fp16_resolution": 8, "conv_clamp": 256}
    cfg = ModelConfig(backbone="stylegan2", resolution=8, z_dim=8, w_dim=8, mapping_layers=2, stylegan2=spec)
    G = build_generator(cfg, seed=5)
    save_checkpoint(tmp_path / "gan.pt", kind="gan", config=cfg, G=G.state_dict(), G_ema=G.state_dict(), step=0)
    history = train_gan(DATA, cfg, GanTrainConfig(**{**FAST.__dict__, "steps": 2}), tmp_path / "gan.pt", "cpu")
    assert history["step"] == [1, 2] and all(np.isfinite(history["loss_G"]))
    ckpt = load_checkpoint(tmp_path / "gan.pt")
    assert ckpt["step"] == 2 and {"opt_G", "opt_D", "D", "rng"} <= ckpt.keys()
    fresh = build_generator(cfg, seed=FAST.seed).state_dict()  # what train_gan would start from without the file
    tuned = ckpt["G"]
    start = G.state_dict()
    name = "synthesis_net.blocks.1.conv1.weight"
    assert (tuned[name] - start[name]).abs().max() < 0.1 < (tuned[name] - fresh[name]).abs().max()
    assert torch.equal(tuned["mapping_net.w_avg"], start["mapping_net.w_avg"])


def test_every_step_reports_progress_between_log_steps(tmp_path: Path) -> None:
    events: list[dict] = []
    sparse = GanTrainConfig(**{**FAST.__dict__, "log_every": 3, "sample_every": 4})
    history = train_gan(DATA, CFG, sparse, tmp_path / "gan.pt", "cpu", on_progress=events.append)
    assert [e["step"] for e in events] == [1, 2, 3, 4] and all(e["steps"] == 4 for e in events)
    assert "loss_D" not in events[0] and "loss_D" in events[2]
    assert history["step"] == [3, 4]


def test_diff_augment_is_differentiable_per_image_and_off_by_default() -> None:
    x = torch.rand(4, 3, 16, 16).mul(2).sub(1).requires_grad_(True)
    gen = torch.Generator().manual_seed(0)
    assert diff_augment(x, (), gen) is x
    y = diff_augment(x, augment_policy("color, translation,cutout"), gen)
    assert y.shape == x.shape and not torch.equal(y[0] - x[0], y[1] - x[1])  # each image its own draw
    (grad,) = torch.autograd.grad(y.sum(), x)
    assert grad.abs().sum() > 0  # G learns through the transforms
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment_policy("color,flip")


def test_checkpoints_come_by_time_as_well_as_by_steps() -> None:
    """Checkpoints every 200-250 steps lost 28 of 30 slow encoder steps to a Ctrl-C: one is also due every
    ckpt_seconds of wall time."""
    import time

    from edit_core.configs import EncoderTrainConfig
    from edit_core.training import CheckpointClock, after_step

    saved: list[int] = []
    train = EncoderTrainConfig(steps=1000, ckpt_every=250, log_every=1000, sample_every=1000, ckpt_seconds=0.05)
    clock = CheckpointClock(train.ckpt_seconds)
    for step in (1, 2, 3):
        if step == 3:
            time.sleep(0.06)
        after_step(step, train, {}, 1.0, {"step": []}, lambda: None, lambda s=step: saved.append(s), None, clock)
    assert saved == [3]
    assert EncoderTrainConfig().ckpt_seconds == 60.0 and EncoderTrainConfig().ckpt_every == 200
