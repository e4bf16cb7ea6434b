"""Issue 27, item 1 (catalog-ready outputs) and the review's data side, through `oneedit export` / `review`
and the task functions the Studio calls: an applied edit (results.parquet + images/<id>.png as the
pipeline writes them) over originals in four formats, each coming back under its own name, format,
profile, orientation and alpha."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from PIL import ExifTags, Image, ImageCms

from common.storage import write_parquet
from common.workspace import Workspace
from oneedit.cli import main
from tasks.alphas import RESULTS_SCHEMA
from tasks.export import ExportOptions, export_edit, export_zip
from tasks.images import read_photo, write_png
from tasks.ingest import manifest_schema

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
FILES = ("photo.jpg", "sub/alpha.png", "sub/deep/scan.tif", "web.webp")


def _sources(photos: Path) -> None:
    """A JPEG (ICC, EXIF orientation 6, maker notes), a PNG with alpha, an LZW TIFF and a lossy WebP."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:48, :64]
    rgb = np.stack([xx * 4, yy * 5, (xx + yy) * 2], axis=2).astype(np.uint8)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "OneEditCam"
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = "2024:05:01 10:00:00"
    sub[ExifTags.Base.MakerNote] = b"vendor offsets"
    sub[ExifTags.Base.ExifImageWidth], sub[ExifTags.Base.ExifImageHeight] = 64, 48
    (photos / "sub" / "deep").mkdir(parents=True)
    Image.fromarray(rgb).save(photos / "photo.jpg", quality=83, icc_profile=SRGB, exif=exif)
    alpha = (xx * 4).astype(np.uint8)
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(photos / "sub" / "alpha.png")
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(photos / "sub" / "deep" / "scan.tif",
                                                                             compression="tiff_lzw")
    Image.fromarray(rgb).save(photos / "web.webp", quality=80)


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def applied(tmp_path: Path) -> dict:
    """A workspace whose edit `e1` edited the four photos (the edit: colours inverted), as the pipeline
    leaves it: the manifest, source.json, results.parquet, images/<id>.png (display-oriented, on white)."""
    photos = tmp_path / "photos"
    _sources(photos)
    ws = Workspace.create(tmp_path / "ws")
    rows, results, edited = [], [], {}
    for k, rel in enumerate(FILES):
        sha = hashlib.sha256((photos / rel).read_bytes()).hexdigest()
        i = sha[:16]
        photo = read_photo(photos / rel)
        rows.append([i, rel, sha, photo.shape[1], photo.shape[0], "accepted", "", 0, k])
        edited[rel] = 255 - photo
        write_png(ws.edit("e1").images / f"{i}.png", edited[rel])
        results.append({"id": i, "source_path": rel, "alpha": 0.5, "distance_before": 1.0, "distance_after": 0.0,
                        "err_pixel": 0.01, "status": "edited", "reason": "", "before_gap": 1.0,
                        "final_gap": 0.1 if k < 2 else 0.9, "final_state": "landed" if k < 2 else "short",
                        "t_render": 0.0, "t_transfer": 0.0})
    write_parquet(ws.manifest, pd.DataFrame(rows, columns=manifest_schema(16).names), manifest_schema(16))
    ws.source.write_text(json.dumps({"source": str(photos)}))
    write_parquet(ws.edit("e1").results, pd.DataFrame(results), RESULTS_SCHEMA)
    return {"ws": ws, "photos": photos, "edited": edited, "ids": {r[1]: r[0] for r in rows}}


def _export(applied: dict, dest: Path, *extra: str) -> int:
    return main(["export", "e1", "--workspace", str(applied["ws"].root), "--to", str(dest), "--set",
                 "runtime.threads=1", *extra])


def test_export_writes_each_photo_as_its_original_came(applied: dict, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    before = _hashes(applied["photos"])
    dest = tmp_path / "out"
    assert _export(applied, dest) == 0, capsys.readouterr()
    assert "exported 4 photos" in capsys.readouterr().out
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file() and p.name != ".oneedit-export.json") \
        == sorted(FILES)
    photos, edited = applied["photos"], applied["edited"]
    with Image.open(dest / "photo.jpg") as out, Image.open(photos / "photo.jpg") as src:
        assert out.format == "JPEG" and out.size == (48, 64)  # display-oriented (the original is 64x48, turned)
        assert out.info["icc_profile"] == SRGB and out.quantization == src.quantization
        exif = out.getexif()
        assert exif.get(ExifTags.Base.Orientation) == 1 and exif[ExifTags.Base.Make] == "OneEditCam"
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        assert sub[ExifTags.Base.DateTimeOriginal] == "2024:05:01 10:00:00" and ExifTags.Base.MakerNote not in sub
        assert (sub[ExifTags.Base.ExifImageWidth], sub[ExifTags.Base.ExifImageHeight]) == (48, 64)
        assert np.abs(np.asarray(out.convert("RGB"), float) - edited["photo.jpg"]).mean() < 6
    with Image.open(dest / "sub/alpha.png") as out, Image.open(photos / "sub/alpha.png") as src:
        assert out.format == "PNG" and out.mode == "RGBA"
        assert np.array_equal(np.asarray(out)[..., 3], np.asarray(src)[..., 3])
        assert np.array_equal(np.asarray(out)[..., :3], edited["sub/alpha.png"])
    with Image.open(dest / "sub/deep/scan.tif") as out:
        assert out.format == "TIFF" and out.info["compression"] == "tiff_lzw"
        assert np.array_equal(np.asarray(out), edited["sub/deep/scan.tif"])
    with Image.open(dest / "web.webp") as out:
        assert out.format == "WEBP" and np.abs(np.asarray(out, float) - edited["web.webp"]).mean() < 12
    assert _hashes(photos) == before  # the originals are only read


def test_export_resumes_removes_what_is_no_longer_selected_and_refuses_the_originals_folder(
        applied: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    dest = tmp_path / "out"
    assert _export(applied, dest) == 0
    stamp = (dest / "photo.jpg").stat().st_mtime_ns
    capsys.readouterr()
    assert _export(applied, dest) == 0
    assert "exported 0 photos" in capsys.readouterr().out and (dest / "photo.jpg").stat().st_mtime_ns == stamp
    assert main(["review", "e1", "--workspace", str(applied["ws"].root), "--accept", "photo.jpg,scan.tif",
                 "--reject", "web.webp"]) == 0
    assert "2 accepted, 1 rejected, 1 not reviewed" in capsys.readouterr().out
    assert _export(applied, dest, "--only", "accepted") == 0
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*.*") if p.name != ".oneedit-export.json") == [
        "photo.jpg", "sub/deep/scan.tif"]
    capsys.readouterr()
    for where in (applied["photos"], applied["photos"] / "sub", applied["ws"].root / "x"):
        assert _export(applied, where) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: --to") and "inside" in err[0], err
    assert _export(applied, dest, "--only", "landed") == 0
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*.*") if p.name != ".oneedit-export.json") == [
        "photo.jpg", "sub/alpha.png"]
    results = applied["ws"].edit("e1").results
    pq.write_table(pq.read_table(results).drop_columns(["final_state"]), results)  # results made before the verdict
    capsys.readouterr()
    assert _export(applied, dest, "--only", "landed") == 2
    assert "no per-photo verdict" in capsys.readouterr().err
    assert _export(applied, tmp_path / "again", "--log-file", str(tmp_path / "run.log")) == 0  # Python logging
    assert "INFO tasks.export: export e1 (--only edited, --format same) to" in (tmp_path / "run.log").read_text()


def test_export_format_and_zip_for_the_studio(applied: dict, tmp_path: Path) -> None:
    ws = applied["ws"]
    done = export_edit(ws, "e1", tmp_path / "png", options=ExportOptions(format="png"))
    assert done["exported"] == 4 and (tmp_path / "png" / "photo.png").is_file()
    with Image.open(tmp_path / "png" / "photo.png") as out:
        assert out.format == "PNG" and out.info["icc_profile"] == SRGB
    zipped = export_zip(ws, "e1", tmp_path / "e1.zip")
    with zipfile.ZipFile(zipped["path"]) as archive:
        assert sorted(archive.namelist()) == sorted(FILES)
        with Image.open(io.BytesIO(archive.read("sub/alpha.png"))) as out:
            assert out.mode == "RGBA"


def test_a_changed_original_is_skipped_with_its_reason(applied: dict, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    Image.new("RGB", (64, 48), "red").save(applied["photos"] / "web.webp")
    assert _export(applied, tmp_path / "out") == 0
    out = capsys.readouterr().out
    assert "exported 3 photos" in out and "skipped web.webp: original changed since ingest" in out
    assert not (tmp_path / "out" / "web.webp").exists()
