"""Ingest a folder of photos into model-resolution HDF5 shards and a Parquet manifest.

Every regular file under the source folder becomes one manifest row: `accepted`, `duplicate`
(same bytes as an accepted file) or `rejected` (with a one-line reason); one bad file never
stops the run. Ids are the first 16 hex digits of the sha256 of the exact bytes that were
decoded, so an id always matches its pixels. Two passes keep memory bounded and shard
membership independent of file names: pass 1 hashes every file (streaming), pass 2 decodes the
new ids in sorted order, one shard of thumbnails in memory at a time. Incremental: ids already
in the previous manifest are reused (not decoded again) and new shards continue the numbering;
existing shards are never rewritten. The manifest is written last and is the commit point:
after a crash the previous manifest and shards stay valid.
"""

from __future__ import annotations

import io
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from common import progress
from common.errors import InputError
from common.lock import LOCK_NAME
from common.params import Params
from common.progress import ProgressFn
from common.storage import (
    FileTooLarge,
    reading,
    remove_stale_temps,
    sha256_bytes,
    sha256_file,
    write_h5,
    write_json,
    write_parquet,
)
from common.workspace import FOLDERS, META, Workspace
from tasks.images import MAX_PIXELS, Rejected, decode

log = logging.getLogger(__name__)
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"})
ID_HEX = 16
MANIFEST = "manifest.parquet"
MANIFEST_COLUMNS = ["id", "source_path", "sha256", "width", "height", "status", "reason", "shard", "index"]


def manifest_schema(resolution: int) -> pa.Schema:
    """The manifest's explicit schema; the shard resolution rides along as schema metadata."""
    fields = [
        ("id", pa.string()),
        ("source_path", pa.string()),
        ("sha256", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("status", pa.string()),
        ("reason", pa.string()),
        ("shard", pa.int32()),
        ("index", pa.int32()),
    ]
    return pa.schema(fields, metadata={"oneedit.resolution": str(resolution)})


def shard_name(shard: int) -> str:
    """File name of shard number `shard` inside the ingest folder."""
    return f"shard-{shard:05d}.h5"


@dataclass(slots=True)
class _Row:
    source_path: str
    id: str = ""
    sha256: str = ""
    width: int = -1
    height: int = -1
    status: str = "rejected"
    reason: str = ""
    shard: int = -1
    index: int = -1


def _open_regular(path: Path) -> io.BufferedReader:
    """Open read-only without blocking (FIFOs, devices) and refuse anything but a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise Rejected(f"cannot open: {exc.strerror or exc}") from exc
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise Rejected("not a regular file")
    return os.fdopen(fd, "rb")


def _hash_file(path: Path, max_bytes: int) -> str:
    """Streaming sha256 (pass 1): bounded memory whatever the file size."""
    with _open_regular(path) as fh:
        try:
            digest = sha256_file(fh, max_bytes=max_bytes)
        except FileTooLarge:
            raise Rejected(f"file too large (> {max_bytes} bytes)") from None
        except OSError as exc:
            raise Rejected(f"cannot read: {exc.strerror or exc}") from exc
        empty = fh.tell() == 0
    if empty:
        raise Rejected("empty file")
    return digest


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """Read a whole file once (pass 2); the caller hashes and decodes these very bytes."""
    with _open_regular(path) as fh:
        try:
            data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise Rejected(f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise Rejected(f"file too large (> {max_bytes} bytes)")
    return data


def _walk(src: Path, exclude: Path) -> tuple[list[str], list[_Row]]:
    """Relative posix paths of every non-directory entry under src (sorted), plus rows for walk errors.

    Symlinked directories are not followed (no loops); symlinked files are. The output folder and
    any OneEdit workspace inside src are skipped; when src is itself a workspace, its outputs are.
    """
    files: list[str] = []
    errors: list[_Row] = []

    def onerror(exc: OSError) -> None:
        rel = Path(exc.filename).relative_to(src).as_posix() if exc.filename else "."
        errors.append(_Row(rel, reason=f"cannot list directory: {exc.strerror or exc}"))

    for root, dirnames, filenames in os.walk(src, onerror=onerror, followlinks=False):
        rootp = Path(root)
        if META in filenames and rootp != src:
            dirnames[:] = []
            continue
        if META in filenames:  # src is itself a workspace: its photos, never its outputs
            dirnames[:] = [d for d in dirnames if d not in FOLDERS]
            filenames = [f for f in filenames if f not in (META, LOCK_NAME)]
        dirnames[:] = sorted(d for d in dirnames if (rootp / d).resolve() != exclude)
        files.extend((rootp / f).relative_to(src).as_posix() for f in filenames)
    return sorted(files), errors


def _utf8_ok(rel: str) -> bool:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Previous:
    """The previous manifest of an incremental run, compact: its Arrow columns and the accepted ids sorted
    as utf-8 bytes (about 120 bytes per photo, no Python row per photo); `get(id)` is one accepted row."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table.combine_chunks()
        self.accepted = np.flatnonzero(pc.equal(self.table["status"], "accepted").to_numpy(zero_copy_only=False))
        ids = np.char.encode(self.table["id"].take(self.accepted).to_numpy(zero_copy_only=False).astype(str), "utf-8")
        order = np.argsort(ids, kind="stable")
        self.ids, self.rows = ids[order], self.accepted[order]
        self.next_shard = int(pc.max(self.table["shard"]).as_py()) + 1 if len(self.table) else 0

    def get(self, id_: str) -> dict | None:
        """The accepted row of `id_` (MANIFEST_COLUMNS), or None."""
        key = id_.encode("utf-8")
        k = int(np.searchsorted(self.ids, key))
        if k == len(self.ids) or self.ids[k] != key:
            return None
        return self.table.slice(int(self.rows[k]), 1).to_pylist()[0]

    def removed(self, seen: pa.Array) -> int:
        """Previous paths that are not among the `seen` source paths."""
        return int(pc.sum(pc.invert(pc.is_in(self.table["source_path"], value_set=seen))).as_py() or 0)


def _load_previous(out: Path, resolution: int) -> _Previous | None:
    """The previous manifest (incremental runs); refuse to mix resolutions in one workspace."""
    path = out / MANIFEST
    if not path.exists():
        return None
    meta = pq.read_schema(path).metadata or {}
    prev_res = int(meta.get(b"oneedit.resolution", b"-1"))
    if prev_res != resolution:
        raise InputError(
            f"{path} holds {prev_res} px shards, not {resolution} px: ingest into a new workspace "
            f"or pass resolution={prev_res}"
        )
    with reading(path):
        return _Previous(pq.read_table(path, columns=MANIFEST_COLUMNS))


def ingest(
    src_dir: Path | str,
    out_dir: Path | str,
    resolution: int,
    shard_size: int = 1024,
    *,
    max_pixels: int = MAX_PIXELS,
    min_side: int = 8,
    max_bytes: int = 512 << 20,
    on_progress: ProgressFn = progress.quiet,
) -> dict[str, Any]:
    """Ingest `src_dir` (recursively) into `out_dir` (shards + manifest); returns counts.

    `on_progress` gets, before each file of either pass and once at the end, the count of its phase: files
    hashed of all files (pass 1), then new photos decoded of those to decode (pass 2).

    Originals are only ever opened read-only. Re-running on a grown folder decodes only the new
    files. Counts: seen = accepted + duplicate + rejected; `new` ids were decoded in this run,
    `reused` came from the previous manifest; `removed` are previous paths no longer present.
    """
    src = Path(src_dir).resolve()
    out = Path(out_dir).resolve()
    if not src.is_dir():
        raise InputError(f"source folder not found: {src_dir}")
    if resolution < 8 or shard_size < 1:
        raise InputError(f"resolution must be >= 8 and shard_size >= 1 (got {resolution}, {shard_size})")
    prev = _load_previous(out, resolution)
    remove_stale_temps(out)
    next_shard = prev.next_shard if prev is not None else 0
    reused = 0

    # Pass 1: hash every file; the first path (sorted) of each content is its primary.
    rels, rows = _walk(src, out)
    primary: dict[str, _Row] = {}
    dupes: list[_Row] = []

    def report(hashed: int, decoded: int) -> None:
        files = len(rels)
        if hashed < files:
            on_progress(hashed, files, f"ingest: hash {files} files")
        else:
            on_progress(decoded, len(new_ids), f"ingest: decode {len(new_ids)} new photos ({files} files hashed)")

    new_ids: list[str] = []
    shards: list[str] = []
    for n_hashed, rel in enumerate(rels, 1):
        report(n_hashed - 1, 0)
        row = _Row(rel)
        rows.append(row)
        if not _utf8_ok(rel):
            row.source_path = os.fsencode(rel).decode("utf-8", "backslashreplace")
            row.reason = "file name is not valid UTF-8"
            continue
        ext = Path(rel).suffix.lower()
        if ext not in IMAGE_EXTENSIONS:
            row.reason = f"unsupported extension {ext or '(none)'!r}"
            continue
        try:
            row.sha256 = _hash_file(src / rel, max_bytes)
        except Rejected as exc:
            row.reason = str(exc)
            continue
        row.id = row.sha256[:ID_HEX]
        first = primary.setdefault(row.id, row)
        if first is not row:
            if first.sha256 != row.sha256:
                row.reason = f"id collision with {first.source_path}"
            else:
                dupes.append(row)
        elif (old := prev.get(row.id) if prev is not None else None) is None:
            continue
        elif old["sha256"] != row.sha256:
            row.reason = f"id collision with {old['source_path']} (previous run)"
        else:
            row.width, row.height, row.reason = int(old["width"]), int(old["height"]), old["reason"]
            row.status, row.shard, row.index = "accepted", int(old["shard"]), int(old["index"])
            reused += 1

    # Pass 2: decode new ids in sorted order, one shard of thumbnails in memory at a time.
    new_ids = sorted(i for i, r in primary.items() if r.status != "accepted" and not r.reason)
    buf: list[np.ndarray] = []
    buf_rows: list[_Row] = []

    def flush() -> None:
        nonlocal next_shard
        name = shard_name(next_shard)
        ids = np.array([r.id for r in buf_rows], dtype=str)
        write_h5(out / name, {"images": np.stack(buf), "ids": ids}, {"resolution": resolution})
        for i, r in enumerate(buf_rows):
            r.status, r.shard, r.index = "accepted", next_shard, i
        shards.append(name)
        next_shard += 1
        buf.clear()
        buf_rows.clear()

    for n_decoded, id_ in enumerate(new_ids):
        report(len(rels), n_decoded)
        row = primary[id_]
        try:
            data = read_bytes(src / row.source_path, max_bytes)
            if sha256_bytes(data) != row.sha256:
                raise Rejected("file changed while ingesting; run ingest again")
            thumb, row.width, row.height, row.reason = decode(data, resolution, max_pixels, min_side)
        except Rejected as exc:
            row.reason = str(exc)
            continue
        buf.append(thumb)
        buf_rows.append(row)
        if len(buf) == shard_size:
            flush()
    if buf:
        flush()
    report(len(rels), len(new_ids))

    for row in dupes:
        first = primary[row.id]
        if first.status == "accepted":
            row.width, row.height, row.shard, row.index = first.width, first.height, first.shard, first.index
            row.status, row.reason = "duplicate", f"duplicate of {row.id} ({first.source_path})"
        else:
            row.reason = first.reason

    rows.sort(key=lambda r: r.source_path)
    df = pd.DataFrame([[getattr(r, c) for c in MANIFEST_COLUMNS] for r in rows], columns=MANIFEST_COLUMNS)
    write_parquet(out / MANIFEST, df, manifest_schema(resolution))

    counts = df["status"].value_counts()
    return {
        "seen": len(df),
        "accepted": int(counts.get("accepted", 0)),
        "duplicate": int(counts.get("duplicate", 0)),
        "rejected": int(counts.get("rejected", 0)),
        "new": sum(1 for i in new_ids if primary[i].status == "accepted"),
        "reused": reused,
        "removed": 0 if prev is None else prev.removed(pa.array(df["source_path"], pa.string())),
        "shards": shards,
        "manifest": str(out / MANIFEST),
    }


@task(cache_policy=NO_CACHE, persist_result=False)
def ingest_photos(source: Path, ws: Workspace, params: Params) -> dict:
    """Decode SRC into WS/ingest (incremental) and remember where the originals live."""
    with progress.track(f"ingest: list the files of {source}", total=None) as bar:
        summary = ingest(source, ws.ingest, params.model.resolution, params.runtime.shard_size,
                         on_progress=bar.update)
    write_json(ws.source, {"source": str(Path(source).resolve())})
    log.info("ingest %s: %d photos accepted, %d duplicates, %d rejected", source, summary["accepted"],
             summary["duplicate"], summary["rejected"])
    return summary
