"""The catalog's manifest that ingest writes (WS/ingest/manifest.parquet + source.json), read back,
and the checks of the originals' folder that commands run before they write anything."""

from __future__ import annotations

from pathlib import Path

from common.errors import InputError
from common.storage import read_json, read_parquet
from common.workspace import Workspace


def source_root(ws: Workspace) -> Path:
    """The folder the catalog was ingested from (manifest source paths are relative to it)."""
    return Path(read_json(ws.source)["source"])


def source_paths(ws: Workspace) -> dict[str, Path]:
    """id -> the original photo's path (relative source paths resolve against the ingested folder)."""
    root = source_root(ws)
    manifest = read_parquet(ws.manifest)
    accepted = manifest[manifest["status"] == "accepted"]
    return {i: root / p for i, p in zip(accepted["id"], accepted["source_path"], strict=True)}


def select_photos(ws: Workspace, only: str) -> list[str]:
    """`--only IDS`: photo ids or file names (as ingested, or their base name when unique), comma-separated,
    or @FILE with one per line -> their ids, in the order given; a one-line error for any unknown one."""
    if only.startswith("@"):
        try:
            items = Path(only[1:]).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"--only {only}: not a readable text file ({getattr(exc, 'strerror', None) or exc})") from None
    else:
        items = only.split(",")
    items = [item.strip() for item in items if item.strip()]
    if not items:
        raise InputError(f"--only {only!r}: no photo ids or file names given")
    manifest = read_parquet(ws.manifest)
    kept = manifest[manifest["status"] != "rejected"]
    by_name = {**{i: i for i in kept["id"]}, **dict(zip(kept["source_path"], kept["id"], strict=True))}
    bases: dict[str, set[str]] = {}
    for path, i in zip(kept["source_path"], kept["id"], strict=True):
        bases.setdefault(Path(path).name, set()).add(i)
    by_name.update({name: next(iter(ids)) for name, ids in bases.items() if len(ids) == 1 and name not in by_name})
    rejected = dict(zip(manifest.loc[manifest["status"] == "rejected", "source_path"],
                        manifest.loc[manifest["status"] == "rejected", "reason"], strict=True))
    unknown = [item for item in items if item not in by_name]
    if unknown:
        why = {item: f"rejected at ingest: {rejected[item]}" if item in rejected else "not in the catalog"
               for item in unknown}
        shown = "; ".join(f"{item!r} ({reason})" for item, reason in list(why.items())[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise InputError(f"--only: {len(unknown)} unknown photo(s): {shown}{more}; give catalog ids or file names")
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


def source_hashes(ws: Workspace) -> dict[str, str]:
    """id -> sha256 of the bytes ingest read: an original is edited only while it still has them."""
    manifest = read_parquet(ws.manifest)
    accepted = manifest[manifest["status"] == "accepted"]
    return dict(zip(accepted["id"], accepted["sha256"], strict=True))
