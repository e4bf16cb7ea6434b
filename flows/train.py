"""Flows for steps 1-2: ingest a folder, then train the GAN and the encoder that inverts it."""

from __future__ import annotations

from pathlib import Path

from common.params import Params
from common.workspace import Workspace
from flows.inputs import pipeline_flow
from flows.steps import FlowSteps, Steps
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
    return train_steps(workspace, params, FlowSteps(workspace.root, params.runtime.gpu_resource), init)


def train_steps(ws: Workspace, params: Params, steps: Steps, init: Path | None = None) -> dict:
    """The train flow's steps: the GAN (trained, or fine-tuned from `init`), the encoder against it, then what
    the models reached (models/quality.json)."""
    if init is not None:
        gan = steps.submit(finetune_from, ws, params, Path(init))
    else:
        gan = steps.submit(train_catalog_gan, ws, params)
    encoder = steps.submit(train_catalog_encoder, ws, params)
    quality = steps.submit(model_quality, ws, params)
    return {"gan": gan, "encoder": encoder, "quality": quality}
