"""What the page reads again and again from the workspace, read once per version of its files: each reader
is cached on its path and a stamp (the files' mtimes), so a file rewritten by a run is read afresh."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from common.storage import read_h5, read_parquet
from common.workspace import Workspace
from tasks.ingest import shard_name


@lru_cache(maxsize=4)
def results(path: Path, stamp: int) -> pd.DataFrame:
    """An edit's results.parquet."""
    return read_parquet(path)


@lru_cache(maxsize=2)
def catalog(manifest: Path, stamp: int) -> list[dict]:
    """The accepted photos of the manifest in its order: id, file, shard file, index, width, height."""
    m = read_parquet(manifest)
    m = m[m["status"] == "accepted"]
    return [{"id": r.id, "file": r.source_path, "shard": shard_name(int(r.shard)), "index": int(r.index),
             "width": int(r.width), "height": int(r.height)} for r in m.itertuples(index=False)]


@lru_cache(maxsize=2)
def latents(root: Path, stamp: tuple, load: Callable[[Workspace], dict]) -> dict:
    """Every photo's latent (`load`: tasks.latents.load_latents) of the workspace at `root`."""
    return load(Workspace.open(root))


@lru_cache(maxsize=8)
def shard_images(path: Path, stamp: int) -> np.ndarray:
    """An ingest shard's model-size images (the catalog's thumbnails)."""
    return read_h5(path, ["images"])["images"]
