"""Nothing lost, nothing silently wrong (issue 15, data loss): a workspace treated as users treat theirs.

One tiny workspace per module (demo-catalog of 60 photos, projected by the test workspace factory, then
edit e1 through the CLI); every test works on its own copy (and its own copy of the photos when it changes
them) and asserts what survives: models, edits, edited images, the manifest.
"""

from __future__ import annotations

import errno
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

import edit_core.checkpoint
import edit_core.train_gan
import tasks.train
from common.storage import read_json, read_parquet, sha256_file, write_json
from edit_core.checkpoint import load_checkpoint, load_encoder, load_generator
from edit_core.demo_catalog import render, sample_attributes
from oneedit.cli import main
from tasks.images import read_photo, write_png
from tests.helpers import cli_args, file_hashes, output_lines, sha256
from tests.workspaces import Recipe, Workspaces

SETS = ["catalog.size=60"]


def _args(command: str, *extra: str) -> list[str]:
    return cli_args(command, *extra, sets=SETS)


def cli(command: str, *extra: str) -> int | str:
    """Exit code of the CLI, or the exception it let through (a crash is a failure too)."""
    try:
        return main(_args(command, *extra))
    except BaseException as exc:  # noqa: BLE001 - a traceback instead of an exit code is what we report
        return f"raised {type(exc).__name__}: {exc}"


def _ok(command: str, *extra: str) -> None:
    code = cli(command, *extra)
    assert code == 0, (command, extra, code)


def _strength(edit: Path) -> float:
    """The strength recorded in the edit's results.parquet."""
    return float(pq.read_schema(edit / "results.parquet").metadata[b"oneedit.strength"])


def _text(capfd: pytest.CaptureFixture) -> str:
    """All output as one line (the console wraps long lines)."""
    return " ".join(" ".join(output_lines(capfd)).split())


def write_catalog(root: Path) -> dict:
    """`oneedit demo-catalog` (60 photos in root/photos, the example pair in root/example)."""
    _ok("demo-catalog", str(root))
    return {"before": root / "example" / "before.png", "after": root / "example" / "after.png"}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, workspaces: Workspaces) -> Iterator[dict]:
    """The factory's projected demo catalog (60 photos), copied, with edit e1 (pair) through `main`."""
    built = workspaces(Recipe("data-loss", write_catalog, tuple(SETS)), "projected")
    root = tmp_path_factory.mktemp("data-loss").resolve()
    threads = torch.get_num_threads()
    try:
        ws = built.copy("projected", root / "ws")
        _ok("edit", "--workspace", str(ws), "--name", "e1", "--example", str(built.catalog["before"]),
            "--after", str(built.catalog["after"]))
        yield {"root": root, "cat": built.root, "src": built.photos, "ws": ws, **built.catalog}
    finally:
        torch.set_num_threads(threads)


def _copy(base: dict, tmp_path: Path, photos: bool = False) -> tuple[Path, Path]:
    """A copy of the workspace (and of its photos, which source.json then points at)."""
    ws = Path(shutil.copytree(base["ws"], tmp_path / "ws"))
    src = base["src"]
    if photos:
        src = Path(shutil.copytree(base["src"], tmp_path / "photos"))
        write_json(ws / "ingest" / "source.json", {"source": str(src)})
    return ws, src


def _models(ws: Path) -> dict[str, str]:
    return {n: sha256(ws / "models" / n) for n in ("gan.pt", "gan.json", "encoder.pt", "encoder.json")}


# ------------------------------------------------------------------------------------------------
# 1. a model is replaced only by a complete new one


def test_train_with_bad_settings_keeps_the_models(base: dict, tmp_path: Path) -> None:
    ws, _ = _copy(base, tmp_path)
    models = _models(ws)
    assert cli("train", "--workspace", str(ws), "--set", "gan.betas=[5, -3]") != 0
    assert _models(ws) == models
    _ok("rescale", "--workspace", str(ws), "--name", "e1")  # the workspace still works


def test_train_after_a_truncated_ingest_shard_keeps_the_models(base: dict, tmp_path: Path) -> None:
    ws, _ = _copy(base, tmp_path)
    models = _models(ws)
    shard = ws / "ingest" / "shard-00001.h5"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    assert cli("train", "--workspace", str(ws)) != 0
    assert _models(ws) == models


def test_disk_full_while_saving_a_checkpoint_keeps_the_models(base: dict, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capfd: pytest.CaptureFixture) -> None:
    ws, _ = _copy(base, tmp_path)
    models = _models(ws)

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(edit_core.checkpoint.torch, "save", full)
    capfd.readouterr()
    assert cli("train", "--workspace", str(ws), "--set", "gan.steps=13") != 0
    assert _models(ws) == models
    last = output_lines(capfd)[-1]
    assert last.startswith("error: cannot write") and "No space left on device" in last, last
    monkeypatch.undo()
    assert not [p for p in (ws / "models").rglob(".*tmp-*")]  # no temp file left behind
    _ok("train", "--workspace", str(ws), "--set", "gan.steps=13")  # with space again: trained and swapped in
    assert load_checkpoint(ws / "models" / "gan.pt")["step"] == 13
    assert read_json(ws / "models" / "encoder.json")["gan_sha256"] == sha256_file(ws / "models" / "gan.pt")
    assert not (ws / "models" / "next" / "gan.pt").exists()


def test_an_interrupted_training_resumes_from_models_next_and_ends_where_a_straight_one_does(
        base: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws, _ = _copy(base, tmp_path)
    straight = Path(shutil.copytree(base["ws"], tmp_path / "straight"))
    _ok("train", "--workspace", str(straight), "--set", "gan.steps=18")
    models = _models(ws)
    save = edit_core.train_gan.save_checkpoint

    def dies_after_step_12(path: Path, **state: object) -> None:
        save(path, **state)
        if state["step"] == 12:
            raise RuntimeError("killed")

    monkeypatch.setattr(edit_core.train_gan, "save_checkpoint", dies_after_step_12)
    assert cli("train", "--workspace", str(ws), "--set", "gan.steps=18") != 0
    monkeypatch.undo()
    assert _models(ws) == models  # the old model still in place
    assert load_checkpoint(ws / "models" / "next" / "gan.pt")["step"] == 12
    _ok("train", "--workspace", str(ws), "--set", "gan.steps=18")
    done, ref = load_checkpoint(ws / "models" / "gan.pt"), load_checkpoint(straight / "models" / "gan.pt")
    assert done["step"] == 18 and all(torch.equal(v, ref["G_ema"][k]) for k, v in done["G_ema"].items())
    assert not (ws / "models" / "next" / "gan.pt").exists()


def test_truncated_generator_is_retrained_not_trusted(base: dict, tmp_path: Path) -> None:
    """gan.pt truncated (gan.json intact): train re-trains it and the encoder; before, the intact
    encoder.pt was deleted and train crashed on the truncated generator."""
    ws, _ = _copy(base, tmp_path)
    gan = ws / "models" / "gan.pt"
    gan.write_bytes(gan.read_bytes()[:1000])
    _ok("train", "--workspace", str(ws))
    load_generator(gan)
    load_encoder(ws / "models" / "encoder.pt")


def test_a_crash_after_the_generator_leaves_an_encoder_that_project_refuses(
        base: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture) -> None:
    """9: new settings, the encoder's training dies: project refuses the old encoder, edit the old latents."""
    ws, _ = _copy(base, tmp_path)
    encoder = sha256(ws / "models" / "encoder.pt")

    def dies(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the encoder training died")

    monkeypatch.setattr(tasks.train, "train_encoder", dies)
    assert cli("train", "--workspace", str(ws), "--set", "gan.steps=13") != 0
    monkeypatch.undo()
    assert load_checkpoint(ws / "models" / "gan.pt")["step"] == 13 and sha256(ws / "models" / "encoder.pt") == encoder
    before = file_hashes(ws)
    capfd.readouterr()
    assert cli("project", "--workspace", str(ws), "--set", "gan.steps=13") == 2
    assert "trained for another generator" in output_lines(capfd)[-1]
    assert cli("edit", "--workspace", str(ws), "--name", "e2", "--example", str(base["before"]),
               "--after", str(base["after"])) == 2
    assert "another generator" in output_lines(capfd)[-1]
    assert file_hashes(ws) == before


# ------------------------------------------------------------------------------------------------
# 2, 3. the demo commands never take over a user's folder


def test_demo_catalog_keeps_a_users_photos(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    for i, image in enumerate(render(sample_attributes(20, seed=3), 32)):
        write_png(out / "photos" / f"{i:03d}.png", image)
    before = file_hashes(out)
    capfd.readouterr()
    assert cli("demo-catalog", str(out), "--set", "catalog.size=4", "--set", "catalog.resolution=32") == 2
    assert len(output_lines(capfd)) == 1 and file_hashes(out) == before


def test_demo_refuses_a_real_workspace(base: dict, tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    ws, _ = _copy(base, tmp_path)
    before = file_hashes(ws)
    capfd.readouterr()
    assert cli("demo", "--workspace", str(ws)) == 2
    assert len(output_lines(capfd)) == 1 and file_hashes(ws) == before


# ------------------------------------------------------------------------------------------------
# 4, 5, 6, 13. the source folder: moved, changed, given wrongly, holding the workspace


def test_rescale_with_the_source_folder_gone_refuses_and_keeps_every_image(
        base: dict, tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    ws, src = _copy(base, tmp_path, photos=True)
    before = file_hashes(ws)
    moved = src.rename(tmp_path / "moved")
    capfd.readouterr()
    for command in ("rescale", "report"):
        assert cli(command, "--workspace", str(ws), "--name", "e1") == 2
        assert "missing" in output_lines(capfd)[-1]
    assert file_hashes(ws) == before
    _ok("update", str(moved), "--workspace", str(ws))  # where it moved to: nothing new, nothing lost
    assert read_json(ws / "ingest" / "source.json")["source"] == str(moved)
    assert read_parquet(ws / "ingest" / "manifest.parquet").equals(read_parquet(base["ws"] / "ingest" / "manifest.parquet"))
    _ok("rescale", "--workspace", str(ws), "--name", "e1")
    assert (read_parquet(ws / "edits" / "e1" / "results.parquet")["status"] != "rejected").sum() == 60


def test_a_missing_original_keeps_its_edited_image(base: dict, tmp_path: Path) -> None:
    ws, src = _copy(base, tmp_path, photos=True)
    results = read_parquet(ws / "edits" / "e1" / "results.parquet")
    gone = results[results["status"] != "rejected"].iloc[0]
    image = ws / "edits" / "e1" / "images" / f"{gone['id']}.png"
    kept = sha256(image)
    (src / gone["source_path"]).unlink()
    _ok("rescale", "--workspace", str(ws), "--name", "e1", "--strength", "0.5")
    again = read_parquet(ws / "edits" / "e1" / "results.parquet").set_index("id")
    assert again.loc[gone["id"], "status"] == "rejected" and sha256(image) == kept
    assert (again["status"] != "rejected").sum() == (results["status"] != "rejected").sum() - 1


def test_a_retouched_and_a_deleted_photo_then_update_leaves_a_working_workspace(base: dict, tmp_path: Path) -> None:
    ws, src = _copy(base, tmp_path, photos=True)
    manifest = read_parquet(ws / "ingest" / "manifest.parquet")
    retouched, deleted = manifest["source_path"].iloc[3], manifest["source_path"].iloc[4]
    write_png(src / retouched, 255 - read_photo(src / retouched))
    (src / deleted).unlink()
    _ok("ingest", str(src), "--workspace", str(ws))
    _ok("report", "--workspace", str(ws), "--name", "e1")  # results older than the manifest
    _ok("update", str(src), "--workspace", str(ws))
    _ok("rescale", "--workspace", str(ws), "--name", "e1", "--strength", "0.8")
    _ok("report", "--workspace", str(ws), "--name", "e1")
    _ok("edit", "--workspace", str(ws), "--name", "e2", "--example", str(base["before"]), "--after", str(base["after"]))
    results = read_parquet(ws / "edits" / "e1" / "results.parquet")
    new = read_parquet(ws / "ingest" / "manifest.parquet")
    assert sorted(results["id"]) == sorted(new["id"]) and len(results) == len(manifest) - 1
    assert results.set_index("source_path").loc[retouched, "status"] in ("edited", "flagged")


def test_update_with_a_folder_of_only_new_photos_is_refused(base: dict, tmp_path: Path,
                                                            capfd: pytest.CaptureFixture) -> None:
    ws, _ = _copy(base, tmp_path)
    new = tmp_path / "new"
    for i, image in enumerate(render(sample_attributes(3, seed=11), 96)):
        write_png(new / f"new-{i}.png", image)
    before = file_hashes(ws)
    capfd.readouterr()
    for command in ("update", "ingest", "retrain"):
        assert cli(command, str(new), "--workspace", str(ws)) == 2
        assert "holds 0 of the catalog's 60 photos" in output_lines(capfd)[-1]
    assert file_hashes(ws) == before


def test_a_workspace_that_is_its_own_source_folder_ingests_no_outputs(base: dict, tmp_path: Path) -> None:
    """13: photos and workspace in one folder: update finds no new photos among the pipeline's outputs."""
    ws, _ = _copy(base, tmp_path)
    for photo in base["src"].iterdir():
        shutil.copy2(photo, ws / photo.name)
    write_json(ws / "ingest" / "source.json", {"source": str(ws)})
    manifest = read_parquet(ws / "ingest" / "manifest.parquet")
    _ok("update", str(ws), "--workspace", str(ws))
    assert read_parquet(ws / "ingest" / "manifest.parquet").equals(manifest)


# ------------------------------------------------------------------------------------------------
# 7, 12. an edit's strength, state, name and input


def test_update_re_applies_an_edit_at_the_strength_it_was_applied_at(base: dict, tmp_path: Path) -> None:
    ws, src = _copy(base, tmp_path, photos=True)
    _ok("rescale", "--workspace", str(ws), "--name", "e1", "--strength", "0.5")
    e1 = ws / "edits" / "e1"
    alphas = read_parquet(e1 / "results.parquet").set_index("id")["alpha"]
    for i, image in enumerate(render(sample_attributes(2, seed=12), 96)):
        write_png(src / f"added-{i}.png", image)
    _ok("update", str(src), "--workspace", str(ws))
    after = read_parquet(e1 / "results.parquet").set_index("id")["alpha"]
    assert _strength(e1) == 0.5
    assert len(after) == len(alphas) + 2
    np.testing.assert_allclose(after.loc[alphas.index].to_numpy(), alphas.to_numpy())


def test_update_does_not_apply_an_edit_that_was_only_previewed(base: dict, tmp_path: Path,
                                                               capfd: pytest.CaptureFixture) -> None:
    ws, src = _copy(base, tmp_path)
    _ok("direction", "--workspace", str(ws), "--name", "preview", "--example", str(base["before"]),
        "--after", str(base["after"]))
    capfd.readouterr()
    _ok("update", str(src), "--workspace", str(ws))
    assert not (ws / "edits" / "preview" / "results.parquet").exists()
    assert not (ws / "edits" / "preview" / "images").exists()
    assert "skipped preview: only its direction was fitted" in _text(capfd)


def _other_after(base: dict, tmp_path: Path) -> Path:
    """Another edit of the same example: the after photo with its colours inverted."""
    other = tmp_path / "other-after.png"
    write_png(other, 255 - read_photo(base["after"]))
    return other


def test_reusing_an_edit_name_is_refused_then_replaced_cleanly(base: dict, tmp_path: Path,
                                                               capfd: pytest.CaptureFixture) -> None:
    ws, _ = _copy(base, tmp_path)
    e1 = ws / "edits" / "e1"
    other = _other_after(base, tmp_path)
    edit = ["--workspace", str(ws), "--name", "e1", "--example", str(base["before"]), "--after", str(other)]
    before = file_hashes(ws)
    capfd.readouterr()
    assert cli("edit", *edit) == 2
    assert "already exists" in output_lines(capfd)[-1] and file_hashes(ws) == before
    _ok("edit", *edit, "--replace")
    spec = read_json(e1 / "spec.json")
    assert spec["input_sha256"] == sha256(other) and sha256(e1 / "example" / "after.png") != before["edits/e1/example/after.png"]
    results = read_parquet(e1 / "results.parquet")
    images = {p.stem for p in (e1 / "images").glob("*.png")}
    assert images == set(results.loc[results["status"] != "rejected", "id"])
    assert all(before.get(f"edits/e1/images/{i}.png") != sha256(e1 / "images" / f"{i}.png") for i in images)
    _ok("report", "--workspace", str(ws), "--name", "e1")


def test_a_failed_re_edit_leaves_the_edit_as_it_was(base: dict, tmp_path: Path) -> None:
    """12: a NaN offset under the same name (--replace) fails; e1's example, direction and results stay."""
    ws, _ = _copy(base, tmp_path)
    offset = tmp_path / "nan.npy"
    np.save(offset, np.full(16, np.nan, np.float32))
    before = file_hashes(ws)
    assert cli("edit", "--workspace", str(ws), "--name", "e1", "--example", str(base["before"]),
               "--offset", str(offset), "--replace") != 0
    assert file_hashes(ws / "edits" / "e1") == {k[len("edits/e1/"):]: v for k, v in before.items()
                                           if k.startswith("edits/e1/")}


def test_an_edit_survives_its_input_moving_and_retrain_skips_a_stale_offset(
        base: dict, tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    """7 + 15: e2's after photo is deleted by the user, o1 is an --offset edit; `retrain` fine-tunes G:
    e2 is re-fitted from its own copy, o1 is not replayed in the new latent space (reason printed);
    the fine-tuned encoder starts from the new generator's mean w."""
    ws, src = _copy(base, tmp_path, photos=True)
    write_png(src / "added.png", render(sample_attributes(1, seed=13), 96)[0])  # new data: G is fine-tuned
    mine = tmp_path / "mine.png"
    shutil.copy2(base["after"], mine)
    _ok("edit", "--workspace", str(ws), "--name", "e2", "--example", str(base["before"]), "--after", str(mine),
        "--strength", "0.7")
    mine.unlink()
    offset = tmp_path / "offset.npy"
    np.save(offset, np.full(16, 0.5, np.float32))
    _ok("edit", "--workspace", str(ws), "--name", "o1", "--example", str(base["before"]), "--offset", str(offset))
    offset.unlink()
    o1 = file_hashes(ws / "edits" / "o1")
    capfd.readouterr()
    _ok("retrain", str(src), "--workspace", str(ws), "--steps", "1")
    assert "skipped o1: an --offset edit" in _text(capfd)
    gan = sha256_file(ws / "models" / "gan.pt")
    assert torch.load(ws / "edits" / "e2" / "direction.pt", weights_only=True)["gan_sha256"] == gan
    assert _strength(ws / "edits" / "e2") == 0.7
    assert file_hashes(ws / "edits" / "o1") == o1
    G = load_generator(ws / "models" / "gan.pt")
    assert torch.equal(load_encoder(ws / "models" / "encoder.pt").w_avg, G.mean_w())
    spec = json.loads((ws / "edits" / "e2" / "spec.json").read_text())
    assert (ws / "edits" / "e2" / spec["input"]).is_file() and spec["source_input"] == str(mine)


def test_an_identical_before_after_pair_is_refused_at_once(base: dict, tmp_path: Path,
                                                           capfd: pytest.CaptureFixture) -> None:
    """issue 14.2: an after photo that is the example itself is one line, before any work or file."""
    ws, _ = _copy(base, tmp_path)
    before = file_hashes(ws)
    copy = tmp_path / "same.png"
    shutil.copyfile(base["before"], copy)  # another file, the same pixels
    assert cli("edit", "--workspace", str(ws), "--name", "same", "--example", str(base["before"]),
               "--after", str(copy)) == 2
    assert "identical to the example photo" in _text(capfd) and file_hashes(ws) == before
