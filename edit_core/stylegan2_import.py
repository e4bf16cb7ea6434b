"""Import pretrained StyleGAN2 checkpoints (NVlabs stylegan2-ada-pytorch .pkl, rosinality .pt) safely.

`import_stylegan2(path)` returns the project's GAN checkpoint payload (what
`edit_core.checkpoint.save_checkpoint` takes; backbone "stylegan2") and an architecture summary.

NVlabs snapshots are pickles of networks whose classes carry their own source code
(`torch_utils.persistence`); unpickling them the usual way executes that code. Here a restricted
unpickler allows a short list of globals (tensor / storage rebuild, OrderedDict, numpy scalars, plain
dicts) and replaces the persistence hook by a function that only records the object's class name and
state. Any other global refuses the whole file (ForbiddenPickle) before anything is returned.
rosinality checkpoints are read with `torch.load(weights_only=True)`. Channel counts, mapping depth,
resolution and noise buffers come from the tensors' shapes; conv_clamp, lr multipliers and
minibatch-std settings from the recorded attributes (NVlabs) or the format's fixed values
(rosinality). The mapped state dicts are loaded strictly into freshly built modules, so a file
that does not fit the architecture fails here, not later.

Validated before anything is allocated, so that a small hostile file cannot declare a huge model: every
storage the file declares is backed by that many bytes of the file (`_declared_storages`, before torch
reads them) and every tensor lies inside its storage with no zero stride (`_check_tensor`); then the
architecture's bounds (`check_config`) and every state's names and shapes are compared with the modules
built on PyTorch's meta device (no memory), and the model's parameters with the file's size
(`check_before_build`). Only then are the real modules built.
"""

from __future__ import annotations

import argparse
import collections
import io
import math
import pickle
import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from edit_core.models import ModelConfig, build_discriminator, build_generator
from edit_core.models.stylegan2 import count_ws_at, fir_filter

FIR = [1, 3, 3, 1]
LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19"  # torch.save before the zip format
MAX_RESOLUTION, MAX_CHANNELS, MAX_DIM, MAX_MAPPING = 2048, 2048, 2048, 16  # beyond any published StyleGAN2
ELEMENT_SIZE = {"DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "LongStorage": 8,
                "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
                "UntypedStorage": 1}  # bytes per element of the storage types torch.save writes


class StyleGAN2ImportError(ValueError):
    """The file is not a StyleGAN2 checkpoint this importer understands."""


class ForbiddenPickle(StyleGAN2ImportError):
    """The pickle asks for a global outside the whitelist (it could run code)."""


# --- restricted unpickling of NVlabs snapshots ------------------------------------------------------

@dataclass
class Persistent:
    """What a `torch_utils.persistence` object pickles: its class name and its __dict__ (not run)."""

    class_name: str
    state: dict = field(repr=False)

    def attr(self, name: str, default: Any = None) -> Any:
        return self.state.get(name, default)

    @property
    def modules(self) -> dict[str, Persistent]:
        return dict(self.state.get("_modules") or {})


class _EasyDict(dict):
    """Stand-in for dnnlib.util.EasyDict (a dict with attribute access) in recorded init kwargs."""


def _record_persistent(meta: dict) -> Persistent:
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
        raise ForbiddenPickle("persistent object of an unsupported kind (only persistent classes are read)")
    return Persistent(str(meta.get("class_name")), meta["state"])


class _Absorb:
    """What every global of a scanned pickle resolves to: takes any arguments, runs nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _Absorb:
        return self

    def __setstate__(self, state: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def append(self, value: Any) -> None:
        pass

    def extend(self, values: Any) -> None:
        pass


class _StorageScan(pickle.Unpickler):
    """Reads a torch pickle for its storage declarations only ((key, element size, count) per persistent
    storage id); every global becomes `_Absorb`, so nothing the file names is looked up or run."""

    def __init__(self, file: Any) -> None:
        super().__init__(file)
        self.storages: dict[str, tuple[int, int]] = {}

    def find_class(self, module: str, name: str) -> Any:
        return type(name, (_Absorb,), {"storage_name": name})

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise StyleGAN2ImportError(f"unexpected persistent id {str(pid)[:40]}")
        kind, key, numel = getattr(pid[1], "storage_name", None), str(pid[2]), pid[4]
        if kind not in ELEMENT_SIZE or not isinstance(numel, int) or numel < 0:
            raise StyleGAN2ImportError(f"storage {key[:20]} of an unknown type or size ({kind}, {str(numel)[:20]})")
        self.storages[key] = (ELEMENT_SIZE[kind], numel)
        return _Absorb()


def _declared_storages(f: Any) -> dict[str, tuple[int, int]]:
    """{key: (element size, count)} of the storages a torch pickle read from `f` declares."""
    scan = _StorageScan(f)
    try:
        scan.load()
    except StyleGAN2ImportError:
        raise
    except Exception as e:  # noqa: BLE001 - a damaged pickle: one line
        raise StyleGAN2ImportError(f"not a readable torch pickle ({type(e).__name__}: {str(e)[:80]})") from None
    return scan.storages


def check_legacy_torch(f: Any, length: int) -> None:
    """A legacy torch.save stream (magic, protocol, sys info, the object, its storage keys, then each
    storage as an int64 count + its bytes): every declared storage is there with its bytes, so torch's
    reader never allocates more than the stream holds."""
    try:
        for _ in range(3):  # magic number, protocol version, sys info: plain values
            _declared_storages(f)
        declared = _declared_storages(f)
        keys = _StorageScan(f).load()  # a list of str (any global in it would become an _Absorb)
    except StyleGAN2ImportError:
        raise
    except Exception as e:  # noqa: BLE001
        raise StyleGAN2ImportError(f"not a readable torch file ({type(e).__name__})") from None
    if not isinstance(keys, list) or sorted(map(str, keys)) != sorted(declared):
        raise StyleGAN2ImportError("its storage list does not match the storages it declares")
    for key in keys:
        element, numel = declared[str(key)]
        head = f.read(8)
        if len(head) != 8 or struct.unpack("<q", head)[0] != numel:
            raise StyleGAN2ImportError(f"storage {str(key)[:20]} declares {numel} elements but stores another count")
        if f.tell() + numel * element > length:
            raise StyleGAN2ImportError(f"storage {str(key)[:20]} declares {numel:,} elements, more than the file holds")
        f.seek(numel * element, io.SEEK_CUR)


def check_torch_zip(path: Path) -> None:
    """A zip-format torch.save file: stored (uncompressed) records whose sizes add up to at most the file's,
    and every storage data.pkl declares exactly as large as its record."""
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        if any(i.compress_type != zipfile.ZIP_STORED for i in infos) or \
                sum(i.file_size for i in infos) > path.stat().st_size:
            raise StyleGAN2ImportError("compressed or oversized records (torch.save stores its tensors as they are)")
        pkl = [i for i in infos if i.filename.endswith("/data.pkl")]
        if len(pkl) != 1:
            raise StyleGAN2ImportError("no data.pkl record")
        prefix = pkl[0].filename.removesuffix("data.pkl")
        with z.open(pkl[0]) as f:
            declared = _declared_storages(f)
        sizes = {i.filename: i.file_size for i in infos}
        for key, (element, numel) in declared.items():
            if sizes.get(f"{prefix}data/{key}") != numel * element:
                raise StyleGAN2ImportError(f"storage {key[:20]} declares {numel:,} elements, its record holds "
                                           f"{sizes.get(f'{prefix}data/{key}', 0):,} bytes")


def _load_storage(data: bytes) -> Any:
    """A tensor storage pickled by torch (its legacy torch.save bytes), checked (`check_legacy_torch`), then
    read with weights_only."""
    if not isinstance(data, bytes):
        raise ForbiddenPickle("storage bytes expected")
    check_legacy_torch(io.BytesIO(data), len(data))
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _check_tensor(size: Any, stride: Any, offset: Any, available: int) -> int:
    """A tensor's layout inside a storage of `available` elements: no zero stride (a small storage posing as a
    large tensor) and no more elements than the storage holds from `offset`; returns its element count."""
    if not (isinstance(size, (tuple, torch.Size)) and isinstance(stride, tuple) and len(size) == len(stride)
            and all(isinstance(v, int) for v in (*size, *stride, offset))):
        raise StyleGAN2ImportError("a tensor with a malformed layout")
    numel = math.prod(size)
    if numel and any(st < 1 for n, st in zip(size, stride, strict=True) if n > 1):
        raise StyleGAN2ImportError(f"a tensor of shape {tuple(size)} with strides {tuple(stride)} (zero or negative "
                                   "strides: its storage does not hold its elements)")
    end = offset + sum((n - 1) * st for n, st in zip(size, stride, strict=True)) + 1 if numel else offset
    if offset < 0 or end > available or numel > available - offset:
        raise StyleGAN2ImportError(f"a tensor of shape {tuple(size)} larger than its storage of {available:,} elements")
    return numel


def check_tensors(obj: Any) -> None:
    """Every tensor in `obj` (nested dicts, lists) lies inside its storage (`_check_tensor`). Tensors that
    share a storage are fine (a training checkpoint's G and G_ema do): what is built from them is bounded
    by the file's size in `check_before_build`."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, Tensor):
            available = item.untyped_storage().nbytes() // item.element_size()
            _check_tensor(tuple(item.shape), item.stride(), item.storage_offset(), available)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def _rebuild_tensor(storage: Any, offset: int, size: tuple, stride: tuple, requires_grad: bool = False,
                    backward_hooks: Any = None, metadata: Any = None) -> Tensor:
    if not isinstance(storage, torch.storage.TypedStorage):
        raise ForbiddenPickle("tensor rebuilt from something that is not a storage")
    _check_tensor(tuple(size), tuple(stride), offset,
                  storage._untyped_storage.nbytes() // torch._utils._element_size(storage.dtype))
    return torch._utils._rebuild_tensor(storage, offset, size, stride)


def _rebuild_parameter(data: Tensor, requires_grad: bool = False, backward_hooks: Any = None,
                       state: Any = None) -> Tensor:
    if not isinstance(data, Tensor):
        raise ForbiddenPickle("parameter rebuilt from something that is not a tensor")
    return data.detach()


def _numpy_scalar(dtype: np.dtype, data: bytes = b"") -> np.generic:
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise ForbiddenPickle("numpy scalar of an object dtype")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _record_persistent,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("dnnlib.util", "EasyDict"): _EasyDict,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only ALLOWED_GLOBALS; anything else raises ForbiddenPickle."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise ForbiddenPickle(f"forbidden global {module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise ForbiddenPickle(f"forbidden persistent id {str(pid)[:40]}")


def read_nvlabs_pickle(path: Path) -> dict:
    """The snapshot dict with every persistent network as a `Persistent` record; executes nothing."""
    with open(path, "rb") as f:
        try:
            data = RestrictedUnpickler(f).load()
        except ForbiddenPickle as e:
            raise ForbiddenPickle(f"{path}: refusing to unpickle, {e}") from None
        except StyleGAN2ImportError as e:
            raise StyleGAN2ImportError(f"{path}: refused before reading it further, {e}") from None
        except (pickle.UnpicklingError, EOFError, TypeError, AttributeError, IndexError, RuntimeError) as e:
            raise StyleGAN2ImportError(f"{path}: not a readable StyleGAN2 pickle ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("G_ema"), Persistent):
        raise StyleGAN2ImportError(f"{path}: no G_ema network in this pickle (keys: {sorted(data)[:8]})"
                                   if isinstance(data, dict) else f"{path}: pickle holds no snapshot dict")
    return data


def flat_tensors(rec: Persistent, prefix: str = "") -> dict[str, Tensor]:
    """The recorded module tree's parameters and persistent buffers, by dotted name (a state_dict)."""
    out: dict[str, Tensor] = {}
    skip = set(rec.attr("_non_persistent_buffers_set") or ())
    for group in ("_parameters", "_buffers"):
        for name, t in (rec.attr(group) or {}).items():
            if t is not None and name not in skip:
                out[prefix + name] = t
    for name, child in rec.modules.items():
        if child is not None:
            if not isinstance(child, Persistent):
                raise StyleGAN2ImportError(f"module {prefix}{name} is not a recorded network object")
            out.update(flat_tensors(child, f"{prefix}{name}."))
    return out


def _modules_of(rec: Persistent, class_name: str) -> list[Persistent]:
    found = [rec] if rec.class_name == class_name else []
    for child in rec.modules.values():
        if isinstance(child, Persistent):
            found += _modules_of(child, class_name)
    return found


def _one_value(recs: list[Persistent], attr: str, what: str) -> Any:
    values = {None if v is None else float(v) for v in (r.attr(attr) for r in recs)}
    if len(values) != 1:
        raise StyleGAN2ImportError(f"{what}: expected one {attr} for all layers, got {sorted(values, key=str)}")
    return values.pop()


def _check_fir(tensors: dict[str, Tensor], what: str) -> None:
    expect = fir_filter(FIR)
    for name, t in tensors.items():
        if name.endswith("resample_filter") and (t.shape != expect.shape or not torch.allclose(t.float(), expect)):
            raise StyleGAN2ImportError(f"{what}: resample filter {name} is not [1, 3, 3, 1]")


def _fp16_resolution(blocks: list[Persistent]) -> int | None:
    """Lowest resolution of the blocks the NVlabs code runs in float16 (None: none)."""
    res = [int(b.attr("resolution")) for b in blocks if b.attr("use_fp16")]
    return min(res) if res else None


def _nvlabs_config(G: Persistent, D: Persistent | None, path: Path) -> ModelConfig:
    """ModelConfig (backbone stylegan2) of an NVlabs Generator record (and its Discriminator)."""
    mods = G.modules
    mapping, synthesis = mods.get("mapping"), mods.get("synthesis")
    if G.class_name != "Generator" or mapping is None or synthesis is None:
        raise StyleGAN2ImportError(f"{path}: G_ema is a {G.class_name}, not a StyleGAN2 Generator")
    if int(G.attr("c_dim", 0) or 0) > 0:
        raise StyleGAN2ImportError(f"{path}: conditional generators (c_dim > 0) are not supported")
    tensors = flat_tensors(G)
    _check_fir(tensors, str(path))
    res = int(G.attr("img_resolution"))
    blocks = [synthesis.modules[f"b{r}"] for r in (2 ** i for i in range(2, int(math.log2(res)) + 1))]
    for b in blocks:
        if b.attr("architecture", "skip") != "skip":
            raise StyleGAN2ImportError(f"{path}: synthesis architecture {b.attr('architecture')!r}, "
                                       "only 'skip' (StyleGAN2's) is supported")
    fcs = [m for n, m in mapping.modules.items() if re.fullmatch(r"fc\d+", n)]
    layers = _modules_of(synthesis, "SynthesisLayer") + _modules_of(synthesis, "ToRGBLayer")
    acts = {m.attr("activation") for m in fcs + _modules_of(synthesis, "SynthesisLayer")}
    if acts != {"lrelu"}:
        raise StyleGAN2ImportError(f"{path}: activations {sorted(map(str, acts))}, only StyleGAN2's lrelu is supported")
    spec = {
        "channels": [int(tensors[f"synthesis.b{2 ** (i + 2)}.conv1.weight"].shape[0]) for i in range(len(blocks))],
        "mapping_hidden": int(tensors["mapping.fc0.weight"].shape[0]),
        "conv_clamp": _one_value(layers, "conv_clamp", f"{path} synthesis"),
        "fir": FIR,
        "num_ws": int(G.attr("num_ws")),
        "fp16_resolution": _fp16_resolution(blocks),
    }
    if D is not None:
        spec.update(_nvlabs_d_spec(D, res, path))
    else:
        spec["d_channels"] = spec["channels"][::-1]
        spec["d_conv_clamp"] = spec["conv_clamp"]
        spec["d_fp16_resolution"] = spec["fp16_resolution"]
    return ModelConfig(backbone="stylegan2", resolution=res, z_dim=int(G.attr("z_dim")), w_dim=int(G.attr("w_dim")),
                       mapping_layers=len(fcs), mapping_lr_mul=_one_value(fcs, "bias_gain", f"{path} mapping lr"),
                       channels=int(G.attr("img_channels")), stylegan2=spec)


def _nvlabs_d_spec(D: Persistent, res: int, path: Path) -> dict:
    if D.class_name != "Discriminator" or int(D.attr("c_dim", 0) or 0) > 0:
        raise StyleGAN2ImportError(f"{path}: D is a {D.class_name} (c_dim {D.attr('c_dim')}); "
                                   "only unconditional StyleGAN2 discriminators are supported")
    tensors = flat_tensors(D)
    _check_fir(tensors, str(path))
    for rec in [*_modules_of(D, "DiscriminatorBlock"), *_modules_of(D, "DiscriminatorEpilogue")]:
        if rec.attr("architecture", "resnet") != "resnet":
            raise StyleGAN2ImportError(f"{path}: discriminator architecture {rec.attr('architecture')!r}, "
                                       "only 'resnet' (StyleGAN2's) is supported")
    mbstd = D.modules["b4"].modules.get("mbstd")
    d_channels = [int(tensors[f"b{res}.fromrgb.weight"].shape[0])]
    r = res
    while r > 4:
        d_channels.append(int(tensors[f"b{r}.conv1.weight"].shape[0]))
        r //= 2
    convs = [m for m in _modules_of(D, "Conv2dLayer") if (m.attr("_parameters") or {}).get("bias") is not None]
    return {"d_channels": d_channels,
            "d_fp16_resolution": _fp16_resolution(_modules_of(D, "DiscriminatorBlock")),
            "d_conv_clamp": _one_value(convs, "conv_clamp", f"{path} discriminator"),
            "mbstd_group": int(mbstd.attr("group_size")) if mbstd is not None else 4,
            "mbstd_channels": int(mbstd.attr("num_channels")) if mbstd is not None else 0}


def nvlabs_g_state(t: dict[str, Tensor], cfg: ModelConfig) -> dict[str, Tensor]:
    """NVlabs Generator tensor names -> StyleGAN2Generator state_dict."""
    out = {"mapping_net.w_avg": t["mapping.w_avg"]}
    for i in range(cfg.mapping_layers):
        for p in ("weight", "bias"):
            out[f"mapping_net.fcs.{i}.{p}"] = t[f"mapping.fc{i}.{p}"]
    for j, res in enumerate(2 ** i for i in range(2, int(math.log2(cfg.resolution)) + 1)):
        src, dst = f"synthesis.b{res}.", f"synthesis_net.blocks.{j}."
        if j == 0:
            out[dst + "const"] = t[src + "const"]
        for layer in ("conv1",) if j == 0 else ("conv0", "conv1"):
            for p in ("weight", "bias", "affine.weight", "affine.bias"):
                out[f"{dst}{layer}.{p}"] = t[f"{src}{layer}.{p}"]
            c = t[f"{src}{layer}.weight"]
            out[f"{dst}{layer}.noise_strength"] = t.get(f"{src}{layer}.noise_strength", c.new_zeros(()))
            out[f"{dst}{layer}.noise_const"] = t.get(f"{src}{layer}.noise_const", c.new_zeros(res, res))
        for p in ("weight", "bias", "affine.weight", "affine.bias"):
            out[f"{dst}torgb.{p}"] = t[f"{src}torgb.{p}"]
    return out


def nvlabs_d_state(t: dict[str, Tensor], cfg: ModelConfig) -> dict[str, Tensor]:
    """NVlabs Discriminator tensor names -> StyleGAN2Discriminator state_dict."""
    out: dict[str, Tensor] = {}
    for j, res in enumerate(2 ** i for i in range(int(math.log2(cfg.resolution)), 2, -1)):
        src, dst = f"b{res}.", f"blocks.{j}."
        names = ["conv0.weight", "conv0.bias", "conv1.weight", "conv1.bias", "skip.weight"]
        for n in (["fromrgb.weight", "fromrgb.bias"] if j == 0 else []) + names:
            out[dst + n] = t[src + n]
    for n in ("conv.weight", "conv.bias", "fc.weight", "fc.bias", "out.weight", "out.bias"):
        out[n] = t["b4." + n]
    return out


def _import_nvlabs(path: Path) -> tuple[ModelConfig, dict, dict | None, dict | None]:
    snap = read_nvlabs_pickle(path)
    G_ema, G, D = snap["G_ema"], snap.get("G"), snap.get("D")
    D = D if isinstance(D, Persistent) else None
    cfg = _nvlabs_config(G_ema, D, path)
    check_config(cfg, path)
    g_ema = nvlabs_g_state(flat_tensors(G_ema), cfg)
    g = nvlabs_g_state(flat_tensors(G), cfg) if isinstance(G, Persistent) else None
    d = nvlabs_d_state(flat_tensors(D), cfg) if D is not None else None
    check_before_build(cfg, {"G_ema": g_ema, "G": g, "D": d}, path)
    return cfg, g_ema, g, d


def check_config(cfg: ModelConfig, path: Path) -> None:
    """The architecture a file declares, within what any published StyleGAN2 has (before its modules exist)."""
    spec = cfg.stylegan2 or {}
    res, blocks = cfg.resolution, len(spec.get("channels", ()))
    problems = []
    if not (4 <= res <= MAX_RESOLUTION and res & (res - 1) == 0):
        problems.append(f"resolution {res} (a power of 2 from 4 to {MAX_RESOLUTION})")
    elif blocks != int(math.log2(res)) - 1 or len(spec.get("d_channels", ())) != blocks:
        problems.append(f"{blocks} synthesis blocks for {res} px")
    if not all(isinstance(c, int) and 1 <= c <= MAX_CHANNELS for c in (*spec.get("channels", ()),
                                                                       *spec.get("d_channels", ()))):
        problems.append(f"channels {str(spec.get('channels'))[:60]} (1 to {MAX_CHANNELS} each)")
    if not all(1 <= v <= MAX_DIM for v in (cfg.z_dim, cfg.w_dim, spec.get("mapping_hidden", 0))):
        problems.append(f"z {cfg.z_dim}, w {cfg.w_dim}, mapping width {spec.get('mapping_hidden')} (1 to {MAX_DIM})")
    if not 1 <= cfg.mapping_layers <= MAX_MAPPING or not 1 <= cfg.channels <= 4:
        problems.append(f"{cfg.mapping_layers} mapping layers, {cfg.channels} image channels")
    if not problems and spec.get("num_ws") != count_ws_at(res):
        problems.append(f"num_ws {spec.get('num_ws')} for {res} px (StyleGAN2 has {count_ws_at(res)})")
    if problems:
        raise StyleGAN2ImportError(f"{path}: not a StyleGAN2 this importer builds: {'; '.join(problems)}")


def check_before_build(cfg: ModelConfig, states: dict[str, dict[str, Tensor] | None], path: Path) -> None:
    """Every state's tensor names and shapes are the architecture's (its modules built on the meta device,
    which allocates nothing), and its parameters are no more than the file can hold (2 bytes each at least)."""
    with torch.device("meta"):
        expected = {"G": build_generator(cfg).state_dict()}
        if states.get("D") is not None:
            expected["D"] = build_discriminator(cfg).state_dict()
    elements = 0
    for name, state in states.items():
        if state is None:
            continue
        want = expected["D" if name == "D" else "G"]
        if set(state) != set(want):
            odd = sorted(set(state) ^ set(want))
            raise StyleGAN2ImportError(f"{path}: {name} does not fit the stylegan2 architecture ({len(odd)} tensors "
                                       f"missing or unexpected, e.g. {odd[0]})")
        for key, t in state.items():
            if tuple(t.shape) != tuple(want[key].shape):
                raise StyleGAN2ImportError(f"{path}: {name} tensor {key} has shape {tuple(t.shape)}, the architecture "
                                           f"{tuple(want[key].shape)}")
        elements += sum(t.numel() for t in want.values())
    if 2 * elements > path.stat().st_size:
        raise StyleGAN2ImportError(f"{path}: declares {elements:,} parameters, more than its "
                                   f"{path.stat().st_size:,} bytes can hold")


# --- rosinality checkpoints ----------------------------------------------------------------------

def _rosinality_config(g: dict[str, Tensor], d: dict[str, Tensor] | None, lr_mlp: float) -> ModelConfig:
    n_mlp = len([k for k in g if re.fullmatch(r"style\.\d+\.weight", k)])
    n_up = len([k for k in g if re.fullmatch(r"to_rgbs\.\d+\.bias", k)])
    res = 4 * 2 ** n_up
    style_dim = int(g["style.1.weight"].shape[1])
    channels = [int(g["input.input"].shape[1])] + [int(g[f"to_rgbs.{i}.conv.weight"].shape[2]) for i in range(n_up)]
    spec = {"channels": channels, "mapping_hidden": style_dim, "conv_clamp": None, "d_conv_clamp": None,
            "mbstd_group": 4, "mbstd_channels": 1, "fir": FIR, "num_ws": count_ws_at(res),
            "fp16_resolution": None, "d_fp16_resolution": None}
    if d is not None:
        n_blocks = len([k for k in d if re.fullmatch(r"convs\.\d+\.skip\.1\.weight", k)])
        if n_blocks != n_up:
            raise StyleGAN2ImportError(f"discriminator has {n_blocks} blocks, generator {n_up} upsamplings")
        spec["d_channels"] = [int(d["convs.0.0.weight"].shape[0])] + [
            int(d[f"convs.{i}.conv2.1.weight"].shape[0]) for i in range(1, n_blocks + 1)]
    else:
        spec["d_channels"] = channels[::-1]
    return ModelConfig(backbone="stylegan2", resolution=res, z_dim=style_dim, w_dim=style_dim, mapping_layers=n_mlp,
                       mapping_lr_mul=lr_mlp, channels=int(g["to_rgb1.bias"].shape[1]), stylegan2=spec)


def rosinality_g_state(g: dict[str, Tensor], cfg: ModelConfig, w_avg: Tensor) -> dict[str, Tensor]:
    """rosinality Generator state_dict -> StyleGAN2Generator state_dict."""
    out = {"mapping_net.w_avg": w_avg.reshape(-1)}
    for i in range(cfg.mapping_layers):
        for p in ("weight", "bias"):
            out[f"mapping_net.fcs.{i}.{p}"] = g[f"style.{i + 1}.{p}"]

    def styled(src: str, dst: str, noise: int) -> None:
        out[dst + "weight"] = g[src + "conv.weight"].squeeze(0)
        out[dst + "affine.weight"] = g[src + "conv.modulation.weight"]
        out[dst + "affine.bias"] = g[src + "conv.modulation.bias"]
        out[dst + "bias"] = g[src + "activate.bias"]
        out[dst + "noise_strength"] = g[src + "noise.weight"].reshape(())
        out[dst + "noise_const"] = g[f"noises.noise_{noise}"].reshape(g[f"noises.noise_{noise}"].shape[-2:])

    def to_rgb(src: str, dst: str) -> None:
        out[dst + "weight"] = g[src + "conv.weight"].squeeze(0)
        out[dst + "affine.weight"] = g[src + "conv.modulation.weight"]
        out[dst + "affine.bias"] = g[src + "conv.modulation.bias"]
        out[dst + "bias"] = g[src + "bias"].reshape(-1)

    out["synthesis_net.blocks.0.const"] = g["input.input"].squeeze(0)
    styled("conv1.", "synthesis_net.blocks.0.conv1.", 0)
    to_rgb("to_rgb1.", "synthesis_net.blocks.0.torgb.")
    for j in range(len(cfg.stylegan2["channels"]) - 1):
        dst = f"synthesis_net.blocks.{j + 1}."
        styled(f"convs.{2 * j}.", dst + "conv0.", 2 * j + 1)
        styled(f"convs.{2 * j + 1}.", dst + "conv1.", 2 * j + 2)
        to_rgb(f"to_rgbs.{j}.", dst + "torgb.")
    return out


def rosinality_d_state(d: dict[str, Tensor], cfg: ModelConfig) -> dict[str, Tensor]:
    """rosinality Discriminator state_dict -> StyleGAN2Discriminator state_dict."""
    out = {"blocks.0.fromrgb.weight": d["convs.0.0.weight"], "blocks.0.fromrgb.bias": d["convs.0.1.bias"]}
    for j in range(len(cfg.stylegan2["d_channels"]) - 1):
        src, dst = f"convs.{j + 1}.", f"blocks.{j}."
        out.update({dst + "conv0.weight": d[src + "conv1.0.weight"], dst + "conv0.bias": d[src + "conv1.1.bias"],
                    dst + "conv1.weight": d[src + "conv2.1.weight"], dst + "conv1.bias": d[src + "conv2.2.bias"],
                    dst + "skip.weight": d[src + "skip.1.weight"]})
    out.update({"conv.weight": d["final_conv.0.weight"], "conv.bias": d["final_conv.1.bias"],
                "fc.weight": d["final_linear.0.weight"], "fc.bias": d["final_linear.0.bias"],
                "out.weight": d["final_linear.1.weight"], "out.bias": d["final_linear.1.bias"]})
    return out


def _import_rosinality(path: Path) -> tuple[ModelConfig, dict, dict | None, dict | None, str]:
    try:
        if zipfile.is_zipfile(path):
            check_torch_zip(path)
        else:
            with open(path, "rb") as f:
                check_legacy_torch(f, path.stat().st_size)
    except StyleGAN2ImportError as e:
        raise StyleGAN2ImportError(f"{path}: refused before reading it, {e}") from None
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):  # train.py stores its argparse args
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any refusal or corruption becomes one line
        raise StyleGAN2ImportError(f"{path}: not a readable rosinality checkpoint ({str(e).splitlines()[0]})") from None
    try:
        check_tensors(ckpt)
    except StyleGAN2ImportError as e:
        raise StyleGAN2ImportError(f"{path}: refused, {e}") from None
    if not isinstance(ckpt, dict) or "g_ema" not in ckpt:
        raise StyleGAN2ImportError(f"{path}: no 'g_ema' in this checkpoint "
                                   f"(keys: {sorted(ckpt)[:8] if isinstance(ckpt, dict) else type(ckpt).__name__})")
    args = ckpt.get("args")
    lr_mlp = float(getattr(args, "lr_mlp", 0.01))
    g_ema, g, d = ckpt["g_ema"], ckpt.get("g"), ckpt.get("d")
    cfg = _rosinality_config(g_ema, d, lr_mlp)
    check_config(cfg, path)
    w_avg_source = "latent_avg"
    w_avg = ckpt.get("latent_avg", torch.zeros(cfg.w_dim))
    g_ema_sd = rosinality_g_state(g_ema, cfg, w_avg)
    g_sd = rosinality_g_state(g, cfg, w_avg) if g is not None else None
    d_sd = rosinality_d_state(d, cfg) if d is not None else None
    check_before_build(cfg, {"G_ema": g_ema_sd, "G": g_sd, "D": d_sd}, path)
    if "latent_avg" not in ckpt:  # no stored average: estimate it as rosinality's mean_latent does (4096 draws)
        G = build_generator(cfg)
        G.load_state_dict(g_ema_sd)
        w_avg, w_avg_source = G.mean_w(4096, seed=0), "mean of 4096 mapped z (seed 0)"
        for state in (g_ema_sd, g_sd):
            if state is not None:
                state["mapping_net.w_avg"] = w_avg.reshape(-1)
    return cfg, g_ema_sd, g_sd, d_sd, w_avg_source


# --- entry point ---------------------------------------------------------------------------------

def source_format(path: Path) -> str:
    """"nvlabs-pkl" (a plain pickle) or "rosinality-pt" (a torch.save file, zip or legacy)."""
    with open(path, "rb") as f:
        head = f.read(len(LEGACY_TORCH_MAGIC))
    if zipfile.is_zipfile(path) or head == LEGACY_TORCH_MAGIC:
        return "rosinality-pt"
    if head[:1] == b"\x80":
        return "nvlabs-pkl"
    raise StyleGAN2ImportError(f"{path}: neither a pickle (NVlabs .pkl) nor a torch checkpoint (rosinality .pt)")


def _strict_load(module: torch.nn.Module, state: dict[str, Tensor], what: str, path: Path) -> int:
    try:
        module.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except RuntimeError as e:
        raise StyleGAN2ImportError(f"{path}: {what} does not fit the stylegan2 architecture "
                                   f"({str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else e})") from None
    return sum(p.numel() for p in module.parameters())


def import_stylegan2(path: str | Path, precision: str = "as-file") -> tuple[dict, dict]:
    """Read an NVlabs .pkl or rosinality .pt StyleGAN2 file -> (checkpoint payload, architecture summary).

    precision: "as-file" keeps the float16 blocks an NVlabs file records (outputs equal upstream's);
    "float32" computes every block in float32 (about 5x faster on CPU, where float16 is emulated;
    images differ from upstream's by float16 rounding, ~1e-3 relative).

    The payload is what `save_checkpoint(path, **payload)` writes: kind "gan", config (ModelConfig,
    backbone "stylegan2"), G_ema, G (= G_ema when the file has no non-EMA generator), D when
    present, step 0, source_format (the caller records the file's hash). Raises StyleGAN2ImportError (ForbiddenPickle for
    a pickle that asks for anything outside the whitelist) with a one-line message.
    """
    path = Path(path)
    if not path.is_file():
        raise StyleGAN2ImportError(f"{path}: no such file")
    fmt = source_format(path)
    try:
        if fmt == "nvlabs-pkl":
            cfg, g_ema, g, d = _import_nvlabs(path)
            w_avg_source = "mapping.w_avg"
        else:
            cfg, g_ema, g, d, w_avg_source = _import_rosinality(path)
    except KeyError as e:  # a tensor or sub-network the format always has is missing
        raise StyleGAN2ImportError(f"{path}: not a StyleGAN2 {fmt} file, {e.args[0]!r} is missing") from None
    except (TypeError, AttributeError, ValueError) as e:
        if isinstance(e, StyleGAN2ImportError):
            raise
        raise StyleGAN2ImportError(f"{path}: unexpected content for a {fmt} file ({type(e).__name__}: {e})") from None
    if precision not in ("as-file", "float32"):
        raise StyleGAN2ImportError(f"precision must be 'as-file' or 'float32', got {precision!r}")
    if precision == "float32":
        cfg.stylegan2.update(fp16_resolution=None, d_fp16_resolution=None)
    G = build_generator(cfg)
    g_params = _strict_load(G, g_ema, "G_ema", path)
    g_ema = {k: v.detach().clone() for k, v in G.state_dict().items()}
    if g is not None:
        _strict_load(G, g, "G", path)
        g = {k: v.detach().clone() for k, v in G.state_dict().items()}
    d_params = None
    if d is not None:
        D = build_discriminator(cfg)
        d_params = _strict_load(D, d, "D", path)
        d = {k: v.detach().clone() for k, v in D.state_dict().items()}
    payload: dict[str, Any] = {"kind": "gan", "config": cfg, "G_ema": g_ema, "G": g if g is not None else g_ema,
                               "step": 0, "source_format": fmt}
    if d is not None:
        payload["D"] = d
    summary = {"source": str(path), "source_format": fmt,
               "resolution": cfg.resolution, "num_ws": cfg.stylegan2["num_ws"], "w_dim": cfg.w_dim,
               "z_dim": cfg.z_dim, "mapping_layers": cfg.mapping_layers, "channels": cfg.stylegan2["channels"],
               "conv_clamp": cfg.stylegan2["conv_clamp"], "fp16_resolution": cfg.stylegan2["fp16_resolution"],
               "g_params": g_params, "d_params": d_params,
               "has_G": g is not None, "has_D": d is not None, "w_avg": w_avg_source}
    return payload, summary


def describe(summary: dict) -> str:
    """One line for the user: what was imported (the summary with the source_sha256 its caller recorded)."""
    d = f", D {summary['d_params']:,} params" if summary["has_D"] else ", no D"
    return (f"stylegan2 {summary['resolution']} px, {summary['num_ws']} ws, w {summary['w_dim']}, z {summary['z_dim']}, "
            f"mapping {summary['mapping_layers']}, G {summary['g_params']:,} params{d} "
            f"(from {summary['source_format']}, sha256 {summary['source_sha256'][:12]})")


__all__ = ["ForbiddenPickle", "StyleGAN2ImportError", "describe", "import_stylegan2", "read_nvlabs_pickle"]
