"""tasks.ingest against a generated catalog of bad and odd images (issue 6), plus determinism,
incremental runs, write errors and the workspace lock.

Every fault kind is one entry of FAULTS: the file(s) it creates and the outcome it must get.
"""

from __future__ import annotations

import errno
import hashlib
import io
import multiprocessing as mp
import os
import resource
import struct
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from common import storage
from common.errors import InputError, OutputWriteError, WorkspaceLocked
from common.lock import workspace_lock
from common.storage import read_h5, read_parquet, sha256_file, write_json
from tasks import images as images_mod
from tasks import ingest as ingest_mod
from tasks.images import decode
from tasks.ingest import ingest
from tests.tasks.permissions import needs_permissions

R = 16
SHARD = 8
RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


# ---------------------------------------------------------------- file builders


def _rgb(w: int, h: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def _encoded(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _grey_png(w: int, h: int, real_rows: int) -> bytes:
    """A greyscale PNG header of w x h whose IDAT holds `real_rows` zero rows (all h rows: a real bomb)."""
    comp = zlib.compressobj(9)
    row = bytes(w + 1)
    idat = b"".join(comp.compress(row) for _ in range(real_rows)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _half_red_jpeg_rotated() -> bytes:
    """40x20 stored pixels, left half red / right half blue, EXIF orientation 6 (display rotated 90° CW)."""
    a = np.zeros((20, 40, 3), np.uint8)
    a[:, :20], a[:, 20:] = RED, BLUE
    exif = Image.Exif()
    exif[0x0112] = 6
    return _encoded(Image.fromarray(a), "JPEG", quality=95, exif=exif)


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (24, 24), c) for c in (RED, (0, 255, 0), BLUE)]
    return _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)


def _palette_transparent() -> bytes:
    im = Image.new("P", (16, 16), 0)
    im.putpalette([0, 0, 0] + [255, 0, 0] * 255)
    return _encoded(im, "PNG", transparency=0)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _symlink_loop(path: Path) -> None:
    os.symlink(path.name, path)


def _dir_loop(path: Path) -> None:
    os.symlink("..", path.parent / "up")
    path.write_bytes(_encoded(_rgb(16, 16, 31), "PNG"))


def _link_outside(path: Path) -> None:
    target = path.parent.parent / f"{path.parent.name}-link-target.png"
    target.write_bytes(_encoded(_rgb(16, 16, 34), "PNG"))
    os.symlink(target, path)


def _large_jpeg(path: Path) -> None:
    y, x = np.mgrid[0:1200, 0:1600]
    a = np.stack([x * 255 // 1600, y * 255 // 1200, (x + y) % 256], axis=-1).astype(np.uint8)
    path.write_bytes(_encoded(Image.fromarray(a), "JPEG"))


def _non_utf8_name(path: Path) -> None:
    raw = os.fsencode(path.parent) + b"/bad\xff name.png"
    with open(raw, "wb") as fh:
        fh.write(_encoded(_rgb(16, 16, 32), "PNG"))


def _workspace_inside_src(path: Path) -> None:
    write_json(path.parent.parent / "workspace.json", {"format": 1})
    path.write_bytes(_encoded(_rgb(16, 16, 33), "PNG"))


def _writer(make: Callable[[], bytes]) -> Callable[[Path], None]:
    """Build heavy files lazily (at fixture time, not at test collection)."""
    return lambda path: path.write_bytes(make())


Builder = bytes | Callable[[Path], None]
# kind -> (relative path, content or builder, expected status or None for "no manifest row", reason part)
FAULTS: dict[str, tuple[str, Builder, str | None, str]] = {
    "empty .jpg": ("empty.jpg", b"", "rejected", "empty file"),
    "zero-byte .png": ("zero.png", b"", "rejected", "empty file"),
    "truncated JPEG": ("trunc.jpg", _encoded(_rgb(64, 64, 1), "JPEG")[:400], "rejected", "cannot decode"),
    "truncated PNG": ("trunc.png", _encoded(_rgb(64, 64, 2), "PNG")[:600], "rejected", "cannot decode"),
    "text saved as .jpg": ("text.jpg", b"hello, not a photo\n" * 10, "rejected", "not a recognised image"),
    "random bytes .png": (
        "random.png",
        np.random.default_rng(3).bytes(5000),
        "rejected",
        "not a recognised image",
    ),
    "non-image extension (.txt)": ("notes.txt", b"notes", "rejected", "unsupported extension '.txt'"),
    "no extension": ("README", b"readme", "rejected", "unsupported extension '(none)'"),
    "wrong extension (PNG bytes as .jpg)": ("png-as.jpg", _encoded(_rgb(20, 20, 4), "PNG"), "accepted", ""),
    "ICO bytes as .png (unsupported format)": (
        "icon.png",
        _encoded(Image.new("RGB", (32, 32), RED), "ICO"),
        "rejected",
        "unsupported format ICO",
    ),
    "1x1 image": ("one.png", _encoded(_rgb(1, 1, 5), "PNG"), "rejected", "too small: 1x1"),
    "3x10000 strip": (
        "strip.png",
        _writer(lambda: _encoded(_rgb(3, 10000, 6), "PNG")),
        "rejected",
        "too small: 3x10000",
    ),
    "8x2000 strip (extreme aspect, resizable)": (
        "thin.png",
        _encoded(_rgb(8, 2000, 7), "PNG"),
        "accepted",
        "",
    ),
    "decompression bomb 20000x20000 (real data)": (
        "bomb.png",
        _writer(lambda: _grey_png(20000, 20000, 20000)),
        "rejected",
        "decompression bomb",
    ),
    "header bomb 100000x100000": (
        "hdr-bomb.png",
        _grey_png(100000, 100000, 1),
        "rejected",
        "decompression bomb",
    ),
    "over the pixel limit 12000x11000": (
        "big-hdr.png",
        _grey_png(12000, 11000, 1),
        "rejected",
        "exceeds the limit of",
    ),
    "file over max_bytes": ("huge.jpg", bytes(3 << 20), "rejected", "file too large"),
    "CMYK JPEG": (
        "cmyk.jpg",
        _encoded(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG"),
        "accepted",
        "",
    ),
    "16-bit grey PNG": (
        "grey16.png",
        _encoded(Image.fromarray(np.full((20, 20), 32768, np.uint16)), "PNG"),
        "accepted",
        "",
    ),
    "16-bit TIFF (I;16)": (
        "grey16.tif",
        _encoded(Image.fromarray(np.full((20, 20), 65535, np.uint16)), "TIFF"),
        "accepted",
        "",
    ),
    "float TIFF (F)": (
        "float.tiff",
        _encoded(Image.fromarray(np.full((20, 20), 0.5, np.float32)), "TIFF"),
        "accepted",
        "",
    ),
    "palette PNG": ("palette.png", _encoded(_rgb(20, 20, 8).convert("P"), "PNG"), "accepted", ""),
    "palette PNG with transparency": ("palette-t.png", _palette_transparent(), "accepted", ""),
    "grey+alpha (LA)": ("la.png", _encoded(Image.new("LA", (16, 16), (0, 0)), "PNG"), "accepted", ""),
    "RGBA transparent": (
        "rgba.png",
        _encoded(Image.new("RGBA", (16, 16), (0, 0, 0, 0)), "PNG"),
        "accepted",
        "",
    ),
    "1-bit BMP": ("bits.bmp", _encoded(Image.new("1", (16, 16), 1), "BMP"), "accepted", ""),
    "grey JPEG": ("grey.jpg", _encoded(Image.new("L", (16, 16), 128), "JPEG"), "accepted", ""),
    "animated GIF": ("anim.gif", _animated_gif(), "accepted", "multi-frame: first frame used"),
    "EXIF-rotated JPEG": ("rotated.jpg", _half_red_jpeg_rotated(), "accepted", ""),
    "progressive JPEG": ("prog.jpg", _encoded(_rgb(40, 30, 9), "JPEG", progressive=True), "accepted", ""),
    "large JPEG (reduced DCT decode)": ("large.jpg", _large_jpeg, "accepted", ""),
    "WebP": ("photo.webp", _encoded(_rgb(20, 24, 11), "WEBP"), "accepted", ""),
    "TIFF RGB": ("photo.tiff", _encoded(_rgb(20, 24, 12), "TIFF"), "accepted", ""),
    "BMP": ("photo.bmp", _encoded(_rgb(20, 24, 13), "BMP"), "accepted", ""),
    "uppercase extension": ("UPPER.JPEG", _encoded(_rgb(20, 24, 14), "JPEG"), "accepted", ""),
    "name with spaces": ("my holiday photo.png", _encoded(_rgb(20, 24, 15), "PNG"), "accepted", ""),
    "non-ASCII name": ("été/日本 ü.png", _encoded(_rgb(20, 24, 16), "PNG"), "accepted", ""),
    "non-UTF-8 file name bytes": ("bad\\xff name.png", _non_utf8_name, "rejected", "not valid UTF-8"),
    "hidden file": (".hidden.png", _encoded(_rgb(20, 24, 17), "PNG"), "accepted", ""),
    "nested directories": ("a/b/c/d/deep.png", _encoded(_rgb(20, 24, 18), "PNG"), "accepted", ""),
    "duplicate content": (
        "zz-dup/copy of png-as.jpg",
        _encoded(_rgb(20, 20, 4), "PNG"),
        "duplicate",
        "duplicate of",
    ),
    "symlink to a file (followed)": ("link.png", _link_outside, "accepted", ""),
    "dangling symlink (unopenable entry)": (
        "dangling.jpg",
        lambda p: os.symlink("does-not-exist.jpg", p),
        "rejected",
        "cannot open: No such file",
    ),
    "symlink loop (file)": ("loop.png", _symlink_loop, "rejected", "Too many levels of symbolic links"),
    "symlink loop (directory, not followed)": ("loopdir/in loop dir.png", _dir_loop, "accepted", ""),
    "FIFO (would block a naive open)": ("pipe.jpg", _fifo, "rejected", "not a regular file"),
    "OneEdit workspace inside the source": ("ws/ingest/old.png", _workspace_inside_src, None, ""),
}


def _build(src: Path) -> None:
    for rel, content, _, _ in FAULTS.values():
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            content(path)


def _snapshot(src: Path, skip: Path | None = None) -> dict[str, tuple[int, int, int]]:
    """(mode, size, mtime_ns) of every entry (symlinks not followed), to prove originals are untouched."""
    out = {}
    for root, dirs, files in os.walk(src):
        for name in dirs + files:
            p = Path(root, name)
            if skip is None or skip not in (p, *p.parents):
                st = p.lstat()
                out[os.fsencode(p).hex()] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


def _run(src: Path, out: Path, **kw: object) -> dict:
    return ingest(src, out, R, SHARD, max_bytes=2 << 20, **kw)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict, dict]:
    """One ingest run over the whole fault catalog (output inside the source folder, on purpose)."""
    src = tmp_path_factory.mktemp("catalog")
    _build(src)
    out = src / "out-ingest"
    before = _snapshot(src)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    summary = _run(src, out)
    summary["seconds"] = time.perf_counter() - t0
    summary["rss_growth_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024
    summary["originals_unchanged"] = _snapshot(src, skip=out) == before
    manifest = read_parquet(out / "manifest.parquet")
    rows = {r["source_path"]: r for r in manifest.to_dict("records")}
    return src, out, summary, rows


# ---------------------------------------------------------------- the fault matrix


@pytest.mark.parametrize("kind", list(FAULTS))
def test_fault_kind(kind: str, catalog: tuple[Path, Path, dict, dict]) -> None:
    rel, _, status, reason = FAULTS[kind]
    rows = catalog[3]
    if status is None:
        assert rel not in rows
        return
    row = rows[rel]
    assert row["status"] == status, row
    assert reason in row["reason"], row
    if status == "rejected":
        assert row["shard"] == -1 and row["index"] == -1
    else:
        assert row["shard"] >= 0 and row["index"] >= 0 and row["width"] > 0 and len(row["id"]) == 16


def test_every_input_is_accounted_for(catalog: tuple[Path, Path, dict, dict]) -> None:
    src, out, summary, rows = catalog
    expected = {rel for rel, _, status, _ in FAULTS.values() if status is not None}
    assert expected <= set(rows)
    assert not any(p.startswith(("out-ingest/", "ws/")) for p in rows), "outputs or workspaces were ingested"
    assert set(rows) == expected, set(rows) ^ expected
    assert summary["seen"] == len(rows) == summary["accepted"] + summary["rejected"] + summary["duplicate"]
    assert all(r["reason"] for r in rows.values() if r["status"] != "accepted")
    assert summary["seconds"] < 20
    assert summary["originals_unchanged"]


def test_bomb_memory_stays_bounded(catalog: tuple[Path, Path, dict, dict]) -> None:
    """Decoding the 20000x20000 bomb alone would need 400 MB; the whole run must stay far below."""
    assert catalog[2]["rss_growth_mb"] < 150


def test_pixels_match_ids_and_conversions(catalog: tuple[Path, Path, dict, dict]) -> None:
    src, out, _, rows = catalog
    shards = {p.name: read_h5(p) for p in sorted(out.glob("shard-*.h5"))}
    for s in shards.values():
        assert s["images"].dtype == np.uint8 and s["images"].shape[1:] == (R, R, 3)
        assert list(s["ids"]) == sorted(s["ids"])
        assert len(s["images"]) <= SHARD
    all_ids = [i for s in shards.values() for i in s["ids"]]
    assert all_ids == sorted(all_ids), "shard membership follows sorted ids"

    def thumb(rel: str) -> np.ndarray:
        r = rows[rel]
        s = shards[f"shard-{r['shard']:05d}.h5"]
        assert s["ids"][r["index"]] == r["id"]
        return s["images"][r["index"]].astype(int)

    for rel, r in rows.items():
        if r["status"] == "accepted" and "\\x" not in rel:
            data = (src / rel).read_bytes()
            assert hashlib.sha256(data).hexdigest() == r["sha256"]
            expect = decode(data, R, 120_000_000, 8)[0]
            assert np.array_equal(thumb(rel), expect), rel
    assert np.allclose(thumb("cmyk.jpg").mean((0, 1)), RED, atol=10)
    assert np.abs(thumb("grey16.png") - 128).max() <= 1, "16-bit must be scaled, not clipped"
    assert thumb("grey16.tif").min() == 255
    assert np.abs(thumb("float.tiff") - 128).max() <= 1
    for rel in ("la.png", "rgba.png", "palette-t.png"):
        assert thumb(rel).min() == 255, f"{rel}: transparent pixels must become white"
    assert np.allclose(thumb("anim.gif").mean((0, 1)), RED, atol=3)
    rot = thumb("rotated.jpg")
    assert rows["rotated.jpg"]["width"] == 20 and rows["rotated.jpg"]["height"] == 40
    assert np.allclose(rot[: R // 2 - 1].mean((0, 1)), RED, atol=25)
    assert np.allclose(rot[R // 2 + 1 :].mean((0, 1)), BLUE, atol=25)
    assert (rows["large.jpg"]["width"], rows["large.jpg"]["height"]) == (1600, 1200)
    dup = rows["zz-dup/copy of png-as.jpg"]
    assert dup["id"] == rows["png-as.jpg"]["id"] and dup["reason"].endswith("(png-as.jpg)")


def test_same_input_gives_byte_identical_outputs(
    catalog: tuple[Path, Path, dict, dict], tmp_path: Path
) -> None:
    """An independent rebuild of the catalog, ingested the same way, gives the same bytes."""
    out = catalog[1]
    src2 = tmp_path / "catalog"
    src2.mkdir()
    _build(src2)
    again = src2 / "out-ingest"
    _run(src2, again)
    first = {p.name: sha256_file(p) for p in out.iterdir()}
    second = {p.name: sha256_file(p) for p in again.iterdir()}
    assert first == second and "manifest.parquet" in first and len(first) >= 3


# ---------------------------------------------------------------- single-fault runs


def _small_src(root: Path, n: int, seed: int = 0) -> Path:
    src = root / "src"
    src.mkdir(exist_ok=True)
    for i in range(n):
        (src / f"img{seed}-{i:03d}.png").write_bytes(_encoded(_rgb(20, 18, seed * 1000 + i), "PNG"))
    return src


def test_file_changing_while_read_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bytes hashed are the bytes decoded: a file rewritten between the passes is not mislabelled."""
    src = _small_src(tmp_path, 3)
    real = ingest_mod.read_bytes

    def changing(path: Path, max_bytes: int) -> bytes:
        data = real(path, max_bytes)
        return _encoded(_rgb(20, 18, 99), "PNG") if path.name == "img0-001.png" else data

    monkeypatch.setattr(ingest_mod, "read_bytes", changing)
    summary = _run(src, tmp_path / "out")
    rows = read_parquet(tmp_path / "out" / "manifest.parquet").set_index("source_path")
    assert rows.loc["img0-001.png", "status"] == "rejected"
    assert "changed while ingesting" in rows.loc["img0-001.png", "reason"]
    assert summary["accepted"] == 2
    monkeypatch.undo()
    again = _run(src, tmp_path / "out")
    assert again["accepted"] == 3 and again["new"] == 1 and again["reused"] == 2


def test_unexpected_decoder_errors_reject_one_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Untrusted bytes can make a decoder raise anything: only that file is rejected."""
    src = _small_src(tmp_path, 3)
    real_rgb = images_mod._to_rgb
    calls: list[int] = []

    def flaky(im: Image.Image) -> np.ndarray:
        calls.append(1)
        if len(calls) == 2:
            raise IndexError("list index out of range")
        return real_rgb(im)

    def bad_exif(im: Image.Image) -> Image.Image:
        raise SyntaxError("corrupt EXIF")

    monkeypatch.setattr(images_mod, "_to_rgb", flaky)
    monkeypatch.setattr(images_mod.ImageOps, "exif_transpose", bad_exif)
    summary = _run(src, tmp_path / "out")
    rows = read_parquet(tmp_path / "out" / "manifest.parquet")
    assert (summary["accepted"], summary["rejected"]) == (2, 1)
    assert (rows["reason"] == "cannot decode: list index out of range").sum() == 1
    assert (rows["reason"] == "unreadable EXIF orientation ignored").sum() == 2


def test_id_collision_is_rejected_not_merged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_mod, "ID_HEX", 1)
    src = _small_src(tmp_path, 40)
    summary = _run(src, tmp_path / "out")
    rows = read_parquet(tmp_path / "out" / "manifest.parquet")
    collided = rows[rows["reason"].str.startswith("id collision")]
    assert len(collided) > 0 and summary["accepted"] == rows["id"][rows["status"] == "accepted"].nunique()


@needs_permissions
def test_unreadable_file_and_folder_chmod_000(tmp_path: Path) -> None:
    src = _small_src(tmp_path, 2)
    (src / "img0-000.png").chmod(0)
    (src / "locked").mkdir()
    (src / "locked" / "inside.png").write_bytes(_encoded(_rgb(16, 16, 40), "PNG"))
    (src / "locked").chmod(0)
    try:
        summary = _run(src, tmp_path / "out")
    finally:
        (src / "locked").chmod(0o755)
    rows = read_parquet(tmp_path / "out" / "manifest.parquet").set_index("source_path")
    assert rows.loc["img0-000.png", "reason"] == "cannot open: Permission denied"
    assert rows.loc["locked", "reason"] == "cannot list directory: Permission denied"
    assert summary["accepted"] == 1 and summary["rejected"] == 2


def test_incremental_processes_only_new_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _small_src(tmp_path, 10)
    out = tmp_path / "out"
    events: list[tuple] = []
    first = _run(src, out, on_progress=lambda *event: events.append(event))
    hashing = [e for e in events if e[2] == "ingest: hash 10 files"]
    decoding = [e for e in events if e[2] == "ingest: decode 10 new photos (10 files hashed)"]
    assert events == hashing + decoding and [e[0] for e in hashing] == list(range(10))
    assert [e[:2] for e in decoding] == [(k, 10) for k in range(11)]
    assert (first["new"], first["shards"]) == (10, ["shard-00000.h5", "shard-00001.h5"])
    before = {p.name: sha256_file(p) for p in out.glob("shard-*.h5")}
    _small_src(tmp_path, 3, seed=1)
    (src / "img0-000.png").unlink()
    decoded: list[int] = []
    real = ingest_mod.decode
    monkeypatch.setattr(ingest_mod, "decode", lambda *a: decoded.append(1) or real(*a))
    second = _run(src, out)
    assert len(decoded) == 3 and second["new"] == 3 and second["reused"] == 9 and second["removed"] == 1
    assert second["shards"] == ["shard-00002.h5"] and second["seen"] == 12
    assert {p: sha256_file(out / p) for p in before} == before, "existing shards are never rewritten"
    third = _run(src, out)
    assert third["new"] == 0 and third["shards"] == [] and third["accepted"] == 12


def test_resolution_change_is_refused(tmp_path: Path) -> None:
    src = _small_src(tmp_path, 2)
    _run(src, tmp_path / "out")
    with pytest.raises(InputError, match="holds 16 px shards, not 32 px"):
        ingest(src, tmp_path / "out", 32, SHARD)
    with pytest.raises(InputError, match="source folder not found"):
        ingest(tmp_path / "nope", tmp_path / "out2", R, SHARD)


def test_write_error_is_one_line_and_keeps_earlier_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _small_src(tmp_path, 4)
    out = tmp_path / "out"
    _run(src, out)
    before = {p.name: sha256_file(p) for p in out.iterdir()}
    _small_src(tmp_path, 2, seed=2)

    def full(*_: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(storage.os, "replace", full)
    with pytest.raises(OutputWriteError) as info:
        _run(src, out)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("cannot write ") and "No space left on device" in msg
    monkeypatch.undo()
    assert {p.name: sha256_file(p) for p in out.iterdir()} == before, "earlier outputs intact, no temp files"
    assert _run(src, out)["new"] == 2


@needs_permissions
def test_read_only_output_directory(tmp_path: Path) -> None:
    src = _small_src(tmp_path, 2)
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        with pytest.raises(OutputWriteError, match="Permission denied"):
            _run(src, out)
    finally:
        out.chmod(0o755)


# ---------------------------------------------------------------- workspace lock


def _locked_writer(ws: str, tag: str, log: str, wait: float) -> None:
    with workspace_lock(ws, wait=wait):
        for i in range(5):
            with open(log, "a") as fh:
                fh.write(f"{tag}{i}\n")
            time.sleep(0.02)


def _hold(ws: str, ready: Any, release: Any | None) -> None:
    """Take the workspace lock, say so, and keep it until `release` is set (or 60 s)."""
    with workspace_lock(ws):
        ready.set()
        if release is None:
            time.sleep(60)
        else:
            release.wait(10)


# `spawn`, not `fork`: the suite runs threads (Prefect's test server, Dask) that a fork would copy.
def test_lock_serialises_two_processes(tmp_path: Path) -> None:
    log = tmp_path / "log"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_locked_writer, args=(str(tmp_path), t, str(log), 10.0)) for t in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)  # a bound, not a timing: each spawned process imports torch and prefect
    assert [p.exitcode for p in procs] == [0, 0]
    lines = log.read_text().split()
    assert len(lines) == 10
    assert lines[:5] in ([f"a{i}" for i in range(5)], [f"b{i}" for i in range(5)]), "runs interleaved"


def test_lock_refuses_with_holder_pid_then_waits(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(tmp_path), ready, release))
    holder.start()
    try:
        assert ready.wait(120)  # a bound: the spawned process imports torch and prefect
        with pytest.raises(WorkspaceLocked, match=rf"in use by pid {holder.pid}\b"), workspace_lock(tmp_path):
            pass
        with pytest.raises(WorkspaceLocked, match="after waiting 0.2 s"), workspace_lock(tmp_path, wait=0.2):
            pass
        threading.Timer(0.2, release.set).start()
        with workspace_lock(tmp_path, wait=5) as lock_file:
            assert lock_file.read_text().strip() == str(os.getpid())
    finally:
        release.set()
        holder.join(10)
    assert holder.exitcode == 0


def test_lock_is_released_when_the_holder_dies(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    p = ctx.Process(target=_hold, args=(str(tmp_path), ready, None))
    p.start()
    assert ready.wait(120)  # a bound: the spawned process imports torch and prefect
    p.kill()
    p.join(10)
    with workspace_lock(tmp_path, wait=2):
        pass


def test_rerun_is_idempotent_and_skips_its_own_output(catalog: tuple[Path, Path, dict, dict]) -> None:
    """The output folder lies inside the source: a re-run must not ingest its own shards."""
    src, out, summary, _ = catalog
    manifest = sha256_file(out / "manifest.parquet")
    again = _run(src, out)
    assert (again["seen"], again["new"], again["shards"]) == (summary["seen"], 0, [])
    assert again["reused"] == summary["accepted"]
    assert sha256_file(out / "manifest.parquet") == manifest
