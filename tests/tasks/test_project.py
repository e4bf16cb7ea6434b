from pathlib import Path

import numpy as np
import pytest

from common.params import load_params
from common.storage import write_h5
from common.workspace import Workspace
from tasks.latents import load_latents
from tasks.project import is_current, shard_fingerprint


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    ws = Workspace.create(tmp_path / "ws")
    write_h5(ws.ingest / "shard-00000.h5", {"images": np.zeros((2, 8, 8, 3), np.uint8), "ids": np.array(["a", "b"])})
    ws.models.mkdir()
    ws.gan.write_bytes(b"gan")
    ws.encoder.write_bytes(b"encoder")
    return ws


def test_fingerprint_tracks_every_input(ws: Workspace) -> None:
    shard = ws.ingest_shards()[0]
    base = shard_fingerprint(ws, shard, load_params(None))
    assert shard_fingerprint(ws, shard, load_params(None, ["edit.strength=2"])) == base  # not an input
    assert shard_fingerprint(ws, shard, load_params(None, ["project.steps=3"])) != base
    ws.gan.write_bytes(b"retrained")
    assert shard_fingerprint(ws, shard, load_params(None)) != base


def test_current_shards_are_recognised(ws: Workspace) -> None:
    shard = ws.ingest_shards()[0]
    out = ws.latent_shard(shard)
    fp = shard_fingerprint(ws, shard, load_params(None))
    assert not is_current(out, fp)
    with pytest.raises(ValueError, match="run `oneedit project`"):
        load_latents(ws)
    latents = {"ids": np.array(["a", "b"]), "w": np.ones((2, 4), np.float32),
               "err_pixel": np.zeros(2, np.float32), "err_feature": np.zeros(2, np.float32)}
    write_h5(out, latents, {"fingerprint": fp})
    assert is_current(out, fp) and not is_current(out, "other")
    loaded = load_latents(ws)
    assert list(loaded["ids"]) == ["a", "b"] and list(loaded["index"]) == [0, 1]
    assert list(loaded["shard"]) == ["shard-00000.h5"] * 2
