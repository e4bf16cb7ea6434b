"""The catalog's manifest that ingest writes (WS/ingest/manifest.parquet + source.json), read back,
and the checks of the originals' folder that commands run before they write anything.

Lookups by id read only the columns they need through pyarrow and filter there (`accepted_rows`),
so a task that needs one shard's photos does not build a per-photo table of the whole catalog.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from common.errors import InputError
from common.storage import read_json, read_parquet, reading
from common.workspace import Workspace


def source_root(ws: Workspace) -> Path:
    """The folder the catalog was ingested from (manifest source paths are relative to it)."""
    return Path(read_json(ws.source)["source"])


@functools.lru_cache(maxsize=2)
def _accepted_table(path: Path, stamp: tuple[int, int, int], columns: tuple[str, ...]) -> pa.Table:
    """The accepted rows' `columns` as one Arrow table, kept while the file is unchanged (`stamp`): a
    worker that runs many shards' tasks decodes the manifest once (about 20 bytes per photo and column)."""
    with reading(path):
        table = pq.read_table(path, columns=sorted({"status", *columns}))
    return table.filter(pc.equal(table["status"], "accepted")).select(list(columns))


def accepted_table(ws: Workspace, columns: Iterable[str]) -> pa.Table:
    """`columns` of the manifest's accepted rows, manifest order, as Arrow (compact: no Python rows)."""
    st = ws.manifest.stat()
    return _accepted_table(ws.manifest, (st.st_ino, st.st_mtime_ns, st.st_size), tuple(sorted({"id", *columns})))


@functools.lru_cache(maxsize=1)
def _accepted_ids(path: Path, stamp: tuple[int, int, int]) -> np.ndarray:
    """The accepted ids, utf-8 bytes, sorted (16 bytes per photo), kept while the file is unchanged."""
    ids = _accepted_table(path, stamp, ("id",))["id"].to_numpy(zero_copy_only=False)
    return np.sort(np.char.encode(ids.astype(str), "utf-8")) if len(ids) else np.array([], "S1")


def accepted_mask(ws: Workspace, ids: np.ndarray) -> np.ndarray:
    """Which of `ids` are accepted photos of the catalog now (bool per id); photos replaced or removed
    since ingest stay in their old shards and are not."""
    st = ws.manifest.stat()
    known = _accepted_ids(ws.manifest, (st.st_ino, st.st_mtime_ns, st.st_size))
    if not len(known) or not len(ids):
        return np.zeros(len(ids), bool)
    key = np.char.encode(np.asarray(ids).astype(str), "utf-8")
    return known[np.searchsorted(known, key).clip(max=len(known) - 1)] == key


def accepted_rows(ws: Workspace, columns: list[str], ids: Iterable[str] | None = None) -> dict[str, list]:
    """`columns` of the accepted manifest rows (those of `ids` only, if given), manifest order."""
    table = accepted_table(ws, columns)
    if ids is not None:
        table = table.filter(pc.is_in(table["id"], value_set=pa.array([str(i) for i in ids], pa.string())))
    return table.select(columns).to_pydict()


def source_paths(ws: Workspace, ids: Iterable[str] | None = None) -> dict[str, Path]:
    """id -> the original photo's path (every accepted photo, or those of `ids`); relative source paths
    resolve against the ingested folder."""
    root = source_root(ws)
    rows = accepted_rows(ws, ["id", "source_path"], ids)
    return {i: root / p for i, p in zip(rows["id"], rows["source_path"], strict=True)}


def _names(ws: Workspace) -> tuple[dict[str, str], dict[str, str]]:
    """(every id, file name as ingested and base name when unique -> its id; rejected file -> its reason)."""
    manifest = read_parquet(ws.manifest)
    kept = manifest[manifest["status"] != "rejected"]
    by_name = {**{i: i for i in kept["id"]}, **dict(zip(kept["source_path"], kept["id"], strict=True))}
    bases: dict[str, set[str]] = {}
    for path, i in zip(kept["source_path"], kept["id"], strict=True):
        bases.setdefault(Path(path).name, set()).add(i)
    by_name.update({name: next(iter(ids)) for name, ids in bases.items() if len(ids) == 1 and name not in by_name})
    rejected = dict(zip(manifest.loc[manifest["status"] == "rejected", "source_path"],
                        manifest.loc[manifest["status"] == "rejected", "reason"], strict=True))
    return by_name, rejected


def catalog_id(ws: Workspace, photo: str) -> str | None:
    """The id of a catalog photo given by id or by file name (as `--only` takes them); None if it is neither."""
    return _names(ws)[0].get(photo)


def select_photos(ws: Workspace, only: str, option: str = "--only") -> list[str]:
    """`--only IDS`: photo ids or file names (as ingested, or their base name when unique), comma-separated,
    or @FILE with one per line -> their ids, in the order given; a one-line error for any unknown one, named
    after the `option` that gave them."""
    if only.startswith("@"):
        try:
            items = Path(only[1:]).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{option} {only}: not a readable text file ({getattr(exc, 'strerror', None) or exc})") from None
    else:
        items = only.split(",")
    items = [item.strip() for item in items if item.strip()]
    if not items:
        raise InputError(f"{option} {only!r}: no photo ids or file names given")
    by_name, rejected = _names(ws)
    unknown = [item for item in items if item not in by_name]
    if unknown:
        why = {item: f"rejected at ingest: {rejected[item]}" if item in rejected else "not in the catalog"
               for item in unknown}
        shown = "; ".join(f"{item!r} ({reason})" for item, reason in list(why.items())[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise InputError(f"{option}: {len(unknown)} unknown photo(s): {shown}{more}; give catalog ids or file names")
    return list(dict.fromkeys(by_name[item] for item in items))


def rejected_files(ws: Workspace) -> list[tuple[str, str]]:
    """(source path, reason) of every file ingest rejected, in path order."""
    manifest = read_parquet(ws.manifest)
    rejected = manifest[manifest["status"] == "rejected"]
    return list(zip(rejected["source_path"], rejected["reason"], strict=True))


def require_source(ws: Workspace) -> None:
    """Before reading the originals: their folder is there (a moved or unmounted folder is not a
    catalog of missing photos)."""
    root = source_root(ws)
    if not root.is_dir():
        raise InputError(f"the originals' folder {root} is missing (moved or unmounted?): mount it again, "
                         "or run `oneedit update NEW_LOCATION --workspace WS` where it moved to")


def check_source(ws: Workspace, src: Path) -> None:
    """Before ingesting into a workspace that holds a catalog: `src` is the catalog's folder.

    Ingest makes the manifest from the folder's contents, so a folder of only the new photos would
    drop the whole catalog. Accepted: the recorded folder, or one holding at least half of the
    catalog's photos (the catalog moved); anything else is refused before any file is written.
    """
    if not (ws.manifest.exists() and ws.source.exists()):
        return
    recorded, src = source_root(ws), Path(src).resolve()
    if src == recorded.resolve():
        return
    manifest = read_parquet(ws.manifest)
    paths = manifest.loc[manifest["status"] != "rejected", "source_path"]
    present = sum((src / p).is_file() for p in paths)
    if present * 2 >= len(paths):
        return
    raise InputError(f"{src} holds {present} of the catalog's {len(paths)} photos: give the catalog's own folder "
                     f"({recorded}) with the new photos added to it, not a folder of new photos only")


def source_hashes(ws: Workspace, ids: Iterable[str] | None = None) -> dict[str, str]:
    """id -> sha256 of the bytes ingest read (every accepted photo, or those of `ids`): an original is
    edited only while it still has them."""
    rows = accepted_rows(ws, ["id", "sha256"], ids)
    return dict(zip(rows["id"], rows["sha256"], strict=True))
