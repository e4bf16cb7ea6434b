"""OneEdit Studio's API on a tiny workspace (ingested, trained and projected once for the module)."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from common.lock import workspace_lock
from common.storage import read_json, read_parquet
from common.workspace import Workspace
from oneedit.studio import CHANGES, TOKEN_HEADER, Studio, create_app
from tasks.example import read_brush
from tests.flows.test_pipeline import make_catalog
from tests.helpers import TINY
from tests.workspaces import Recipe, Workspaces

SETS = ["gan.steps=4", "gan.sample_every=2", "gan.ckpt_every=4", "encoder.steps=2", "encoder.sample_every=2",
        "encoder.ckpt_every=2", "edit.brush.starts=1", "edit.brush.steps=1", "edit.direction.steps=2"]


def write_catalog(root: Path) -> dict:
    """The flows' end-to-end catalog (tests/flows/test_pipeline.py) and its pair."""
    (root / "photos").mkdir(parents=True)
    return {"pair": make_catalog(root / "photos")}


@pytest.fixture(scope="module")
def built(workspaces: Workspaces, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A copy of the factory's projected workspace: the studio's tests write edits into it."""
    recipe = workspaces(Recipe("studio", write_catalog, tuple(SETS)), "projected")
    ws = Workspace.open(recipe.copy("projected", tmp_path_factory.mktemp("studio") / "ws"))
    return {"ws": ws, "pair": recipe.catalog["pair"], "root": recipe.root}


@pytest.fixture(scope="module")
def client(built: dict) -> Iterator[TestClient]:
    studio = Studio(built["ws"].root, TINY, SETS)
    with _page_client(studio) as c:
        c.studio = studio
        yield c
    studio.close()


def _page_client(studio: Studio, **headers: str) -> TestClient:
    """What the studio's own page sends: a loopback Host and the session token."""
    return TestClient(create_app(studio), base_url="http://127.0.0.1:8765",
                      headers={TOKEN_HEADER: studio.token, **headers})


def _example(client: TestClient) -> dict:
    return next(p for p in client.get("/api/photos?size=200").json()["photos"] if p["file"] == "car-000.png")


def _stroke(width: int, height: int, box: tuple[int, int, int, int]) -> str:
    """A canvas export: transparent, with an opaque painted rectangle."""
    rgba = np.zeros((height, width, 4), np.uint8)
    x0, y0, x1, y1 = box
    rgba[y0:y1, x0:x1] = 255
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _wait(client: TestClient, job: dict, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while job["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
        job = client.get(f"/api/jobs/{job['id']}").json()
    return job


def _error(response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert "\n" not in message and message
    return message


def _png(response) -> np.ndarray:
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)))


def test_page_and_state(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "OneEdit Studio" in page.text and "/static/studio.js" in page.text
    assert client.get("/static/studio.js").status_code == 200
    state = client.get("/api/state").json()
    assert state["ready"] and state["missing"] is None and state["photos"] == 38 and state["run"] is None


def test_catalog_pages_thumbnails_and_projections(client: TestClient) -> None:
    first = client.get("/api/photos?page=0&size=10").json()
    assert (first["total"], first["pages"], len(first["photos"])) == (38, 4, 10)
    last = client.get("/api/photos?page=3&size=10").json()
    assert len(last["photos"]) == 8
    files = [p["file"] for p in first["photos"] + last["photos"]]
    assert "car-000.png" in files and "broken.jpg" not in files
    assert all(p["err_pixel"] is not None for p in first["photos"])
    photo = first["photos"][0]
    assert _png(client.get(f"/api/photos/{photo['id']}/thumb.png")).shape == (16, 16, 3)
    assert _png(client.get(f"/api/photos/{photo['id']}/projection.png")).shape == (16, 16, 3)
    assert _png(client.get(f"/api/photos/{photo['id']}/photo.png?size=48")).shape[:2] == (48, 48)
    assert "no photo" in _error(client.get("/api/photos/nope/thumb.png"), 404)
    assert "page must be" in _error(client.get("/api/photos?page=-1"))


def test_sliders_render_live_from_the_generator(client: TestClient) -> None:
    example = _example(client)
    d = client.get("/api/directions").json()
    assert 1 <= d["count"] <= 5 and all(s > 0 for s in d["sigma"])
    still = _png(client.post("/api/render", json={"example": example["id"], "offsets": [0.0] * d["count"]}))
    np.testing.assert_array_equal(still, _png(client.get(f"/api/photos/{example['id']}/projection.png")))
    moved = _png(client.post("/api/render", json={"example": example["id"], "offsets": [3.0] + [0.0] * (d["count"] - 1)}))
    assert not np.array_equal(still, moved)
    assert "principal directions" in _error(client.post("/api/render", json={"example": example["id"],
                                                                             "offsets": [1.0] * 9}))
    assert "move at least one slider" in _error(client.post("/api/drafts/offset", json={"example": example["id"],
                                                                                        "offsets": [0.0]}))


def test_brush_strokes_become_the_cli_constraints(client: TestClient) -> None:
    example = _example(client)
    body = {"example": example["id"], "color": {"mask": _stroke(48, 48, (0, 0, 24, 48)), "rgb": [250, 20, 20]}}
    draft = client.post("/api/drafts/brush", json=body).json()["draft"]
    folder = client.studio.drafts[draft].folder
    spec = json.loads((folder / "strokes.json").read_text())
    assert spec["color"]["rgb"] == [250, 20, 20]
    mask = np.asarray(Image.open(folder / spec["color"]["mask"]))
    assert mask.shape[:2] == (96, 96) and mask[:, :40].min() == 255 and mask[:, 56:].max() == 0  # the photo's size
    constraints = read_brush(folder / "strokes.json", 16, torch.device("cpu"))
    assert constraints.color_mask[:, :7].all() and not constraints.color_mask[:, 9:].any()
    sketch = client.post("/api/drafts/brush", json={"example": example["id"],
                                                    "sketch": {"mask": _stroke(96, 96, (40, 10, 52, 80))}})
    assert sketch.status_code == 200, sketch.text


def test_bad_brush_inputs_are_one_line_errors(client: TestClient) -> None:
    example = _example(client)["id"]
    empty = _stroke(48, 48, (0, 0, 0, 0))
    cases = {
        "paint at least one": {"example": example},
        "colour strokes are empty": {"example": example, "color": {"mask": empty, "rgb": [1, 2, 3]}},
        "expected a data:image": {"example": example, "color": {"mask": "hello", "rgb": [1, 2, 3]}},
        "not a readable image": {"example": example, "color": {"mask": "data:image/png;base64,AAAA", "rgb": [1, 2, 3]}},
        "not a photo id of the catalog": {"example": "nope", "color": {"mask": _stroke(8, 8, (0, 0, 4, 4)), "rgb": [1, 2, 3]}},
    }
    for expected, body in cases.items():
        assert expected in _error(client.post("/api/drafts/brush", json=body)), expected
    assert client.post("/api/drafts/brush", json={"example": example, "color": {"mask": empty, "rgb": [1]}}).status_code == 422


def test_bad_after_uploads_are_one_line_errors(client: TestClient, built: dict) -> None:
    example = _example(client)["id"]
    url = f"/api/drafts/after?example={example}"
    buf = io.BytesIO()
    Image.new("RGB", (50, 40)).save(buf, format="PNG")
    assert "size 50x40 differs from the example's 96x96" in _error(
        client.post(url, content=buf.getvalue(), headers={"content-type": "image/png"}))
    assert "not a readable image" in _error(client.post(url, content=b"garbage", headers={"content-type": "image/png"}))
    assert "upload is empty" in _error(client.post(url, content=b"", headers={"content-type": "image/png"}))
    after = Path(built["pair"]["path"]).read_bytes()
    assert client.post(url, content=after, headers={"content-type": "image/png"}).status_code == 200


def test_preview_fits_once_and_the_strength_slider_only_rescales(client: TestClient, built: dict,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import tasks.preview

    example = _example(client)["id"]
    draft = client.post(f"/api/drafts/after?example={example}", content=Path(built["pair"]["path"]).read_bytes(),
                        headers={"content-type": "image/png"}).json()["draft"]
    first = _wait(client, client.post(f"/api/drafts/{draft}/preview", json={"strength": 1.0, "sample": 12}).json())
    assert first["state"] == "done", first
    r = first["result"]
    assert r["catalog"]["photos"] == 38 and len(r["sample"]) == 12
    for key, src in r["renders"].items():
        assert _png(client.get(src)).shape == (16, 16, 3), key
    sample = r["sample"][0]
    assert _png(client.get(sample["before"])).shape == _png(client.get(sample["after"])).shape
    assert any(not np.array_equal(_png(client.get(s["before"])), _png(client.get(s["after"]))) for s in r["sample"])

    def refit(*args: object, **kwargs: object) -> None:
        raise AssertionError("a new strength must not fit Δ* again")

    monkeypatch.setattr(tasks.preview, "fit_example_direction", refit)
    monkeypatch.setattr(tasks.preview, "make_example_edit", refit)
    second = _wait(client, client.post(f"/api/drafts/{draft}/preview", json={"strength": 2.0, "sample": 12}).json())
    assert second["state"] == "done", second
    by_file = {s["file"]: s["alpha"] for s in second["result"]["sample"]}
    shifts = [by_file[s["file"]] - s["alpha"] for s in r["sample"] if s["file"] in by_file]
    np.testing.assert_allclose(shifts, r["delta_norm"], rtol=1e-4)  # α(s') = α(s) + (s' − s)·‖Δ*‖
    assert "no draft" in _error(client.post("/api/drafts/nope/preview", json={}), 404)
    assert client.post(f"/api/drafts/{draft}/preview", json={"strength": -11}).status_code == 422


def test_apply_saves_an_ordinary_edit_and_every_tab_sees_the_run(client: TestClient, built: dict) -> None:
    ws: Workspace = built["ws"]
    example = _example(client)["id"]
    body = {"example": example, "color": {"mask": _stroke(96, 96, (0, 0, 48, 96)), "rgb": [20, 200, 20]}}
    draft = client.post("/api/drafts/brush", json=body).json()["draft"]
    assert "edit name" in _error(client.post("/api/apply", json={"draft": draft, "name": "../x"}))
    job = client.post("/api/apply", json={"draft": draft, "name": "green", "strength": 1.5}).json()
    assert client.get("/api/run").json()["run"]["id"] == job["id"]  # what a second tab sees
    done = _wait(client, job)
    assert done["state"] == "done", done
    report = done["result"]["report"]
    assert report.startswith("/reports/") and report.endswith("/green/index.html")
    assert any(line["description"].startswith("transfer") for line in done["progress"])

    paths = ws.edit("green")
    spec = read_json(paths.spec)
    assert spec["kind"] == "brush" and spec["example_id"] == example
    assert (paths.root / spec["input"]).is_file() and spec["input"].startswith("example/input/")  # the edit's copy
    results = read_parquet(paths.results)
    assert len(results) == len(read_parquet(ws.manifest))
    page = client.get(report, headers={TOKEN_HEADER: ""})  # the report's key is in its address
    assert page.status_code == 200 and "car-000.png" in page.text
    base = report.removesuffix("index.html")
    assert "no report file" in _error(client.get(f"{base}..%2F..%2Fspec.json"), 404)
    assert client.get(f"{base}../../spec.json").status_code == 404
    edits = {e["name"]: e for e in client.get("/api/state").json()["edits"]}
    assert edits["green"]["state"] == "reported" and edits["green"]["strength"] == pytest.approx(1.5, rel=1e-3)
    assert edits["green"]["report"] == report

    part = paths.parts / "zz-stopped.parquet"  # a rescale that stopped midway: results of two runs
    part.write_bytes(b"")
    try:
        assert "stopped midway" in _error(client.get(report))  # as `oneedit report` refuses it
        assert next(e for e in client.get("/api/state").json()["edits"] if e["name"] == "green")["report"] is None
    finally:
        part.unlink()
    assert edits["green"]["stale"] == []


def test_apply_respects_the_workspace_lock(client: TestClient, built: dict) -> None:
    example = _example(client)["id"]
    draft = client.post("/api/drafts/offset", json={"example": example, "offsets": [1.0]}).json()["draft"]
    with workspace_lock(built["ws"].root):
        job = _wait(client, client.post("/api/apply", json={"draft": draft, "name": "locked"}).json())
    assert job["state"] == "failed" and "is in use by pid" in job["error"]
    assert not built["ws"].edit("locked").root.exists()


def test_a_workspace_without_models_says_what_to_run(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "ws")
    studio = Studio(ws.root)
    with _page_client(studio) as c:
        state = c.get("/api/state").json()
        assert not state["ready"] and "run `oneedit ingest" in state["missing"]
        assert "manifest.parquet is missing" in _error(c.get("/api/photos"))
    studio.close()


def test_cli_preview_and_list_on_the_same_workspace(client: TestClient, built: dict,
                                                    capsys: pytest.CaptureFixture) -> None:
    """The CLI twins of the studio's preview and saved-edit list (`edit --preview N`, `list`)."""
    from oneedit.cli import main

    ws: Workspace = built["ws"]
    w = ["--workspace", str(ws.root), "--params", str(TINY), *(x for s in SETS for x in ("--set", s))]
    example = _example(client)["id"]
    assert main(["edit", *w, "--name", "peek", "--example", example, "--after", built["pair"]["path"],
                 "--preview", "3"]) == 0
    folder = ws.edit("peek").root / "preview"
    summary = read_json(folder / "preview.json")
    assert len(summary["sample"]) == 3 and summary["photos"] == 38
    for row in summary["sample"]:
        before = np.asarray(Image.open(folder / row["before"]))
        assert before.shape == np.asarray(Image.open(built["root"] / "photos" / row["file"])).shape  # full size
    assert sorted(p.name for p in ws.edit("peek").root.iterdir()) == ["preview"]  # no spec, direction, results
    assert "of 38 photos, applying it would leave" in capsys.readouterr().out

    assert main(["list", "--workspace", str(ws.root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert not any(line.startswith("peek") for line in lines)
    green = next(line for line in lines if line.startswith("green"))
    assert "brush" in green and "strength 1.5" in green and "reported" in green and "up to date" in green


def _outside_photo(built: dict) -> Path:
    """A photo that is not in the catalog (another render of the demo catalog), outside the photo folder."""
    from tasks import catalog as demo_catalog
    from tasks.images import write_png

    path = built["root"] / "outside" / "my car.png"
    if not path.exists():
        attrs = demo_catalog.sample_attributes(1, seed=99)
        write_png(path, demo_catalog.render(attrs, 96)[0])
    return path


def _upload(client: TestClient, data: bytes, name: str, kind: str = "image/png") -> dict:
    return client.post(f"/api/uploads?name={name}", content=data, headers={"content-type": kind})


def test_an_uploaded_photo_is_projected_as_the_catalog_is(client: TestClient, built: dict) -> None:
    """Uploading a catalog photo's own bytes gives the projection `oneedit project` stored for it."""
    ws: Workspace = built["ws"]
    from tasks.latents import load_latents

    source = built["root"] / "photos" / "car-005.png"
    job = _wait(client, _upload(client, source.read_bytes(), "car-005.png").json())
    assert job["state"] == "done", job
    upload = job["result"]
    assert (upload["file"], upload["width"], upload["height"]) == ("car-005.png", 96, 96)
    catalog_id = next(p["id"] for p in client.get("/api/photos?size=200").json()["photos"] if p["file"] == "car-005.png")
    latents = load_latents(ws)
    i = int(np.flatnonzero(latents["ids"] == catalog_id)[0])
    assert upload["err_pixel"] == pytest.approx(float(latents["err_pixel"][i]), rel=1e-3)
    np.testing.assert_allclose(client.studio.uploads[upload["id"]].w, latents["w"][i], atol=1e-4)
    thumb = _png(client.get(f"{upload['base']}/thumb.png"))
    np.testing.assert_array_equal(thumb, _png(client.get(f"/api/photos/{catalog_id}/thumb.png")))
    assert _png(client.get(f"{upload['base']}/projection.png")).shape == (16, 16, 3)
    assert _png(client.get(f"{upload['base']}/photo.png?size=48")).shape[:2] == (48, 48)


def test_bad_example_uploads_are_one_line_errors_in_the_page_words(client: TestClient, built: dict,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from oneedit.studio import security

    small = io.BytesIO()
    Image.new("RGB", (4, 4)).save(small, format="PNG")
    photo = _outside_photo(built).read_bytes()
    cases = {
        "the example x.png: the upload is empty": (b"", "x.png", "image/png"),
        "the example notes.txt: not an image (content type text/plain)": (b"hello", "notes.txt", "text/plain"),
        "the example x.png: not a readable image (not a recognised image)": (b"garbage", "x.png", "image/png"),
        "the example tiny.png: too small: 4x4": (small.getvalue(), "tiny.png", "image/png"),
    }
    for expected, (data, name, kind) in cases.items():
        message = _error(_upload(client, data, name, kind))
        assert message.startswith(expected), (expected, message)
        assert str(client.studio.drafts_root) not in message  # the user's file name, not the studio's copy
    monkeypatch.setattr(security, "MAX_UPLOAD", len(photo) - 1)
    assert "the example my car.png: the upload is larger than" in _error(_upload(client, photo, "my car.png"))
    assert "no uploaded photo" in _error(client.get("/api/uploads/upload-nope/thumb.png"), 404)


def test_an_uploaded_example_edits_the_catalog_as_the_cli_example_path_does(client: TestClient, built: dict) -> None:
    """An upload is the CLI's `--example PATH`: sliders, brush, preview and Apply work on it, and Apply
    writes the same files as `oneedit edit --example PATH` (the photo itself kept in the edit's folder)."""
    from oneedit.cli import main

    ws: Workspace = built["ws"]
    photo = _outside_photo(built)
    original = photo.read_bytes()
    upload = _wait(client, _upload(client, original, photo.name).json())["result"]
    assert upload["err_pixel"] is not None and upload["file"] == "my car.png"
    d = client.get("/api/directions").json()
    still = _png(client.post("/api/render", json={"example": upload["id"], "offsets": [0.0] * d["count"]}))
    np.testing.assert_array_equal(still, _png(client.get(f"{upload['base']}/projection.png")))

    body = {"example": upload["id"], "color": {"mask": _stroke(96, 96, (0, 0, 48, 96)), "rgb": [200, 30, 200]}}
    draft = client.post("/api/drafts/brush", json=body).json()["draft"]
    shown = _wait(client, client.post(f"/api/drafts/{draft}/preview", json={"strength": 1.0, "sample": 4}).json())
    assert shown["state"] == "done" and len(shown["result"]["sample"]) == 4, shown
    np.testing.assert_array_equal(_png(client.get(shown["result"]["renders"]["render_before"])), still)  # G(w0)
    done = _wait(client, client.post("/api/apply", json={"draft": draft, "name": "outside", "strength": 1.0}).json())
    assert done["state"] == "done", done

    paths = ws.edit("outside")
    spec = read_json(paths.spec)
    assert spec["example_id"] is None and spec["example"] == "my car.png"
    assert (paths.root / spec["example_input"]).read_bytes() == original  # the edit's own copy of the photo
    assert len(read_parquet(paths.results)) == len(read_parquet(ws.manifest))
    assert "my car.png" in client.get(done["result"]["report"]).text
    from tasks.example import check_example_form
    from tasks.retrain import saved_edits

    form = saved_edits.fn(ws)["outside"]["form"]  # what retrain re-fits it from: the edit's own copies
    assert Path(form["example"]) == paths.root / spec["example_input"] and form["source_example"] == "my car.png"
    client.studio.uploads[upload["id"]].path.unlink()  # the studio's copy gone (the studio closed)
    check_example_form(ws, form)

    w = ["--workspace", str(ws.root), "--params", str(TINY), *(x for s in SETS for x in ("--set", s))]
    assert main(["edit", *w, "--name", "outside-cli", "--example", str(photo), "--constraints",
                 str(paths.root / spec["input"])]) == 0
    assert main(["report", *w, "--name", "outside-cli"]) == 0  # Apply = `oneedit edit`, then `oneedit report`
    cli = ws.edit("outside-cli")
    cli_spec = read_json(cli.spec)
    for key in ("kind", "example_id", "example_key", "example_input", "input", "input_sha256", "params", "gan_sha256"):
        assert cli_spec[key] == spec[key], key

    def files(root: Path) -> list[str]:
        return sorted(str(f.relative_to(root)) for f in root.rglob("*") if f.is_file())

    assert files(cli.root) == files(paths.root)
    assert photo.read_bytes() == original  # the user's photo is never modified


@pytest.fixture
def ws_copy(built: dict, tmp_path: Path) -> Workspace:
    """A copy of the tiny workspace (file times kept) for tests that change or break it."""
    import shutil

    return Workspace.open(shutil.copytree(built["ws"].root, tmp_path / "ws", symlinks=True))


def _cli(ws: Workspace, *args: str) -> list[str]:
    return [*args, "--workspace", str(ws.root), "--params", str(TINY), *(x for s in SETS for x in ("--set", s))]


def test_cli_edit_only_edits_the_photos_named(ws_copy: Workspace, built: dict, capsys: pytest.CaptureFixture) -> None:
    """`edit --only IDS` (ids, file names, @FILE): those photos alone, into preview/, as --preview does."""
    from oneedit.cli import main

    ws = ws_copy
    manifest = read_parquet(ws.manifest)
    ids = dict(zip(manifest["source_path"], manifest["id"], strict=True))
    edit = _cli(ws, "edit", "--name", "some", "--example", ids["car-000.png"], "--after", built["pair"]["path"])
    assert main([*edit, "--only", f"car-007.png, {ids['car-003.png']},wide.png"]) == 0
    folder = ws.edit("some").root / "preview"
    summary = read_json(folder / "preview.json")
    assert [r["file"] for r in summary["sample"]] == ["car-007.png", "car-003.png", "wide.png"]
    wide = np.asarray(Image.open(folder / summary["sample"][2]["before"]))
    assert wide.shape[:2] == (96, 144)  # the original, full size
    assert sorted(p.name for p in ws.edit("some").root.iterdir()) == ["preview"]  # no spec, direction, results
    capsys.readouterr()

    names = built["root"] / "only.txt"
    names.write_text("car-011.png\n\n  car-012.png\n", encoding="utf-8")
    assert main([*edit, "--only", f"@{names}"]) == 0
    assert [r["file"] for r in read_json(folder / "preview.json")["sample"]] == ["car-011.png", "car-012.png"]
    capsys.readouterr()

    for only, expected in {"car-001.png,nope.png": "error: --only: 1 unknown photo(s): 'nope.png' (not in the catalog)",
                           "broken.jpg": "(rejected at ingest:", f"@{built['root'] / 'none.txt'}": "not a readable",
                           " , ": "no photo ids or file names given"}.items():
        assert main([*edit, "--name", "none", "--only", only]) == 2, only
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expected in err[0], (only, err)
    assert main([*edit, "--only", "car-001.png", "--preview", "2"]) == 2
    assert "not both" in capsys.readouterr().err
    assert not ws.edit("none").root.exists()


def _status(ws: Workspace, capsys: pytest.CaptureFixture, *sets: str) -> str:
    from oneedit.cli import main

    assert main([*_cli(ws, "status"), *sets]) == 0
    return capsys.readouterr().out


def test_cli_status_shows_what_is_stale(ws_copy: Workspace, built: dict, capsys: pytest.CaptureFixture) -> None:
    """`oneedit status`: models, projection and edits, up to date, then stale for each reason."""
    import os

    from oneedit.cli import main

    ws = ws_copy
    manifest = read_parquet(ws.manifest)
    example = manifest.loc[manifest["source_path"] == "car-000.png", "id"].iloc[0]
    assert main(_cli(ws, "edit", "--name", "hue", "--example", example, "--after", built["pair"]["path"])) == 0
    assert main(_cli(ws, "direction", "--name", "half", "--example", example, "--after", built["pair"]["path"])) == 0
    capsys.readouterr()
    gan_key = read_json(ws.models / "gan.json")["fingerprint"][:12]

    out = _status(ws, capsys)
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "4 steps" in lines["gan"] and gan_key in lines["gan"] and lines["gan"].endswith("up to date")
    assert "2 steps" in lines["encoder"] and lines["encoder"].endswith("up to date")
    assert "38 of 38 ingested photos projected (3 shards)  up to date" in lines["projection:"]
    results = read_parquet(ws.edit("hue").results)
    counts = results["status"].value_counts()
    assert "applied" in lines["hue"] and f"{counts['edited']} edited" in lines["hue"] and lines["hue"].endswith("up to date")
    assert "fitted" in lines["half"] and "no results" in lines["half"]
    assert main(["list", "--workspace", str(ws.root)]) == 0  # list: the same rows
    edit_lines = out.split("\nedits:\n", 1)[1].splitlines()
    assert [line.strip() for line in capsys.readouterr().out.splitlines()] == [line.strip() for line in edit_lines]

    stale = _status(ws, capsys, "--set", "encoder.steps=3")  # other params: what `train` would redo
    assert "params encoder changed" in next(line for line in stale.splitlines() if line.strip().startswith("encoder"))

    part = next(ws.edit("hue").parts.glob("*.parquet"))  # a rescale stopped after one shard
    later = ws.edit("hue").results.stat().st_mtime_ns + 10**9
    os.utime(part, ns=(later, later))
    shard = ws.latent_shard(ws.ingest_shards()[0])  # one shard projected again
    os.utime(shard, ns=(later, later))
    hue = next(line for line in _status(ws, capsys).splitlines() if line.strip().startswith("hue"))
    assert "partial" in hue and "stopped midway" in hue and "projected again since" in hue
    assert main(_cli(ws, "report", "--name", "hue")) == 2  # was: exit 0, new images captioned with the old α
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "its last run stopped midway: run `oneedit rescale" in err[0], err

    with open(ws.gan, "ab") as fh:  # another generator
        fh.write(b"\0")
    out = _status(ws, capsys)
    assert "not the checkpoint training recorded" in out and "trained for another generator" in out
    assert "3 of 3 shards projected with other models or params" in out
    assert "direction: the generator changed since" in out
    shard.unlink()
    assert "1 of 3 shards not projected yet" in _status(ws, capsys)


# --- issue 27: review, re-runs, versions, honest runs, cancel, download, sliders, page words ----------------


def _apply(client: TestClient, name: str, strength: float = 1.0, replace: bool = False, rgb: tuple = (20, 60, 220),
           preview: bool = False) -> dict:
    """A brush edit of car-000 applied through the page's API; the finished job."""
    body = {"example": _example(client)["id"], "color": {"mask": _stroke(96, 96, (0, 0, 48, 96)), "rgb": list(rgb)}}
    draft = client.post("/api/drafts/brush", json=body).json()["draft"]
    if preview:
        assert _wait(client, client.post(f"/api/drafts/{draft}/preview", json={"strength": strength}).json())[
            "state"] == "done"
    return _wait(client, client.post("/api/apply", json={"draft": draft, "name": name, "strength": strength,
                                                         "replace": replace}).json())


@pytest.fixture(scope="module")
def reviewed(client: TestClient) -> str:
    """An edit applied once for the review tests."""
    done = _apply(client, "rev")
    assert done["state"] == "done", done
    return "rev"


def _files(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes (what "as it was" compares)."""
    return {str(f.relative_to(root)): f.read_bytes() for f in sorted(root.rglob("*")) if f.is_file()}


def test_the_review_grid_shows_each_photo_status_reason_and_final_state(client: TestClient, built: dict,
                                                                         reviewed: str) -> None:
    """Every photo of an applied edit with its status, reason, final state and measured gap, filterable; the
    run's end states its counts (was: no review route, 404)."""
    results = read_parquet(built["ws"].edit(reviewed).results)
    page = client.get(f"/api/edits/{reviewed}/results?size=500").json()
    assert page["total"] == len(results) == 39 and page["counts"]["all"] == 39  # broken.jpg: rejected at ingest
    by_file = {p["file"]: p for p in page["photos"]}
    for row in results.itertuples():
        shown = by_file[row.source_path]
        assert (shown["status"], shown["reason"], shown["final_state"]) == (row.status, row.reason, row.final_state)
        assert shown["final_gap"] == pytest.approx(row.final_gap) if np.isfinite(row.final_gap) else \
            shown["final_gap"] is None
    counts = page["counts"]
    assert counts["landed"] + counts["short"] == int(results["final_state"].isin(["landed", "short"]).sum())
    for show in ("landed", "short", "edited", "skipped", "flagged"):
        shown = client.get(f"/api/edits/{reviewed}/results?show={show}&size=500").json()
        assert shown["total"] == counts[show] and len(shown["photos"]) == counts[show], show
    assert page["outcome"]["edited"] == int(results["status"].isin(["edited", "flagged", "clamped"]).sum())
    assert "show 'nope': choose one of all" in _error(client.get(f"/api/edits/{reviewed}/results?show=nope"))
    assert "has no results yet" in _error(client.get("/api/edits/none-such/results"))

    edited = next(p for p in page["photos"] if p["image"])  # the compare view: both sides at full resolution
    before = _png(client.get(f"/api/photos/{edited['id']}/photo.png?size=0"))
    after = _png(client.get(f"/api/edits/{reviewed}/output/{edited['id']}.png"))
    assert before.shape == after.shape == np.asarray(Image.open(built["root"] / "photos" / edited["file"])).shape
    assert not by_file["broken.jpg"]["original"] and by_file["broken.jpg"]["reason"]
    wide = next(p for p in page["photos"] if p["file"] == "wide.png")
    assert _png(client.get(f"/api/photos/{wide['id']}/photo.png?size=0")).shape[:2] == (96, 144)
    assert "no photo" in _error(client.get(f"/api/edits/{reviewed}/output/nope.png"), 404)
    for unedited in (p for p in page["photos"] if not p["image"] and p["status"] != "rejected"):
        assert "no edited image" in _error(client.get(f"/api/edits/{reviewed}/output/{unedited['id']}.png"), 404)


def test_accept_and_reject_per_photo_and_in_bulk(client: TestClient, built: dict, reviewed: str) -> None:
    """The page's decisions are tasks/review.py's (review.json), per photo and many at once (was: 404)."""
    from tasks.review import decisions

    photos = client.get(f"/api/edits/{reviewed}/results?show=edited&size=500").json()["photos"]
    ids = [p["id"] for p in photos]
    counts = client.post(f"/api/edits/{reviewed}/review", json={"accept": ids[:5], "reject": ids[5:7]}).json()
    assert (counts["accepted"], counts["rejected"]) == (5, 2)
    assert decisions(built["ws"], reviewed) == {**dict.fromkeys(ids[:5], "accepted"), **dict.fromkeys(ids[5:7], "rejected")}
    page = client.get(f"/api/edits/{reviewed}/results?show=rejected-by-review").json()
    assert sorted(p["id"] for p in page["photos"]) == sorted(ids[5:7]) and page["photos"][0]["decision"] == "rejected"
    assert client.get(f"/api/edits/{reviewed}/results?show=accepted").json()["total"] == 5
    client.post(f"/api/edits/{reviewed}/review", json={"clear": ids[:5]})
    assert set(decisions(built["ws"], reviewed)) == set(ids[5:7])
    skipped = [p["id"] for p in client.get(f"/api/edits/{reviewed}/results?show=rejected").json()["photos"]]
    if skipped:  # a photo without an edited image cannot be judged: one line, nothing recorded
        assert "have no edited image to review" in _error(client.post(f"/api/edits/{reviewed}/review",
                                                                      json={"accept": skipped[:1]}))
    assert "is given two decisions" in _error(client.post(
        f"/api/edits/{reviewed}/review", json={"accept": ids[:1], "reject": ids[:1]}))
    with workspace_lock(built["ws"].root):
        assert "is in use by pid" in _error(client.post(f"/api/edits/{reviewed}/review", json={"accept": ids[:1]}), 409)


def test_rerun_only_the_rejected_photos_keeps_the_rest(client: TestClient, built: dict, reviewed: str) -> None:
    """Re-run only the rejected ones at another strength with more refinement, as a studio run (flows/rerun.py);
    every other photo's row and image stay (was: 404)."""
    from tasks.versions import version_numbers

    ws: Workspace = built["ws"]
    paths = ws.edit(reviewed)
    photos = client.get(f"/api/edits/{reviewed}/results?show=edited&size=500").json()["photos"]
    rejected = [p["id"] for p in photos[:2]]
    client.post(f"/api/edits/{reviewed}/review", json={"clear": [p["id"] for p in photos]})
    client.post(f"/api/edits/{reviewed}/review", json={"reject": rejected, "accept": [photos[3]["id"]]})
    before = read_parquet(paths.results)
    kept_images = {i: (paths.images / f"{i}.png").read_bytes() for i in before["id"] if i not in rejected
                   and (paths.images / f"{i}.png").exists()}
    versions = version_numbers(ws, reviewed)
    assert "refine.steps: Input should be greater than or equal to 0" in _error(client.post(
        f"/api/edits/{reviewed}/rerun", json={"only": "rejected", "refine_steps": -1}))
    job = client.post(f"/api/edits/{reviewed}/rerun", json={"only": "rejected", "strength": 1.5, "refine_steps": 3}).json()
    assert client.get("/api/run").json()["run"]["id"] == job["id"]
    done = _wait(client, job)
    assert done["state"] == "done", done
    assert done["result"]["report"].endswith(f"/{reviewed}/index.html")
    after = read_parquet(paths.results)
    rerun = after["id"].isin(rejected)
    assert set(after.loc[rerun, "strength"]) == {1.5} and set(after.loc[~rerun, "strength"]) == {1.0}
    other = ["alpha", "status", "reason", "final_gap"]
    assert after.loc[~rerun, other].equals(before.loc[~before["id"].isin(rejected), other])
    assert all((paths.images / f"{i}.png").read_bytes() == data for i, data in kept_images.items())
    assert len(version_numbers(ws, reviewed)) == len(versions) + 1  # the edit before the re-run is kept
    from tasks.review import decisions

    assert decisions(ws, reviewed) == {photos[3]["id"]: "accepted"}  # the re-run photos' decisions go
    assert "no photo of edit 'rev' is rejected" in _error(client.post(f"/api/edits/{reviewed}/rerun",
                                                                      json={"only": "rejected"}))
    assert "tick the photos" in _error(client.post(f"/api/edits/{reviewed}/rerun", json={"only": "ids"}))


def test_versions_listed_restored_and_deleted_from_the_page(client: TestClient, built: dict) -> None:
    """Apply under a taken name keeps the replaced edit as a version; the page lists, restores and deletes them
    (was: no versions routes)."""
    ws: Workspace = built["ws"]
    assert _apply(client, "kept", rgb=(200, 20, 20))["state"] == "done"
    first = read_json(ws.edit("kept").spec)
    assert "confirm replacing it" in _error(client.post("/api/apply", json={
        "draft": client.post("/api/drafts/offset", json={"example": _example(client)["id"], "offsets": [1.0]}).json()[
            "draft"], "name": "kept"}))
    assert _apply(client, "kept", rgb=(20, 200, 20), replace=True)["state"] == "done"
    listed = client.get("/api/edits/kept/versions").json()["versions"]
    assert [v["version"] for v in listed] == [1, "current"] and listed[0]["reason"] == "replaced by another edit"
    assert client.post("/api/edits/kept/restore", json={"version": 1}).json() == {"name": "kept", "restored": 1, "kept": 2}
    assert read_json(ws.edit("kept").spec)["input_sha256"] == first["input_sha256"]
    assert client.post("/api/edits/kept/delete", json={"version": 2}).json()["deleted"] == 2
    assert client.post("/api/edits/kept/delete", json={}).json()["kept"] == 1  # kept, restorable (version 1 is it)
    state = client.get("/api/state").json()
    assert "kept" not in [e["name"] for e in state["edits"]] and state["deleted"]["kept"] == 1
    client.post("/api/edits/kept/restore", json={"version": 1})
    assert "kept" in [e["name"] for e in client.get("/api/state").json()["edits"]]
    assert "has no version 9" in _error(client.post("/api/edits/kept/restore", json={"version": 9}))
    assert "edit name" in _error(client.get("/api/edits/-x/versions"))


def test_an_apply_that_would_edit_nothing_is_refused_and_a_run_that_edits_nothing_fails(built: dict) -> None:
    """Honest runs: the preview says nothing would be edited -> Apply refused with the reason; a run that edits
    nothing is a failure with its counts, never "done" (was: done, a full bar, 0 photos edited)."""
    studio = Studio(built["ws"].root, TINY, [*SETS, "guard.quantile=0.499", "guard.margin=0"])  # a span of nothing
    try:
        with _page_client(studio) as c:
            draft = c.post("/api/drafts/offset", json={"example": _example(c)["id"], "offsets": [2.0]}).json()["draft"]
            shown = _wait(c, c.post(f"/api/drafts/{draft}/preview", json={"strength": 1.0, "sample": 4}).json())
            catalog = shown["result"]["catalog"]
            assert catalog["would_edit"] == 0 and catalog["status"].get("skipped", 0) > 0, catalog
            assert all(s["after"] is None and s["reason"] for s in shown["result"]["sample"])
            message = _error(c.post("/api/apply", json={"draft": draft, "name": "nothing"}))
            assert message.startswith("nothing would be edited at strength 1") and "outside" in message, message
            assert not built["ws"].edit("nothing").root.exists()
            fresh = c.post("/api/drafts/offset", json={"example": _example(c)["id"], "offsets": [2.0]}).json()["draft"]
            run = _wait(c, c.post("/api/apply", json={"draft": fresh, "name": "nothing"}).json())
            assert run["state"] == "failed" and run["error"].startswith("edit 'nothing' edited no photo ("), run
            assert run["result"]["edited"] == 0 and run["result"]["status"]["skipped"] > 0
            assert run["result"]["report"]  # the report says why
    finally:
        studio.close()
        import shutil

        shutil.rmtree(built["ws"].edit("nothing").root, ignore_errors=True)


def test_cancel_a_preview_and_an_apply_leaves_the_workspace_as_before(client: TestClient, built: dict,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Cancel stops a preview (the draft as it was) and an Apply midway: a replaced edit is put back byte for
    byte, with no new version; a new one leaves no folder (was: no cancel)."""
    import tasks.preview
    import tasks.transfer
    from tasks.versions import version_numbers

    ws: Workspace = built["ws"]
    studio = client.studio
    draft = client.post("/api/drafts/offset", json={"example": _example(client)["id"], "offsets": [1.5]}).json()["draft"]
    fit = tasks.preview.fit_preview

    def slow_fit(*args: object, **kwargs: object) -> object:
        job = next(j for j in studio.jobs.values() if j.live and j.kind == "preview")
        client.post(f"/api/jobs/{job.id}/cancel")
        return fit(*args, **kwargs)

    monkeypatch.setattr(tasks.preview, "fit_preview", slow_fit)
    job = _wait(client, client.post(f"/api/drafts/{draft}/preview", json={}).json())
    assert job["state"] == "cancelled" and job["error"] == "cancelled", job
    assert studio.drafts[draft].preview is None and studio.drafts[draft].sample == []
    monkeypatch.setattr(tasks.preview, "fit_preview", fit)

    assert _apply(client, "undo")["state"] == "done"
    before, versions = _files(ws.edit("undo").root), version_numbers(ws, "undo")
    edit = tasks.transfer.edit_original

    def cancel_midway(*args: object, **kwargs: object) -> object:
        studio.run.cancel.set()  # as the page's Cancel, while the catalog's photos are being edited
        return edit(*args, **kwargs)

    monkeypatch.setattr(tasks.transfer, "edit_original", cancel_midway)
    for name, replace in (("undo", True), ("brand-new", False)):
        run = _apply(client, name, strength=2.0, rgb=(250, 250, 20), replace=replace)
        assert run["state"] == "cancelled" and "as it was before" in run["error"], run
    assert _files(ws.edit("undo").root) == before and version_numbers(ws, "undo") == versions
    assert not ws.edit("brand-new").root.exists() and not (ws.root / "edits" / ".versions" / "brand-new").exists()
    assert [p.name for p in (ws.root / "edits").iterdir() if p.name.startswith(".") and p.name != ".versions"] == []
    assert "no job" in _error(client.post("/api/jobs/nope/cancel"), 404)


def test_download_a_zip_of_the_exported_photos(client: TestClient, built: dict, reviewed: str) -> None:
    """The edit's photos under their own names and formats, as `oneedit export` writes them, one zip made whole
    and streamed, with the token (was: no download)."""
    import zipfile

    ws: Workspace = built["ws"]
    results = read_parquet(ws.edit(reviewed).results)
    url = f"/api/edits/{reviewed}/export.zip"
    assert "studio token" in _error(client.get(url, headers={TOKEN_HEADER: ""}), 403)
    left = _left(client)
    got = client.get(f"{url}?token={client.studio.token}", headers={TOKEN_HEADER: ""})
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    assert f'filename="{reviewed}.zip"' in got.headers["content-disposition"]
    names = zipfile.ZipFile(io.BytesIO(got.content)).namelist()
    assert sorted(names) == sorted(results.loc[results["status"].isin(["edited", "flagged", "clamped"]), "source_path"])
    assert _left(client) == left  # the zip is removed once sent
    client.post(f"/api/edits/{reviewed}/review", json={"clear": list(results["id"][results["status"] == "edited"])})
    assert "nothing to export" in _error(client.get(f"{url}?only=accepted"))
    assert "choose one of edited, landed, accepted" in _error(client.get(f"{url}?only=nope"))


def test_full_strength_range_named_sliders_and_errors_in_the_page_words(client: TestClient, built: dict) -> None:
    """The strength range is the params' (so the opposite edit is there); each slider is named after what it
    changes, with its two ends rendered; errors carry no CLI flag nor the studio's temp folder."""
    from common.params import EditParams

    state = client.get("/api/state").json()
    field = EditParams.model_fields["strength"]
    assert state["strength_range"] == [next(m.ge for m in field.metadata if hasattr(m, "ge")),
                                       next(m.le for m in field.metadata if hasattr(m, "le"))] == [-10, 10]
    js = (Path(__file__).parents[2] / "oneedit" / "static" / "studio.js").read_text()
    html = (Path(__file__).parents[2] / "oneedit" / "static" / "studio.html").read_text()
    assert "s.strength_range" in js and 'min="0.1"' not in html  # the page takes the range from the API
    d = client.get("/api/directions").json()
    words = {"darker", "brighter", "cooler", "warmer", "greener", "redder", "greyer", "more colourful", "flatter",
             "more contrast", "shape −", "shape +"}
    assert len(d["labels"]) == d["count"] and all({x["minus"], x["plus"]} <= words for x in d["labels"]), d["labels"]
    assert all(x["minus"] != x["plus"] for x in d["labels"])
    assert _png(client.get(d["labels"][0]["plus_image"])).shape == (16, 16, 3)
    from oneedit.studio import describe_change

    grey = np.full((8, 8, 3), 100, np.uint8)
    assert describe_change(grey, grey + 60) == ("brightness", "darker", "brighter")
    assert describe_change(grey + 60, grey) == ("brightness", "brighter", "darker")
    blue, orange = np.zeros_like(grey), np.zeros_like(grey)
    blue[...] = (60, 90, 200)
    orange[...] = (200, 120, 60)
    assert describe_change(blue, orange)[0] in ("warmth", "tint")

    example = _example(client)["id"]
    small = io.BytesIO()
    Image.new("RGB", (50, 40)).save(small, format="PNG")
    message = _error(client.post(f"/api/drafts/after?example={example}", content=small.getvalue(),
                                 headers={"content-type": "image/png"}))
    assert message.startswith("the edited photo: size 50x40 differs") and "--" not in message, message
    assert str(client.studio.drafts_root) not in message and "/tmp" not in message
    shown = _error(_upload(client, b"", "x.png"))
    assert shown.startswith("the example x.png: the upload is empty"), shown
    assert client.studio.page_words("--set: edit.refine.steps: bad; run `oneedit rescale --name x --only short`") == \
        "edit.refine.steps: bad; run `oneedit rescale --name x --only short`"


# --- the security model (issue 28; docs/RELIABILITY.md) -------------------------------------------


def _left(client: TestClient) -> list[str]:
    """Every file and folder of the studio's drafts and uploads."""
    return sorted(str(p.relative_to(client.studio.drafts_root)) for p in client.studio.drafts_root.rglob("*"))


def test_only_the_page_of_this_machine_is_served(client: TestClient, built: dict) -> None:
    """A DNS-rebound page (foreign Host), another origin, or no token: refused before any route runs."""
    studio = client.studio
    page = client.get("/")
    assert page.status_code == 200 and f'content="{studio.token}"' in page.text  # the token: in the page only
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    for host in ("localhost:8765", "[::1]:8765", "127.0.0.1"):
        assert client.get("/api/state", headers={"host": host}).status_code == 200, host
    example = _example(client)["id"]
    thumb = f"/api/photos/{example}/thumb.png"
    before = _left(client)
    for host in ("evil.example:8765", "evil.example", "127.0.0.1.evil.example:8765"):
        for path in ("/", "/api/state", thumb):
            assert "is not served" in _error(client.get(path, headers={"host": host}), 403), (host, path)
    assert "origin 'http://evil.example' may not" in _error(client.post(
        "/api/drafts/offset", json={"example": example, "offsets": [1.0]}, headers={"origin": "http://evil.example"}),
        403)
    assert client.get("/api/state", headers={"origin": "http://127.0.0.1:8765"}).status_code == 200
    for headers in ({TOKEN_HEADER: ""}, {TOKEN_HEADER: "guess"}):
        for path in ("/api/state", "/api/photos", thumb, f"/api/photos/{example}/photo.png", "/api/run",
                     "/api/jobs/x", "/api/nope"):
            assert "studio token" in _error(client.get(path, headers=headers), 403), path
        assert "studio token" in _error(client.post("/api/uploads?name=x.png", content=b"x", headers={
            **headers, "content-type": "image/png"}), 403)
    assert _png(client.get(f"{thumb}?token={studio.token}", headers={TOKEN_HEADER: ""})).shape == (16, 16, 3)
    assert "studio token" in _error(client.post(f"/api/drafts/offset?token={studio.token}", headers={TOKEN_HEADER: ""},
                                                json={"example": example, "offsets": [1.0]}), 403)  # GETs only
    assert client.get("/static/studio.js", headers={TOKEN_HEADER: ""}).status_code == 200  # the page's own code
    assert "no report file" in _error(client.get("/reports/0123456789abcdef0123456789abcdef/green/index.html"), 404)
    assert _left(client) == before


def test_a_studio_beyond_this_machine_needs_its_token(built: dict, capsys: pytest.CaptureFixture) -> None:
    from oneedit.cli import main

    w = ["studio", "--workspace", str(built["ws"].root), "--port", "1"]
    assert main([*w, "--host", "0.0.0.0"]) == 2
    assert "pass --token SECRET" in capsys.readouterr().err
    assert main([*w, "--host", "0.0.0.0", "--token", "short"]) == 2
    assert "at least 16 characters" in capsys.readouterr().err
    studio = Studio(built["ws"].root, TINY, SETS, token="a-secret-of-the-user-0123")
    app = create_app(studio, "192.168.7.7", 8765)
    try:
        with TestClient(app, base_url="http://192.168.7.7:8765") as c:
            assert 'name="oneedit-token" content=""' in c.get("/").text  # the user brings it (#token=...)
            assert "studio token" in _error(c.get("/api/state"), 403)
            assert c.get("/api/state", headers={TOKEN_HEADER: studio.token}).status_code == 200
            assert "is not served" in _error(c.get("/", headers={"host": "192.168.7.7:9999"}), 403)
    finally:
        studio.close()


def test_an_example_is_an_id_never_a_server_path(client: TestClient, built: dict) -> None:
    """A readable image anywhere on the machine, a missing file and a system file all get the same line."""
    outside = _outside_photo(built)
    stroke = {"mask": _stroke(96, 96, (0, 0, 48, 96)), "rgb": [1, 2, 3]}
    before = _left(client)
    for example in (str(outside), str(outside.with_name("missing.png")), "/etc/passwd", "../../ws/models/gan.pt"):
        messages = {
            _error(client.post("/api/drafts/brush", json={"example": example, "color": stroke})),
            _error(client.post("/api/drafts/offset", json={"example": example, "offsets": [1.0]})),
            _error(client.post("/api/render", json={"example": example, "offsets": [1.0]})),
            _error(client.post("/api/drafts/after", params={"example": example}, content=outside.read_bytes(),
                               headers={"content-type": "image/png"})),
        }
        assert len(messages) == 1 and messages.pop().endswith(
            "': not a photo id of the catalog nor an upload of this studio (pick a photo, or upload it)"), messages
    assert _left(client) == before


def test_refused_requests_leave_nothing_on_disk(client: TestClient, built: dict,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from oneedit.studio import security

    example = _example(client)["id"]
    after = f"/api/drafts/after?example={example}"
    before = _left(client)
    small = io.BytesIO()
    Image.new("RGB", (50, 40)).save(small, format="PNG")
    refused = {  # what any page could send blind (no Content-Type, a form post), then what the checks refuse
        "content type missing": client.post("/api/uploads?name=a.png", content=b"\x89PNG" * 1000),
        "content type application/x-www-form-urlencoded": client.post(
            after, content=b"a=1", headers={"content-type": "application/x-www-form-urlencoded"}),
        "content type text/plain": client.post(after, content=b"x", headers={"content-type": "text/plain"}),
        "not a readable image": client.post("/api/uploads?name=a.png", content=b"garbage",
                                            headers={"content-type": "image/png"}),
        "differs from the example's": client.post(after, content=small.getvalue(),
                                                  headers={"content-type": "image/png"}),
        "colour strokes are empty": client.post("/api/drafts/brush", json={"example": example, "color": {
            "mask": _stroke(48, 48, (0, 0, 0, 0)), "rgb": [1, 2, 3]}}),
        "not a readable image ": client.post("/api/drafts/brush", json={"example": example, "sketch": {
            "mask": "data:image/png;base64,AAAA"}}),
    }
    monkeypatch.setattr(security, "MAX_UPLOAD", 1000)
    refused["larger than"] = client.post(after, content=b"x" * 5000, headers={"content-type": "image/png"})
    refused["larger than "] = client.post(after, content=iter([b"x" * 600] * 3), headers={"content-type": "image/png"})
    for expected, response in refused.items():
        assert expected.strip() in _error(response), expected
    assert _left(client) == before


def test_drafts_and_uploads_are_capped_and_removed_with_the_studio(built: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from oneedit.studio import security

    monkeypatch.setattr(security, "MAX_DRAFTS", 2)
    studio = Studio(built["ws"].root, TINY, SETS)
    with _page_client(studio) as c:
        example = _example(c)["id"]
        drafts = [c.post("/api/drafts/offset", json={"example": example, "offsets": [v]}).json()["draft"]
                  for v in (1.0, 2.0, 3.0)]
        assert list(studio.drafts) == drafts[1:]  # the oldest idle one dropped, with its files
        assert sorted(p.name for p in studio.drafts_root.iterdir()) == sorted(drafts[1:])
        assert "no draft" in _error(c.post(f"/api/drafts/{drafts[0]}/preview", json={}), 404)
        monkeypatch.setattr(security, "MAX_STORED", 10)
        photo = _outside_photo(built).read_bytes()
        assert "no room for another upload" in _error(_upload(c, photo, "my car.png"))
        assert sorted(p.name for p in studio.drafts_root.iterdir()) == []  # idle ones dropped to make room
    studio.close()
    assert not studio.drafts_root.exists()


def test_apply_under_a_taken_name_needs_replace(client: TestClient, built: dict) -> None:
    """The CLI's --replace rule: refused in one line, nothing touched; with replace the run goes ahead."""
    ws: Workspace = built["ws"]
    taken = ws.edit("taken")
    taken.root.mkdir(parents=True)
    (taken.spec).write_text(json.dumps({"kind": "offset", "example": "another", "input_sha256": "0"}))
    try:
        draft = client.post("/api/drafts/offset", json={"example": _example(client)["id"], "offsets": [1.0]}).json()
        body = {"draft": draft["draft"], "name": "taken"}
        assert "edit 'taken' already exists" in _error(client.post("/api/apply", json=body))
        assert client.get("/api/run").json()["run"] is None or client.get("/api/run").json()["run"]["title"] != \
            "taken at strength 1"
        with workspace_lock(ws.root):  # replace=true passes the name check; the run then meets the lock
            job = _wait(client, client.post("/api/apply", json={**body, "replace": True}).json())
        assert job["state"] == "failed" and "is in use by pid" in job["error"]
        assert sorted(p.name for p in taken.root.iterdir()) == ["spec.json"]
    finally:
        import shutil

        shutil.rmtree(taken.root)
    js = (Path(__file__).parents[2] / "oneedit" / "static" / "studio.js").read_text()
    assert "confirm(" in js and "replace" in js


def test_every_error_is_one_line_json(client: TestClient) -> None:
    """Request-validation errors too: one line naming the field, never FastAPI's detail echoing the body."""
    secret = "a-value-the-page-sent-" * 20
    for response in (client.post("/api/render", json={"example": "x", "offsets": [secret]}),
                     client.post("/api/render", content=b"{not json", headers={"content-type": "application/json"}),
                     client.post("/api/apply", json={"draft": "x", "name": "n", "strength": secret}),
                     client.get("/api/photos?page=" + secret)):
        message = _error(response, 422)
        assert "detail" not in response.json() and secret[:20] not in message, message
    js = (Path(__file__).parents[2] / "oneedit" / "static" / "studio.js").read_text()
    assert "innerHTML" not in js.replace("never innerHTML", "") and "insertAdjacentHTML" not in js


def test_cli_rescale_without_a_manifest_and_a_capture_below_zero(ws_copy: Workspace, built: dict,
                                                                   capsys: pytest.CaptureFixture,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`rescale` with the manifest gone says what to run (was: a bare `[Errno 2]` line); a generator that
    reproduces less than none of the example's edit is said so, never as a negative percentage."""
    import flows.edit
    from oneedit.cli import main

    ws = ws_copy
    manifest = read_parquet(ws.manifest)
    example = manifest.loc[manifest["source_path"] == "car-000.png", "id"].iloc[0]
    monkeypatch.setattr(flows.edit, "direction_flow", lambda *a, **k: {
        "capture": {"weak": True, "direction": -0.42}})  # the fit as a generator that renders the edit backwards
    assert main(_cli(ws, "direction", "--name", "back", "--example", example, "--after", built["pair"]["path"])) == 0
    warning = capsys.readouterr().err
    assert "not at all (capture ≤ 0)" in warning and "-42%" not in warning
    ws.edit("back").root.mkdir(parents=True)
    ws.edit("back").direction.write_bytes(b"")
    ws.manifest.unlink()
    assert main(_cli(ws, "rescale", "--name", "back")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "manifest.parquet is missing" in err[0] and "oneedit ingest" in err[0], err


CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture
def server(client: TestClient) -> Iterator[str]:
    """The same studio served by uvicorn on a free port of 127.0.0.1, in a thread."""
    import socket
    import threading

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(client.studio, "127.0.0.1", port), host="127.0.0.1", port=port,
                            log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                    reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver)")
def test_browser_picks_edits_previews_applies_reviews_reruns_and_exports(server: str, built: dict,
                                                                          tmp_path: Path) -> None:
    """The page in a real headless Chromium: pick the example, paint a colour stroke, preview, move the
    strength slider, apply; the run's counts; review: compare, reject a photo, re-run the rejected one at
    another strength; download the zip; then results.parquet, the zip and a screenshot."""
    import zipfile

    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,2200"):
        options.add_argument(arg)
    downloads = tmp_path / "downloads"
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads)})
    options.binary_location = str(CHROMIUM)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    # the page re-renders its lists while a wait polls them: a stale element there means "not yet"
    wait = WebDriverWait(driver, 240, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,))

    def by_id(key: str):
        return driver.find_element(By.ID, key)

    def no_error() -> None:
        assert not by_id("error").is_displayed(), by_id("error").text

    try:
        driver.get(server)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#grid img[title='car-000.png']"))
        assert (by_id("strength").get_attribute("min"), by_id("strength").get_attribute("max")) == ("-10", "10")
        by_id("example-file").send_keys(str(_outside_photo(built)))  # or upload a photo
        wait.until(lambda d: by_id("chosen-file").text.startswith("my car.png")
                   and d.execute_script("return document.getElementById('chosen-projection').naturalWidth") > 0)
        assert "reconstruction error" in by_id("chosen-err").text
        driver.find_element(By.CSS_SELECTOR, "#grid img[title='car-000.png']").click()
        driver.find_element(By.CSS_SELECTOR, ".tabs button[data-tab='sliders']").click()  # named sliders, a reset
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#sliders .slider")) > 0)
        assert by_id("sliders").find_element(By.TAG_NAME, "b").text in {c[0] for c in CHANGES} | {"shape"}
        driver.find_element(By.CSS_SELECTOR, ".tabs button[data-tab='brush']").click()
        canvas = by_id("paint")
        wait.until(lambda d: canvas.size["width"] > 100)
        driver.execute_script("document.getElementById('size').value = 40")  # wide enough for a 16 px model
        ActionChains(driver).move_to_element_with_offset(canvas, -80, -60).click_and_hold() \
            .move_by_offset(120, 0).move_by_offset(0, 60).release().perform()
        by_id("preview").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#sample .item")) == 16)
        first = by_id("catalog-summary").text
        assert "applying would leave, of 38 photos" in first and not by_id("apply").get_attribute("disabled")
        no_error()
        driver.execute_script("const s = document.getElementById('strength'); s.value = 2;"
                              "s.dispatchEvent(new Event('input'));")
        wait.until(lambda d: by_id("catalog-summary").text not in ("", first))
        name = by_id("name")
        name.clear()
        name.send_keys("browser")
        by_id("apply").click()
        wait.until(lambda d: by_id("run-end").text or by_id("error").is_displayed())
        no_error()
        assert by_id("run-end").text.startswith("38 of 39 photos edited: 38 edited, 1 rejected"), by_id("run-end").text
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#review-grid .card"))  # the review opens
        assert "38 of 39 photos edited at strength 2" in by_id("review-summary").text
        card = driver.find_elements(By.CSS_SELECTOR, "#review-grid .card")[1]
        card.find_element(By.XPATH, ".//button[text()='Compare']").click()
        wait.until(lambda d: d.execute_script("return document.getElementById('compare-after').naturalWidth") > 0)
        driver.find_element(By.CSS_SELECTOR, ".zoom button[data-zoom='2']").click()
        assert by_id("compare-inner").size["width"] == 2 * driver.execute_script(
            "return document.getElementById('compare-before').naturalWidth")
        by_id("compare-close").click()
        card.find_element(By.XPATH, ".//button[text()='Reject']").click()
        wait.until(lambda d: "(1)" in d.find_element(By.XPATH, "//div[@id='filters']/button[contains(text(), "
                                                               "'rejected in review')]").text)
        by_id("rerun-strength").clear()
        by_id("rerun-strength").send_keys("2.5")
        by_id("rerun").click()
        wait.until(lambda d: by_id("run-end").text.startswith("38 of 39") and "2.5" in by_id("run-title").text
                   or by_id("error").is_displayed())
        no_error()
        wait.until(lambda d: "rejected in review (0)" in by_id("filters").text)  # the re-run photo: a new image
        by_id("export-link").click()
        wait.until(lambda d: (downloads / "browser.zip").exists())
        shot = tmp_path / "studio.png"
        driver.save_screenshot(str(shot))
    finally:
        driver.quit()
    paths = built["ws"].edit("browser")
    results = read_parquet(paths.results)
    assert len(results) == len(read_parquet(built["ws"].manifest))
    done = results[results["status"] != "rejected"]
    assert len(done) == 38 and set(done["status"]) <= {"edited", "flagged"}
    assert all((paths.images / f"{i}.png").is_file() for i in done["id"])
    assert sorted(results["strength"].value_counts().items()) == [(2.0, 38), (2.5, 1)]  # only the rejected one again
    spec = read_json(paths.spec)
    assert spec["kind"] == "brush"
    strokes = json.loads((paths.root / spec["input"]).read_text())  # the edit's own copy of its input
    assert np.asarray(Image.open((paths.root / spec["input"]).parent / strokes["color"]["mask"])).max() == 255
    assert read_json(paths.root / "metrics.json")["strength"] == pytest.approx(2.0, rel=1e-3)
    assert sorted(zipfile.ZipFile(downloads / "browser.zip").namelist()) == sorted(done["source_path"])
    image = np.asarray(Image.open(shot))
    assert image.shape[0] > 500 and image.std() > 5
