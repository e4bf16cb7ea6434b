"""Step 2: train an encoder E that inverts the frozen generator (the hybrid projection's initializer).

Per step, on catalog images x:   pixel_weight * ||G(E(x)) - x||^2 + feature_weight * d_D(G(E(x)), x)
and on generated samples G(w):   latent_weight * ||E(G(w)) - w||^2
(d_D: feature distance in the frozen D's activations; squared errors are means over pixels / latent
dimensions). The reconstruction term fits the real catalog, the latent term keeps E(x) in the region
of W that the mapping produces. Resumable like `train_gan`.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from edit_core.checkpoint import load_checkpoint, load_discriminator, load_generator, save_checkpoint
from edit_core.configs import EncoderTrainConfig
from edit_core.features import DiscriminatorFeatures, feature_distance
from edit_core.imageops import resolve_device, to_tensor
from edit_core.models import build_encoder
from edit_core.training import (
    CheckpointClock,
    ImageSource,
    TelemetryFn,
    after_step,
    check_resume,
    image_grid,
    sample_indices,
)


def train_encoder(data: ImageSource, gan_ckpt: str | Path, train: EncoderTrainConfig, ckpt_path: str | Path,
                  device: str | torch.device = "auto", on_progress: TelemetryFn | None = None) -> dict:
    """Train E against the EMA generator of `gan_ckpt`, resuming from `ckpt_path` if it exists.

    Returns the history: lists `step`, `loss`, `pixel`, `feature`, `latent` (`img_per_s` only in events) and
    `samples`, a list of (step, uint8 grid: 8 catalog images above their reconstructions G(E(x))).
    """
    device = resolve_device(device)
    ckpt_path = Path(ckpt_path)
    G = load_generator(gan_ckpt, device)
    features = DiscriminatorFeatures(load_discriminator(gan_ckpt, device))
    model = G.config
    E = build_encoder(model, w_plus=train.w_plus, seed=train.seed).to(device)
    E.w_avg.copy_(G.mean_w())
    opt = torch.optim.Adam(E.parameters(), lr=train.lr, betas=train.betas)
    gen = torch.Generator().manual_seed(train.seed)
    history: dict = {"step": [], "loss": [], "pixel": [], "feature": [], "latent": []}  # no wall-clock values
    step = 0
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path, device)
        check_resume(ckpt, ckpt_path, "encoder", model.to_dict())
        E.load_state_dict(ckpt["E"])
        E.w_avg.copy_(G.mean_w())  # a resumed encoder starts from the mean w of the generator it now inverts
        opt.load_state_dict(ckpt["opt"])
        gen.set_state(ckpt["rng"])
        history, step = {k: v for k, v in ckpt["history"].items() if k != "img_per_s"}, ckpt["step"]
    history["samples"] = []
    shown = to_tensor(data[sample_indices(len(data), 8, torch.Generator().manual_seed(train.seed))], device)

    def save() -> None:
        save_checkpoint(ckpt_path, kind="encoder", config=model, E=E.state_dict(), w_plus=train.w_plus,
                        opt=opt.state_dict(), rng=gen.get_state(), step=step, train=asdict(train),
                        gan_ckpt=Path(gan_ckpt).name, history={k: v for k, v in history.items() if k != "samples"})

    def add_samples() -> np.ndarray:
        E.eval()
        with torch.no_grad():
            grid = image_grid(torch.cat([shown, G.synthesis(E(shown))]), cols=len(shown))
        E.train()
        history["samples"].append((step, grid))
        return grid

    E.train()
    t0, seen = time.perf_counter(), 0
    clock = CheckpointClock(train.ckpt_seconds)
    while step < train.steps:
        x = to_tensor(data[sample_indices(len(data), train.batch_size, gen)], device)
        recon = G.synthesis(E(x))
        pixel = (recon - x).pow(2).flatten(1).mean(1).mean()
        feature = feature_distance(recon, x, features).mean()
        z = torch.randn(x.shape[0], model.z_dim, generator=gen).to(device)
        with torch.no_grad():
            w = G.mapping(z)
            fake = G.synthesis(w)
        w_hat = E(fake)
        latent = (w_hat - (w if w_hat.ndim == 2 else G.ws(w))).pow(2).flatten(1).mean(1).mean()
        loss = train.pixel_weight * pixel + train.feature_weight * feature + train.latent_weight * latent
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        seen += x.shape[0]

        after_step(step, train, {"loss": loss, "pixel": pixel, "feature": feature, "latent": latent},
                   seen / (time.perf_counter() - t0), history, add_samples, save, on_progress, clock)
    if not history["samples"]:
        add_samples()
    return history
