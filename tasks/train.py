"""Steps 1-2 as tasks: train (or fine-tune) the GAN and the encoder on the catalog (sample grids + loss
curves on disk).

A model is replaced only by a complete new one: training (and fine-tuning) runs in WS/models/next/
(`gan.pt` + `gan.started.json`, the fingerprint it was started for) and the finished checkpoint is
swapped over WS/models/gan.pt at the end; until then the current model and its metrics stay, whatever
fails (bad params, unreadable data, a full disk, a kill). A finished model is skipped when its
fingerprint (training data + params + version) and its bytes match the metrics recorded next to it;
an interrupted run resumes from models/next/ only if it was started for the same fingerprint.
Fine-tuning starts from a copy of the current model; its target step is recorded when it starts, so
an interrupted fine-tune resumes to the same step instead of adding `steps` again. encoder.json
records the generator the encoder was trained for (`check_encoder`).
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from common import progress
from common.errors import InputError, OutputWriteError
from common.fingerprint import fingerprint
from common.params import Params
from common.storage import (
    atomic_path,
    read_json,
    reading,
    remove_stale_temps,
    sha256_file,
    write_json,
    write_parquet,
)
from common.workspace import Workspace
from edit_core.checkpoint import load_checkpoint
from edit_core.imageops import resolve_device
from edit_core.models import ModelConfig
from edit_core.train_encoder import EncoderTrainConfig, train_encoder
from edit_core.train_gan import GanTrainConfig, train_gan
from tasks.images import write_png
from tasks.pretrained import imported_generator, settle_generator
from tasks.shards import ShardImages

TRAIN_VERSION = 1
LOSS_SCHEMA = pa.schema([("model", pa.string()), ("step", pa.int64()), ("metric", pa.string()), ("value", pa.float64())])


def check_models(ws: Workspace, params: Params) -> None:
    """Before any work: params.model must describe the trained generator (else retrain or fix params)."""
    settle_generator(ws)
    with reading(ws.gan):
        config = load_checkpoint(ws.gan)["config"]
    described = params.model.model_dump()
    if imported_generator(ws) is not None:  # its architecture is the checkpoint's; ingest must match its size
        described = {"resolution": described["resolution"]}
    for key, value in described.items():
        if key == "mapping_layers" and config.get("backbone") != "style":
            continue
        if key in config and config[key] != value:
            raise InputError(f"params model.{key}={value}, but {ws.gan} was trained with {key}={config[key]}: "
                             "run `oneedit train` again or fix params")


def catalog_images(ws: Workspace) -> ShardImages:
    """Every ingested thumbnail, shard order, read batch by batch from the shards (the GAN's ImageSource):
    training never holds the catalog in memory."""
    return ShardImages.of(ws)


def data_digest(ws: Workspace) -> str:
    """Fingerprint of the training data: the shard files' hashes."""
    h = hashlib.sha256()
    for shard in ws.ingest_shards():
        h.update(sha256_file(shard).encode())
    return h.hexdigest()


log = logging.getLogger(__name__)
RUN_ONLY = ("ckpt_seconds",)  # when checkpoints are written, not what is trained: no part of a model's inputs


def _inputs(params: Params, section: str) -> dict:
    return {k: v for k, v in params.to_dict()[section].items() if k not in RUN_ONLY}


def gan_fingerprint(ws: Workspace, params: Params) -> str:
    """Inputs of the GAN: the training data, params model + gan, code version."""
    return fingerprint(TRAIN_VERSION, data_digest(ws), params.to_dict()["model"], _inputs(params, "gan"))


def encoder_fingerprint(ws: Workspace, params: Params) -> str:
    """Inputs of the encoder: the training data, the generator it inverts, params encoder, code version."""
    return fingerprint(TRAIN_VERSION, data_digest(ws), sha256_file(ws.gan), _inputs(params, "encoder"))


def staged(ckpt: Path) -> Path:
    """Where the model that will replace `ckpt` is trained: WS/models/next/<same name>."""
    return ckpt.parent / "next" / ckpt.name


def _plan_path(ckpt: Path) -> Path:
    return staged(ckpt).with_suffix(".started.json")


def _current(ckpt: Path, meta: Path, key: str) -> dict | None:
    """The recorded metrics when `ckpt` is the complete model for `key` (and holds the bytes recorded)."""
    if not (ckpt.exists() and meta.exists()):
        return None
    metrics = read_json(meta)
    if metrics.get("fingerprint") != key or metrics.get("sha256", sha256_file(ckpt)) != sha256_file(ckpt):
        return None
    return metrics


def _start(ckpt: Path, key: str, finetune_steps: int | None = None, start_from: Path | None = None) -> int | None:
    """Prepare models/next/ to train the model for `key`; returns the target step of a fine-tune.

    An in-progress model started for the same `key` (and mode) is resumed; any other one is discarded.
    The current model `ckpt` is never touched: a fine-tune starts from a copy of it (or of `start_from`,
    `oneedit train --init CKPT`).
    """
    nxt, plan_path = staged(ckpt), _plan_path(ckpt)
    mode = "train" if finetune_steps is None else "finetune"
    remove_stale_temps(nxt.parent)
    plan = read_json(plan_path) if plan_path.exists() else {}
    if plan.get("fingerprint") == key and plan.get("mode") == mode and (mode == "train" or nxt.exists()):
        return plan.get("target_step")
    plan_path.unlink(missing_ok=True)
    nxt.unlink(missing_ok=True)
    target = None
    if finetune_steps is not None:
        with atomic_path(nxt) as tmp:
            shutil.copyfile(start_from or ckpt, tmp)
        target = int(load_checkpoint(nxt, "cpu")["step"]) + finetune_steps
    write_json(plan_path, {"fingerprint": key, "mode": mode, "target_step": target})
    return target


def _record(ckpt: Path, meta: Path, key: str, history: dict, name: str, samples_dir: Path,
            extra: dict | None = None) -> dict:
    """Write sample grids, the loss table (parquet + csv for DVC plots) and the metrics json of the
    finished model in models/next/, then swap it in: `ckpt` is replaced only by a complete model."""
    nxt = staged(ckpt)
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
    metrics = {"fingerprint": key, "sha256": sha256_file(nxt), **(extra or {}),
               **{f"final_{k}": v for k, v in last.items()}}
    write_json(meta, metrics)  # first: a crash before the swap leaves meta != ckpt, so the next run swaps again
    os.replace(nxt, ckpt)
    _plan_path(ckpt).unlink(missing_ok=True)
    log.info("%s: %s finished (%s)", ckpt, name, ", ".join(f"{k} {v:.4g}" for k, v in last.items()))
    return metrics


def _replace_model(ws: Workspace, ckpt: Path, meta: Path, key: str, fit: Callable[[Path, int], dict],
                   steps: int, name: str, finetune: bool = False, extra: dict | None = None,
                   start_from: Path | None = None) -> dict:
    """Train (or fine-tune `steps` more) the model for `key` in models/next/, then swap it over `ckpt`.

    Skipped when `ckpt` is already that model; resumed when models/next/ holds its unfinished run. Until
    the swap, `ckpt` and its metrics stay as they were, whatever fails (bad params, data, full disk).
    """
    if (done := _current(ckpt, meta, key)) is not None:
        return done
    nxt = staged(ckpt)
    try:
        target = _start(ckpt, key, steps if finetune else None, start_from)
        history = fit(nxt, steps if target is None else target)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EFBIG):
            raise OutputWriteError(f"cannot write {nxt}: {exc.strerror or exc}; {ckpt} is unchanged") from exc
        raise
    return _record(ckpt, meta, key, history, name, ws.samples, extra)


def _bar_callback(bar: progress.Tracker) -> Callable[[dict], None]:
    """Training progress on `bar`, counting this run's steps: a fine-tune or a resumed run starts at its
    checkpoint's step (a fine-tune of a 20,000-step model read 20002/20600, 97 %, with an hour to go)."""
    start: list[int] = []

    def on_progress(event: dict) -> None:
        if not start:
            start.append(event["step"] - 1)
            bar.update(0, total=event["steps"] - start[0])
        bar.update(event["step"] - start[0])

    return on_progress


def _fit_gan(ws: Workspace, params: Params, what: str, finetune: bool = False) -> Callable[[Path, int], dict]:
    def fit(ckpt: Path, steps: int) -> dict:
        # a fine-tune keeps the architecture of the model it starts from (an imported StyleGAN2's, say)
        model = (ModelConfig.from_dict(load_checkpoint(ckpt, "cpu")["config"]) if finetune
                 else ModelConfig(**params.model.model_dump()))
        config = GanTrainConfig(**{**params.gan.model_dump(), "steps": steps})
        with progress.track(what, total=config.steps) as bar:
            return train_gan(catalog_images(ws), model, config, ckpt, resolve_device(params.runtime.device),
                             _bar_callback(bar))
    return fit


def _fit_encoder(ws: Workspace, params: Params, what: str) -> Callable[[Path, int], dict]:
    def fit(ckpt: Path, steps: int) -> dict:
        config = EncoderTrainConfig(**{**params.encoder.model_dump(), "steps": steps})
        with progress.track(what, total=config.steps) as bar:
            return train_encoder(catalog_images(ws), ws.gan, config, ckpt, resolve_device(params.runtime.device),
                                 _bar_callback(bar))
    return fit


@task(cache_policy=NO_CACHE, persist_result=False)
def train_catalog_gan(ws: Workspace, params: Params) -> dict:
    """Train G and D on the ingested catalog (resumable); returns the final metrics. An imported generator
    is kept as it is (`oneedit train --init` fine-tunes it)."""
    settle_generator(ws)
    if imported_generator(ws) is not None:
        return read_json(ws.models / "gan.json")
    return _replace_model(ws, ws.gan, ws.models / "gan.json", gan_fingerprint(ws, params),
                          _fit_gan(ws, params, "train GAN"), params.gan.steps, "gan")


@task(cache_policy=NO_CACHE, persist_result=False)
def train_catalog_encoder(ws: Workspace, params: Params) -> dict:
    """Train the encoder E against the frozen generator (resumable); returns the final metrics."""
    return _replace_model(ws, ws.encoder, ws.models / "encoder.json", encoder_fingerprint(ws, params),
                          _fit_encoder(ws, params, "train encoder"), params.encoder.steps, "encoder",
                          extra={"gan_sha256": sha256_file(ws.gan)})


@task(cache_policy=NO_CACHE, persist_result=False)
def finetune_catalog_gan(ws: Workspace, params: Params, steps: int) -> dict:
    """Resume G/D from WS/models/gan.pt for `steps` more steps on the current catalog (skip if current)."""
    ws.require(ws.gan, hint="train the models once (`oneedit train`) before fine-tuning")
    imported = imported_generator(ws)
    return _replace_model(ws, ws.gan, ws.models / "gan.json", gan_fingerprint(ws, params),
                          _fit_gan(ws, params, "fine-tune GAN", finetune=True), steps, "gan", finetune=True,
                          extra={"imported": imported} if imported else None)


@task(cache_policy=NO_CACHE, persist_result=False)
def finetune_from(ws: Workspace, params: Params, init: Path) -> dict:
    """`oneedit train --init CKPT`: G/D fine-tuned from CKPT (an imported StyleGAN2, another workspace's
    gan.pt) for params.gan.steps steps on this catalog; it replaces WS/models/gan.pt when complete."""
    key = fingerprint(TRAIN_VERSION, "init", sha256_file(init), data_digest(ws), _inputs(params, "gan"))
    meta = load_checkpoint(init, "cpu")
    imported = imported_generator(ws) if init.resolve() == ws.gan.resolve() else None
    extra = {"imported": imported or {"init": str(init.resolve()), "source_sha256": sha256_file(init),
                                      "resolution": meta["config"]["resolution"]}}
    return _replace_model(ws, ws.gan, ws.models / "gan.json", key, _fit_gan(ws, params, "fine-tune GAN", True),
                          params.gan.steps, "gan", finetune=True, extra=extra, start_from=init)


@task(cache_policy=NO_CACHE, persist_result=False)
def finetune_catalog_encoder(ws: Workspace, params: Params, steps: int) -> dict:
    """Resume E from WS/models/encoder.pt for `steps` more steps against the current G (skip if current)."""
    ws.require(ws.encoder, hint="train the models once (`oneedit train`) before fine-tuning")
    return _replace_model(ws, ws.encoder, ws.models / "encoder.json", encoder_fingerprint(ws, params),
                          _fit_encoder(ws, params, "fine-tune encoder"), steps, "encoder", finetune=True,
                          extra={"gan_sha256": sha256_file(ws.gan)})


def check_encoder(ws: Workspace) -> None:
    """Before projecting: encoder.pt must have been trained for the current gan.pt (else finish `train`)."""
    meta = ws.models / "encoder.json"
    recorded = read_json(meta).get("gan_sha256") if meta.exists() else None
    if recorded is not None and recorded != sha256_file(ws.gan):
        raise InputError(f"{ws.encoder} was trained for another generator than {ws.gan}: "
                         "run `oneedit train --workspace WS` to train its encoder")


QUALITY_PHOTOS = 64  # catalog photos, spread over the catalog, the models' reach is measured on
WEAK_UNEXPLAINED = 0.6  # reconstructions leaving more of the photos' variance unexplained: too weak for an edit


@task(cache_policy=NO_CACHE, persist_result=False)
def model_quality(ws: Workspace, params: Params) -> dict:
    """What the trained models reached, in models/quality.json: the encoder's reconstruction G(E(x)) of
    QUALITY_PHOTOS catalog photos (mean squared pixel error, [-1, 1] units) and the share of those photos'
    own variance (about their mean) it leaves unexplained, with the newest sample grid. Measured: 0.26 for
    the demo's model and 0.36 for a 400-step Fashion-MNIST one, both of which carry an edit; above
    WEAK_UNEXPLAINED the generator does not render the catalog well enough for its edits to be trusted."""
    import numpy as np
    import torch

    from edit_core.checkpoint import load_encoder, load_generator
    from edit_core.imageops import to_tensor

    device = resolve_device(params.runtime.device)
    images = catalog_images(ws)
    picked = np.unique(np.linspace(0, len(images) - 1, min(QUALITY_PHOTOS, len(images))).round().astype(int))
    with reading(ws.gan), reading(ws.encoder):
        G, E = load_generator(ws.gan, device), load_encoder(ws.encoder, device).eval()
    x = to_tensor(images[picked], device)
    with torch.no_grad():
        error = float((G.synthesis(E(x)) - x).pow(2).mean())
    spread = float((x - x.mean(0, keepdim=True)).pow(2).mean())
    unexplained = error / spread if spread > 0 else float("inf")
    samples = sorted(ws.samples.glob("gan-*.png"))
    quality = {"photos": len(picked), "reconstruction_error": error, "unexplained": unexplained,
               "weak": unexplained > WEAK_UNEXPLAINED, "samples": str(samples[-1]) if samples else None}
    write_json(ws.models / "quality.json", quality)
    return quality
