"""Demo catalog on disk: PNG photos named by index + attributes.parquet, atomic and deterministic."""

import numpy as np
import pyarrow.parquet as pq
import pytest

from common.errors import InputError
from edit_core.demo_catalog import ATTRIBUTES, NUISANCE, render, sample_attributes
from tasks.catalog import PHOTOS, catalog_schema, read_demo_catalog, write_demo_catalog
from tasks.images import read_photo


def test_write_and_read_back(tmp_path):
    path = write_demo_catalog(tmp_path, n=5, seed=3, resolution=64)
    assert path == tmp_path / "attributes.parquet"
    schema = pq.read_schema(path)
    assert schema.names == catalog_schema(64).names
    assert schema.metadata[b"oneedit.resolution"] == b"64"
    df, rows = read_demo_catalog(tmp_path)
    assert list(df["file"]) == [f"{i:05d}.png" for i in range(5)]
    assert (df["seed"] == 3).all()
    expected = sample_attributes(5, 3)
    for k in (*ATTRIBUTES, *NUISANCE):
        np.testing.assert_array_equal(rows[k], expected[k])
    photos = np.stack([read_photo(tmp_path / PHOTOS / f) for f in df["file"]])
    np.testing.assert_array_equal(photos, render(expected, 64))
    assert not [p for p in tmp_path.rglob(".*")]  # no temp files left


def test_rewrite_is_deterministic_and_drops_stale_photos(tmp_path):
    write_demo_catalog(tmp_path, n=4, seed=1, resolution=32)
    first = (tmp_path / "attributes.parquet").read_bytes()
    write_demo_catalog(tmp_path, n=3, seed=1, resolution=32)
    assert sorted(p.name for p in (tmp_path / PHOTOS).iterdir()) == ["00000.png", "00001.png", "00002.png"]
    write_demo_catalog(tmp_path, n=4, seed=1, resolution=32)
    assert (tmp_path / "attributes.parquet").read_bytes() == first


def test_errors(tmp_path):
    with pytest.raises(InputError):
        write_demo_catalog(tmp_path, n=0)
    with pytest.raises(InputError, match="no demo catalog"):
        read_demo_catalog(tmp_path / "missing")


def test_only_photos_a_demo_catalog_wrote_are_ever_removed(tmp_path):
    user = tmp_path / "mine"
    (user / PHOTOS).mkdir(parents=True)
    (user / PHOTOS / "000.png").write_bytes(b"a user's photo")
    with pytest.raises(InputError, match="no demo catalog wrote"):
        write_demo_catalog(user, n=2, seed=1, resolution=16)
    assert [p.name for p in (user / PHOTOS).iterdir()] == ["000.png"]
    write_demo_catalog(tmp_path, n=3, seed=1, resolution=16)
    for name in ("000.png", "7.png"):  # dropped into the demo folder later, by hand
        (tmp_path / PHOTOS / name).write_bytes(b"mine")
    write_demo_catalog(tmp_path, n=2, seed=1, resolution=16)
    assert sorted(p.name for p in (tmp_path / PHOTOS).iterdir()) == sorted(["00000.png", "00001.png", "000.png", "7.png"])
