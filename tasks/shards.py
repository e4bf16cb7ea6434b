"""The ingest shards (WS/ingest/shard-*.h5) as one image source for training, read batch by batch.

`ShardImages` is the engine's `ImageSource` (edit_core/training.py) over every ingest shard in
order: global index i is row i - offset[s] of shard s. A batch reads only its own rows, shard by
shard (images are stored one HDF5 chunk per image, so that is one decompressed chunk per image), so
training never holds the catalog in memory: a 1M-photo catalog at 64 px is 12 GB of uint8. Rows
come back exactly as `np.concatenate` of the shards would give them, so a training run on this
source samples and sees the same pixels as one on the in-memory array (byte-identical checkpoints).

h5py is not thread-safe: every call holds common.storage.H5_LOCK. File handles are opened lazily,
read-only, and belong to one process (after a fork, or in a pickled copy sent to a DataLoader
worker, they are reopened). At most `max_open` are open at a time, least recently used closed
first: an open HDF5 file costs ~1 MB of metadata cache (256 open shards added ~300 MB to
training's peak RSS at 100k photos), opening one 2-10 ms.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import h5py
import numpy as np

from common.storage import H5_LOCK, reading
from common.workspace import Workspace


def _runs(rows: np.ndarray) -> list[tuple[int, int, int]]:
    """Sorted unique rows -> (start, stop, position of start in `rows`) per run of consecutive rows.

    One slice per run: h5py's fancy (list) indexing costs ~15 ms per row here, a slice ~0.3 ms."""
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    firsts = np.concatenate([[0], breaks])
    lasts = np.concatenate([breaks, [len(rows)]])
    return [(int(rows[a]), int(rows[b - 1]) + 1, int(a)) for a, b in zip(firsts, lasts, strict=True)]


class ShardImages:
    """len() and [indices] -> uint8 [N, R, R, 3] over the `images` datasets of `shards`, in order."""

    def __init__(self, shards: list[Path], max_open: int = 32) -> None:
        if not shards:
            raise ValueError("no image shards to read")
        self.paths = [Path(s) for s in shards]
        self.max_open = max_open
        self._files: OrderedDict[int, h5py.File] = OrderedDict()
        self._pid = os.getpid()
        counts, shapes = [], set()
        for s in range(len(self.paths)):
            with reading(self.paths[s]), H5_LOCK:
                images = self._file(s)["images"]
                counts.append(images.shape[0])
                shapes.add(images.shape[1:])
        if len(shapes) != 1:
            raise ValueError(f"image shards of different shapes {sorted(shapes)}: ingest into one workspace at one "
                             "resolution")
        self.shape = shapes.pop()
        self.offsets = np.cumsum([0, *counts])

    @classmethod
    def of(cls, ws: Workspace) -> ShardImages:
        """Every ingest shard of `ws` (the catalog the models train on)."""
        shards = ws.ingest_shards()
        if not shards:
            raise ValueError(f"{ws.ingest} holds no images; ingest a folder of photos first")
        return cls(shards)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, idx: np.ndarray) -> np.ndarray:
        """Images at global indices `idx` (1-D ints, any order; sorted unique reads fastest)."""
        idx = np.asarray(idx)
        if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
            raise IndexError(f"ShardImages takes a 1-D array of int indices, not {idx.dtype} {idx.shape}")
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"index out of range [0, {len(self)}): {int(idx.min())}..{int(idx.max())}")
        wanted, inverse = np.unique(idx.astype(np.int64), return_inverse=True)
        shard_of = np.searchsorted(self.offsets, wanted, side="right") - 1
        out = np.empty((len(wanted), *self.shape), dtype=np.uint8)
        with H5_LOCK:
            for s in np.unique(shard_of):  # wanted is sorted: each shard's rows are one block of it
                with reading(self.paths[int(s)]):  # a damaged shard: one line naming it
                    images, base = self._file(int(s))["images"], int(np.searchsorted(shard_of, s))
                    for start, stop, first in _runs(wanted[shard_of == s] - self.offsets[s]):
                        out[base + first:base + first + stop - start] = images[start:stop]
        return out if np.array_equal(wanted, idx) else out[inverse]

    def _file(self, s: int) -> h5py.File:
        """Shard s opened read-only in this process (call under H5_LOCK)."""
        if os.getpid() != self._pid:  # forked: the parent's HDF5 handles are not ours to use
            self._files = OrderedDict()
            self._pid = os.getpid()
        if s in self._files:
            self._files.move_to_end(s)
            return self._files[s]
        while len(self._files) >= self.max_open:
            self._files.popitem(last=False)[1].close()
        self._files[s] = h5py.File(self.paths[s], "r")
        return self._files[s]

    def close(self) -> None:
        """Close every open shard (reopened on the next read)."""
        with H5_LOCK:
            while self._files:
                self._files.popitem()[1].close()

    def __getstate__(self) -> dict:
        """Pickles (DataLoader workers, Dask) carry paths and offsets, never open handles."""
        return {**self.__dict__, "_files": OrderedDict()}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._pid = os.getpid()
