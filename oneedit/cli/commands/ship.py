"""Shipping an edit: export its photos, review them, and its kept versions (list, restore, delete)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from common.errors import InputError
from common.workspace import Workspace
from oneedit.cli.options import EditArg, ParamsOptions, WorkspaceOpt, params_block
from oneedit.cli.printing import console, out


@params_block
def export(
    name: Annotated[str, typer.Argument(help="The edit to export (WS/edits/NAME).", show_default=False)],
    workspace: WorkspaceOpt,
    to: Annotated[Path, typer.Option("--to", help="Folder to write: the originals' tree, mirrored.",
                                     show_default=False)],
    format_: Annotated[str, typer.Option("--format", help="same (each photo in its original's format) | jpeg | "
                                                          "png | webp | tiff")] = "same",
    only: Annotated[str, typer.Option("--only", help="edited (every photo with an edited image) | landed (those "
                                                     "that reached the example's final state) | accepted (in "
                                                     "`oneedit review`)")] = "edited",
    *,
    options: ParamsOptions,
) -> None:
    """Write an edit's photos as a catalog takes them: the originals' names, folders, formats and metadata."""
    p = options.load()
    ws = Workspace.open(workspace)
    ws.edit(name)
    from common import progress
    from common.lock import workspace_lock
    from tasks.export import ExportOptions, check_destination, export_edit, plan_export
    from tasks.manifest import require_source

    require_source(ws)
    check_destination(ws, to)
    written = ExportOptions(format_, p.export.jpeg_quality, p.export.webp_quality)
    plan_export(ws, name, only, format_)  # every choice checked before anything is written
    with workspace_lock(ws.root, wait=False), progress.live(console), \
            progress.track(f"export {name!r}", total=None) as bar:
        summary = export_edit(ws, name, to, only, written, p.runtime.threads,
                              on_progress=bar.update)
    out.print(f"exported {summary['exported']} photos of {name!r} to {summary['dest']} ({summary['unchanged']} "
              f"already there, {summary['removed']} no longer selected removed, {len(summary['skipped'])} skipped)",
              markup=False, highlight=False, soft_wrap=True)
    for path, reason in summary["skipped"][:20]:
        out.print(f"  skipped {path}: {reason}", markup=False, highlight=False, soft_wrap=True)


def review(
    name: Annotated[str, typer.Argument(help="The edit to review (WS/edits/NAME).", show_default=False)],
    workspace: WorkspaceOpt,
    accept: Annotated[str | None, typer.Option("--accept", help="Accept these photos: ids or file names, "
                                                                "comma-separated, or @FILE with one per line.")] = None,
    reject: Annotated[str | None, typer.Option("--reject", help="Reject these photos (same forms).")] = None,
    clear: Annotated[str | None, typer.Option("--clear", help="Forget the decisions on these photos.")] = None,
) -> None:
    """Accept or reject an edit's photos, one by one or in bulk (`export --only accepted`, `rescale --only
    rejected` read the decisions); without options, the counts so far."""
    ws = Workspace.open(workspace)
    ws.edit(name)
    from common.lock import workspace_lock
    from tasks.manifest import select_photos
    from tasks.review import set_decisions, summary

    given = {"accepted": ("--accept", accept), "rejected": ("--reject", reject), None: ("--clear", clear)}
    changes: dict[str, str | None] = {}
    for decision, (option, value) in given.items():
        for i in select_photos(ws, value, option) if value is not None else []:
            if i in changes:
                raise InputError(f"{option}: photo {i} is also given to another of --accept / --reject / --clear")
            changes[i] = decision
    with workspace_lock(ws.root, wait=False):
        if changes:
            set_decisions(ws, name, changes)
        counts = summary(ws, name)
    out.print(f"edit {name!r}: {counts['accepted']} accepted, {counts['rejected']} rejected, "
              f"{counts['unreviewed']} not reviewed yet", markup=False)


def versions(
    name: EditArg,
    workspace: WorkspaceOpt,
    diff: Annotated[tuple[str, str] | None, typer.Option("--diff", help="Compare the settings of two versions "
                                                                       "(numbers, or current).")] = None,
) -> None:
    """An edit's kept versions (every replace, re-apply at another strength or re-run keeps the one before)."""
    ws = Workspace.open(workspace)
    from tasks.versions import diff_versions, list_versions

    if diff is not None:
        changed = diff_versions(ws, name, *diff)
        for key, a, b in changed:
            out.print(f"{key}: {a!r} -> {b!r}", markup=False, highlight=False, soft_wrap=True)
        if not changed:
            out.print(f"versions {diff[0]} and {diff[1]} of {name!r} have the same settings", markup=False)
        return
    for v in list_versions(ws, name):
        strength = f"{v['strength']:.3g}" if v["strength"] is not None else "-"
        counts = ", ".join(f"{n} {k}" for k, n in sorted(v["counts"].items())) or "not applied"
        kept = f"  kept {v['saved_utc']}: {v['reason']}" if v["reason"] else ""
        out.print(f"{v['version']!s:>7}  {v['kind']:<6} example {v['example']}  strength {strength}  ({counts})"
                  f"{kept}", markup=False, highlight=False, soft_wrap=True)


def restore(
    name: EditArg,
    version: Annotated[int, typer.Argument(help="The version to bring back (`oneedit versions NAME`).",
                                           show_default=False)],
    workspace: WorkspaceOpt,
) -> None:
    """Make a kept version the edit again (the current edit is kept as a version first: undoable)."""
    ws = Workspace.open(workspace)
    from common.lock import workspace_lock
    from tasks.versions import restore_version

    with workspace_lock(ws.root, wait=False):
        kept = restore_version(ws, name, version)
    before = f"; the edit it replaced is version {kept}" if kept is not None else ""
    out.print(f"edit {name!r} is version {version} again{before}", markup=False)


def delete(
    name: EditArg,
    workspace: WorkspaceOpt,
    version: Annotated[int | None, typer.Option("--version", help="Delete this kept version for good instead.")]
    = None,
) -> None:
    """Delete an edit (kept as a version: `oneedit restore` brings it back), or one kept version for good."""
    ws = Workspace.open(workspace)
    from common.lock import workspace_lock
    from tasks.versions import delete_edit

    with workspace_lock(ws.root, wait=False):
        kept = delete_edit(ws, name, version)
    out.print(f"version {version} of {name!r} deleted" if version is not None else
              f"edit {name!r} deleted (kept as version {kept}: `oneedit restore {name} {kept}` brings it back)",
              markup=False)

