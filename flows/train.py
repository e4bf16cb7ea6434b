"""Flows for steps 1-2: ingest a folder, then train the GAN and the encoder that inverts it."""

from __future__ import annotations

from pathlib import Path

from common.params import Params
from common.workspace import Workspace
from flows.inputs import pipeline_flow
from flows.runners import gpu_annotation
from tasks.ingest import ingest_photos
from tasks.train import finetune_from, model_quality, train_catalog_encoder, train_catalog_gan


@pipeline_flow("ingest", step="ingest")
def ingest_flow(source: Path, workspace: Workspace, params: Params) -> dict:
    """Photos of `source` -> model-resolution shards + manifest."""
    return ingest_photos(source, workspace, params)


@pipeline_flow("train", step="train")
def train_flow(workspace: Workspace, params: Params, source: Path | None = None, init: Path | None = None) -> dict:
    """(ingest ->) GAN (trained, or fine-tuned from `init`) -> encoder."""
    if source is not None:
        ingest_photos(source, workspace, params)
    with gpu_annotation(params.runtime.gpu_resource):
        if init is not None:
            gan = finetune_from.submit(workspace, params, Path(init)).result()
        else:
            gan = train_catalog_gan.submit(workspace, params).result()
        encoder = train_catalog_encoder.submit(workspace, params).result()
        quality = model_quality.submit(workspace, params).result()
    return {"gan": gan, "encoder": encoder, "quality": quality}
