"""The latents store that projection writes (WS/latents/, one HDF5 shard per ingest shard), read back."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from common.errors import InputError
from common.storage import read_h5, read_h5_attrs, sha256_file
from common.workspace import Workspace


def load_latents(ws: Workspace) -> dict[str, np.ndarray]:
    """Every stored latent, shard order: ids, w, err_pixel, err_feature, shard (file name), index."""
    shards = ws.ingest_shards()
    missing = [s.name for s in shards if not ws.latent_shard(s).exists()]
    if missing or not shards:
        raise InputError(f"{ws.latents}: no latents for {missing or 'any shard'}; run `oneedit project` first")
    parts = [read_h5(ws.latent_shard(s)) for s in shards]
    out = {k: np.concatenate([p[k] for p in parts]) for k in ("ids", "w", "err_pixel", "err_feature")}
    out["shard"] = np.concatenate([np.full(len(p["ids"]), s.name) for s, p in zip(shards, parts, strict=True)])
    out["index"] = np.concatenate([np.arange(len(p["ids"])) for p in parts])
    return out


def iter_latent_shards(ws: Workspace, keys: tuple[str, ...] = ("ids", "w", "err_pixel")) -> Iterator[dict]:
    """One latents shard at a time, shard order: {"shard": file name, key: array for each of `keys`}.

    What `load_latents` concatenates, in bounded memory (a 1M-photo catalog's W+ latents are 20 GB)."""
    shards = ws.ingest_shards()
    missing = [s.name for s in shards if not ws.latent_shard(s).exists()]
    if missing or not shards:
        raise InputError(f"{ws.latents}: no latents for {missing or 'any shard'}; run `oneedit project` first")
    for s in shards:
        yield {"shard": s.name, **read_h5(ws.latent_shard(s), keys)}


def check_latents(ws: Workspace) -> None:
    """Before an edit: every latents shard was projected with the current generator (else re-project).

    Shards written before the generator's hash was recorded carry no `gan_sha256` and pass.
    """
    gan = sha256_file(ws.gan)
    for shard in ws.ingest_shards():
        path = ws.latent_shard(shard)
        recorded = read_h5_attrs(path).get("gan_sha256") if path.exists() else None
        if recorded is not None and recorded != gan:
            raise InputError(f"{path} was projected with another generator than {ws.gan}: "
                             "run `oneedit project --workspace WS` first")
