"""The catalog's manifest that ingest writes (WS/ingest/manifest.parquet + source.json), read back."""

from __future__ import annotations

from pathlib import Path

from common.storage import read_json, read_parquet
from common.workspace import Workspace


def source_paths(ws: Workspace) -> dict[str, Path]:
    """id -> the original photo's path (relative source paths resolve against the ingested folder)."""
    root = Path(read_json(ws.source)["source"])
    manifest = read_parquet(ws.manifest)
    accepted = manifest[manifest["status"] == "accepted"]
    return {i: root / p for i, p in zip(accepted["id"], accepted["source_path"], strict=True)}


def rejected_files(ws: Workspace) -> list[tuple[str, str]]:
    """(source path, reason) of every file ingest rejected, in path order."""
    manifest = read_parquet(ws.manifest)
    rejected = manifest[manifest["status"] == "rejected"]
    return list(zip(rejected["source_path"], rejected["reason"], strict=True))
