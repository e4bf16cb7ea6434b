"""Steps 1-2 as tasks: train (or fine-tune) the GAN and the encoder on the catalog (sample grids + loss
curves on disk).

A finished model is skipped when its fingerprint (training data + params + version) matches the one
recorded next to it; an interrupted run resumes from its checkpoint only if it was started with the
same fingerprint, otherwise the stale checkpoint is discarded. Fine-tuning (scheduled retraining)
resumes G/D (then E) for `steps` more steps on the whole current catalog and records the same
fingerprint, so `oneedit train` afterwards sees the models as current; its target step is written
first (`*.finetune.json`), so an interrupted fine-tune resumes to the same step instead of adding
`steps` again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from common import progress
from common.errors import InputError
from common.fingerprint import fingerprint
from common.params import Params
from common.storage import read_h5, read_json, reading, sha256_file, write_json, write_parquet
from common.workspace import Workspace
from edit_core.checkpoint import load_checkpoint
from edit_core.imageops import resolve_device
from edit_core.models import ModelConfig
from edit_core.train_encoder import EncoderTrainConfig, train_encoder
from edit_core.train_gan import GanTrainConfig, train_gan
from tasks.images import write_png

TRAIN_VERSION = 1
LOSS_SCHEMA = pa.schema([("model", pa.string()), ("step", pa.int64()), ("metric", pa.string()), ("value", pa.float64())])


def check_models(ws: Workspace, params: Params) -> None:
    """Before any work: params.model must describe the trained generator (else retrain or fix params)."""
    with reading(ws.gan):
        config = load_checkpoint(ws.gan)["config"]
    for key, value in params.model.model_dump().items():
        if key == "mapping_layers" and config.get("backbone") != "style":
            continue
        if key in config and config[key] != value:
            raise InputError(f"params model.{key}={value}, but {ws.gan} was trained with {key}={config[key]}: "
                             "run `oneedit train` again or fix params")


def catalog_images(ws: Workspace) -> np.ndarray:
    """Every ingested thumbnail, shard order: uint8 [N, R, R, 3] (the GAN's ImageSource)."""
    shards = ws.ingest_shards()
    if not shards:
        raise ValueError(f"{ws.ingest} holds no images; ingest a folder of photos first")
    return np.concatenate([read_h5(s, ["images"])["images"] for s in shards])


def data_digest(ws: Workspace) -> str:
    """Fingerprint of the training data: the shard files' hashes."""
    h = hashlib.sha256()
    for shard in ws.ingest_shards():
        h.update(sha256_file(shard).encode())
    return h.hexdigest()


def gan_fingerprint(ws: Workspace, params: Params) -> str:
    """Inputs of the GAN: the training data, params model + gan, code version."""
    return fingerprint(TRAIN_VERSION, data_digest(ws), params.to_dict()["model"], params.to_dict()["gan"])


def encoder_fingerprint(ws: Workspace, params: Params) -> str:
    """Inputs of the encoder: the training data, the generator it inverts, params encoder, code version."""
    return fingerprint(TRAIN_VERSION, data_digest(ws), sha256_file(ws.gan), params.to_dict()["encoder"])


def _is_done(ckpt: Path, meta: Path, key: str) -> bool:
    """True when `ckpt` is finished for this fingerprint; else clear what cannot be resumed."""
    if ckpt.exists() and meta.exists() and read_json(meta).get("fingerprint") == key:
        return True
    started = ckpt.with_suffix(".started.json")
    if ckpt.exists() and (not started.exists() or read_json(started).get("fingerprint") != key):
        ckpt.unlink()
    meta.unlink(missing_ok=True)
    write_json(started, {"fingerprint": key})
    return False


def _record(ckpt: Path, meta: Path, key: str, history: dict, name: str, samples_dir: Path) -> dict:
    """Write sample grids, the loss table (parquet + csv for DVC plots) and the metrics json."""
    for step, grid in history.get("samples", []):
        write_png(samples_dir / f"{name}-{int(step):06d}.png", grid)
    curves = {k: v for k, v in history.items() if k != "samples" and isinstance(v, list)}
    wide = pd.DataFrame(curves)
    long = wide.melt(id_vars="step", var_name="metric", value_name="value").assign(model=name)
    long = long.astype({"step": "int64", "value": "float64"})
    losses = ckpt.parent / f"{name}_losses"
    write_parquet(losses.with_suffix(".parquet"), long, LOSS_SCHEMA)
    write_json(losses.with_suffix(".json"), wide.to_dict(orient="records"))
    last = {k: float(v.iloc[-1]) for k, v in wide.items() if len(v)}
    metrics = {"fingerprint": key, **{f"final_{k}": v for k, v in last.items()}}
    write_json(meta, metrics)
    ckpt.with_suffix(".started.json").unlink(missing_ok=True)
    return metrics


def _bar_callback(bar: progress.Tracker):
    return lambda event: bar.update(event["step"])


def _fit_gan(ws: Workspace, params: Params, steps: int, what: str) -> dict:
    config = GanTrainConfig(**{**params.gan.model_dump(), "steps": steps})
    model = ModelConfig(**params.model.model_dump())
    with progress.track(what, total=config.steps) as bar:
        return train_gan(catalog_images(ws), model, config, ws.gan, resolve_device(params.runtime.device),
                         _bar_callback(bar))


def _fit_encoder(ws: Workspace, params: Params, steps: int, what: str) -> dict:
    config = EncoderTrainConfig(**{**params.encoder.model_dump(), "steps": steps})
    with progress.track(what, total=config.steps) as bar:
        return train_encoder(catalog_images(ws), ws.gan, config, ws.encoder, resolve_device(params.runtime.device),
                             _bar_callback(bar))


@task(cache_policy=NO_CACHE, persist_result=False)
def train_catalog_gan(ws: Workspace, params: Params) -> dict:
    """Train G and D on the ingested catalog (resumable); returns the final metrics."""
    key = gan_fingerprint(ws, params)
    meta = ws.models / "gan.json"
    if _is_done(ws.gan, meta, key):
        return read_json(meta)
    history = _fit_gan(ws, params, params.gan.steps, "train GAN")
    return _record(ws.gan, meta, key, history, "gan", ws.samples)


@task(cache_policy=NO_CACHE, persist_result=False)
def train_catalog_encoder(ws: Workspace, params: Params) -> dict:
    """Train the encoder E against the frozen generator (resumable); returns the final metrics."""
    key = encoder_fingerprint(ws, params)
    meta = ws.models / "encoder.json"
    if _is_done(ws.encoder, meta, key):
        return read_json(meta)
    history = _fit_encoder(ws, params, params.encoder.steps, "train encoder")
    return _record(ws.encoder, meta, key, history, "encoder", ws.samples)


def _target_step(ckpt: Path, key: str, steps: int) -> int:
    """The step this fine-tune ends at: recorded before training starts, reused after an interruption."""
    plan = ckpt.with_suffix(".finetune.json")
    if plan.exists() and read_json(plan).get("fingerprint") == key:
        return int(read_json(plan)["target_step"])
    target = int(load_checkpoint(ckpt, "cpu")["step"]) + steps
    write_json(plan, {"fingerprint": key, "target_step": target})
    return target


def _current(meta: Path, key: str) -> dict | None:
    """The recorded metrics when the model is already current for `key`."""
    if meta.exists() and read_json(meta).get("fingerprint") == key:
        return read_json(meta)
    return None


@task(cache_policy=NO_CACHE, persist_result=False)
def finetune_catalog_gan(ws: Workspace, params: Params, steps: int) -> dict:
    """Resume G/D from WS/models/gan.pt for `steps` more steps on the current catalog (skip if current)."""
    ws.require(ws.gan, hint="train the models once (`oneedit train`) before fine-tuning")
    key = gan_fingerprint(ws, params)
    meta = ws.models / "gan.json"
    if (done := _current(meta, key)) is not None:
        return done
    history = _fit_gan(ws, params, _target_step(ws.gan, key, steps), "fine-tune GAN")
    ws.gan.with_suffix(".finetune.json").unlink()
    return _record(ws.gan, meta, key, history, "gan", ws.samples)


@task(cache_policy=NO_CACHE, persist_result=False)
def finetune_catalog_encoder(ws: Workspace, params: Params, steps: int) -> dict:
    """Resume E from WS/models/encoder.pt for `steps` more steps against the current G (skip if current)."""
    ws.require(ws.encoder, hint="train the models once (`oneedit train`) before fine-tuning")
    key = encoder_fingerprint(ws, params)
    meta = ws.models / "encoder.json"
    if (done := _current(meta, key)) is not None:
        return done
    history = _fit_encoder(ws, params, _target_step(ws.encoder, key, steps), "fine-tune encoder")
    ws.encoder.with_suffix(".finetune.json").unlink()
    return _record(ws.encoder, meta, key, history, "encoder", ws.samples)
