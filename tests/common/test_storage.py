"""common.storage: atomic writes, byte-identical outputs, no in-place modification, thread safety."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from common import storage
from common.errors import OneEditError, OutputWriteError, UnreadableFile
from common.storage import (
    atomic_path,
    read_h5,
    read_h5_attrs,
    read_json,
    read_parquet,
    remove_stale_temps,
    sha256_file,
    write_h5,
    write_json,
    write_parquet,
)
from tests.tasks.permissions import needs_permissions

SCHEMA = pa.schema([("id", pa.string()), ("x", pa.int64()), ("y", pa.float32())])


def _images(n: int = 3, r: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, r, r, 3), dtype=np.uint8)


def test_atomic_path_success_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    final = tmp_path / "sub" / "out.bin"
    with atomic_path(final) as tmp:
        assert tmp.parent == final.parent and tmp.name.startswith(".out.bin.tmp-")
        tmp.write_bytes(b"new")
        assert not final.exists()
    assert final.read_bytes() == b"new"
    assert sorted(p.name for p in final.parent.iterdir()) == ["out.bin"]


def test_atomic_path_exception_keeps_old_file_and_removes_temp(tmp_path: Path) -> None:
    final = tmp_path / "out.bin"
    final.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(final) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("boom")
    assert final.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_path_disk_full_is_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    final = tmp_path / "out.h5"
    write_h5(final, {"a": np.arange(3)})
    before = sha256_file(final)

    def full(*_: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(storage.os, "replace", full)
    with pytest.raises(OutputWriteError) as info:
        write_h5(final, {"a": np.arange(5)})
    assert isinstance(info.value, OneEditError) and isinstance(info.value, OSError)
    assert (
        "\n" not in str(info.value) and "No space left" in str(info.value) and str(final) in str(info.value)
    )
    assert sha256_file(final) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.h5"]


@needs_permissions
def test_read_only_directory_is_one_line_error(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputWriteError, match="Permission denied"):
            write_json(ro / "x.json", {"a": 1})
    finally:
        ro.chmod(0o755)


def test_h5_roundtrip_layout_and_attrs(tmp_path: Path) -> None:
    imgs = _images()
    ids = np.array(["a1", "b2", "ça"])
    write_h5(
        tmp_path / "s.h5", {"images": imgs, "ids": ids, "w": np.ones((3, 4), np.float32)}, {"resolution": 8}
    )
    out = read_h5(tmp_path / "s.h5")
    assert np.array_equal(out["images"], imgs) and out["images"].dtype == np.uint8
    assert out["ids"].dtype.kind == "U" and out["ids"].tolist() == ids.tolist()
    assert read_h5(tmp_path / "s.h5", ["w"]).keys() == {"w"}
    assert read_h5_attrs(tmp_path / "s.h5") == {"resolution": 8}
    with h5py.File(tmp_path / "s.h5", "r") as f:
        assert f["images"].chunks == (1, 8, 8, 3) and f["images"].compression == "gzip"
        assert h5py.check_string_dtype(f["ids"].dtype).encoding == "utf-8"
        for name in f:
            assert h5py.h5o.get_info(f[name].id).ctime == 0, "timestamps would break byte-identity"
    with pytest.raises(UnreadableFile, match="no dataset .nope."):
        read_h5(tmp_path / "s.h5", ["nope"])


def test_h5_empty_image_batch(tmp_path: Path) -> None:
    write_h5(tmp_path / "e.h5", {"images": np.zeros((0, 8, 8, 3), np.uint8), "ids": np.array([], dtype=str)})
    out = read_h5(tmp_path / "e.h5")
    assert out["images"].shape == (0, 8, 8, 3) and out["ids"].shape == (0,)


def test_outputs_are_byte_identical(tmp_path: Path) -> None:
    df = pd.DataFrame({"id": ["a", "b"], "x": [1, 2], "y": [0.5, 1.5]})
    for d in ("a", "b"):
        write_h5(tmp_path / d / "s.h5", {"images": _images(), "ids": np.array(["x", "y", "z"])}, {"r": 8})
        write_parquet(tmp_path / d / "m.parquet", df, SCHEMA)
        write_json(tmp_path / d / "j.json", {"b": 1, "a": [1, 2]})
    for name in ("s.h5", "m.parquet", "j.json"):
        assert sha256_file(tmp_path / "a" / name) == sha256_file(tmp_path / "b" / name), name


def test_rewrite_never_modifies_a_hardlinked_copy(tmp_path: Path) -> None:
    """DVC may hardlink outputs into its cache: a rewrite must be a new inode, the cache untouched."""
    final = tmp_path / "s.h5"
    write_h5(final, {"images": _images(seed=1)})
    cache = tmp_path / "cache-copy"
    os.link(final, cache)
    cached = sha256_file(cache)
    write_h5(final, {"images": _images(seed=2)})
    assert sha256_file(cache) == cached
    assert os.stat(final).st_ino != os.stat(cache).st_ino
    assert np.array_equal(read_h5(final)["images"], _images(seed=2))


def test_h5_calls_from_many_threads(tmp_path: Path) -> None:
    def job(i: int) -> bool:
        p = tmp_path / f"{i % 4}.h5"
        write_h5(p, {"images": _images(seed=i % 4)})
        return np.array_equal(read_h5(p)["images"], _images(seed=i % 4))

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(job, range(32)))


def test_parquet_schema_is_explicit_and_clean(tmp_path: Path) -> None:
    df = pd.DataFrame({"y": [0.25], "x": [7], "id": ["é"]}, index=[42])
    write_parquet(tmp_path / "m.parquet", df, SCHEMA)
    assert pq.read_schema(tmp_path / "m.parquet").names == ["id", "x", "y"]
    assert b"pandas" not in (pq.read_schema(tmp_path / "m.parquet").metadata or {})
    back = read_parquet(tmp_path / "m.parquet")
    assert back.to_dict("records") == [{"id": "é", "x": 7, "y": 0.25}]
    assert list(back.index) == [0]
    with pytest.raises(ValueError, match=r"missing \['y'\], unexpected \['z'\]"):
        write_parquet(tmp_path / "bad.parquet", pd.DataFrame({"id": ["a"], "x": [1], "z": [1]}), SCHEMA)
    assert not (tmp_path / "bad.parquet").exists()


def test_sha256_and_json(tmp_path: Path) -> None:
    blob = os.urandom(3 << 20)
    (tmp_path / "b").write_bytes(blob)
    assert sha256_file(tmp_path / "b", chunk=1000) == hashlib.sha256(blob).hexdigest()
    write_json(tmp_path / "j.json", {"z": np.int64(3), "a": np.arange(2), "p": Path("x/y"), "ü": 1.5})
    text = (tmp_path / "j.json").read_text(encoding="utf-8")
    assert list(json.loads(text)) == ["a", "p", "z", "ü"] and text.endswith("\n")
    assert read_json(tmp_path / "j.json") == {"a": [0, 1], "p": "x/y", "z": 3, "ü": 1.5}


def test_stale_temps_of_dead_writers_are_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".shard-00000.h5.tmp-{dead.pid}-0123abcd"
    live = tmp_path / f".shard-00001.h5.tmp-{os.getpid()}-0123abcd"
    keep = tmp_path / "shard-00000.h5"
    for p in (stale, live, keep):
        p.write_bytes(b"x")
    assert remove_stale_temps(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, keep.name])
    assert remove_stale_temps(tmp_path / "missing") == []
