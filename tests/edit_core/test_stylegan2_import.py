"""Importing NVlabs / rosinality StyleGAN2 files: reference outputs reproduced, hostile pickles refused."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from edit_core.checkpoint import load_checkpoint, load_discriminator, load_generator, save_checkpoint
from edit_core.stylegan2_import import ForbiddenPickle, StyleGAN2ImportError, import_stylegan2

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared/fixtures/stylegan2"
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"StyleGAN2 reference files not found in {FIXTURES}")
TOL = 1e-4


def imported(tmp_path: Path, name: str) -> tuple[Path, dict, dict]:
    """Import a fixture file, write it as the project's checkpoint; (path, summary, reference arrays)."""
    src = FIXTURES / name
    payload, summary = import_stylegan2(src)
    path = tmp_path / "models" / "gan.pt"
    save_checkpoint(path, **payload)
    ref = dict(np.load(src.with_name(src.stem + "-reference.npz")))
    return path, summary, {k: torch.from_numpy(v) for k, v in ref.items()}


def max_err(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float((a - b).abs().max())


@needs_fixtures
@pytest.mark.parametrize("name", ["sg2ada-tiny-32.pkl", "sg2ada-small-64.pkl"])
def test_nvlabs_snapshot_reproduces_reference(tmp_path: Path, name: str) -> None:
    path, summary, ref = imported(tmp_path, name)
    meta = __import__("json").loads((FIXTURES / "fixtures.json").read_text())[name.removesuffix(".pkl")]
    assert (summary["resolution"], summary["num_ws"], summary["w_dim"], summary["z_dim"]) == (
        meta["resolution"], meta["num_ws"], meta["w_dim"], meta["z_dim"])
    assert (summary["g_params"], summary["d_params"], summary["source_format"]) == (
        meta["g_params"], meta["d_params"], "nvlabs-pkl")
    G, G_raw, D = load_generator(path), load_generator(path, ema=False), load_discriminator(path)
    z = ref["z"]
    with torch.no_grad():
        assert max_err(G.mapping(z), ref["ws"][:, 0]) <= TOL
        assert max_err(G.mapping(z, truncation_psi=0.7), ref["ws_psi07"][:, 0]) <= TOL
        assert max_err(G.synthesis(ref["ws"]), ref["img"]) <= TOL  # const noise is the default
        assert max_err(G.synthesis(ref["ws_psi07"]), ref["img_psi07"]) <= TOL
        assert max_err(G.synthesis(ref["ws"], noise_mode="none"), ref["img_noise_none"]) <= TOL
        assert max_err(G.synthesis(ref["wplus"]), ref["img_wplus"]) <= TOL
        assert max_err(G_raw(z), ref["img_G"]) <= TOL
        assert max_err(D(ref["img"]), ref["d_logits"][:, 0]) <= TOL


@needs_fixtures
def test_float32_import_drops_the_float16_blocks(tmp_path: Path) -> None:
    payload, summary = import_stylegan2(FIXTURES / "sg2ada-tiny-32.pkl", precision="float32")
    assert summary["fp16_resolution"] is None and import_stylegan2(FIXTURES / "sg2ada-tiny-32.pkl")[1]["fp16_resolution"] == 8
    save_checkpoint(tmp_path / "gan.pt", **payload)
    G = load_generator(tmp_path / "gan.pt")
    ref = np.load(FIXTURES / "sg2ada-tiny-32-reference.npz")
    with torch.no_grad():
        err = max_err(G.synthesis(torch.from_numpy(ref["ws"])), torch.from_numpy(ref["img"]))
    assert TOL < err < 2e-3 * float(np.abs(ref["img"]).max())  # float16 rounding only


@needs_fixtures
@pytest.mark.parametrize("name", ["rosinality-tiny-32.pt", "rosinality-small-64.pt"])
def test_rosinality_checkpoint_reproduces_reference(tmp_path: Path, name: str) -> None:
    path, summary, ref = imported(tmp_path, name)
    meta = __import__("json").loads((FIXTURES / "fixtures-rosinality.json").read_text())[name.removesuffix(".pt")]
    assert (summary["resolution"], summary["num_ws"], summary["w_dim"], summary["g_params"]) == (
        meta["size"], meta["n_latent"], meta["style_dim"], meta["g_params"])
    G, D = load_generator(path), load_discriminator(path)
    ckpt = load_checkpoint(path)
    assert ckpt["G"].keys() == ckpt["G_ema"].keys() and all(torch.equal(ckpt["G"][k], ckpt["G_ema"][k]) for k in ckpt["G"])
    z = ref["z"]
    with torch.no_grad():
        assert max_err(G.mapping(z), ref["w"]) <= TOL
        assert max_err(G.w_avg, ref["mean_latent"].reshape(-1)) <= TOL
        assert max_err(G(z), ref["img"]) <= TOL
        assert max_err(G.synthesis(G.mapping(z, truncation_psi=0.7)), ref["img_psi07"]) <= TOL
        assert max_err(G.synthesis(ref["wplus"]), ref["img_wplus"]) <= TOL
        assert max_err(D(ref["img"]), ref["d_logits"][:, 0]) <= TOL


@needs_fixtures
def test_rosinality_training_checkpoint_with_args_g_and_no_latent_avg(tmp_path: Path) -> None:
    """train.py's own checkpoints: argparse args inside, a non-EMA "g", and no latent_avg (estimated)."""
    import argparse

    ckpt = torch.load(FIXTURES / "rosinality-tiny-32.pt", weights_only=True)
    g = {k: v + 0.01 if k.endswith("modulation.bias") else v for k, v in ckpt["g_ema"].items()}
    src = tmp_path / "010000.pt"
    torch.save({"g": g, "d": ckpt["d"], "g_ema": ckpt["g_ema"], "args": argparse.Namespace(lr_mlp=0.01, size=32)}, src)
    payload, summary = import_stylegan2(src)
    assert summary["has_G"] and summary["w_avg"].startswith("mean of 4096")
    assert not torch.equal(payload["G"]["synthesis_net.blocks.0.conv1.affine.bias"],
                           payload["G_ema"]["synthesis_net.blocks.0.conv1.affine.bias"])
    ref = np.load(FIXTURES / "rosinality-tiny-32-reference.npz")
    mean_latent = torch.from_numpy(ref["mean_latent"]).reshape(-1)  # rosinality's own 4096-draw mean
    assert max_err(payload["G_ema"]["mapping_net.w_avg"], mean_latent) < 0.1 < float(mean_latent.abs().max())


class _System:
    """Unpickles as os.system("touch MARKER")."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return os.system, (f"touch {self.marker}",)


class _Eval:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return eval, (f"open({str(self.marker)!r}, 'w').close()",)


class UnknownNetwork:
    """A class the importer has never heard of (pickled by reference to this test module)."""


@pytest.mark.parametrize("payload, forbidden", [
    (lambda m: {"G_ema": _System(m)}, "forbidden global " + os.system.__module__ + ".system"),
    (lambda m: {"G": None, "G_ema": [1, _Eval(m)]}, "forbidden global builtins.eval"),
    (lambda m: {"G_ema": UnknownNetwork()}, "forbidden global tests.edit_core.test_stylegan2_import.UnknownNetwork"),
])
def test_hostile_pickle_is_refused_and_runs_nothing(tmp_path: Path, payload, forbidden: str) -> None:
    marker = tmp_path / "MARKER"
    src = tmp_path / "network-snapshot-000000.pkl"
    src.write_bytes(pickle.dumps(payload(marker)))
    with pytest.raises(ForbiddenPickle) as err:
        import_stylegan2(src)
    message = str(err.value)
    assert "\n" not in message and str(src) in message and forbidden in message
    assert not marker.exists()


class _Persistent:
    """Pickles like a torch_utils.persistence object: _reconstruct_persistent_obj(meta)."""

    def __init__(self, class_name: str, state: dict) -> None:
        self.meta = {"type": "class", "version": 6, "module_src": "raise SystemExit('executed')",
                     "class_name": class_name, "state": state}

    def __reduce__(self) -> tuple:
        return _reconstruct_persistent_obj, (self.meta,)


def _reconstruct_persistent_obj(meta: dict) -> None:  # pickled by reference as torch_utils.persistence's
    raise AssertionError("never called: the importer records instead")


_reconstruct_persistent_obj.__module__ = "torch_utils.persistence"


def _dumps_as_persistence(obj: object) -> bytes:
    """pickle.dumps with the fake torch_utils.persistence module importable (as in NVlabs' repo)."""
    import sys
    import types

    fake = types.ModuleType("torch_utils.persistence")
    fake._reconstruct_persistent_obj = _reconstruct_persistent_obj
    saved = {k: sys.modules.get(k) for k in ("torch_utils", "torch_utils.persistence")}
    sys.modules.update({"torch_utils": types.ModuleType("torch_utils"), "torch_utils.persistence": fake})
    try:
        return pickle.dumps(obj)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def test_hostile_global_inside_a_network_state_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    src = tmp_path / "snapshot.pkl"
    src.write_bytes(_dumps_as_persistence({"G_ema": _Persistent("Generator", {"z_dim": _System(marker)})}))
    with pytest.raises(ForbiddenPickle, match="forbidden global"):
        import_stylegan2(src)
    assert not marker.exists()


def test_snapshot_with_missing_parts_is_one_line_error(tmp_path: Path) -> None:
    src = tmp_path / "snapshot.pkl"
    mapping = _Persistent("MappingNetwork", {"_parameters": {}, "_buffers": {}, "_modules": {}})
    synthesis = _Persistent("SynthesisNetwork", {"_parameters": {}, "_buffers": {}, "_modules": {}})
    G = _Persistent("Generator", {"_parameters": {}, "_buffers": {}, "z_dim": 8, "w_dim": 8, "c_dim": 0,
                                  "img_resolution": 16, "img_channels": 3, "num_ws": 6,
                                  "_modules": {"mapping": mapping, "synthesis": synthesis}})
    src.write_bytes(_dumps_as_persistence({"G": G, "D": None, "G_ema": G}))
    with pytest.raises(StyleGAN2ImportError, match="is missing") as err:
        import_stylegan2(src)
    assert "\n" not in str(err.value)


def test_not_a_stylegan2_file_is_one_line_error(tmp_path: Path) -> None:
    src = tmp_path / "x.pkl"
    src.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    with pytest.raises(StyleGAN2ImportError, match="no G_ema") as err:
        import_stylegan2(src)
    assert "\n" not in str(err.value)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"hello")
    with pytest.raises(StyleGAN2ImportError, match="neither a pickle"):
        import_stylegan2(junk)
    other = tmp_path / "other.pt"
    torch.save({"model": {"w": torch.zeros(2)}}, other)
    with pytest.raises(StyleGAN2ImportError, match="no 'g_ema'"):
        import_stylegan2(other)
