"""Models and data the benchmarks run on: the pipeline's workspace when it has them, else bench-trained.

Demo models: WS/models/gan.pt + encoder.pt (trained by `oneedit demo` / `oneedit train`) when both
exist; otherwise trained by the demo's own steps (the catalog rendered, ingested, then the train flow's
steps: demo.init fine-tuned for gan.steps, or params.model / gan from scratch when demo.init is "", then
the encoder) in a workspace of their own, WS/bench/models/demo-<params digest>/; the tasks' fingerprints
make it resumable and reused. Fashion-MNIST models are trained the same way (export, ingest, the train
flow's steps) with their own, bounded budget (`FmnistBudget`) in WS/bench/models/fmnist-<digest>/.
Probe GANs (`bench probe`, one per backbone) are trained by the engine on a larger draw of the demo
catalog (WS/bench/models/probe-<backbone>-<digest>/gan.pt), resumed up to gan.steps. Catalog latents:
WS/latents when the workspace models are used and have been projected; otherwise the first images of
the catalog are projected here with params.project.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from benchmarks.fashion_mnist import export_pngs
from common.fingerprint import fingerprint
from common.params import Params
from common.storage import sha256_file
from common.workspace import ENCODER, GAN, Workspace, bench_folder
from edit_core.checkpoint import load_discriminator, load_encoder, load_generator
from edit_core.demo_catalog import ATTRIBUTES, NUISANCE, render, sample_attributes
from edit_core.features import DiscriminatorFeatures, FeatureExtractor, HOGFeatures
from edit_core.imageops import to_tensor
from edit_core.models import ModelConfig
from edit_core.models.base import Generator
from edit_core.project import Projection, project
from edit_core.train_gan import GanTrainConfig, train_gan
from flows.steps import PlainSteps
from flows.train import train_steps
from tasks.catalog import ATTRIBUTES_FILE, read_demo_catalog
from tasks.demo import demo_catalog, write_catalog
from tasks.ingest import ingest_photos
from tasks.pretrained import check_init

HELD_OUT_SEED_OFFSET = 1_000_003  # demo rows the GAN never saw: sample_attributes(n, catalog.seed + offset)
PROBE_SEED_OFFSET = 1  # the probe GANs' training rows: sample_attributes(n, catalog.seed + 1)


@dataclass
class Models:
    """A trained generator, its discriminator's features and the encoder, plus where they came from."""

    G: Generator
    E: nn.Module
    features: FeatureExtractor
    gan_path: Path
    source: str  # "workspace" | "bench-trained" (" from INIT" when fine-tuned from demo.init)

    def describe(self) -> dict:
        """JSON-able description (config, checkpoint paths and hash, source)."""
        sha = sha256_file(self.gan_path)
        return {"source": self.source, "gan": str(self.gan_path), "gan_sha256": sha[:16],
                "config": self.G.config.to_dict()}


@dataclass(frozen=True)
class FmnistBudget:
    """The Fashion-MNIST model's bounded training budget (bench-only; the pipeline never trains it)."""

    resolution: int = 32
    width: int = 8
    train_images: int = 6000
    gan_steps: int = 400
    encoder_steps: int = 200
    batch_size: int = 32


def features_for(params: Params, gan_path: Path, device: torch.device) -> FeatureExtractor:
    """The projection loss's feature space, as the pipeline builds it (params.project.features)."""
    if params.project.features == "hog":
        return HOGFeatures()
    return DiscriminatorFeatures(load_discriminator(gan_path, device))


def _digest(*parts: object) -> str:
    return fingerprint(*parts)[:12]


def probe_gans(ws_root: Path, params: Params, backbones: list[str], train_images: int, device: torch.device) -> list[Path]:
    """One GAN per backbone (params.model with that backbone, params.gan) trained on `train_images` demo renders
    at model resolution; dcgan has no mapping network, so its w is z (w_dim = z_dim). The folder
    WS/bench/models/probe-<backbone>-<digest> leaves gan.steps out of the digest: a finished run is reused, an
    interrupted or shorter one is resumed up to gan.steps (nothing in training depends on the total, so that
    equals one uninterrupted run)."""
    rows = sample_attributes(train_images, params.catalog.seed + PROBE_SEED_OFFSET)
    data = render(rows, params.model.resolution)
    paths = []
    for backbone in backbones:
        arch = params.model.model_dump() | {"backbone": backbone}
        if backbone == "dcgan":
            arch["w_dim"] = arch["z_dim"]
        model = ModelConfig(**arch)
        gan = GanTrainConfig(**params.gan.model_dump())
        digest = _digest(model.to_dict(), {**asdict(gan), "steps": None}, train_images, params.catalog.seed)
        folder = bench_folder(ws_root, "models", f"probe-{backbone}-{digest}")
        folder.mkdir(parents=True, exist_ok=True)
        train_gan(data, model, gan, folder / GAN, device)
        paths.append(folder / GAN)
    return paths


def load_models(folder: Path, params: Params, device: torch.device, source: str) -> Models:
    """gan.pt + encoder.pt of a folder as `Models`."""
    gan_path = folder / GAN
    return Models(G=load_generator(gan_path, device), E=load_encoder(folder / ENCODER, device).eval(),
                  features=features_for(params, gan_path, device), gan_path=gan_path, source=source)


def catalog_rows(ws_root: Path, params: Params) -> dict[str, np.ndarray]:
    """The demo catalog's attribute rows: WS/catalog/attributes.parquet if the demo wrote it, else regenerated."""
    if (demo_catalog(ws_root) / ATTRIBUTES_FILE).is_file():
        return read_demo_catalog(demo_catalog(ws_root))[1]
    return sample_attributes(params.catalog.size, params.catalog.seed)


def held_out_rows(n: int, params: Params) -> dict[str, np.ndarray]:
    """n demo rows drawn with another seed than the catalog (photos the GAN was not trained on)."""
    return sample_attributes(n, params.catalog.seed + HELD_OUT_SEED_OFFSET)


def rows_slice(rows: dict[str, np.ndarray], index: np.ndarray | slice) -> dict[str, np.ndarray]:
    """Some rows of an attribute dict."""
    return {k: np.asarray(rows[k])[index] for k in (*ATTRIBUTES, *NUISANCE)}


def demo_models(ws_root: Path, params: Params, device: torch.device) -> Models:
    """The workspace's models when trained, else models trained by the demo's own steps as `oneedit demo` trains
    them: the demo catalog, ingested, then demo.init (the shipped generator) fine-tuned for gan.steps, or
    from scratch when it is "", and the encoder."""
    ws = Workspace(ws_root)
    if ws.gan.is_file() and ws.encoder.is_file():
        return load_models(ws.models, params, device, "workspace")
    d = params.to_dict()
    init = check_init(Path(params.demo.init), params, "demo.init") if params.demo.init else None
    digest = _digest(d["catalog"], d["model"], d["gan"], d["encoder"], sha256_file(init) if init else None)
    bench = Workspace.create(bench_folder(ws_root, "models", f"demo-{digest}"))
    steps = PlainSteps()
    photos = steps.call(write_catalog, demo_catalog(bench.root), params)
    steps.call(ingest_photos, photos, bench, params)
    train_steps(bench, params, steps, init)
    return load_models(bench.models, params, device, "bench-trained" + (f" from {init}" if init else ""))


def fmnist_models(ws_root: Path, params: Params, budget: FmnistBudget, device: torch.device) -> Models:
    """A small GAN + encoder trained on Fashion-MNIST within `budget` by the train flow's steps (reused when
    finished)."""
    p = params.model_copy(update={
        "model": params.model.model_copy(update={"resolution": budget.resolution, "width": budget.width}),
        "gan": params.gan.model_copy(update={"steps": budget.gan_steps, "batch_size": budget.batch_size}),
        "encoder": params.encoder.model_copy(update={"steps": budget.encoder_steps, "batch_size": budget.batch_size})})
    d = p.to_dict()
    digest = _digest(asdict(budget), d["model"], d["gan"], d["encoder"])
    bench = Workspace.create(bench_folder(ws_root, "models", f"fmnist-{digest}"))
    photos = bench.root / "photos"
    if len(list(photos.glob("*.png"))) != budget.train_images:
        export_pngs(photos, budget.train_images, split="train")
    steps = PlainSteps()
    steps.call(ingest_photos, photos, bench, p)
    train_steps(bench, p, steps)
    return load_models(bench.models, p, device, "bench-trained")


def project_kwargs(params: Params) -> dict:
    """params.project as keyword arguments of `edit_core.project.project`."""
    p = params.project
    return {"mode": p.mode, "steps": p.steps, "lr": p.lr, "feature_weight": p.feature_weight,
            "w_plus": p.w_plus, "starts": p.starts, "seed": p.seed}


def project_batched(m: Models, images: np.ndarray, batch_size: int, **kw: object) -> Projection:
    """Project uint8 images in batches with `project` (keyword overrides on top of the caller's)."""
    parts = []
    for s in range(0, len(images), batch_size):
        x = to_tensor(images[s : s + batch_size], m.G.device)
        parts.append(project(m.G, x, encoder=m.E, features=m.features, **kw))
    return Projection(*(torch.cat([getattr(p, f) for p in parts]) for f in ("w", "recon", "err_pixel", "err_feature")))


def catalog_latents(ws_root: Path, m: Models, params: Params, n: int) -> tuple[Tensor, str]:
    """Latents of the first n catalog photos: WS/latents (the pipeline's) if usable, else projected here
    (cached under WS/bench/latents/ by models, catalog, params.project and n)."""
    ws = Workspace(ws_root)
    if m.source == "workspace" and ws.latents.is_dir() and any(ws.latents.glob("shard-*.h5")):
        from tasks.latents import load_latents

        w = load_latents(ws)["w"][:n]
        return torch.from_numpy(w).to(m.G.device), "workspace latents"
    d = params.to_dict()
    cache = bench_folder(ws_root, "latents") / f"catalog-{_digest(m.describe(), d['catalog'], d['project'], n)}.pt"
    if not cache.is_file():
        images = render(rows_slice(catalog_rows(ws_root, params), slice(0, n)), m.G.resolution)
        w = project_batched(m, images, params.project.batch_size, **project_kwargs(params)).w.cpu()
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(w, cache)
    return torch.load(cache, weights_only=True).to(m.G.device), "projected by the bench (params.project), cached"
