"""`oneedit demo-pretrain`: the demo's starting generator, made and used through the CLI.

It writes a float16 GAN without optimizer state that `train --init` fine-tunes, and `oneedit demo`
refuses a missing or incompatible `demo.init` in one line before any work.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from edit_core.checkpoint import load_checkpoint
from oneedit.cli import main
from tests.helpers import cli_args

SETS = ["demo.pretrain.size=12", "demo.pretrain.steps=3", "gan.steps=2", "encoder.steps=2"]


def cli(*args: str) -> int:
    return main(cli_args(*args, sets=SETS))


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pretrain")
    assert cli("demo-pretrain", str(root / "demo-gan.pt"), "--workspace", str(root / "scratch")) == 0
    return root / "demo-gan.pt"


def test_it_is_a_small_float16_gan_at_the_pretrain_step(pretrained: Path) -> None:
    ckpt = load_checkpoint(pretrained)
    full = load_checkpoint(pretrained.parent / "scratch" / "models" / "gan.pt")
    assert ckpt["kind"] == "gan" and ckpt["step"] == full["step"] == 3 and ckpt["config"] == full["config"]
    assert "opt_G" not in ckpt and "opt_D" not in ckpt
    for part in ("G", "G_ema", "D"):
        for name, t in ckpt[part].items():
            if t.is_floating_point():
                assert t.dtype == torch.float16
                assert torch.allclose(t.float(), full[part][name].float(), rtol=1e-3, atol=1e-3), name
    assert pretrained.stat().st_size < 0.5 * (pretrained.parent / "scratch" / "models" / "gan.pt").stat().st_size


def test_train_init_fine_tunes_it(pretrained: Path, tmp_path: Path) -> None:
    cat, ws = tmp_path / "cat", tmp_path / "ws"
    assert cli("demo-catalog", str(cat), "--set", "catalog.size=8") == 0
    assert cli("ingest", str(cat / "photos"), "-w", str(ws)) == 0
    assert cli("train", "-w", str(ws), "--init", str(pretrained)) == 0
    tuned = load_checkpoint(ws / "models" / "gan.pt")
    assert tuned["step"] == 3 + 2
    assert all(t.dtype == torch.float32 for t in tuned["G_ema"].values() if t.is_floating_point())


def test_demo_refuses_a_missing_or_foreign_init(capsys: pytest.CaptureFixture, tmp_path: Path,
                                                 pretrained: Path) -> None:
    for init, expected in ((tmp_path / "none.pt", "demo.init"), (pretrained, "px generator")):
        code = cli("demo", "-w", str(tmp_path / f"ws-{init.stem}"), "--set", f"demo.init={init}",
                   "--set", "model.resolution=32")
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and expected in err[0], err
        assert not (tmp_path / f"ws-{init.stem}").exists()
