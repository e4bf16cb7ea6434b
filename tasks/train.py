"""Steps 1-2 as tasks: ingest, train the GAN, train the encoder (sample grids + loss curves on disk).

A finished model is skipped when its fingerprint (training data + params + version) matches the one
recorded next to it; an interrupted run resumes from its checkpoint only if it was started with the
same fingerprint, otherwise the stale checkpoint is discarded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
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
from tasks.errors import InputError
from tasks.images import write_png
from tasks.ingest import ingest
from tasks.storage import read_h5, read_json, sha256_file, write_json, write_parquet

TRAIN_VERSION = 1
LOSS_SCHEMA = pa.schema([("model", pa.string()), ("step", pa.int64()), ("metric", pa.string()), ("value", pa.float64())])


@task(cache_policy=NO_CACHE, persist_result=False)
def ingest_photos(source: Path, ws: Workspace, params: Params) -> dict:
    """Decode SRC into WS/ingest (incremental) and remember where the originals live."""
    with progress.track(f"ingest {source} (hash, decode)", total=None) as bar:
        summary = ingest(source, ws.ingest, params.model.resolution, params.runtime.shard_size,
                         on_progress=lambda e: bar.update(e["hashed"] + e["decoded"], total=e["files"] + e["to_decode"]))
    write_json(ws.source, {"source": str(Path(source).resolve())})
    return summary


def check_models(ws: Workspace, params: Params) -> None:
    """Before any work: params.model must describe the trained generator (else retrain or fix params)."""
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


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps([TRAIN_VERSION, *parts], sort_keys=True).encode()).hexdigest()


def _is_done(ckpt: Path, meta: Path, fingerprint: str) -> bool:
    """True when `ckpt` is finished for this fingerprint; else clear what cannot be resumed."""
    if ckpt.exists() and meta.exists() and read_json(meta).get("fingerprint") == fingerprint:
        return True
    started = ckpt.with_suffix(".started.json")
    if ckpt.exists() and (not started.exists() or read_json(started).get("fingerprint") != fingerprint):
        ckpt.unlink()
    meta.unlink(missing_ok=True)
    write_json(started, {"fingerprint": fingerprint})
    return False


def _finish(ckpt: Path, meta: Path, fingerprint: str, history: dict, name: str, samples_dir: Path) -> dict:
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
    metrics = {"fingerprint": fingerprint, **{f"final_{k}": v for k, v in last.items()}}
    write_json(meta, metrics)
    ckpt.with_suffix(".started.json").unlink(missing_ok=True)
    return metrics


def _bar_callback(bar: progress.Tracker):
    return lambda event: bar.update(event["step"])


@task(cache_policy=NO_CACHE, persist_result=False)
def train_gan(ws: Workspace, params: Params) -> dict:
    """Train G and D on the ingested catalog (resumable); returns the final metrics."""
    fingerprint = _fingerprint(data_digest(ws), params.to_dict()["model"], params.to_dict()["gan"])
    meta = ws.models / "gan.json"
    if _is_done(ws.gan, meta, fingerprint):
        return read_json(meta)
    data = catalog_images(ws)
    model = ModelConfig(**params.model.model_dump())
    config = GanTrainConfig(**params.gan.model_dump())
    with progress.track("train GAN", total=config.steps) as bar:
        history = fit_gan(data, model, config, ws.gan, resolve_device(params.runtime.device), _bar_callback(bar))
    return _finish(ws.gan, meta, fingerprint, history, "gan", ws.samples)


@task(cache_policy=NO_CACHE, persist_result=False)
def train_encoder(ws: Workspace, params: Params) -> dict:
    """Train the encoder E against the frozen generator (resumable); returns the final metrics."""
    fingerprint = _fingerprint(data_digest(ws), sha256_file(ws.gan), params.to_dict()["encoder"])
    meta = ws.models / "encoder.json"
    if _is_done(ws.encoder, meta, fingerprint):
        return read_json(meta)
    data = catalog_images(ws)
    config = EncoderTrainConfig(**params.encoder.model_dump())
    with progress.track("train encoder", total=config.steps) as bar:
        history = fit_encoder(data, ws.gan, config, ws.encoder, resolve_device(params.runtime.device),
                              _bar_callback(bar))
    return _finish(ws.encoder, meta, fingerprint, history, "encoder", ws.samples)
