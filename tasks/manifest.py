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


def source_hashes(ws: Workspace) -> dict[str, str]:
    """id -> sha256 of the bytes ingest read: an original is edited only while it still has them."""
    manifest = read_parquet(ws.manifest)
    accepted = manifest[manifest["status"] == "accepted"]
    return dict(zip(accepted["id"], accepted["sha256"], strict=True))
