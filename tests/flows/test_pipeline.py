"""One end-to-end run of the flows on a tiny catalog with tiny models; checks the outputs' contents."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from common.params import Params, load_params
from common.storage import read_h5, read_h5_attrs, read_json, read_parquet, write_h5, write_parquet
from common.workspace import Workspace
from edit_core import demo_catalog
from edit_core.checkpoint import load_generator
from flows.edit import edit_flow
from flows.project import project_flow
from flows.report import report_flow
from flows.rescale import rescale_flow
from flows.train import ingest_flow, train_flow
from tasks.alphas import alpha_table, guard_limits, reference_latents
from tasks.direction import load_direction
from tasks.images import write_png
from tasks.latents import load_latents
from tests.helpers import TINY

N = 36


def tiny_params(*overrides: str) -> Params:
    return load_params(TINY, list(overrides))


def make_catalog(src: Path) -> dict:
    """N square renders, 2 non-square photos, one corrupt file; returns the example pair."""
    attrs = demo_catalog.sample_attributes(N, seed=1)
    images = demo_catalog.render(attrs, 96)
    for i, im in enumerate(images):
        write_png(src / f"car-{i:03d}.png", im)
    write_png(src / "wide.png", cv2.resize(images[1], (144, 96)))
    write_png(src / "tall.png", cv2.resize(images[2], (80, 120)))
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    example = {k: v[:1] for k, v in attrs.items()}
    after = src.parent / "after.png"
    write_png(after, demo_catalog.render_edited(example, "hue", 0.6, 96)[0])
    return {"kind": "pair", "example": str(src / "car-000.png"), "path": str(after),
            "truth": {"attribute": "hue", "value": 0.6}}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("e2e")
    src = root / "photos"
    src.mkdir()
    form = make_catalog(src)
    p = tiny_params()
    ws = Workspace.create(root / "ws")
    ingest_flow(src, ws.root, p)
    train_flow(ws.root, p)
    projected = project_flow(ws.root, p)
    (src / "car-005.png").unlink()  # an original that disappears before the edit
    summary = edit_flow(ws.root, "hue", form, p)
    index = report_flow(ws.root, "hue", p)
    return {"ws": ws, "src": src, "params": p, "projected": projected, "summary": summary, "index": index}


def test_statuses_account_for_every_photo(run: dict) -> None:
    ws: Workspace = run["ws"]
    manifest = read_parquet(ws.manifest)
    results = read_parquet(ws.edit("hue").results)
    assert len(results) == len(manifest) == N + 3
    assert list(results["source_path"]) == list(manifest["source_path"])
    assert set(results["status"]) <= {"edited", "flagged", "rejected"}
    by_path = results.set_index("source_path")
    assert by_path.loc["broken.jpg", "status"] == "rejected" and by_path.loc["broken.jpg", "reason"]
    assert by_path.loc["car-005.png", "status"] == "rejected"
    assert "original unavailable" in by_path.loc["car-005.png", "reason"]
    done = results[results["status"] != "rejected"]
    assert len(done) == N + 1
    assert (done["t_transfer"] > 0).all() and (done["t_render"] > 0).all()
    assert run["summary"]["status"] == results["status"].value_counts().to_dict()


def test_alpha_satisfies_its_definition(run: dict) -> None:
    ws: Workspace = run["ws"]
    state = torch.load(ws.edit("hue").direction, weights_only=True)
    latents = load_latents(ws)
    target = state["w_example"] + run["params"].edit.strength * state["delta_star"]
    n = state["delta_star"] / state["delta_star"].norm()
    expected = (target.reshape(1, -1) - torch.from_numpy(latents["w"]).reshape(len(latents["w"]), -1)) @ n.reshape(-1)
    results = read_parquet(ws.edit("hue").results).drop_duplicates("id").set_index("id")
    got = results.loc[latents["ids"], "alpha"].to_numpy()
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(results.loc[latents["ids"], "distance_before"].to_numpy(), -got, rtol=1e-4, atol=1e-5)
    # the example, as a catalog photo, moves by exactly s·||Δ*||: its final state is placed from its catalog latent
    example = read_json(ws.edit("hue").spec)["example_id"]
    assert results.loc[example, "alpha"] == pytest.approx(run["params"].edit.strength * float(state["delta_star"].norm()),
                                                          rel=1e-5)
    measured = results["distance_after"].notna()  # read off every output
    assert set(results.loc[~measured, "status"]) <= {"rejected"}
    np.testing.assert_allclose(results.loc[latents["ids"], "err_pixel"], latents["err_pixel"], rtol=1e-6)


def test_edited_photos_keep_original_resolution(run: dict) -> None:
    ws: Workspace = run["ws"]
    results = read_parquet(ws.edit("hue").results)
    done = results[results["status"] != "rejected"]
    images = ws.edit("hue").images
    assert sorted(p.stem for p in images.glob("*.png")) == sorted(done["id"].unique())
    for r in done.itertuples():
        edited = cv2.imread(str(images / f"{r.id}.png"))
        original = cv2.imread(str(run["src"] / r.source_path))
        assert edited.shape == original.shape, r.source_path
    sizes = {cv2.imread(str(images / f"{i}.png")).shape[:2] for i in done["id"]}
    assert {(96, 96), (96, 144), (120, 80)} <= sizes
    some = done["id"].iloc[0]
    assert not np.array_equal(cv2.imread(str(images / f"{some}.png")),
                              cv2.imread(str(run["src"] / done["source_path"].iloc[0])))


def test_spec_direction_and_report(run: dict) -> None:
    paths = run["ws"].edit("hue")
    spec = read_json(paths.spec)
    assert spec["kind"] == "pair" and spec["example_id"] and spec["truth"]["attribute"] == "hue"
    assert {p.name for p in (paths.root / "example").glob("*.png")} >= {"before.png", "after.png"}
    html = Path(run["index"]).read_text()
    assert html.count("<img") >= 4 and "alpha_hist.png" in html and "final_state.png" in html
    for name in ("alpha_hist.png", "final_state.png", "final_state_attribute.png"):
        assert cv2.imread(str(paths.report / name)) is not None
    metrics = read_json(paths.root / "metrics.json")
    assert metrics["images"] == N + 3 and metrics["final_state_photos"] > 0 and isinstance(metrics["landed"], bool)
    verdict = read_json(paths.root / "final_state.json")
    results = read_parquet(paths.results).drop_duplicates("id")
    counted = results[results["status"] != "rejected"]
    assert verdict["final_gap_after_mean"] == pytest.approx(counted["final_gap"].mean())
    assert set(counted["final_state"]) <= {"landed", "short"}
    assert (counted["final_state"] == "landed").sum() == verdict["n_landed"]
    assert len(pd.read_csv(paths.root / "alphas.csv")) == N + 1


def test_rerun_skips_finished_shards(run: dict) -> None:
    ws: Workspace = run["ws"]
    assert run["projected"]["skipped"] == 0 and run["projected"]["shards"] == len(ws.ingest_shards())
    again = project_flow(ws.root, run["params"])
    assert again["skipped"] == again["shards"] == run["projected"]["shards"]


def test_rescale_projects_nothing_and_moves_alpha(run: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import edit_core.project
    import tasks.project

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("rescale must not project")

    monkeypatch.setattr(tasks.project, "project_images", forbidden)
    monkeypatch.setattr(edit_core.project, "project", forbidden)
    monkeypatch.setattr(tasks.project.project_shard, "fn", forbidden)
    ws: Workspace = run["ws"]
    paths = ws.edit("hue")
    before = read_parquet(paths.results).drop_duplicates("id").set_index("id")
    stamp = {p.name: p.stat().st_mtime_ns for p in ws.latents.glob("*.h5")}
    rescale_flow(ws.root, "hue", tiny_params("edit.strength=1.5"))
    after = read_parquet(paths.results).drop_duplicates("id").set_index("id")
    done = before["status"] != "rejected"
    state = torch.load(paths.direction, weights_only=True)
    expected = before.loc[done, "alpha"].to_numpy() + (1.5 - 1.0) * float(state["delta_star"].norm())
    np.testing.assert_allclose(after.loc[done, "alpha"].to_numpy(), expected, rtol=1e-4, atol=1e-5)
    assert {p.name: p.stat().st_mtime_ns for p in ws.latents.glob("*.h5")} == stamp


def test_streamed_results_equal_a_whole_catalog_pass(run: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """results.parquet made shard by shard (α, the guard, results in row groups) holds the values of one
    pass over every latent at once, and one row group is the bytes of a single `write_parquet`."""
    import tasks.alphas

    ws: Workspace = run["ws"]
    paths = ws.edit("hue")
    single = paths.results.read_bytes()  # the module's runs: one row group (39 manifest rows)
    write_parquet(paths.root / "whole.parquet", read_parquet(paths.results), pq.read_schema(paths.results))
    assert (paths.root / "whole.parquet").read_bytes() == single
    (paths.root / "whole.parquet").unlink()

    last = ws.latent_shard(ws.ingest_shards()[-1])  # a shard of badly projected photos: outliers of the
    stored = read_h5(last)  # catalog, though not of their own shard
    stored["err_pixel"] *= 10.0
    write_h5(last, stored, read_h5_attrs(last))
    p = tiny_params("guard.action=flag")
    monkeypatch.setattr(tasks.alphas, "RESULTS_ROWS", 8)  # several row groups
    rescale_flow(ws.root, "hue", p)
    assert pq.ParquetFile(paths.results).num_row_groups == 5
    results = read_parquet(paths.results)

    latents = load_latents(ws)  # the in-memory pass: every latent at once
    manifest = read_parquet(ws.manifest)
    current = np.isin(latents["ids"], manifest.loc[manifest["status"] == "accepted", "id"])
    latents = {k: v[current] for k, v in latents.items()}
    state = load_direction(ws, paths)
    err = latents["err_pixel"].astype(np.float64)
    reference = reference_latents(load_generator(ws.gan, "cpu"), latents["w"], p.guard)
    table = alpha_table(latents["w"], state, p.edit.strength, err, guard_limits(reference, err, state,
                                                                                  p.edit.strength, p.guard), p.guard)
    parts = pd.concat([read_parquet(f) for f in sorted(paths.parts.glob("*.parquet"))]).set_index("id")
    by_id = pd.DataFrame({"alpha": table["alpha"].astype(np.float64),
                          "distance_before": table["distance_before"].astype(np.float64), "err_pixel": err},
                         index=latents["ids"]).join(parts[["status", "reason", "t_render", "t_transfer", "distance_after",
                                                           "before_gap", "final_gap"]])
    expected = manifest[["id", "source_path"]].join(by_id, on="id")
    expected["final_state"] = results["final_state"]  # judged against the whole catalog's gap (its own test)
    rejected = (manifest["status"] == "rejected").to_numpy()
    expected.loc[rejected, "status"] = "rejected"
    expected.loc[rejected, "reason"] = manifest.loc[rejected, "reason"]
    dup = (manifest["status"] == "duplicate").to_numpy()
    expected.loc[dup, "reason"] = manifest["reason"][dup] + "; same output images/" + manifest["id"][dup] + ".png"
    pd.testing.assert_frame_equal(results, expected[results.columns].fillna({"reason": ""}), check_exact=True)
    flagged = results[results["reason"].str.contains("is an outlier")]
    assert set(flagged["id"]) == set(stored["ids"]) and len(flagged) < len(latents["ids"])
