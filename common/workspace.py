"""Workspace layout (docs/ARCHITECTURE.md): every path a command reads or writes, workspace.json, and
which command makes each step's output (`OUTPUTS`: what a missing or unreadable file's message says to run).

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
META = "workspace.json"
INGEST, MODELS, LATENTS, EDITS = "ingest", "models", "latents", "edits"
FOLDERS = (INGEST, MODELS, LATENTS, EDITS)
"""The folders the pipeline writes in a workspace (a workspace ingested as photos is read without them)."""
GAN, ENCODER = "gan.pt", "encoder.pt"
"""The models' file names (in WS/models, and in the benchmarks' model folders)."""
BENCH = "bench"
"""The benchmarks' folder (models, catalogs, caches) under the --workspace a bench is given."""
FITTED = ("spec.json", "direction.pt")
"""An edit's files that `oneedit edit` writes (with example/); the others are `rescale`'s."""


@dataclass(frozen=True)
class Output:
    """A step's output and the command that makes it ({name}: the edit's): run it `first` when the
    output is missing, `again` when a file of it is unreadable."""

    first: str
    again: str


OUTPUTS: dict[str, Output] = {
    "workspace": Output("run `oneedit ingest` first", "recreate the workspace"),
    "catalog": Output("run `oneedit ingest SRC_DIR --workspace WS` first",
                      "run `oneedit ingest SRC_DIR` into a new workspace"),
    "models": Output("run `oneedit train --workspace WS` first", "run `oneedit train` again"),
    "latents": Output("run `oneedit project --workspace WS` first",
                      "run `oneedit project` again (it rewrites unreadable shards)"),
    "direction": Output("run `oneedit edit --workspace WS --name {name} ...` first",
                        "run `oneedit edit --name {name} ...` again (or delete WS/edits/{name})"),
    "results": Output("run `oneedit edit --workspace WS --name {name} ...` first",
                      "run `oneedit rescale --name {name}` again"),
}


def output_of(path: Path) -> tuple[str, str] | None:
    """(the `OUTPUTS` key, the edit's name or "") of a workspace file, from its path alone; None for a
    file no step makes."""
    parts = Path(path).parts
    if EDITS in parts[:-1]:
        at = parts.index(EDITS) + 1
        name = parts[at] if at < len(parts) - 1 else "NAME"
        return ("direction" if Path(path).name in FITTED or "example" in parts else "results"), name
    for key, folder in (("models", MODELS), ("latents", LATENTS), ("catalog", INGEST)):
        if folder in parts:
            return key, ""
    return ("workspace", "") if Path(path).name == META else None


def bench_folder(root: Path | str, *parts: str) -> Path:
    """Where a benchmark keeps what it builds under `root` (its --workspace): root/bench/PARTS."""
    return Path(root, BENCH, *parts)


def recovery_hint(path: Path) -> str:
    """How to get an unreadable workspace file back: the command that writes it (`OUTPUTS`)."""
    found = output_of(path)
    return OUTPUTS[found[0]].again.format(name=found[1]) if found else ""


@dataclass(frozen=True)
class EditPaths:
    """Files of one named edit: WS/edits/NAME/ (a kept version's folder has the same layout)."""

    root: Path

    @property
    def spec(self) -> Path:
        return self.root / FITTED[0]

    @property
    def direction(self) -> Path:
        return self.root / FITTED[1]

    @property
    def example(self) -> Path:
        return self.root / "example"

    @property
    def inputs(self) -> Path:
        """The edit's own copy of its input (and of an example from outside the catalog)."""
        return self.example / "input"

    def render(self, key: str) -> Path:
        """example/KEY.png: the example before / after and the generator's renders of it."""
        return self.example / f"{key}.png"

    @property
    def results(self) -> Path:
        return self.root / "results.parquet"

    @property
    def images(self) -> Path:
        return self.root / "images"

    def image(self, photo_id: str) -> Path:
        """images/ID.png: photo `photo_id` edited, at its original resolution."""
        return self.images / f"{photo_id}.png"

    @property
    def parts(self) -> Path:
        return self.root / "parts"

    def part(self, shard: str | Path) -> Path:
        """parts/SHARD.parquet: the transfer's record of one shard (with the fingerprint of its inputs)."""
        return self.parts / f"{Path(shard).stem}.parquet"

    def refined(self, shard: str | Path) -> Path:
        """parts/SHARD.refine.h5: each photo's refined offset of one shard (tasks/refine.py)."""
        return self.parts / f"{Path(shard).stem}.refine.h5"

    @property
    def final_state(self) -> Path:
        """The verdict measured on the outputs (tasks/final_state.py)."""
        return self.root / "final_state.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    @property
    def alphas_csv(self) -> Path:
        return self.root / "alphas.csv"

    @property
    def review(self) -> Path:
        """Per-photo review decisions (tasks/review.py)."""
        return self.root / "review.json"

    @property
    def preview(self) -> Path:
        return self.root / "preview"

    @property
    def report(self) -> Path:
        return self.root / "report"

    @property
    def report_index(self) -> Path:
        return self.report / "index.html"


@dataclass(frozen=True)
class Workspace:
    """A workspace directory; `create` or `open` it, never construct one blind."""

    root: Path

    @property
    def meta(self) -> Path:
        return self.root / META

    @property
    def ingest(self) -> Path:
        return self.root / INGEST

    @property
    def manifest(self) -> Path:
        return self.ingest / "manifest.parquet"

    @property
    def source(self) -> Path:
        """Where the originals live (manifest source paths are relative to it)."""
        return self.ingest / "source.json"

    @property
    def models(self) -> Path:
        return self.root / MODELS

    @property
    def gan(self) -> Path:
        return self.models / GAN

    @property
    def encoder(self) -> Path:
        return self.models / ENCODER

    def model_record(self, model: str) -> Path:
        """What training recorded of model `model` (gan, encoder): fingerprint, sha256, final losses."""
        return self.models / f"{model}.json"

    def model_losses(self, model: str) -> Path:
        """The loss curves of model `model` (gan, encoder), one row per logged step."""
        return self.models / f"{model}_losses.json"

    @property
    def quality(self) -> Path:
        """What the trained models reached (tasks.train.model_quality)."""
        return self.models / "quality.json"

    @property
    def samples(self) -> Path:
        return self.models / "samples"

    @property
    def imports(self) -> Path:
        """Where an imported generator's gan.pt and gan.json are staged (tasks.pretrained.settle_generator)."""
        return self.models / ".import"

    @property
    def latents(self) -> Path:
        return self.root / LATENTS

    @property
    def edits(self) -> Path:
        return self.root / EDITS

    def ingest_shards(self) -> list[Path]:
        """The ingested image shards, in order."""
        return sorted(self.ingest.glob("shard-*.h5"))

    def ingest_shard(self, shard: str | Path) -> Path:
        """The ingest shard of this name."""
        return self.ingest / Path(shard).name

    def latent_shard(self, image_shard: Path | str) -> Path:
        """The latents shard that mirrors an ingest shard (same name)."""
        return self.latents / Path(image_shard).name

    def edit(self, name: str) -> EditPaths:
        """Paths of the edit called `name` (validated: letters, digits, `_.-`)."""
        return EditPaths(self.edits / _edit_name(name))

    def edit_specs(self) -> list[Path]:
        """spec.json of every saved edit, by name (hidden folders, staged or kept, are not edits)."""
        return [p for p in sorted(self.edits.glob(f"*/{FITTED[0]}")) if not p.parent.name.startswith(".")]

    def staged_edit(self, name: str) -> EditPaths:
        """Where edit `name`'s direction is fitted, published over edits/NAME/ only when complete."""
        return EditPaths(self.edits / f".{_edit_name(name)}.next")

    @property
    def versions(self) -> Path:
        """Every edit's kept versions (hidden: never taken for a saved edit)."""
        return self.edits / ".versions"

    def edit_versions(self, name: str) -> Path:
        """WS/edits/.versions/NAME/: edit `name`'s kept versions, one folder each."""
        return self.versions / _edit_name(name)

    def output_files(self, output: str, name: str = "") -> tuple[Path, ...]:
        """The files whose presence says that `OUTPUTS[output]` was made (for edit `name`)."""
        match output:
            case "workspace":
                return (self.meta,)
            case "catalog":
                return (self.manifest,)
            case "models":
                return (self.gan, self.encoder)
            case "latents":
                return (self.latents,)
            case "direction":
                return (self.edit(name).direction,)
            case "results":
                return (self.edit(name).results,)
        raise KeyError(output)

    def output_folders(self, output: str, name: str = "") -> tuple[Path, ...]:
        """The folders `OUTPUTS[output]` is written to (for edit `name`): where a writer that died leaves temps."""
        match output:
            case "workspace":
                return (self.root,)
            case "catalog":
                return (self.ingest,)
            case "models":
                return (self.models,)
            case "latents":
                return (self.latents,)
            case "direction":
                edit, staged = self.edit(name), self.staged_edit(name)
                return (edit.root, edit.example, staged.root, staged.example)
            case "results":
                edit = self.edit(name)
                return (edit.root, edit.images, edit.parts)
        raise KeyError(output)

    def require_output(self, output: str, name: str = "") -> None:
        """Fail with one line, naming the command to run first, when `OUTPUTS[output]` is missing."""
        self.require(*self.output_files(output, name), hint=OUTPUTS[output].first.format(name=name))

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
            raise InputError(f"{ws.root} is not a OneEdit workspace (no {META}); {OUTPUTS['workspace'].first}")
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


def _edit_name(name: str) -> str:
    """`name` when it is a valid edit name (letters, digits, `_.-`), else one line."""
    if not _EDIT_NAME.fullmatch(name):
        raise InputError(f"edit name {name!r}: use letters, digits, '_', '.', '-' (up to 100 chars)")
    return name
