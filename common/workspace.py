"""Workspace layout (docs/ARCHITECTURE.md): every path a command reads or writes, and workspace.json.

workspace.json is written once, when the workspace is created, and never rewritten, so DVC stages
that share a workspace do not see it change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from common.errors import InputError
from common.storage import read_json, write_json

FORMAT = "oneedit-workspace"
FORMAT_VERSION = 1
_EDIT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def recovery_hint(path: Path) -> str:
    """How to get an unreadable workspace file back: the command that writes it."""
    parts = path.parts
    if "edits" in parts[:-1]:
        name = parts[parts.index("edits") + 1] if parts.index("edits") + 1 < len(parts) - 1 else "NAME"
        if path.name in ("direction.pt", "spec.json") or "example" in parts:
            return f"run `oneedit edit --name {name} ...` again (or delete WS/edits/{name})"
        return f"run `oneedit rescale --name {name}` again"
    if "models" in parts:
        return "run `oneedit train` again"
    if "latents" in parts:
        return "run `oneedit project` again (it rewrites unreadable shards)"
    if "ingest" in parts:
        return "run `oneedit ingest SRC_DIR` into a new workspace"
    if path.name == "workspace.json":
        return "recreate the workspace"
    return ""


@dataclass(frozen=True)
class EditPaths:
    """Files of one named edit: WS/edits/NAME/."""

    root: Path

    @property
    def spec(self) -> Path:
        return self.root / "spec.json"

    @property
    def example(self) -> Path:
        return self.root / "example"

    @property
    def direction(self) -> Path:
        return self.root / "direction.pt"

    @property
    def results(self) -> Path:
        return self.root / "results.parquet"

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def parts(self) -> Path:
        return self.root / "parts"

    @property
    def report(self) -> Path:
        return self.root / "report"


@dataclass(frozen=True)
class Workspace:
    """A workspace directory; `create` or `open` it, never construct one blind."""

    root: Path

    @property
    def meta(self) -> Path:
        return self.root / "workspace.json"

    @property
    def ingest(self) -> Path:
        return self.root / "ingest"

    @property
    def manifest(self) -> Path:
        return self.ingest / "manifest.parquet"

    @property
    def source(self) -> Path:
        """Where the originals live (manifest source paths are relative to it)."""
        return self.ingest / "source.json"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def gan(self) -> Path:
        return self.models / "gan.pt"

    @property
    def encoder(self) -> Path:
        return self.models / "encoder.pt"

    @property
    def samples(self) -> Path:
        return self.models / "samples"

    @property
    def latents(self) -> Path:
        return self.root / "latents"

    def ingest_shards(self) -> list[Path]:
        """The ingested image shards, in order."""
        return sorted(self.ingest.glob("shard-*.h5"))

    def latent_shard(self, image_shard: Path) -> Path:
        """The latents shard that mirrors an ingest shard (same name)."""
        return self.latents / Path(image_shard).name

    def edit(self, name: str) -> EditPaths:
        """Paths of the edit called `name` (validated: letters, digits, `_.-`)."""
        if not _EDIT_NAME.fullmatch(name):
            raise InputError(f"edit name {name!r}: use letters, digits, '_', '.', '-' (up to 100 chars)")
        return EditPaths(self.root / "edits" / name)

    @classmethod
    def create(cls, root: Path | str) -> Workspace:
        """Open `root`, creating it (and workspace.json) when it does not exist yet."""
        ws = cls(Path(root))
        if not ws.meta.exists():
            if ws.root.exists() and not ws.root.is_dir():
                raise InputError(f"workspace {ws.root} is not a directory")
            write_json(ws.meta, {"format": FORMAT, "format_version": FORMAT_VERSION})
        return cls.open(root)

    @classmethod
    def open(cls, root: Path | str) -> Workspace:
        """An existing workspace of this format version; anything else fails with one line."""
        ws = cls(Path(root))
        if not ws.meta.is_file():
            raise InputError(f"{ws.root} is not a OneEdit workspace (no workspace.json); run `oneedit ingest` first")
        meta = read_json(ws.meta)
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise InputError(f"{ws.meta}: not a OneEdit workspace file")
        version = meta.get("format_version")
        if version != FORMAT_VERSION:
            raise InputError(
                f"workspace {ws.root} has format version {version!r}; this OneEdit reads version "
                f"{FORMAT_VERSION}: re-create it (oneedit ingest into a new workspace)"
            )
        return ws

    def require(self, *paths: Path, hint: str) -> None:
        """Fail with one line when an earlier step's output is missing."""
        for p in paths:
            if not p.exists():
                raise InputError(f"{p} is missing: {hint}")
