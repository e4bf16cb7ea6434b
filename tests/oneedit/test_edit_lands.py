"""The product's promise, end to end through the CLI, on generated and on real photos.

`oneedit demo` at a CI budget, starting from the shipped generator (demo.init: 20,000 steps, fine-tuned
on this catalog), and the edited photos' paint hue moves to the example's target (blue). The hue is
measured on the edited 128 px photos themselves by the demo catalog's attribute estimator
(edit_core.estimators), not on latents.

Measured here: 0.242 → 0.094 (0.39×), verdict "landed" (0.15). The bound is 0.55×, to leave room for
another CPU's rounding in the GAN fine-tune (chaotic); no edit (α = 0) gives 1.0×, and the 4,000-step
generator shipped before gave 0.65× here. What limits it: G's own renders along the one linear direction
turn teal and cyan cars blue but leave red and yellow ones at olive and green (BENCHMARKS.md, issue 14).

`oneedit bench fashion` at a CI budget: 300 real Fashion-MNIST garments, one darkened as the pair, a 32 px
GAN trained from scratch for 400 steps. Measured here: brightness MAE to the target 66.7 → 46.4 (0.70×)
and the pipeline's verdict "landed" at 0.25 (against its floor); the verdict read the same photos 0.63
against 0 before it had a floor, "did NOT land"."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.fashion_mnist import FASHION_MNIST_DIR
from common.storage import read_json
from oneedit.cli import main

REPO = Path(__file__).resolve().parents[2]
INIT = REPO / "data" / "pretrained" / "demo-gan.pt"
CI_BUDGET = ["catalog.size=40", "catalog.resolution=128", "gan.steps=20", "encoder.steps=150",
             "project.steps=10", "edit.direction.steps=100",
             "transfer.frames=3", "transfer.iterations=1", "report.grid=4", "report.estimate=40",
             "runtime.shard_size=20"]


@pytest.mark.skipif(not INIT.is_file(), reason=f"{INIT} not found")
def test_the_demo_edit_lands(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    argv = ["demo", "-w", str(ws), "--params", str(REPO / "params.yaml"), "--set", f"demo.init={INIT}"]
    assert main([*argv, *[a for s in CI_BUDGET for a in ("--set", s)]]) == 0
    m = read_json(ws / "edits" / "demo" / "metrics.json")
    assert m["n_edited"] + m["n_flagged"] >= 0.75 * m["images"], m
    assert m["attr_after_mae"] <= 0.55 * m["attr_before_mae"], m
    assert m["landed"] is True, m  # and the pipeline says so


FASHION_CI = ["model.resolution=32", "model.width=8", "gan.steps=400", "encoder.steps=150", "runtime.threads=1",
              "runtime.shard_size=100"]


@pytest.mark.skipif(not FASHION_MNIST_DIR.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_a_real_photo_edit_lands_and_is_told_so(tmp_path: Path) -> None:
    out = tmp_path / "fashion.json"
    argv = ["bench", "fashion", "--out", str(out), "-w", str(tmp_path), "--photos", "300", "--photo-res", "64",
            "--params", str(REPO / "params.yaml")]
    assert main([*argv, *[a for s in FASHION_CI for a in ("--set", s)]]) == 0
    data = read_json(out)
    assert data["edited_photos"] >= 0.9 * data["photos"], data["statuses"]
    assert data["mae_after"] <= 0.85 * data["mae_before"], data  # the garments' brightness moved to the example's
    assert data["colour_cast_after"] < 5 and data["background_change"] < 3, data  # grey stays grey, black black
    assert data["edit_metrics"]["landed"] is True, data["edit_metrics"]  # and the pipeline says so
