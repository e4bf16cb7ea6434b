"""Pretrained generators. Bring your own StyleGAN2: a pretrained NVlabs (.pkl) or rosinality (.pt)
checkpoint becomes the workspace's generator (WS/models/gan.pt in the project's format, config inside).
Ship your own: `export_generator` writes a trained GAN as a small starting point (`train --init`).

The file is read by `edit_core.stylegan2_import` without executing anything it carries; any problem is
one line before anything is written. gan.json records the source file and its sha256 and marks the
generator as imported, so `oneedit train` keeps it (and trains only the encoder against it) unless
`--init` asks to fine-tune it on the catalog.

gan.pt and gan.json are replaced as one unit: both are staged in WS/models/.import/ (gan.json last,
with the sha256 of the gan.pt beside it), then renamed into place; a staged pair that is complete is
finished by the next command that reads the generator (`settle_generator`), one that is not is dropped,
so a kill at any point never leaves the checkpoint of one import with the record of another.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from common.errors import InputError, first_line
from common.params import Params
from common.storage import atomic_path, read_json, reading, sha256_file, write_json
from common.workspace import Workspace
from edit_core.checkpoint import load_checkpoint, save_checkpoint
from edit_core.stylegan2_import import StyleGAN2ImportError, describe, import_stylegan2


def _staged_pair(ws: Workspace) -> tuple[Path, Path]:
    """An import's gan.pt and gan.json as staged in models/.import/, named as they will be in models/."""
    return ws.imports / ws.gan.name, ws.imports / ws.model_record("gan").name


def settle_generator(ws: Workspace) -> None:
    """Finish an import whose pair was staged complete but not both renamed (killed in between), or drop a
    staging that never completed; then refuse, in one line with the command that repairs it, a gan.json that
    records an imported generator other than gan.pt."""
    staged, meta = ws.imports, ws.model_record("gan")
    checkpoint, record = _staged_pair(ws)
    if staged.is_dir():
        if record.is_file():
            expected = read_json(record).get("sha256")
            try:
                if checkpoint.is_file():
                    os.replace(checkpoint, ws.gan)
                if ws.gan.is_file() and sha256_file(ws.gan) == expected:
                    os.replace(record, meta)
            except FileNotFoundError:  # another command finished it meanwhile
                pass
        shutil.rmtree(staged, ignore_errors=True)
    if not (meta.is_file() and ws.gan.is_file()):
        return
    recorded = read_json(meta)  # an import's record (a fine-tune of it resumes from models/next/ instead)
    if str(recorded.get("fingerprint")).startswith("imported:") and \
            recorded.get("sha256") not in (None, sha256_file(ws.gan)):
        source = recorded["imported"].get("source", "FILE")
        raise InputError(f"{ws.gan} is not the generator {meta} records (imported from {source}): run `oneedit "
                         f"import-generator {source} --workspace {ws.root} --replace` again")


def imported_generator(ws: Workspace) -> dict | None:
    """What gan.json records of an imported generator (None: the workspace trained its own)."""
    meta = ws.model_record("gan")
    if not meta.is_file():
        return None
    try:
        return read_json(meta).get("imported")
    except (OSError, ValueError):
        return None


def ingested_resolution(ws: Workspace) -> int | None:
    """The resolution the catalog's shards were ingested at (the manifest's schema metadata); None before ingest."""
    import pyarrow.parquet as pq

    if not ws.manifest.exists():
        return None
    with reading(ws.manifest):
        value = (pq.read_schema(ws.manifest).metadata or {}).get(b"oneedit.resolution")
    return int(value) if value is not None else None


def check_catalog_fits(ws: Workspace, params: Params) -> None:
    """Before any work: params model.resolution is the one of the workspace's imported generator and of
    the catalog as ingested (a mismatch failed minutes into training as a matrix-shape error)."""
    imported = imported_generator(ws)
    want = params.model.resolution
    if imported is not None and imported.get("resolution") not in (None, want):
        raise InputError(f"the workspace's generator (imported, {imported['resolution']} px) does not match params "
                         f"model.resolution={want}: pass --set model.resolution={imported['resolution']}")
    ingested = ingested_resolution(ws)
    if ingested is not None and ingested != want:
        raise InputError(f"the catalog in {ws.ingest} is ingested at {ingested} px, params model.resolution={want}: "
                         f"pass --set model.resolution={ingested}, or ingest into a new workspace")


def import_generator(source: Path, ws: Workspace, precision: str = "as-file", replace: bool = False) -> dict:
    """Import `source` as WS/models/gan.pt; returns the architecture summary (with `line`, for the user)."""
    if not replace:
        settle_generator(ws)
    if ws.gan.exists() and not replace:
        raise InputError(f"{ws.gan} exists: pass --replace to replace the workspace's generator (its encoder, "
                         "latents and edits then belong to the old one and are redone or refused)")
    try:
        payload, summary = import_stylegan2(source, precision)
    except StyleGAN2ImportError as exc:
        raise InputError(first_line(exc)) from None
    payload["source_sha256"] = summary["source_sha256"] = sha256_file(source)
    checkpoint, record = _staged_pair(ws)
    shutil.rmtree(ws.imports, ignore_errors=True)
    with atomic_path(checkpoint) as tmp:
        save_checkpoint(tmp, **payload)
    write_json(record, {"fingerprint": f"imported:{summary['source_sha256']}", "sha256": sha256_file(checkpoint),
                        "imported": {**summary, "precision": precision}})  # last: the pair is complete
    settle_generator(ws)
    return {**summary, "line": describe(summary)}


def export_generator(ckpt: Path, out: Path) -> dict:
    """A GAN checkpoint as a starting point for `train --init`: G, G_ema and D in float16 with the config
    and step, without the optimizer state (a fine-tune starts its own); about a quarter of the size."""
    src = load_checkpoint(ckpt, "cpu")
    if src.get("kind") != "gan":
        raise InputError(f"{ckpt}: a {src.get('kind')} checkpoint, not a GAN")
    half = {k: {n: t.half() if t.is_floating_point() else t for n, t in src[k].items()} for k in ("G", "G_ema", "D")}
    save_checkpoint(out, kind="gan", config=src["config"], step=int(src["step"]), **half)  # atomic
    return {"path": str(out), "step": int(src["step"]), "bytes": out.stat().st_size}


def check_init(init: Path, params: Params, what: str) -> Path:
    """A GAN checkpoint to start from (`what` names where it came from, for the one-line error): readable,
    a GAN, and at the resolution the catalog is ingested at."""
    if not init.is_file():
        raise InputError(f"{what} {init}: file not found")
    try:
        ckpt = load_checkpoint(init)
    except Exception as exc:  # a truncated or foreign file: one line, nothing written
        raise InputError(f"{what} {init}: not a OneEdit GAN checkpoint ({first_line(exc)}); "
                         "import a StyleGAN2 file with `oneedit import-generator` first") from None
    if ckpt.get("kind") != "gan":
        raise InputError(f"{what} {init}: a {ckpt.get('kind')} checkpoint, not a GAN")
    if ckpt["config"]["resolution"] != params.model.resolution:
        raise InputError(f"{what} {init}: a {ckpt['config']['resolution']} px generator, but the catalog is ingested "
                         f"at model.resolution={params.model.resolution}: ingest again with --set "
                         f"model.resolution={ckpt['config']['resolution']}")
    return init
