"""The saved edits of a workspace as the user sees them (`oneedit list`, the studio): what each is, its
strength, how far it got and which of its outputs are stale."""

from __future__ import annotations

from pathlib import Path

import torch

from common.storage import read_json, read_parquet, sha256_file
from common.workspace import EditPaths, Workspace
from tasks.alphas import applied_strength
from tasks.direction import input_digest


def _state(paths: EditPaths) -> str:
    if (paths.report / "index.html").exists():
        return "reported"
    if paths.results.exists():
        return "applied"
    return "fitted" if paths.direction.exists() else "started"


def _older(a: Path, b: Path) -> bool:
    return a.exists() and b.exists() and a.stat().st_mtime_ns < b.stat().st_mtime_ns


def list_edits(ws: Workspace) -> list[dict]:
    """One row per WS/edits/*/spec.json: name, kind, example, strength (the one it was applied at),
    state (started / fitted / applied / reported) and stale (what to rerun, and why)."""
    rows = []
    gan = sha256_file(ws.gan) if ws.gan.exists() else None
    manifest_rows = len(read_parquet(ws.manifest)) if ws.manifest.exists() else None
    for spec_path in sorted((ws.root / "edits").glob("*/spec.json")):
        paths = ws.edit(spec_path.parent.name)
        spec = read_json(spec_path)
        stale, strength = [], None
        source = paths.root / spec.get("input", "")  # the copy the edit keeps (relative to its folder)
        if not source.is_file() or input_digest(spec.get("kind", ""), source) != spec.get("input_sha256"):
            stale.append(f"input {source} is missing or changed (retrain cannot re-fit this edit)")
        if paths.direction.exists():
            direction = torch.load(paths.direction, map_location="cpu", weights_only=True)
            if gan is not None and direction.get("gan_sha256") != gan:
                stale.append("direction: the generator changed since (run `oneedit edit` again)")
            if paths.results.exists():
                results = read_parquet(paths.results)
                strength = applied_strength(paths)
                if manifest_rows is not None and len(results) != manifest_rows:
                    stale.append(f"results: {manifest_rows - len(results)} photos added since "
                                 "(run `oneedit update`)")
        if _older(paths.results, paths.direction):
            stale.append("results: older than the direction (run `oneedit rescale`)")
        if _older(paths.report / "index.html", paths.results):
            stale.append("report: older than the results (run `oneedit report`)")
        rows.append({"name": paths.root.name, "kind": spec.get("kind", ""),
                     "example": spec.get("example_id") or spec.get("example", ""), "strength": strength,
                     "state": _state(paths), "stale": stale})
    return rows
