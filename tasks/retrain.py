"""Tasks of the scheduled retraining (flows/retrain.py): fine-tune the models, list saved edits, DVC commit.

Fine-tuning resumes G/D (then E) from their checkpoints for `steps` more steps on the whole current
catalog and records the same fingerprint `tasks.train` writes, so `oneedit train` afterwards sees
the models as current. The target step is written first (`*.finetune.json`), so an interrupted
fine-tune resumes to the same step instead of adding `steps` again.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from edit_core.checkpoint import load_checkpoint
from edit_core.imageops import resolve_device
from edit_core.models import ModelConfig
from edit_core.train_encoder import EncoderTrainConfig
from edit_core.train_encoder import train_encoder as fit_encoder
from edit_core.train_gan import GanTrainConfig
from edit_core.train_gan import train_gan as fit_gan
from oneedit import progress
from oneedit.params import Params
from oneedit.workspace import Workspace
from tasks.errors import InputError, OneEditError
from tasks.storage import read_json, sha256_file, write_json
from tasks.train import _fingerprint, _finish, catalog_images, data_digest


def _target_step(ckpt: Path, fingerprint: str, steps: int) -> int:
    """The step this fine-tune ends at: recorded before training starts, reused after an interruption."""
    plan = ckpt.with_suffix(".finetune.json")
    if plan.exists() and read_json(plan).get("fingerprint") == fingerprint:
        return int(read_json(plan)["target_step"])
    target = int(load_checkpoint(ckpt, "cpu")["step"]) + steps
    write_json(plan, {"fingerprint": fingerprint, "target_step": target})
    return target


def _current(meta: Path, fingerprint: str) -> dict | None:
    """The recorded metrics when the model is already current for `fingerprint`."""
    if meta.exists() and read_json(meta).get("fingerprint") == fingerprint:
        return read_json(meta)
    return None


@task(cache_policy=NO_CACHE, persist_result=False)
def finetune_gan(ws: Workspace, params: Params, steps: int) -> dict:
    """Resume G/D from WS/models/gan.pt for `steps` more steps on the current catalog (skip if current)."""
    ws.require(ws.gan, hint="train the models once (`oneedit train`) before fine-tuning")
    fingerprint = _fingerprint(data_digest(ws), params.to_dict()["model"], params.to_dict()["gan"])
    meta = ws.models / "gan.json"
    if (done := _current(meta, fingerprint)) is not None:
        return done
    config = GanTrainConfig(**{**params.gan.model_dump(), "steps": _target_step(ws.gan, fingerprint, steps)})
    model = ModelConfig(**params.model.model_dump())
    with progress.track("fine-tune GAN", total=config.steps) as bar:
        history = fit_gan(catalog_images(ws), model, config, ws.gan, resolve_device(params.runtime.device),
                          lambda e: bar.update(e["step"]))
    ws.gan.with_suffix(".finetune.json").unlink()
    return _finish(ws.gan, meta, fingerprint, history, "gan", ws.samples)


@task(cache_policy=NO_CACHE, persist_result=False)
def finetune_encoder(ws: Workspace, params: Params, steps: int) -> dict:
    """Resume E from WS/models/encoder.pt for `steps` more steps against the current G (skip if current)."""
    ws.require(ws.encoder, hint="train the models once (`oneedit train`) before fine-tuning")
    fingerprint = _fingerprint(data_digest(ws), sha256_file(ws.gan), params.to_dict()["encoder"])
    meta = ws.models / "encoder.json"
    if (done := _current(meta, fingerprint)) is not None:
        return done
    target = _target_step(ws.encoder, fingerprint, steps)
    config = EncoderTrainConfig(**{**params.encoder.model_dump(), "steps": target})
    with progress.track("fine-tune encoder", total=config.steps) as bar:
        history = fit_encoder(catalog_images(ws), ws.gan, config, ws.encoder, resolve_device(params.runtime.device),
                              lambda e: bar.update(e["step"]))
    ws.encoder.with_suffix(".finetune.json").unlink()
    return _finish(ws.encoder, meta, fingerprint, history, "encoder", ws.samples)


@task(cache_policy=NO_CACHE, persist_result=False)
def saved_edits(ws: Workspace) -> dict[str, dict]:
    """name -> the form that re-creates the edit, read from WS/edits/*/spec.json (its durable record).

    The recorded input file (after-image, brush JSON or offset) must still hold the same bytes.
    """
    forms = {}
    for spec_path in sorted((ws.root / "edits").glob("*/spec.json")):
        spec = read_json(spec_path)
        source = Path(spec["input"])
        if not source.is_file() or sha256_file(source) != spec["input_sha256"]:
            raise InputError(f"edit {spec['name']!r}: its input {source} is missing or changed since the edit "
                             f"was made; restore it or delete {spec_path.parent}")
        forms[spec["name"]] = {"kind": spec["kind"], "example": spec["example_id"] or spec["example"],
                               "path": str(source), **({"truth": spec["truth"]} if "truth" in spec else {})}
    return forms


def dvc_root(path: Path) -> Path | None:
    """The DVC repository (a folder holding .dvc/) that contains `path`, if any."""
    for folder in (path.resolve(), *path.resolve().parents):
        if (folder / ".dvc").is_dir():
            return folder
    return None


@task(cache_policy=NO_CACHE, persist_result=False)
def dvc_commit(ws: Workspace) -> str:
    """Record the workspace's new outputs in DVC: `dvc commit` of the dvc.yaml stages, else `dvc add WS`."""
    root = dvc_root(ws.root)
    if root is None:
        return "skipped: the workspace is not inside a DVC repository"
    dvc = shutil.which("dvc") or str(Path(sys.executable).with_name("dvc"))
    if (root / "dvc.yaml").is_file():
        command = [dvc, "commit", "--force", "--quiet"]
    else:
        command = [dvc, "add", "--quiet", str(ws.root.resolve().relative_to(root))]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()
        raise OneEditError(f"{' '.join(command[1:])} failed in {root}: {last[-1] if last else done.returncode}")
    return " ".join(["dvc", *command[1:]])
