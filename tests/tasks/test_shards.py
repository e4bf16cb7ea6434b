import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from common.storage import write_h5
from edit_core.models import ModelConfig
from edit_core.train_encoder import EncoderTrainConfig, train_encoder
from edit_core.train_gan import GanTrainConfig, train_gan
from tasks.shards import ShardImages

CFG = ModelConfig(resolution=8, z_dim=8, w_dim=8, width=4, mapping_layers=1)
GAN = GanTrainConfig(steps=4, batch_size=6, r1_every=2, sample_every=2, ckpt_every=2, log_every=1, seed=0)
ENCODER = EncoderTrainConfig(steps=3, batch_size=6, sample_every=3, ckpt_every=3, log_every=1, seed=0)
SIZES = (5, 1, 7, 3)  # uneven shards: batches straddle shard boundaries


@pytest.fixture()
def shards(tmp_path: Path) -> tuple[list[Path], np.ndarray]:
    """Ingest-like shards (images + ids) and the catalog they hold, concatenated in memory."""
    images = np.random.default_rng(0).integers(0, 256, size=(sum(SIZES), 8, 8, 3), dtype=np.uint8)
    paths, start = [], 0
    for s, n in enumerate(SIZES):
        paths.append(tmp_path / f"shard-{s:05d}.h5")
        write_h5(paths[-1], {"images": images[start:start + n], "ids": np.array([f"{i:016x}" for i in range(n)])})
        start += n
    return paths, images


def _state_dicts(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a checkpoint (models, optimisers, rng), flattened to name -> tensor."""
    flat: dict[str, torch.Tensor] = {}

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, torch.Tensor):
            flat[prefix] = value
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}", v)

    walk("", torch.load(path, map_location="cpu", weights_only=False))
    return flat


def _assert_same_checkpoint(a: Path, b: Path) -> None:
    sa, sb = _state_dicts(a), _state_dicts(b)
    assert sa.keys() == sb.keys() and len(sa) > 10
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_rows_match_the_concatenated_catalog(shards: tuple[list[Path], np.ndarray]) -> None:
    paths, catalog = shards
    source = ShardImages(paths, max_open=2)  # fewer handles than shards: closed and reopened on the way
    assert len(source) == len(catalog) and source.shape == catalog.shape[1:]
    for idx in ([0], [4, 5, 6], [0, 5, 6, 12, 13, 15], list(range(16)), [15, 2, 2, 9], []):
        assert np.array_equal(source[np.array(idx, dtype=np.int64)], catalog[idx])
    assert len(source._files) <= 2
    with pytest.raises(IndexError):
        source[np.array([16])]
    with pytest.raises(IndexError):
        source[np.array([0.5])]


def test_pickled_copy_reads_without_the_parents_handles(shards: tuple[list[Path], np.ndarray]) -> None:
    paths, catalog = shards
    source = ShardImages(paths)
    source[np.arange(16)]
    copy = pickle.loads(pickle.dumps(source))
    assert not copy._files and np.array_equal(copy[np.array([3, 11])], catalog[[3, 11]])


def test_a_forked_process_opens_its_own_handles(shards: tuple[list[Path], np.ndarray]) -> None:
    """After a fork (DataLoader workers) the inherited HDF5 handles are the parent's: never reused."""
    paths, catalog = shards
    source = ShardImages(paths)
    source[np.arange(16)]
    inherited = dict(source._files)
    source._pid = -1  # what os.getpid() != self._pid means: this process did not open them
    assert np.array_equal(source[np.array([3, 11])], catalog[[3, 11]])
    assert source._files and all(source._files[k] is not inherited.get(k) for k in source._files)


def test_gan_and_encoder_trained_on_shards_equal_training_on_the_array(tmp_path: Path,
                                                                        shards: tuple[list[Path], np.ndarray]) -> None:
    """Same sample order, same pixels: byte-identical checkpoints, also when the shard run is resumed."""
    paths, catalog = shards
    train_gan(catalog, CFG, GAN, tmp_path / "array.pt", "cpu")
    half = GanTrainConfig(**{**GAN.__dict__, "steps": 2})
    train_gan(ShardImages(paths), CFG, half, tmp_path / "shards.pt", "cpu")
    train_gan(ShardImages(paths), CFG, GAN, tmp_path / "shards.pt", "cpu")  # resumed from step 2
    _assert_same_checkpoint(tmp_path / "array.pt", tmp_path / "shards.pt")

    train_encoder(catalog, tmp_path / "array.pt", ENCODER, tmp_path / "E-array.pt", "cpu")
    train_encoder(ShardImages(paths), tmp_path / "shards.pt", ENCODER, tmp_path / "E-shards.pt", "cpu")
    _assert_same_checkpoint(tmp_path / "E-array.pt", tmp_path / "E-shards.pt")
