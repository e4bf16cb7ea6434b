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
from oneedit.studio import Studio, create_app
from tasks.example import read_brush
from tasks.ingest import ingest_photos
from tasks.project import project_shard
from tasks.train import train_catalog_encoder, train_catalog_gan
from tests.flows.test_pipeline import TINY, make_catalog, tiny_params

SETS = ["gan.steps=4", "gan.sample_every=2", "gan.ckpt_every=4", "encoder.steps=2", "encoder.sample_every=2",
        "encoder.ckpt_every=2", "edit.brush.starts=1", "edit.brush.steps=1", "edit.direction.steps=2"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, prefect_server: str) -> dict:
    root = tmp_path_factory.mktemp("studio")
    (root / "photos").mkdir()
    form = make_catalog(root / "photos")
    p = tiny_params(*SETS)
    ws = Workspace.create(root / "ws")
    ingest_photos.fn(root / "photos", ws, p)  # the flows' tasks, called directly: the flows have tests of their own
    train_catalog_gan.fn(ws, p)
    train_catalog_encoder.fn(ws, p)
    for shard in ws.ingest_shards():
        project_shard.fn(ws, shard, p)
    return {"ws": ws, "pair": form, "root": root}


@pytest.fixture(scope="module")
def client(built: dict) -> Iterator[TestClient]:
    studio = Studio(built["ws"].root, TINY, SETS)
    with TestClient(create_app(studio)) as c:
        c.studio = studio
        yield c
    studio.close()


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
        "neither a catalog photo id": {"example": "nope", "color": {"mask": _stroke(8, 8, (0, 0, 4, 4)), "rgb": [1, 2, 3]}},
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
    assert "upload is empty" in _error(client.post(url, content=b""))
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
    assert done["result"]["report"] == "/reports/green/index.html"
    assert any(line["description"].startswith("transfer") for line in done["progress"])

    paths = ws.edit("green")
    spec = read_json(paths.spec)
    assert spec["kind"] == "brush" and spec["example_id"] == example
    assert (paths.root / spec["input"]).is_file() and spec["input"].startswith("example/input/")  # the edit's copy
    results = read_parquet(paths.results)
    assert len(results) == len(read_parquet(ws.manifest))
    report = client.get("/reports/green/index.html")
    assert report.status_code == 200 and "car-000.png" in report.text
    assert "no report file" in _error(client.get("/reports/green/..%2F..%2Fspec.json"), 404)
    assert client.get("/reports/green/../../spec.json").status_code == 404
    edits = {e["name"]: e for e in client.get("/api/state").json()["edits"]}
    assert edits["green"]["state"] == "reported" and edits["green"]["strength"] == pytest.approx(1.5, rel=1e-3)
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
    with TestClient(create_app(studio)) as c:
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
    assert "photos would be flagged" in capsys.readouterr().out

    assert main(["list", "--workspace", str(ws.root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert not any(line.startswith("peek") for line in lines)
    green = next(line for line in lines if line.startswith("green"))
    assert "brush" in green and "strength 1.5" in green and "reported" in green and "up to date" in green


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
    config = uvicorn.Config(create_app(client.studio), host="127.0.0.1", port=port, log_level="warning")
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
def test_browser_paints_previews_rescales_and_applies(server: str, built: dict, tmp_path: Path) -> None:
    """The page in a real headless Chromium: pick the example, paint a colour stroke, preview, move the
    strength slider, apply; then results.parquet and a screenshot."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,2200"):
        options.add_argument(arg)
    options.binary_location = str(CHROMIUM)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    wait = WebDriverWait(driver, 240, poll_frequency=0.2)
    try:
        driver.get(server)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#grid img[title='car-000.png']"))
        driver.find_element(By.CSS_SELECTOR, "#grid img[title='car-000.png']").click()
        canvas = driver.find_element(By.ID, "paint")
        wait.until(lambda d: canvas.size["width"] > 100)
        driver.execute_script("document.getElementById('size').value = 40")  # wide enough for a 16 px model
        ActionChains(driver).move_to_element_with_offset(canvas, -80, -60).click_and_hold() \
            .move_by_offset(120, 0).move_by_offset(0, 60).release().perform()
        driver.find_element(By.ID, "preview").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#sample .item")) == 16)
        first = driver.find_element(By.ID, "catalog-summary").text
        assert driver.find_element(By.ID, "error").get_attribute("hidden") is not None
        driver.execute_script("const s = document.getElementById('strength'); s.value = 2;"
                              "s.dispatchEvent(new Event('input'));")
        wait.until(lambda d: d.find_element(By.ID, "catalog-summary").text not in ("", first))
        name = driver.find_element(By.ID, "name")
        name.clear()
        name.send_keys("browser")
        driver.find_element(By.ID, "apply").click()
        wait.until(lambda d: d.find_element(By.ID, "run-done").is_displayed()
                   or d.find_element(By.ID, "error").is_displayed())
        assert not driver.find_element(By.ID, "error").is_displayed(), driver.find_element(By.ID, "error").text
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
    spec = read_json(paths.spec)
    assert spec["kind"] == "brush"
    strokes = json.loads((paths.root / spec["input"]).read_text())  # the edit's own copy of its input
    assert np.asarray(Image.open((paths.root / spec["input"]).parent / strokes["color"]["mask"])).max() == 255
    assert read_json(paths.root / "metrics.json")["strength"] == pytest.approx(2.0, rel=1e-3)
    image = np.asarray(Image.open(shot))
    assert image.shape[0] > 500 and image.std() > 5
