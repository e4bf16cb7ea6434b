import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from common.params import GuardParams, load_params
from common.storage import read_json, sha256_file, write_h5, write_json, write_parquet
from common.workspace import Workspace
from edit_core.metrics import edit_summary
from tasks.alphas import RESULTS_SCHEMA, STRENGTH_KEY, alpha_table, guard_limits
from tasks.images import write_png
from tasks.ingest import manifest_schema
from tasks.report import (
    PLOT_H,
    PLOT_W,
    SUMMARY_COLUMNS,
    histogram_plot,
    line_plot,
    scatter_plot,
    stroke_overlay,
    verdict,
    write_report,
)


def test_plots_are_images_even_for_degenerate_data() -> None:
    for img in (histogram_plot(np.array([1.0, 2.0, np.nan, 2.5]), "a"), histogram_plot(np.array([]), "empty"),
                histogram_plot(np.array([3.0, 3.0]), "constant"),
                scatter_plot(np.array([0.0, 1.0]), np.array([0.0, 0.0]), "s", target=0.0),
                scatter_plot(np.array([np.nan]), np.array([1.0]), "nan"),
                line_plot(np.array([1.0, 2.0]), {"a": np.array([0.0, np.nan])}, "l"), line_plot(np.array([]), {}, "e")):
        assert img.shape == (PLOT_H, PLOT_W, 3) and img.dtype == np.uint8
    assert (histogram_plot(np.array([1.0, 2.0]), "a") != 255).any()
    curve = line_plot(np.array([0.0, 10.0]), {"loss": np.array([1.0, 0.0])}, "")
    assert (np.abs(curve.astype(int) - (30, 110, 200)).sum(-1) < 60).sum() > 100  # the curve is drawn in its colour


def test_metrics_count_every_status() -> None:
    results = pd.DataFrame({
        "status": ["edited", "edited", "flagged", "rejected"],
        "alpha": [1.0, 2.0, 3.0, np.nan], "distance_before": [-1.0, -2.0, -3.0, np.nan],
        "distance_after": [0.0, 1e-7, -1e-7, np.nan], "err_pixel": [0.1, 0.2, 0.3, np.nan],
        "t_transfer": [0.5, 0.5, 0.5, 0.0]})
    m = edit_summary(*(results[c].to_numpy() for c in SUMMARY_COLUMNS))
    assert (m["images"], m["n_edited"], m["n_flagged"], m["n_rejected"]) == (4, 2, 1, 1)
    assert m["alpha_mean"] == 2.0 and m["distance_after_max_abs"] < 1e-6


def _state(rng: np.random.Generator, dim: int = 8) -> dict:
    delta = torch.from_numpy(rng.normal(size=dim).astype(np.float32))
    w0 = torch.from_numpy(rng.normal(size=dim).astype(np.float32))
    return {"delta_star": delta, "n": delta / delta.norm(), "w0": w0, "w_example": w0}


def test_verdict_is_the_final_state_measured_on_the_photos() -> None:
    assert verdict({"landed": None, "final_state_photos": 0})["state"] == "unmeasured"
    measured = {"landed": True, "final_state_photos": 12, "final_gap_before_mean": 2.0, "reading": "look",
                "final_gap_after_mean": 0.4, "final_state_ratio": 0.2, "n_landed": 11, "n_short": 1, "warnings": []}
    v = verdict(measured | {"attr_before_mae": 0.3, "attr_after_mae": 0.05, "attr_after_std": 0.02})
    assert v["state"] == "landed" and "12 photos" in v["details"][0] and "1 fell short" in v["details"][0]
    assert "0.05" in v["details"][1]
    missed = verdict(measured | {"landed": False, "final_state_ratio": 0.9, "warnings": ["capture weak"]})
    assert missed["state"] == "missed" and "capture weak" in missed["details"]


def test_stroke_overlay_paints_only_the_mask() -> None:
    photo = np.full((40, 60, 3), 128, np.uint8)
    mask = np.zeros((20, 30))
    mask[:10, :15] = 1.0  # top-left quarter, at half the photo's size
    out = stroke_overlay(photo, (mask, (255, 0, 0)), None)
    assert out[5, 5, 0] > 200 and out[5, 5, 1] < 80
    assert (out[25:, :] == 128).all() and (out[:, 35:] == 128).all()


# --------------------------------------------------------------------------------------------
# write_report on a small hand-built workspace (no training: the report only reads files)


def _workspace(root: Path, rng: np.random.Generator) -> tuple[Workspace, dict]:
    """Five photos (one flagged, one rejected at ingest), latents, a direction, edited images and a model log."""
    src = root / "photos"
    ws = Workspace.create(root / "ws")
    names = ["red car.png", "blue-van.png", "truck.png", "bike.png"]
    ids = [f"{k:016x}" for k in range(1, 5)]
    for name in names:
        write_png(src / name, rng.integers(0, 255, (30, 40, 3), dtype=np.uint8))
    (src / "broken.jpg").write_bytes(b"not a jpeg")
    rows = [[i, n, i * 4, 40, 30, "accepted", "", 0, k] for k, (i, n) in enumerate(zip(ids, names, strict=True))]
    rows.append(["", "broken.jpg", "", -1, -1, "rejected", "not a recognised image", -1, -1])
    manifest = pd.DataFrame(rows, columns=manifest_schema(16).names)
    write_parquet(ws.manifest, manifest, manifest_schema(16))
    write_json(ws.source, {"source": str(src)})
    write_h5(ws.ingest / "shard-00000.h5", {"images": np.zeros((4, 16, 16, 3), np.uint8), "ids": np.array(ids)})
    w = rng.normal(size=(4, 8)).astype(np.float32)
    write_h5(ws.latents / "shard-00000.h5", {"ids": np.array(ids), "w": w, "err_pixel": np.full(4, 0.1, np.float32),
                                            "err_feature": np.zeros(4, np.float32)})
    ws.models.mkdir(parents=True, exist_ok=True)
    ws.gan.write_bytes(b"a generator")
    write_png(ws.samples / "gan-000010.png", np.zeros((8, 8, 3), np.uint8))
    write_png(ws.samples / "gan-000020.png", np.zeros((8, 8, 3), np.uint8))
    write_json(ws.models / "gan_losses.json", [{"step": 10, "loss_D": 1.0, "loss_G": 2.0},
                                               {"step": 20, "loss_D": 0.8, "loss_G": 1.5}])

    paths = ws.edit("paint")
    state = _state(rng) | {"gan_sha256": sha256_file(ws.gan), "kind": "brush", "w0_edited": torch.zeros(8)}
    state["w0"] = state["w_example"] = torch.from_numpy(w[0])
    paths.root.mkdir(parents=True)
    torch.save(state, paths.direction)
    limits = guard_limits(w, np.full(4, 0.1), state, 1.7, GuardParams(action="flag"))  # the catalog as its span
    table = alpha_table(w, state, 1.7, np.full(4, 0.1), limits, GuardParams(action="flag"))
    for key in ("before", "render_before", "render_user_edit", "render_direction"):
        write_png(paths.example / f"{key}.png", np.zeros((16, 16, 3), np.uint8))
    mask = np.zeros((30, 40, 3), np.uint8)
    mask[5:15, 5:20] = 255
    write_png(root / "strokes" / "mask.png", mask)
    (root / "strokes" / "strokes.json").write_text(json.dumps({"color": {"mask": "mask.png", "rgb": [250, 10, 10]}}))
    write_json(paths.spec, {"name": "paint", "kind": "brush", "example": ids[0], "example_id": ids[0],
                            "input": str(root / "strokes" / "strokes.json")})
    status = ["edited", "edited", "flagged", "edited", "rejected"]
    reason = ["", "", "alpha outside the catalog's span along n", "", "not a recognised image"]
    results = pd.DataFrame({"id": [*ids, ""], "source_path": [*names, "broken.jpg"],
                            "alpha": [*table["alpha"], np.nan], "distance_before": [*table["distance_before"], np.nan],
                            "distance_after": [np.nan] * 5, "err_pixel": [0.1] * 4 + [np.nan],
                            "status": status, "reason": reason, "t_render": [0.1] * 5, "t_transfer": [0.2] * 5,
                            "before_gap": [0.5] * 4 + [np.nan], "final_gap": [0.05, 0.1, 0.4, 0.3, np.nan],
                            "final_state": ["landed", "landed", "short", "short", ""]})
    write_parquet(paths.results, results, RESULTS_SCHEMA.with_metadata({STRENGTH_KEY: "1.7"}))
    for i in ids:
        write_png(paths.images / f"{i}.png", rng.integers(0, 255, (30, 40, 3), dtype=np.uint8))
    write_png(paths.report / "thumbs" / "stale.png", np.zeros((4, 4, 3), np.uint8))  # from an older report
    return ws, {"ids": ids, "names": names}


def test_report_is_a_self_contained_page_in_file_names(tmp_path: Path) -> None:
    ws, made = _workspace(tmp_path, np.random.default_rng(1))
    params = load_params(None, ["report.grid=3", "report.thumb=32"])
    metrics = write_report.fn(ws, "paint", params)
    report = ws.edit("paint").report
    page = (report / "index.html").read_text(encoding="utf-8")

    assert metrics["strength"] == pytest.approx(1.7, rel=1e-4)
    assert read_json(ws.edit("paint").root / "metrics.json")["strength"] == pytest.approx(1.7, rel=1e-4)
    assert "Strength <b>1.7</b>" in page
    for name in made["names"]:
        assert name in page
    assert not any(i in re.sub(r'src="[^"]*"', "", page) for i in made["ids"])  # ids only inside image paths
    sources = re.findall(r'src="([^"]*)"', page)
    assert sources and all(not s.startswith(("/", "..")) and ":" not in s for s in sources)
    for s in sources:
        assert (report / s).is_file(), s
    assert not (report / "thumbs" / "stale.png").exists()

    example = page[page.index("<h2>The example</h2>"):page.index("<h2>Before / after</h2>")]
    order = [example.index(s) for s in ("example/before.png", "example/strokes.png", "example/applied.png",
                                        "example/render_before.png")]
    assert order == sorted(order) and "Before: red car.png" in example
    assert "rgb(250, 10, 10)" in example and "render_user_edit" not in sources[0]
    problems = page[page.index("<h2>Photos to review (3)</h2>"):page.index("<h2>Plots</h2>")]
    assert "truck.png" in problems and "alpha outside the catalog" in problems
    assert "broken.jpg" in problems and "not a recognised image" in problems
    assert made["names"][3] in problems and made["names"][0] not in problems  # edited but short: to review
    assert "models/gan-000020.png" in page and "models/gan_losses.png" in page and "gan-000010" not in page
    assert 'id="photos"' in page and "localeCompare" in page and page.count('data-type="num"') == 4
    assert "Not measured on the photos." in page
