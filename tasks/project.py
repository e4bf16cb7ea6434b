"""Step 3 as a task: project one ingest shard into its own latents shard (hybrid by default).

Each latents shard records the fingerprint of its inputs (image shard, generator, encoder, project
params, code version) and the generator's sha256 on its own (`gan_sha256`, which the edit commands
check: latents of another generator are refused, tasks/latents.py); a rerun skips every shard whose fingerprint matches, so an interrupted
projection resumes where it stopped. Shards are written whole (temp file + os.replace).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from prefect import task
from prefect.cache_policies import NO_CACHE

from common import progress
from common.errors import UnreadableFile
from common.fingerprint import fingerprint
from common.params import Params
from common.storage import read_h5, read_h5_attrs, reading, sha256_file, write_h5
from common.workspace import Workspace
from edit_core.checkpoint import load_discriminator, load_encoder, load_generator
from edit_core.features import DiscriminatorFeatures, HOGFeatures
from edit_core.imageops import resolve_device, to_tensor
from edit_core.models.base import Generator
from edit_core.project import project

log = logging.getLogger(__name__)
PROJECT_VERSION = 1


def feature_extractor(kind: str, gan: Path, device: torch.device):
    """The perceptual features of the projection loss: the project's own frozen D, or HOG."""
    if kind == "hog":
        return HOGFeatures()
    return DiscriminatorFeatures(load_discriminator(gan, device))


def shard_fingerprint(ws: Workspace, shard: Path, params: Params, models: tuple[str, str] | None = None) -> str:
    """Inputs of one latents shard: image shard, both checkpoints (`models`: their sha256 when the
    caller has them), project params, code version."""
    gan, encoder = models if models is not None else (sha256_file(ws.gan), sha256_file(ws.encoder))
    return fingerprint(PROJECT_VERSION, sha256_file(shard), gan, encoder, params.to_dict()["project"])


def is_current(path: Path, key: str) -> bool:
    """True when `path` exists and was written from exactly these inputs."""
    if not path.exists():
        return False
    try:
        return read_h5_attrs(path).get("fingerprint") == key
    except UnreadableFile:  # a damaged shard is projected again
        return False


def project_images(G: Generator, images: np.ndarray, params: Params, encoder, features,
                   bar: progress.Tracker) -> dict[str, np.ndarray]:
    """Project uint8 [N, R, R, 3] in batches -> w, err_pixel, err_feature (numpy)."""
    p = params.project
    device = next(G.parameters()).device
    ws, pixel, feature = [], [], []
    for start in range(0, len(images), p.batch_size):
        x = to_tensor(images[start : start + p.batch_size], device)
        result = project(G, x, mode=p.mode, encoder=encoder, features=features, steps=p.steps, lr=p.lr,
                         feature_weight=p.feature_weight, w_plus=p.w_plus, wplus_pull=p.wplus_pull, starts=p.starts,
                         seed=p.seed)
        ws.append(result.w.cpu().numpy())
        pixel.append(result.err_pixel.cpu().numpy())
        feature.append(result.err_feature.cpu().numpy())
        bar.advance(len(x))
    return {"w": np.concatenate(ws).astype(np.float32), "err_pixel": np.concatenate(pixel).astype(np.float32),
            "err_feature": np.concatenate(feature).astype(np.float32)}


@task(cache_policy=NO_CACHE, persist_result=False)
def project_shard(ws: Workspace, shard: Path, params: Params) -> dict:
    """Project one ingest shard into WS/latents/<same name> unless it is already current."""
    out = ws.latent_shard(shard)
    key = shard_fingerprint(ws, shard, params)
    if is_current(out, key):
        return {"shard": shard.name, "images": int(read_h5(out, ["ids"])["ids"].shape[0]), "skipped": True}
    device = resolve_device(params.runtime.device)
    with reading(ws.gan):
        G = load_generator(ws.gan, device)
        features = feature_extractor(params.project.features, ws.gan, device)
    with reading(ws.encoder):
        encoder = load_encoder(ws.encoder, device) if params.project.mode != "optimize" else None
    data = read_h5(shard, ["images", "ids"])
    with progress.track(f"project {shard.name}", total=len(data["ids"])) as bar:
        result = project_images(G, data["images"], params, encoder, features, bar)
    write_h5(out, {"ids": data["ids"], **result},
             {"fingerprint": key, "mode": params.project.mode, "gan_sha256": sha256_file(ws.gan)})
    log.info("project %s: %d photos projected", shard.name, len(data["ids"]))
    return {"shard": shard.name, "images": len(data["ids"]), "skipped": False,
            "err_pixel": float(result["err_pixel"].mean())}
