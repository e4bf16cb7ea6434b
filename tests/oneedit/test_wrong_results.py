"""Nothing silently wrong (issue 15): wrong results and misleading errors, through the CLI's `main`.

One tiny projected workspace (tests/oneedit/tiny.py: 12 demo cars, two photos no GAN of cars can
reconstruct, one wide photo), copied per test. Each test names the issue item it guards.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from common.storage import read_h5, read_parquet
from oneedit.cli import main
from tasks.images import read_photo, write_png
from tests.helpers import file_stamps, output_lines
from tests.oneedit.tiny import RES, args, edit_args

REPO = Path(__file__).parents[2]


@pytest.fixture
def ws_edited(edited: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(edited, tmp_path / "ws"))


@pytest.fixture
def ws(tiny: dict, tmp_path: Path) -> Path:
    """A private copy of the projected workspace (its originals stay in the shared photos folder)."""
    return Path(shutil.copytree(tiny["ws"], tmp_path / "ws"))


@pytest.fixture
def own_photos(tiny: dict, ws: Path, tmp_path: Path) -> Path:
    """A private copy of the originals, which `ws` now reads (for tests that change or delete them)."""
    photos = Path(shutil.copytree(tiny["photos"], tmp_path / "photos"))
    (ws / "ingest" / "source.json").write_text(json.dumps({"source": str(photos)}))
    return photos


_args, _edit = args, edit_args


def one_line(capfd: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture, argv: list[str], ws: Path,
             code: int = 2, touches: bool = False) -> str:
    """Run the CLI: exit `code`, exactly one `error:` (or `internal error:`) line, no Prefect error log, (by default) no file touched."""
    before = file_stamps(ws)
    capfd.readouterr()
    caplog.clear()
    got = main(argv)
    lines = [line for line in output_lines(capfd) if "━" not in line]  # progress bars of the work done before
    assert got == code, lines
    errors = [line for line in lines if line.startswith(("error: ", "internal error: "))]
    # exactly one error line; beside it only progress lines (off a terminal), never a traceback
    assert len(errors) == 1 and not [line for line in lines if "Traceback" in line or line.startswith("  File ")], lines
    lines = errors
    if not touches:  # refused before any flow ran (a failure inside one is logged to the Prefect API, quietly)
        assert not [r for r in caplog.records if r.name.startswith("prefect") and r.levelno >= logging.ERROR]
        assert file_stamps(ws) == before
    return lines[0]


def _results(ws: Path, name: str = "e1"):
    return read_parquet(ws / "edits" / name / "results.parquet").set_index("source_path")


def _image(ws: Path, tiny: dict, photo: str, name: str = "e1") -> Path:
    return ws / "edits" / name / "images" / f"{tiny['ids'][photo]}.png"


# ------------------------------------------------------------------------------------------------
# 8. an original replaced after ingest is not edited as if it were the ingested photo


def test_replaced_original_is_rejected_not_edited(capfd: pytest.CaptureFixture, tiny: dict, ws: Path,
                                                  own_photos: Path) -> None:
    shutil.copyfile(own_photos / "car-05.png", own_photos / "car-04.png")  # other content, same size
    big = read_photo(own_photos / "car-06.png")
    write_png(own_photos / "car-06.png", np.concatenate([big, big], axis=0))  # other size
    assert main(_edit(tiny, ws)) == 0
    results = _results(ws)
    for photo in ("car-04.png", "car-06.png"):
        assert results.loc[photo, "status"] == "rejected", results.loc[photo]
        assert "changed since ingest" in results.loc[photo, "reason"]
        assert not _image(ws, tiny, photo).exists()
    assert results.loc["car-05.png", "status"] == "edited" and _image(ws, tiny, "car-05.png").exists()


# ------------------------------------------------------------------------------------------------
# 10. no infinite parameter, and no NaN latent or α is ever reported as edited


@pytest.mark.parametrize(("override", "command"), [
    ("project.feature_weight=.inf", "project"), ("project.lr=-.inf", "project"), ("gan.betas=[.nan, 0.9]", "train"),
    ("edit.direction.lambda=.inf", "edit"), ("guard.margin=.nan", "rescale"),
])
def test_infinite_parameter_is_one_line(capfd: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture, tiny: dict,
                                        ws: Path, override: str, command: str) -> None:
    extra = {"edit": ["--name", "e1", "--example", str(tiny["example"]), "--after", str(tiny["after"])],
             "rescale": ["--name", "e1"]}.get(command, [])
    line = one_line(capfd, caplog, _args(command, ws, *extra, "--set", override), ws)
    assert override.split("=")[0] in line and "finite" in line


def test_nan_latent_is_rejected_not_edited(capfd: pytest.CaptureFixture, tiny: dict, ws: Path) -> None:
    shard = ws / "latents" / "shard-00001.h5"
    with h5py.File(shard, "r+") as f:  # a projection that diverged for one photo (fingerprint kept)
        ids = [i.decode() for i in f["ids"][()]]
        w = f["w"][()]
        w[2] = np.nan
        f["w"][...] = w
    victim = ids[2]
    assert main(_edit(tiny, ws)) == 0
    results = read_parquet(ws / "edits/e1/results.parquet").set_index("id")
    assert results.loc[victim, "status"] == "rejected" and "not finite" in results.loc[victim, "reason"]
    assert not (ws / "edits/e1/images" / f"{victim}.png").exists()
    done = results[results["status"] != "rejected"]
    assert len(done) > 0 and np.isfinite(done["alpha"]).all()
    assert main(_args("rescale", ws, "--name", "e1", "--strength", "2")) == 0
    again = read_parquet(ws / "edits/e1/results.parquet").set_index("id")
    assert again.loc[victim, "status"] == "rejected"
    assert np.isfinite(again[again["status"] != "rejected"]["alpha"]).all()


# ------------------------------------------------------------------------------------------------
# 14. the range guard: a span that is not the catalog itself, the projection error, a decision


def test_guard_skips_photos_the_gan_cannot_reconstruct(capfd: pytest.CaptureFixture, tiny: dict, ws: Path) -> None:
    assert main(_edit(tiny, ws)) == 0
    results = _results(ws)
    for photo in ("magenta.png", "checker.png"):
        assert results.loc[photo, "status"] == "skipped", results.loc[photo]
        assert "projection error" in results.loc[photo, "reason"] and "guard.action=skip" in results.loc[photo, "reason"]
        assert not _image(ws, tiny, photo).exists()
    cars = results[results.index.str.startswith("car-")]
    assert (cars["status"] == "edited").all(), cars[["status", "reason"]]
    capfd.readouterr()
    assert main(_args("rescale", ws, "--name", "e1", "--set", "guard.action=flag")) == 0
    out = capfd.readouterr().out
    assert "13 edited, 0 skipped, 2 flagged" in out  # the run's end: counts, and every flagged photo's reason
    for photo in ("magenta.png", "checker.png"):
        assert f"  flagged {photo}: out of range, edited anyway (guard.action=flag): projection error" in out
    flagged = _results(ws)
    for photo in ("magenta.png", "checker.png"):
        assert flagged.loc[photo, "status"] == "flagged" and "edited anyway" in flagged.loc[photo, "reason"]
        assert _image(ws, tiny, photo).exists()
    assert main(_args("report", ws, "--name", "e1")) == 0
    metrics = json.loads((ws / "edits/e1/metrics.json").read_text())
    assert metrics["n_flagged"] == 2 and metrics["n_edited"] == 13 and metrics["n_skipped"] == 0


def test_guard_edits_a_photo_that_starts_outside_gs_span(capfd: pytest.CaptureFixture, tiny: dict, ws: Path,
                                                         tmp_path: Path) -> None:
    """Issue 29: a photo whose start lies beyond G's span along n, while the example's final state lies inside,
    is the photo the edit is for: it is edited and flagged with its reason for review, never skipped."""
    offset = np.zeros(16, np.float32)
    offset[0] = 0.5  # a small edit along one axis: its final state well inside G's span
    np.save(tmp_path / "small.npy", offset)
    victim = "car-03.png"
    shard = next(p for p in (ws / "latents").glob("*.h5") if tiny["ids"][victim] in read_h5(p, ["ids"])["ids"])
    with h5py.File(shard, "r+") as f:  # its latent far along the edit's axis, as a very dark garment's is
        at = list(f["ids"].asstr()[()]).index(tiny["ids"][victim])
        w = f["w"][()]
        w[at, 0] -= 40.0
        f["w"][...] = w
    argv = _args("edit", ws, "--name", "small", "--example", str(tiny["example"]), "--offset",
                 str(tmp_path / "small.npy"), "--set", "edit.direction.init=delta")
    assert main(argv) == 0
    results = _results(ws, "small")
    assert results.loc[victim, "status"] == "flagged", results.loc[victim]
    assert "outside G's span" in results.loc[victim, "reason"] and "edited" in results.loc[victim, "reason"]
    assert _image(ws, tiny, victim, "small").exists()
    assert "skipped" not in set(results.loc[results.index.str.startswith("car-"), "status"])


def test_guard_an_example_state_outside_gs_span(capfd: pytest.CaptureFixture, tiny: dict, ws: Path,
                                                tmp_path: Path) -> None:
    """An offset far beyond anything G produces: skipped everywhere by default, clamped on request."""
    np.save(tmp_path / "far.npy", np.full(16, 40.0, np.float32))
    argv = _args("edit", ws, "--name", "far", "--example", str(tiny["example"]), "--offset", str(tmp_path / "far.npy"),
                 "--set", "edit.direction.init=delta")  # Δ* from Δw: the zero start travels ~lr per step
    capfd.readouterr()
    assert main(argv) == 1  # a run that edits nothing is a failure (issue 27), not "done"
    err = [line for line in capfd.readouterr().err.splitlines() if not line.startswith("done: ")]  # progress
    assert len(err) == 1 and err[0].startswith("error: edit 'far' edited no photo (15 skipped)"), err
    assert "the commonest reason: out of range" in err[0] and "final state" in err[0], err  # said, with why
    results = _results(ws, "far")
    assert (results["status"] == "skipped").all() and results["reason"].str.contains("final state").all()
    assert not list((ws / "edits/far/images").glob("*.png"))
    assert main(_args("report", ws, "--name", "far")) == 0  # the report says so too, not "edit.verify = 0"
    page = (ws / "edits/far/report/index.html").read_text()
    assert "The edit failed: no photo was edited." in page and "edit.verify = 0" not in page
    assert main(_args("rescale", ws, "--name", "far", "--set", "guard.action=clamp",
                      "--set", "edit.direction.init=delta")) == 0
    clamped = _results(ws, "far")
    cars = clamped[clamped.index.str.startswith("car-")]
    assert (cars["status"] == "clamped").all(), cars[["status", "reason"]]
    planned = cars["distance_before"] + cars["alpha"]  # where α moves each latent (distance_after is measured)
    assert (planned < -1).all()  # stopped short of the example's (unreachable) final state
    np.testing.assert_allclose(planned, planned.iloc[0], atol=1e-3)  # all at one state
    assert all(_image(ws, tiny, p, "far").exists() for p in cars.index)
    assert (clamped.loc[["magenta.png", "checker.png"], "status"] == "skipped").all()


# ------------------------------------------------------------------------------------------------
# 16. a non-square photo: the edited centre square is pasted back without a seam


def test_wide_photo_has_no_seam(capfd: pytest.CaptureFixture, tiny: dict, ws: Path) -> None:
    assert main(_edit(tiny, ws, "--strength", "4")) == 0  # a strong edit: the square's border changes by ~20 levels
    original = read_photo(tiny["photos"] / "wide.png").astype(float)
    edited = read_photo(_image(ws, tiny, "wide.png")).astype(float)
    assert edited.shape == original.shape == (64, 96, 3)
    change = edited - original
    for inside, outside in ((16, 15), (79, 80)):  # the square is columns 16..79
        border = np.abs(change[:, inside]).mean()
        assert border > 3, "the edit must change the square's border for this test to mean anything"
        seam = np.abs(change[:, inside] - change[:, outside]).mean()  # the step the paste-back adds
        assert seam < 0.25 * border, (seam, border)
    assert np.abs(change[:, :8]).max() <= 1 and np.abs(change[:, -8:]).max() <= 1  # fades out, feather 0.1·64 px


# ------------------------------------------------------------------------------------------------
# 17. thin brush strokes survive the way down to model resolution


def test_thin_brush_stroke_is_kept(capfd: pytest.CaptureFixture, tiny: dict, ws: Path, tmp_path: Path) -> None:
    """A 1 px line on the 64 px photo covers a quarter of a 16 px model pixel: area resizing + 0.5 lost it."""
    mask = np.zeros((RES, RES, 3), np.uint8)
    mask[10:50, 30] = 255
    write_png(tmp_path / "line.png", mask)
    (tmp_path / "brush.json").write_text(json.dumps({"color": {"mask": "line.png", "rgb": [255, 0, 0]}}))
    argv = _args("edit", ws, "--name", "thin", "--example", str(tiny["example"]),
                 "--constraints", str(tmp_path / "brush.json"))
    assert main(argv) == 0, output_lines(capfd)
    assert (ws / "edits/thin/direction.pt").is_file() and (ws / "edits/thin/results.parquet").is_file()


# ------------------------------------------------------------------------------------------------
# 19. exit 2 only for what the user passed; internal errors say so; one photo's failure is its own


def test_internal_error_is_not_a_bad_argument(capfd: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture,
                                              tiny: dict, ws_edited: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tasks.alphas

    def singular(*args: object, **kwargs: object) -> None:
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(tasks.alphas, "closed_form_alphas", singular)
    argv = _args("rescale", ws_edited, "--name", "e1", "--strength", "2")
    line = one_line(capfd, caplog, argv, ws_edited, code=1, touches=True)
    assert line == "internal error: LinAlgError: Singular matrix (run with --debug for the traceback)"
    assert main([*argv, "--debug"]) == 1
    lines = output_lines(capfd)
    assert any(line.startswith("Traceback") for line in lines) and "in singular" in "\n".join(lines)
    assert lines[-1] == line


def test_one_photos_failure_rejects_that_photo_only(capfd: pytest.CaptureFixture, tiny: dict, ws: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import tasks.transfer

    real = tasks.transfer.edit_original

    def fragile(photo: np.ndarray, frames: np.ndarray, params: object, look: object = None) -> np.ndarray:
        if photo.shape[1] == 96:  # wide.png
            raise RuntimeError("cv2 said no")
        return real(photo, frames, params, look)

    monkeypatch.setattr(tasks.transfer, "edit_original", fragile)
    assert main(_edit(tiny, ws)) == 0
    results = _results(ws)
    assert results.loc["wide.png", "status"] == "rejected"
    assert results.loc["wide.png", "reason"] == "edit failed: RuntimeError: cv2 said no"
    cars = results[results.index.str.startswith("car-")]
    assert (cars["status"] == "edited").all() and all(_image(ws, tiny, p).exists() for p in cars.index)


# ------------------------------------------------------------------------------------------------
# 20. bounded transfer memory: a capped working resolution, a hard limit with a reason


def test_photo_above_the_pixel_limit_is_rejected(capfd: pytest.CaptureFixture, tiny: dict, ws: Path) -> None:
    assert main(_edit(tiny, ws, "--set", "transfer.max_pixels=5000")) == 0  # wide.png has 6144
    results = _results(ws)
    assert results.loc["wide.png", "status"] == "rejected"
    assert "too large: 96x64 pixels exceeds the limit of 5000" in results.loc["wide.png", "reason"]
    assert (results[results.index.str.startswith("car-")]["status"] == "edited").all()


def test_capped_working_resolution_keeps_size_and_edit(capfd: pytest.CaptureFixture, tiny: dict, ws: Path) -> None:
    """transfer.max_side=32: the 64 px squares are edited at 32 px and only the change is upsampled."""
    assert main(_edit(tiny, ws, "--strength", "4", name="full")) == 0
    assert main(_edit(tiny, ws, "--strength", "4", "--set", "transfer.max_side=32", name="capped")) == 0
    for photo in ("car-03.png", "wide.png"):
        original = read_photo(tiny["photos"] / photo).astype(float)
        full = read_photo(_image(ws, tiny, photo, "full")).astype(float)
        capped = read_photo(_image(ws, tiny, photo, "capped")).astype(float)
        assert capped.shape == original.shape
        change, error = np.abs(full - original).mean(), np.abs(capped - full).mean()
        assert change > 5 and error < 0.5 * change, (photo, change, error)


# ------------------------------------------------------------------------------------------------
# 21. names, messages and early checks


def _brush(tmp_path: Path, rgb: object) -> list[str]:
    write_png(tmp_path / "mask.png", np.full((RES, RES, 3), 255, np.uint8))
    (tmp_path / "brush.json").write_text(json.dumps({"color": {"mask": "mask.png", "rgb": rgb}}))
    return ["--constraints", str(tmp_path / "brush.json")]


def _offset(tmp_path: Path, values: np.ndarray) -> list[str]:
    np.save(tmp_path / "offset.npy", values)
    return ["--offset", str(tmp_path / "offset.npy")]


@pytest.mark.parametrize(("form", "expected"), [
    (lambda t: _brush(t, [100000, -5000, 3]), "color.rgb must be three numbers in 0-255"),
    (lambda t: _brush(t, [255, 0]), "color.rgb must be three numbers in 0-255"),
    (lambda t: _offset(t, np.array([np.nan] + [0.1] * 15, np.float32)), "1 of 16 values are not finite"),
    (lambda t: _offset(t, np.zeros(16, np.float32)), "the offset is zero"),
])
def test_bad_brush_or_offset_is_one_line_before_any_work(capfd: pytest.CaptureFixture,
                                                         caplog: pytest.LogCaptureFixture, tiny: dict, ws: Path,
                                                         tmp_path: Path, form, expected: str) -> None:
    argv = _args("edit", ws, "--name", "bad", "--example", str(tiny["example"]), *form(tmp_path))
    assert expected in one_line(capfd, caplog, argv, ws)
    assert not (ws / "edits" / "bad").exists()


def test_edit_name_with_a_trailing_newline_is_refused(capfd: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture,
                                                      tiny: dict, ws: Path) -> None:
    assert "edit name 'trail\\n'" in one_line(capfd, caplog, _edit(tiny, ws, name="trail\n"), ws)


def test_missing_manifest_points_to_ingest(capfd: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture,
                                           tiny: dict, ws: Path) -> None:
    (ws / "ingest" / "manifest.parquet").unlink()
    for argv in (_edit(tiny, ws), _args("project", ws)):
        line = one_line(capfd, caplog, argv, ws)
        assert "manifest.parquet is missing" in line and "oneedit ingest" in line and "train" not in line


def test_strength_zero_and_negative(capfd: pytest.CaptureFixture, ws_edited: Path) -> None:
    """s = 0: every photo at the example's before state along n; s = −1: as far past it as the edit goes."""
    delta = torch.load(ws_edited / "edits/e1/direction.pt", weights_only=True)["delta_star"].norm().item()
    one = _results(ws_edited)
    for s in (0.0, -1.0):
        assert main(_args("rescale", ws_edited, "--name", "e1", "--strength", str(s), "--set", "guard.action=flag")) == 0
        got = _results(ws_edited)
        done = got["status"] != "rejected"
        np.testing.assert_allclose(got.loc[done, "alpha"], one.loc[done, "alpha"] + (s - 1.0) * delta, atol=1e-4)
        assert (got.loc[done, "status"] != "rejected").all()  # every photo edited toward that state


# ------------------------------------------------------------------------------------------------
# 18. every file read after ingest: one line naming it and how to recover


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00garbage\xff" * 7)


@pytest.mark.parametrize(("file", "damage", "command", "hint"), [
    ("models/gan.pt", _truncate, "project", "oneedit train"),
    ("models/gan.pt", _garbage, "edit", "oneedit train"),
    ("models/encoder.pt", _truncate, "edit", "oneedit train"),
    ("edits/e1/direction.pt", _truncate, "rescale", "oneedit edit --name e1"),
    ("edits/e1/spec.json", _garbage, "report", "oneedit edit --name e1"),
    ("edits/e1/results.parquet", _truncate, "report", "oneedit rescale --name e1"),
    ("ingest/source.json", _garbage, "rescale", "oneedit ingest"),
    ("ingest/manifest.parquet", _truncate, "edit", "oneedit ingest"),
    ("ingest/shard-00001.h5", _truncate, "project", "oneedit ingest"),
    ("latents/shard-00000.h5", _truncate, "edit", "oneedit project"),
    ("workspace.json", _garbage, "rescale", "recreate the workspace"),
])
def test_unreadable_workspace_file_is_one_line(capfd: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture,
                                               tiny: dict, ws_edited: Path, file: str, damage, command: str,
                                               hint: str) -> None:
    damage(ws_edited / file)
    extra = {"edit": ["--name", "e2", "--example", str(tiny["example"]), "--after", str(tiny["after"])],
             "rescale": ["--name", "e1", "--strength", "2"], "report": ["--name", "e1"]}.get(command, [])
    if command == "project":
        extra = ["--set", "project.steps=3"]  # other params: every shard is projected again
    line = one_line(capfd, caplog, _args(command, ws_edited, *extra), ws_edited, code=1, touches=True)
    assert f"{ws_edited / file}: unreadable" in line and hint in line, line


def test_project_repairs_a_damaged_latents_shard(capfd: pytest.CaptureFixture, ws: Path) -> None:
    _truncate(ws / "latents" / "shard-00000.h5")
    assert main(_args("project", ws)) == 0
    assert "(1 of 2 shards already done)" in " ".join(" ".join(output_lines(capfd)).split())
    assert read_h5(ws / "latents" / "shard-00000.h5")["w"].shape[0] == 8


def _npz_after(tmp_path: Path, tiny: dict) -> list[str]:
    np.savez(tmp_path / "after.npz", x=np.zeros(3))
    return ["--example", str(tiny["example"]), "--after", str(tmp_path / "after.npz")]


def _bomb_after(tmp_path: Path, tiny: dict) -> list[str]:
    """A PNG whose header claims 30000x30000 pixels."""
    from PIL import Image

    Image.new("1", (30000, 30000)).save(tmp_path / "bomb.png")
    return ["--example", str(tiny["example"]), "--after", str(tmp_path / "bomb.png")]


def _garbage_mask(tmp_path: Path, tiny: dict) -> list[str]:
    _garbage(tmp_path / "mask.png")
    (tmp_path / "brush.json").write_text(json.dumps({"color": {"mask": "mask.png", "rgb": [255, 0, 0]}}))
    return ["--example", str(tiny["example"]), "--constraints", str(tmp_path / "brush.json")]


def _truncated_offset(tmp_path: Path, tiny: dict) -> list[str]:
    np.save(tmp_path / "offset.npy", np.ones(16, np.float32))
    _truncate(tmp_path / "offset.npy")
    return ["--example", str(tiny["example"]), "--offset", str(tmp_path / "offset.npy")]


def _truncated_example(tmp_path: Path, tiny: dict) -> list[str]:
    shutil.copyfile(tiny["photos"] / "wide.png", tmp_path / "example.png")
    _truncate(tmp_path / "example.png")
    return ["--example", str(tmp_path / "example.png"), "--after", str(tiny["after"])]


@pytest.mark.parametrize(("inputs", "expected"), [
    (_npz_after, "--after"), (_bomb_after, "decompression bomb"), (_garbage_mask, "--constraints mask"),
    (_truncated_offset, "--offset"), (_truncated_example, "example.png"),
])
def test_unreadable_edit_input_is_one_line_before_any_work(capfd: pytest.CaptureFixture,
                                                           caplog: pytest.LogCaptureFixture, tiny: dict, ws: Path,
                                                           tmp_path: Path, inputs, expected: str) -> None:
    line = one_line(capfd, caplog, _args("edit", ws, "--name", "bad", *inputs(tmp_path, tiny)), ws)
    assert expected in line, line


# ------------------------------------------------------------------------------------------------
# 11. SIGINT / SIGTERM stop a run within seconds, resumable, with the exit code of the signal


def _start(argv: list[str], prefect_server: str) -> subprocess.Popen:
    code = f"import sys\nfrom oneedit.cli import main\nsys.exit(main({argv!r}))\n"
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            env={**os.environ, "PREFECT_API_URL": prefect_server, "PYTHONPATH": str(REPO)})


def _wait_for_new_file(proc: subprocess.Popen, folder: Path, since: float, timeout: float = 300) -> None:
    """Until a file under `folder` is written after `since` (the run is busy in the stage that writes it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if any(p.stat().st_mtime > since for p in folder.rglob("*") if p.is_file()):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing written under {folder} in {timeout} s")


def _stop(proc: subprocess.Popen, signum: int) -> tuple[int, list[str], float]:
    """Send `signum` to the run's process group; (exit code, stderr lines, seconds until it exited)."""
    t0 = time.monotonic()
    os.killpg(proc.pid, signum)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError("still running 60 s after the signal") from None
    return proc.returncode, [line for line in err.splitlines() if line.strip()], time.monotonic() - t0


@pytest.mark.slow
def test_sigint_stops_training(ws: Path, prefect_server: str) -> None:
    since = time.time()
    proc = _start(_args("train", ws, "--set", "gan.steps=100000", "--set", "encoder.steps=100000"), prefect_server)
    _wait_for_new_file(proc, ws / "models", since)
    code, err, seconds = _stop(proc, signal.SIGINT)
    assert code == 130, err
    assert err[-1] == "error: interrupted by SIGINT; finished work is kept: run the same command again to resume", err
    assert not [line for line in err if "Traceback" in line or "Aborted" in line], err
    assert seconds < 30


@pytest.mark.slow
def test_sigterm_stops_rescale_and_a_rerun_finishes(capfd: pytest.CaptureFixture, ws_edited: Path,
                                                    prefect_server: str) -> None:
    (ws_edited / "edits/e1/results.parquet").unlink()
    slow = ["--strength", "2", "--set", "transfer.frames=32", "--set", "transfer.iterations=12"]  # slow enough to stop mid-way
    since = time.time()
    proc = _start(_args("rescale", ws_edited, "--name", "e1", *slow), prefect_server)
    _wait_for_new_file(proc, ws_edited / "edits/e1/images", since)
    code, err, seconds = _stop(proc, signal.SIGTERM)
    assert code == 143, err
    assert err[-1] == "error: interrupted by SIGTERM; finished work is kept: run the same command again to resume", err
    assert not [line for line in err if "Traceback" in line], err
    assert seconds < 30
    assert not (ws_edited / "edits/e1/results.parquet").exists()
    assert main(_args("rescale", ws_edited, "--name", "e1", *slow)) == 0
    assert len(read_parquet(ws_edited / "edits/e1/results.parquet")) == 15
    assert not list(ws_edited.rglob(".*.tmp-*"))
