"""The product's promise, end to end through the CLI, on generated and on real photos.

`oneedit demo` at a CI budget, starting from the shipped generator (demo.init: 20,000 steps, fine-tuned
on this catalog), repaints every car the example's blue. The hue is measured on the edited 128 px photos
themselves by the demo catalog's attribute estimator (edit_core.estimators), not on latents; the same run
is then applied again with the closed form alone (`rescale --set edit.refine.steps=0`), the ablation.

Measured here (CI budget, 40 photos): refined 0.242 → 0.025 (0.10×), the verdict "landed" (0.19);
closed form alone 0.242 → 0.097 (0.40×), the verdict "short" (0.53). The bounds: refined ≤ 0.2×, at
most half the closed form's ratio, and the verdict agreeing with the estimator on both sides of its 0.3×.

`oneedit bench fashion` at a CI budget: 300 real Fashion-MNIST garments, one darkened as the pair, a 32 px
GAN trained from scratch for 400 steps. Measured here: brightness MAE to the target 66.4 → 7.6 (0.11×),
colour cast 0.00 (grey stays grey), background change 0.98 grey levels, verdict "landed" (0.10)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from benchmarks.fashion_mnist import FASHION_MNIST_DIR
from common.params import load_params
from common.storage import read_json
from common.workspace import Workspace
from edit_core.checkpoint import load_generator
from edit_core.demo_catalog import render_edited
from edit_core.metrics import LANDED_RATIO, edit_region_mask, outside_change
from oneedit.cli import main
from tasks.catalog import read_demo_catalog
from tasks.direction import load_direction
from tasks.images import read_photo
from tasks.latents import load_latents
from tasks.refine import closed_form_offsets, example_look, render_path
from tasks.transfer import edit_original

REPO = Path(__file__).resolve().parents[2]
INIT = REPO / "data" / "pretrained" / "demo-gan.pt"
CI_BUDGET = ["catalog.size=40", "catalog.resolution=128", "gan.steps=20", "encoder.steps=150",
             "project.steps=10", "edit.direction.steps=100",
             "transfer.frames=3", "transfer.iterations=1", "report.grid=4", "report.estimate=40",
             "runtime.shard_size=20", f"demo.init={INIT}"]


def _sets(*extra: str) -> list[str]:
    return [a for s in (*CI_BUDGET, *extra) for a in ("--set", s)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The demo at the CI budget (refined, the default), and a copy applied again with the closed form alone."""
    if not INIT.is_file():
        pytest.skip(f"{INIT} not found")
    root = tmp_path_factory.mktemp("lands")
    ws = root / "ws"
    assert main(["demo", "-w", str(ws), "--params", str(REPO / "params.yaml"), *_sets()]) == 0
    closed = root / "closed"
    shutil.copytree(ws, closed)
    assert main(["rescale", "-w", str(closed), "--name", "demo", "--params", str(REPO / "params.yaml"),
                 *_sets("edit.refine.steps=0")]) == 0
    assert main(["report", "-w", str(closed), "--name", "demo", "--params", str(REPO / "params.yaml"),
                 *_sets()]) == 0
    return {"ws": ws, "closed": closed, "refined_metrics": read_json(ws / "edits/demo/metrics.json"),
            "closed_metrics": read_json(closed / "edits/demo/metrics.json")}


def test_the_demo_edit_lands_and_the_verdict_agrees(demo: dict) -> None:
    m = demo["refined_metrics"]
    assert m["n_edited"] + m["n_flagged"] >= 0.9 * m["images"], m
    assert m["attr_after_mae"] <= 0.2 * m["attr_before_mae"], m  # every car the example's blue
    assert m["landed"] is True and m["final_state_ratio"] <= LANDED_RATIO, m  # and the pipeline says so


def test_refinement_lands_where_the_closed_form_falls_short(demo: dict) -> None:
    refined, closed = demo["refined_metrics"], demo["closed_metrics"]
    ratio = {k: v["attr_after_mae"] / v["attr_before_mae"] for k, v in (("refined", refined), ("closed", closed))}
    assert ratio["refined"] <= 0.5 * ratio["closed"], ratio
    # the verdict agrees with the estimator on both: the closed form is short of 0.3x, and said to be
    assert ratio["closed"] > LANDED_RATIO and closed["landed"] is False and closed["n_short"] > 0, closed
    results = pd.read_parquet(demo["closed"] / "edits/demo/results.parquet")
    assert set(results["final_state"]) <= {"landed", "short"} and (results["final_state"] == "short").any()


def test_the_example_moves_by_exactly_its_strength(demo: dict) -> None:
    ws = Workspace.open(demo["ws"])
    state = load_direction(ws, ws.edit("demo"))
    results = pd.read_parquet(ws.edit("demo").results).set_index("id")
    example = read_json(ws.edit("demo").spec)["example_id"]
    assert results.loc[example, "alpha"] == pytest.approx(float(state["delta_star"].norm()), rel=1e-5)


def test_nothing_changes_outside_the_edit(demo: dict) -> None:
    """Outside the car (the ideal re-render's change region, grown by 8 px at 128 px), the output is the
    original within a grey level."""
    ws = Workspace.open(demo["ws"])
    df, attrs = read_demo_catalog(demo["ws"] / "catalog")
    ideal = render_edited(attrs, "hue", 0.6, 128)
    results = pd.read_parquet(ws.edit("demo").results).set_index("source_path")
    originals = np.stack([read_photo(demo["ws"] / "catalog/photos" / f) for f in df["file"]])
    outputs = np.stack([read_photo(ws.edit("demo").images / f"{results.loc[f, 'id']}.png") for f in df["file"]])
    mask = edit_region_mask(originals, ideal, threshold=8.0, dilate=8)
    assert float(np.nanmean(outside_change(originals, outputs, mask))) <= 1.0


def test_refine_steps_zero_is_the_closed_form_byte_for_byte(demo: dict) -> None:
    """The closed-form run's outputs are the transfer along α·n, nothing else: re-made here from the stored
    latents with the engine, byte for byte."""
    ws = Workspace.open(demo["closed"])
    params = load_params(REPO / "params.yaml", [*CI_BUDGET, "edit.refine.steps=0"])
    G = load_generator(ws.gan, "cpu")
    state = load_direction(ws, ws.edit("demo"))
    look = example_look(G, state, 1.0, params.transfer.frames)
    latents = load_latents(ws)
    results = pd.read_parquet(ws.edit("demo").results).set_index("id")
    for k in (0, 17, 33):
        i = str(latents["ids"][k])
        w = torch.from_numpy(latents["w"][k : k + 1])
        alpha = torch.tensor([results.loc[i, "alpha"]], dtype=w.dtype)
        frames = render_path(G, w, closed_form_offsets(alpha, state["n"]), params.transfer.frames)[0]
        original = read_photo(demo["closed"] / "catalog/photos" / results.loc[i, "source_path"])
        made = cv2.cvtColor(cv2.imread(str(ws.edit("demo").images / f"{i}.png")), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(made, edit_original(original, frames, params, look))


FASHION_CI = ["model.resolution=32", "model.width=8", "gan.steps=400", "encoder.steps=150", "runtime.threads=1",
              "runtime.shard_size=100"]


@pytest.mark.skipif(not FASHION_MNIST_DIR.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_a_real_photo_edit_lands_and_is_told_so(tmp_path: Path) -> None:
    out = tmp_path / "fashion.json"
    argv = ["bench", "fashion", "--out", str(out), "-w", str(tmp_path), "--photos", "300", "--photo-res", "64",
            "--params", str(REPO / "params.yaml")]
    assert main([*argv, *[a for s in FASHION_CI for a in ("--set", s)]]) == 0
    data = read_json(out)
    assert data["skipped_share"] <= 0.02 and data["edited_photos"] >= 0.98 * data["photos"], data["statuses"]
    assert data["mae_after"] <= 0.3 * data["mae_before"], data  # the garments' brightness moved to the example's
    assert data["colour_cast_after"] < 1 and data["background_change"] < 1.5, data  # grey stays grey, black black
    assert data["edit_metrics"]["landed"] is True, data["edit_metrics"]  # and the pipeline says so
