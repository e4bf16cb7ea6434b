"""`oneedit bench`: every benchmark writes its documented keys, finite, on a tiny config.

The tiny models are barely trained, so attribute numbers carry no meaning here; the assertions that
do are about the method and the measurement itself: α puts every catalog latent on the example's
hyperplane (zero spread along n, unlike Δw / Δ*), and the ground-truth ideal edit scores far below
the unedited catalog (the estimator + target chain can tell a consistent edit from none).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from benchmarks.fashion_mnist import FASHION_MNIST_DIR
from edit_core.demo_catalog import ATTRIBUTES, render, sample_attributes
from edit_core.models import ModelConfig
from edit_core.train_gan import GanTrainConfig, train_gan
from oneedit.bench import bench_app

TINY = ["model.resolution=16", "model.width=8", "gan.steps=2", "gan.batch_size=4", "encoder.steps=2",
        "encoder.batch_size=4", "catalog.size=16", "project.steps=2", "project.batch_size=8",
        "edit.example_steps=2", "edit.direction.steps=2", "transfer.frames=2", "demo.init="]
EXTRA = {
    "consistency": ["--images", "10", "--examples", "2", "--attributes", "hue,size,rotation"],
    "linearity": ["--images", "10", "--examples", "1"],
    "transfer": ["--images", "2", "--photo-res", "64", "--attributes", "hue"],
    "projection": ["--images", "4", "--fmnist-gan-steps", "2", "--fmnist-encoder-steps", "2",
                   "--fmnist-resolution", "16", "--fmnist-width", "8", "--fmnist-train-images", "32"],
    "speed": ["--loop-images", "2", "--steps", "1", "--project-sizes", "4", "--render-sizes", "10,20",
              "--transfer-images", "2", "--photo-res", "64", "--edit-photos", "6"],
    "memory": ["--sizes", "8,16", "--steps", "1", "--real-shards", "1"],
    "probe": ["--train", "40", "--test", "20"],
    "fashion": ["--photos", "12", "--photo-res", "32", "--set", "runtime.shard_size=6"],
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One workspace for every benchmark, so the tiny models are trained once (under WS/bench/)."""
    return tmp_path_factory.mktemp("bench-ws")


def run(name: str, ws: Path, *args: str) -> dict:
    """Run `bench NAME` on the tiny config and return its JSON."""
    out = ws / f"{name}.json"
    sets = [a for s in TINY for a in ("--set", s)]
    where = list(args) or ["--workspace", str(ws)]
    result = CliRunner().invoke(bench_app, [name, "--out", str(out), *sets, *where, *EXTRA[name]])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return json.loads(out.read_text())


def assert_finite(data: dict, keys: list[str]) -> None:
    for key in keys:
        assert isinstance(data[key], (int, float)) and math.isfinite(data[key]), (key, data[key])


def test_consistency(workspace: Path) -> None:
    data = run("consistency", workspace)
    assert_finite(data, ["before_mae", "naive_mae", "direction_only_mae", "ours_mae", "ideal_mae",
                         "ours_over_before", "ours_over_naive"])
    assert len(data["runs"]) == 6 and set(data["per_attribute"]) == {"hue", "size", "rotation"}
    spread = data["summary"]
    assert spread["closed_form_latent_spread"]["mean"] < 1e-4 * spread["before_latent_spread"]["mean"]
    assert spread["naive_latent_spread"]["mean"] > 0.5 * spread["before_latent_spread"]["mean"]
    assert data["ideal_mae"] < 0.5 * data["before_mae"]
    assert data["meta"]["machine"]["torch"] and data["meta"]["argv"]


def test_linearity(workspace: Path) -> None:
    data = run("linearity", workspace)
    assert_finite(data, ["r2_naive", "r2_ours"])
    # the §3.1 fit is not a no-op: Δ* leaves the user's raw offset (it stayed at cos 0.9998 with the old loss)
    assert data["runs"] and all(r["cos_dw_dstar"] < 0.99 for r in data["runs"])


def test_transfer(workspace: Path) -> None:
    data = run("transfer", workspace)
    assert_finite(data, ["flow_psnr", "naive_psnr", "gan_psnr", "flow_ssim", "naive_ssim", "gan_ssim",
                         "flow_outside_change", "transfer_s_per_image"])
    assert data["flow_psnr"] != data["identity_psnr"]  # the transfer changed the photos


@pytest.mark.skipif(not FASHION_MNIST_DIR.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_projection(workspace: Path) -> None:
    data = run("projection", workspace)
    assert_finite(data, ["encoder", "optimize", "hybrid", "optimize_equal_time"])
    assert set(data["settings"]) == {"demo_model_on_demo", "demo_model_on_fmnist", "fmnist_model_on_demo",
                                     "fmnist_model_on_fmnist"}


def test_speed(workspace: Path) -> None:
    data = run("speed", workspace)
    keys = ["batched_img_steps_per_s", "loop_img_steps_per_s", "transfer_s_per_image", "direction_fit_s",
            "peak_rss_mb", "matmul_gflops", "projection_fraction_of_matmul_rate",
            "projection_cpu_fraction_of_matmul_rate"]
    assert_finite(data, keys)
    assert all(data[k] > 0 for k in keys)
    assert set(data["scaling_alpha_render"]) == {"10", "20"}
    edit = data["edit_catalog"]  # the edit stage through the flows: every photo edited, measured
    assert edit["photos"] == 6 and sum(edit["edited"].values()) == 6 and edit["edit_6_s"] > 0


@pytest.mark.slow
def test_memory(workspace: Path) -> None:
    data = run("memory", workspace)
    assert set(data["peak_rss_mb"]) == {"8", "16"} and all(v > 0 for v in data["peak_rss_mb"].values())
    assert_finite(data, ["growth_ratio"])
    stages = {"ingest", "train", "project", "direction", "edit", "report", "update"}
    assert all(set(r["stages"]) == stages for r in data["runs"].values())


def test_probe_trains_one_gan_per_backbone_and_reuses_it(workspace: Path) -> None:
    data = run("probe", workspace, "--workspace", str(workspace), "--backbones", "style,dcgan",
               "--train-images", "16")
    assert data["goal"] == 0.9 and [m["config"]["backbone"] for m in data["models"]] == ["style", "dcgan"]
    dcgan = data["models"][1]["config"]
    assert dcgan["w_dim"] == dcgan["z_dim"] != data["models"][0]["config"]["w_dim"]  # dcgan's w is z
    for model in data["models"]:
        assert set(model["r2"]) == set(ATTRIBUTES) and model["step"] == 2 and model["images_seen"] == 8
        assert model["meets_goal"] == (model["min_r2"] >= 0.9) and model["min_r2"] == min(model["r2"].values())
        # The ceiling: even at 16 px the estimators read hue and rotation from the renders themselves.
        assert model["estimator_r2_on_renders"]["hue"] > 0.9 and model["estimator_r2_on_renders"]["rotation"] > 0.8
    stamps = [Path(m["path"]).stat().st_mtime_ns for m in data["models"]]
    again = run("probe", workspace, "--workspace", str(workspace), "--backbones", "style,dcgan", "--train-images", "16")
    assert [Path(m["path"]).stat().st_mtime_ns for m in again["models"]] == stamps  # finished runs are not retrained
    assert [m["r2"] for m in again["models"]] == [m["r2"] for m in data["models"]]  # seeded
    longer = run("probe", workspace, "--workspace", str(workspace), "--backbones", "style", "--train-images", "16",
                 "--set", "gan.steps=3")
    assert longer["models"][0]["path"] == data["models"][0]["path"] and longer["models"][0]["step"] == 3  # resumed


def test_probe_reads_given_checkpoints_and_rejects_unknown_backbones(workspace: Path, tmp_path: Path) -> None:
    cfg = ModelConfig(resolution=16, width=8, z_dim=8, w_dim=8, mapping_layers=1)
    ckpt = tmp_path / "gan.pt"
    train_gan(render(sample_attributes(8, 0), 16), cfg, GanTrainConfig(steps=1, batch_size=4), ckpt, "cpu")
    data = run("probe", workspace, "--gan", str(ckpt))
    assert [m["path"] for m in data["models"]] == [str(ckpt)] and data["train_images"] is None
    result = CliRunner().invoke(bench_app, ["probe", "--out", str(tmp_path / "x.json"), "--backbones", "stylegan9"])
    assert result.exit_code != 0 and "stylegan9" in str(result.exception) + result.output
    assert not (tmp_path / "x.json").exists()


def test_bench_models_start_from_demo_init_as_the_demo_does(tmp_path: Path) -> None:
    """With demo.init set, the bench's models are that generator fine-tuned for gan.steps (its own
    architecture kept), not a model trained from scratch on params.model."""
    cfg = ModelConfig(resolution=16, width=8, z_dim=8, w_dim=12, mapping_layers=1)
    init = tmp_path / "init.pt"
    train_gan(render(sample_attributes(8, 0), 16), cfg, GanTrainConfig(steps=3, batch_size=4), init, "cpu")
    data = run("linearity", tmp_path, "--workspace", str(tmp_path / "ws"), "--set", f"demo.init={init}")
    used = torch.load(data["models"]["gan"], map_location="cpu", weights_only=False)
    assert data["models"]["source"] == f"bench-trained from {init}"
    assert used["step"] == 3 + 2 and used["config"]["w_dim"] == 12  # init's step + gan.steps; init's architecture
    result = CliRunner().invoke(bench_app, ["linearity", "--out", str(tmp_path / "x.json"), "-w", str(tmp_path / "ws"),
                                            "--set", f"demo.init={tmp_path / 'missing.pt'}"])
    assert result.exit_code != 0 and "missing.pt: file not found" in str(result.exception) + result.output


@pytest.mark.skipif(not FASHION_MNIST_DIR.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_edits_real_photos_and_measures_them(workspace: Path) -> None:
    data = run("fashion", workspace)
    assert data["photos"] == 12 and data["edited_photos"] >= 1 and data["classes"] == ["t-shirt", "pullover"]
    assert data["target"] == pytest.approx(0.55 * data["example_before"], abs=0.5)  # the garment darkened, rounded
    assert data["colour_cast_before"] == 0 and data["brightness_before"]["mean"] > data["target"]
    assert_finite(data, ["mae_before", "mae_after", "mae_ratio", "colour_cast_after", "background_change"])
    assert data["mae_ratio"] == pytest.approx(data["mae_after"] / data["mae_before"])
    assert data["edit_metrics"]["n_edited"] + data["edit_metrics"]["n_flagged"] == data["edited_photos"]
    result = CliRunner().invoke(bench_app, ["fashion", "--out", str(workspace / "x.json"), "--classes", "hat"])
    assert result.exit_code != 0 and "unknown Fashion-MNIST class 'hat'" in str(result.exception) + result.output
