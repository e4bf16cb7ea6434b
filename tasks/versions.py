"""Edits as versions: what an edit was before it is replaced or re-applied stays, and can come back.

Before an edit's folder WS/edits/NAME/ is replaced by another edit (`--replace`, `publish_edit`),
re-applied at another strength or partly re-run, a copy of it is kept as version k in
WS/edits/.versions/NAME/k/ (spec, direction, results, images, review, report, as they were) with
version.json (when, why, the strength it was applied at). The copy is made of hard links (no bytes
copied; every workspace file is replaced whole, never modified in place, so a link keeps the old
content) into a hidden folder renamed into place once complete. `restore` brings a version back (the
current edit is kept as a version first), `delete` drops the edit (kept as a version: undoable) or one
version for good, `diff_versions` compares the settings of two versions. `undone_if_cancelled` runs a change
of an edit (the Studio's Apply and re-run) so that a cancelled one leaves the edit as it was.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from common.cancel import Interrupted
from common.errors import InputError
from common.storage import read_json, write_json
from common.workspace import EditPaths, Workspace

log = logging.getLogger(__name__)
VERSION_FILE = "version.json"
NOT_KEPT = ("preview",)  # a preview is not part of the edit's state


def versions_root(ws: Workspace, name: str) -> Path:
    """WS/edits/.versions/NAME/ (hidden: never taken for a saved edit)."""
    return ws.edit_versions(name)


def version_numbers(ws: Workspace, name: str) -> list[int]:
    """The kept versions of edit `name`, oldest first."""
    root = versions_root(ws, name)
    return sorted(int(p.name) for p in root.iterdir() if p.name.isdigit()) if root.is_dir() else []


def _link_tree(src: Path, dest: Path) -> None:
    """`dest` as a copy of `src` made of hard links (a plain copy where the filesystem has none)."""

    def link(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    shutil.copytree(src, dest, copy_function=link, ignore=shutil.ignore_patterns(*NOT_KEPT, ".*.tmp-*"))


def _applied_strength(folder: Path) -> float | None:
    from tasks.alphas import applied_strength

    return applied_strength(EditPaths(folder))


def _same(a: Path, b: Path) -> bool:
    """Whether two paths are one file (a version's hard link to what the edit still holds), or both absent."""
    if not (a.exists() and b.exists()):
        return not a.exists() and not b.exists()
    return os.path.samefile(a, b)


def keep_version(ws: Workspace, name: str, reason: str) -> int | None:
    """Keep edit `name` as it is now as the next version (hard-linked copy, renamed into place when complete);
    returns its number, None when there is no such edit. An edit whose spec and results the latest version
    already holds (a run that stopped and runs again) is not kept twice."""
    current = ws.edit(name)
    if not current.spec.exists():
        return None
    latest = max(version_numbers(ws, name), default=None)
    if latest is not None:
        kept = EditPaths(versions_root(ws, name) / str(latest))
        if _same(current.spec, kept.spec) and _same(current.results, kept.results):
            return latest
    root = versions_root(ws, name)
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".*.partial"):  # a copy a crash left unfinished
        shutil.rmtree(stale, ignore_errors=True)
    k = max(version_numbers(ws, name), default=0) + 1
    partial = root / f".{k}.partial"
    _link_tree(current.root, partial)
    write_json(partial / VERSION_FILE, {"version": k, "saved_utc": datetime.now(UTC).isoformat(timespec="seconds"),
                                        "reason": reason, "strength": _applied_strength(current.root)})
    os.replace(partial, root / str(k))
    log.info("edit %s: kept as version %d (%s)", name, k, reason)
    return k


def keep_before_reapply(ws: Workspace, name: str, strength: float) -> int | None:
    """Before an applied edit is applied again: kept as a version when the run changes it (another strength,
    or photos re-run at their own strengths, which the full run brings back to one)."""
    import pyarrow.parquet as pq

    from tasks.alphas import applied_strength

    paths = ws.edit(name)
    applied = applied_strength(paths)
    if applied is None:
        return None
    if applied != strength:
        return keep_version(ws, name, f"re-applied at strength {strength:g}")
    if "strength" in pq.read_schema(paths.results).names:
        return keep_version(ws, name, f"re-applied at strength {strength:g} (photos re-run at their own strengths)")
    return None


def deleted_edits(ws: Workspace) -> dict[str, int]:
    """Edits that exist only as kept versions (deleted): name -> how many versions."""
    root = ws.versions
    names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    return {n: len(version_numbers(ws, n)) for n in names
            if not ws.edit(n).spec.exists() and version_numbers(ws, n)}


def _folder(ws: Workspace, name: str, version: int | str) -> Path:
    """The folder of version `version` of edit `name` ("current": the edit itself); one line if absent."""
    if str(version) == "current":
        folder = ws.edit(name).root
        if not EditPaths(folder).spec.exists():
            raise InputError(f"edit {name!r} does not exist (its versions: `oneedit versions {name}`)")
        return folder
    folder = versions_root(ws, name) / str(version)
    if not str(version).isdigit() or not folder.is_dir():
        kept = ", ".join(map(str, version_numbers(ws, name))) or "none"
        raise InputError(f"edit {name!r} has no version {version!r} (kept: {kept}; or 'current')")
    return folder


def describe(folder: Path) -> dict:
    """One version as `oneedit versions` shows it: kind, example, strength, counts, when and why it was kept."""
    import pyarrow.parquet as pq

    paths = EditPaths(folder)  # a kept version has the edit's layout
    spec = read_json(paths.spec) if paths.spec.exists() else {}
    meta = read_json(folder / VERSION_FILE) if (folder / VERSION_FILE).exists() else {}
    counts: dict[str, int] = {}
    if paths.results.exists():
        for status in pq.read_table(paths.results, columns=["status"])["status"].to_pylist():
            counts[status] = counts.get(status, 0) + 1
    return {"version": meta.get("version", "current"), "saved_utc": meta.get("saved_utc", ""),
            "reason": meta.get("reason", ""), "kind": spec.get("kind", ""),
            "example": spec.get("example_id") or spec.get("example", ""), "strength": _applied_strength(folder),
            "counts": counts, "reported": paths.report_index.exists()}


def list_versions(ws: Workspace, name: str) -> list[dict]:
    """Every kept version of edit `name`, oldest first, then the current edit (when there is one)."""
    rows = [describe(versions_root(ws, name) / str(k)) for k in version_numbers(ws, name)]
    if (ws.edit(name).spec).exists():
        rows.append(describe(ws.edit(name).root))
    if not rows:
        raise InputError(f"edit {name!r} does not exist and has no kept versions")
    return rows


def _flat(value: object, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        return {k: v for key, sub in value.items() for k, v in _flat(sub, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): value}


def settings(folder: Path) -> dict[str, object]:
    """What an edit was made with, flat (kind, example, input, params..., strength, generator)."""
    spec = read_json(EditPaths(folder).spec)
    keep = {k: spec.get(k) for k in ("kind", "example", "example_key", "input_sha256", "gan_sha256")}
    return {**keep, **_flat(spec.get("params", {}), "params."), "strength": _applied_strength(folder)}


def diff_versions(ws: Workspace, name: str, a: int | str, b: int | str) -> list[tuple[str, object, object]]:
    """(setting, value in a, value in b) for every setting that differs between two versions ("current" too)."""
    left, right = settings(_folder(ws, name, a)), settings(_folder(ws, name, b))
    return [(k, left.get(k), right.get(k)) for k in sorted(set(left) | set(right)) if left.get(k) != right.get(k)]


def restore_version(ws: Workspace, name: str, version: int | str) -> int | None:
    """Make version `version` the edit again; the current edit is kept as a version first (returned)."""
    source = _folder(ws, name, version)
    kept = keep_version(ws, name, f"replaced by version {version} (restore)")
    current = ws.edit(name).root
    staged = current.parent / f".{name}.restore"
    shutil.rmtree(staged, ignore_errors=True)
    _link_tree(source, staged)
    (staged / VERSION_FILE).unlink(missing_ok=True)
    trash = current.parent / f".{name}.old"
    shutil.rmtree(trash, ignore_errors=True)
    if current.exists():
        os.replace(current, trash)
    os.replace(staged, current)
    shutil.rmtree(trash, ignore_errors=True)
    log.info("edit %s: version %s restored (the edit before it kept as version %s)", name, version, kept)
    return kept


def delete_edit(ws: Workspace, name: str, version: int | None = None) -> int | None:
    """Delete version `version` of edit `name` for good, or (None) the edit itself, which is kept as a version
    first (`restore` brings it back); returns that version's number."""
    if version is not None:
        shutil.rmtree(_folder(ws, name, version))
        log.info("edit %s: version %d deleted", name, version)
        return version
    _folder(ws, name, "current")
    kept = keep_version(ws, name, "deleted")
    trash = ws.edit(name).root.parent / f".{name}.old"
    shutil.rmtree(trash, ignore_errors=True)
    os.replace(ws.edit(name).root, trash)
    shutil.rmtree(trash, ignore_errors=True)
    log.info("edit %s: deleted (kept as version %s)", name, kept)
    return kept


@contextmanager
def undone_if_cancelled(ws: Workspace, name: str) -> Iterator[None]:
    """Run a change of edit `name` (apply, re-run, report) in the block; when it is cancelled midway
    (`common.cancel.Interrupted`), the edit is put back as it was before the block: a hard-linked snapshot taken
    first (as a version is: every workspace file is replaced whole, so a link keeps the old content) is swapped
    back in (an edit that did not exist is removed), the versions the change kept are dropped (the edit is again
    what they hold), and a staged direction is removed. A failure other than a cancel leaves what the CLI leaves
    (a rerun resumes it). The snapshot lives in WS/edits/.versions/NAME/.undo, never taken for a version."""
    root, kept = ws.edit(name).root, versions_root(ws, name)
    before = set(version_numbers(ws, name))
    snapshot = kept / ".undo"
    shutil.rmtree(snapshot, ignore_errors=True)
    existed = ws.edit(name).spec.exists()
    if existed:
        kept.mkdir(parents=True, exist_ok=True)
        _link_tree(root, snapshot)
    try:
        yield
    except Interrupted:
        trash = root.parent / f".{name}.old"
        shutil.rmtree(trash, ignore_errors=True)
        if root.exists():
            os.replace(root, trash)
        if existed:
            os.replace(snapshot, root)
        preview = ws.edit(name).preview
        if (trash / preview.name).is_dir():  # not part of the edit's state: it stays where it was
            root.mkdir(exist_ok=True)
            os.replace(trash / preview.name, preview)
        for k in set(version_numbers(ws, name)) - before:
            shutil.rmtree(kept / str(k))
        shutil.rmtree(ws.staged_edit(name).root, ignore_errors=True)
        shutil.rmtree(trash, ignore_errors=True)
        log.info("edit %s: cancelled; put back as it was", name)
        raise
    finally:
        shutil.rmtree(snapshot, ignore_errors=True)
        if kept.is_dir() and not any(kept.iterdir()):
            kept.rmdir()
