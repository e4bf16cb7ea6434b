"""Flows for steps 1-2: ingest a folder, then train the GAN and the encoder that inverts it."""

from __future__ import annotations

from pathlib import Path

from common.workspace import Workspace
from flows.inputs import ParamsInput, as_params, flow
from flows.runners import gpu_annotation
from tasks.ingest import ingest_photos
from tasks.train import finetune_from, model_quality, train_catalog_encoder, train_catalog_gan


@flow("ingest")
def ingest_flow(source: Path, workspace: Path, params: ParamsInput) -> dict:
    """Photos of `source` -> model-resolution shards + manifest."""
    return ingest_photos(source, Workspace.open(workspace), as_params(params))


@flow("train")
def train_flow(workspace: Path, params: ParamsInput, source: Path | None = None, init: Path | None = None) -> dict:
    """(ingest ->) GAN (trained, or fine-tuned from `init`) -> encoder."""
    params = as_params(params)
    ws = Workspace.open(workspace)
    if source is not None:
        ingest_photos(source, ws, params)
    with gpu_annotation(params.runtime.gpu_resource):
        if init is not None:
            gan = finetune_from.submit(ws, params, Path(init)).result()
        else:
            gan = train_catalog_gan.submit(ws, params).result()
        encoder = train_catalog_encoder.submit(ws, params).result()
        quality = model_quality.submit(ws, params).result()
    return {"gan": gan, "encoder": encoder, "quality": quality}
