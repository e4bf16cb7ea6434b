"""Every hyperparameter of the pipeline, typed and validated: params.yaml + `--set section.key=value`.

One source of defaults: the sections of engine settings (model, gan, encoder, project, edit.direction,
edit.brush, transfer) are built from the engine's config dataclasses (`engine_section`), which hold the
defaults; this module only adds the validation (ranges, choices). The other sections (catalog, demo,
edit.strength, guard, report, runtime) have no engine counterpart and their defaults live here. The
repository's params.yaml is the commented copy that DVC tracks (a test keeps it identical to these
defaults). Unknown keys and out-of-range values fail with one line before any work starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import reprlib
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from common.errors import InputError
from common.fingerprint import fingerprint
from edit_core.configs import (  # torch-free: the CLI validates params without importing the engine
    BACKBONES,
    BrushConfig,
    DirectionConfig,
    EncoderTrainConfig,
    GanTrainConfig,
    ModelConfig,
    ProjectConfig,
    RefineConfig,
    TransferConfig,
)

DEFAULT_PATH = Path("params.yaml")
MAX_FILE_BYTES = 1 << 20  # a params file is a page of settings: anything larger is not one
MAX_ALIAS_NODES = 10_000  # YAML values that aliases (*name) may expand to in all, per file or --set value
INT_LIMIT = 2**31 - 1  # every integer parameter (counts, sizes, steps) lies within ±INT_LIMIT
SEED_LIMIT = 2**32 - 1  # seeds: 0..SEED_LIMIT, what every RNG the engine seeds (torch, numpy) takes
_shown = reprlib.Repr()  # values echoed in messages are cut to a few dozen characters (no flooded line)
_shown.maxstring, _shown.maxother, _shown.maxlong, _shown.maxlevel = 60, 60, 40, 2


class Section(BaseModel):
    """A params section: unknown keys are errors, every float must be finite (no `.inf` / `.nan`), every
    integer bounded (`INT_LIMIT`; seeds 0..`SEED_LIMIT`), and a boolean is never taken for a number."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """`true` is not 1 and 10**30 is not a thread count: refused here, before pydantic coerces them."""
        annotation = cls.model_fields[info.field_name].annotation
        if isinstance(value, bool) and annotation is not bool:
            raise ValueError(f"expected {getattr(annotation, '__name__', 'a value')}, got the boolean "
                             f"{str(value).lower()}")
        if isinstance(value, int) and not isinstance(value, bool):
            low, high = (0, SEED_LIMIT) if info.field_name == "seed" else (-INT_LIMIT, INT_LIMIT)
            if not low <= value <= high:
                raise ValueError(f"must be an integer from {low} to {high}, got {_shown.repr(value)}")
        return value


class CatalogParams(Section):
    """The demo catalog (ground-truth renders)."""

    size: int = Field(400, ge=1, le=1_000_000)
    resolution: int = Field(512, ge=32, le=4096)
    seed: int = 0


class PretrainParams(Section):
    """The demo's starting generator (`oneedit demo-pretrain`): a GAN trained on a larger catalog of the
    same kind of renders (another seed, at the model's resolution), shipped as `demo.init`."""

    size: int = Field(4000, ge=1, le=1_000_000)
    seed: int = 1
    steps: int = Field(20000, ge=1, le=10_000_000)
    tune_from: int = Field(15000, ge=0)  # its gan.tune_from: the tune phase (lower rate, path length) from this step


class DemoParams(Section):
    """The demo's example edit: one catalog photo re-rendered with one attribute set to a new value.

    `init` is the GAN checkpoint the demo fine-tunes for gan.steps steps (relative to the working
    directory; "" trains from scratch): what a user does with any pretrained model (`train --init`)."""

    example: int = Field(0, ge=0)
    attribute: Literal["hue", "size", "rotation", "roof_height", "wheel_size"] = "hue"
    value: float = 0.6
    init: str = "data/pretrained/demo-gan.pt"
    pretrain: PretrainParams = PretrainParams()


def engine_section(config: type, doc: str, limits: dict[str, dict[str, Any]], types: dict[str, Any] | None = None,
                   extra: dict[str, tuple[Any, Any]] | None = None, exclude: tuple[str, ...] = (),
                   validators: dict[str, Any] | None = None) -> type[Section]:
    """A params section whose keys, types and defaults are the fields of the engine dataclass `config`.

    The engine's dataclass is the one source of the defaults; here the section only adds validation:
    `limits` (pydantic Field arguments per key: ranges, alias), `types` (a narrower type, e.g. a Literal
    of choices) and `extra` keys that only the tasks read (name -> (type, Field)). `exclude` hides engine
    fields that are not parameters of the pipeline; `validators` check several keys together.
    """
    hints = typing.get_type_hints(config)
    unknown = (set(limits) | set(types or {})) - {f.name for f in dataclasses.fields(config)}
    if unknown:
        raise TypeError(f"{config.__name__} has no fields {sorted(unknown)}")
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        if f.name not in exclude:
            fields[f.name] = ((types or {}).get(f.name, hints[f.name]), Field(f.default, **limits.get(f.name, {})))
    return create_model(f"{config.__name__}Params", __base__=Section, __doc__=doc, __validators__=validators,
                        **fields, **(extra or {}))


def _dcgan_w_is_z(model: Section) -> Section:
    if model.backbone == "dcgan" and model.w_dim != model.z_dim:
        raise ValueError(f"dcgan has w = z: set model.w_dim equal to model.z_dim ({model.z_dim}), got {model.w_dim}")
    return model


ModelParams = engine_section(
    ModelConfig, "Generator / discriminator / encoder architecture (edit_core.models.ModelConfig).",
    limits={"z_dim": {"ge": 2, "le": 1024}, "w_dim": {"ge": 2, "le": 1024}, "width": {"ge": 4, "le": 1024},
            "mapping_layers": {"ge": 1, "le": 16}, "mapping_lr_mul": {"gt": 0, "le": 1}},
    types={"backbone": Literal[BACKBONES], "resolution": Literal[8, 16, 32, 64, 128, 256, 512, 1024]},
    exclude=("channels", "stylegan2"), validators={"dcgan_w_is_z": model_validator(mode="after")(_dcgan_w_is_z)})

GanParams = engine_section(
    GanTrainConfig, "GAN training (edit_core.train_gan.GanTrainConfig).",
    limits={"steps": {"ge": 1}, "batch_size": {"ge": 2, "le": 4096}, "lr": {"gt": 0, "le": 1}, "r1_gamma": {"ge": 0},
            "r1_every": {"ge": 1}, "ema_beta": {"ge": 0, "lt": 1}, "pl_weight": {"ge": 0}, "pl_every": {"ge": 1},
            "pl_decay": {"gt": 0, "le": 1}, "tune_from": {"ge": 0}, "tune_lr": {"gt": 0, "le": 1},
            "tune_ema_beta": {"ge": 0, "lt": 1}, "tune_pl_weight": {"ge": 0}, "sample_every": {"ge": 1},
            "ckpt_every": {"ge": 1}, "ckpt_seconds": {"ge": 0}, "log_every": {"ge": 1},
            "augment": {"pattern": r"^$|^(color|translation|cutout)(,(color|translation|cutout))*$"}})

EncoderParams = engine_section(
    EncoderTrainConfig, "Encoder training against the frozen generator (edit_core.train_encoder.EncoderTrainConfig).",
    limits={"steps": {"ge": 1}, "batch_size": {"ge": 2, "le": 4096}, "lr": {"gt": 0, "le": 1},
            "pixel_weight": {"ge": 0}, "feature_weight": {"ge": 0}, "latent_weight": {"ge": 0},
            "sample_every": {"ge": 1}, "ckpt_every": {"ge": 1}, "ckpt_seconds": {"ge": 0}, "log_every": {"ge": 1}})

ProjectParams = engine_section(
    ProjectConfig, "Projection of every photo (edit_core.project.ProjectConfig).",
    limits={"steps": {"ge": 0, "le": 100_000}, "lr": {"gt": 0, "le": 10}, "feature_weight": {"ge": 0},
            "wplus_pull": {"ge": 0}, "starts": {"ge": 1, "le": 1024}},
    types={"mode": Literal["encoder", "optimize", "hybrid"]},
    extra={"features": (Literal["discriminator", "hog"], Field("discriminator")),
           "batch_size": (int, Field(64, ge=1, le=65536))})


DirectionParams = engine_section(
    DirectionConfig, "One-example direction Δ* (Edit One for All §3.1; edit_core.direction.DirectionConfig).",
    limits={"lam": {"ge": 0, "alias": "lambda"}, "steps": {"ge": 0, "le": 100_000}, "lr": {"gt": 0, "le": 10},
            "anchors": {"ge": 0, "le": 4096}},
    types={"init": Literal["zero", "delta"], "origin": Literal["mean", "raw"]})

BrushParams = engine_section(
    BrushConfig, "Brush edits: colour + sketch constraints (iGAN; edit_core.edits.BrushConfig).",
    limits={"lambda_s": {"ge": 0}, "lambda_d": {"ge": 0}, "starts": {"ge": 1, "le": 4096},
            "steps": {"ge": 1, "le": 100_000}, "lr": {"gt": 0, "le": 10}, "spread": {"ge": 0, "le": 10}})


RefineParams = engine_section(
    RefineConfig, "Per-photo refinement toward the example's final look (edit_core.refine.RefineConfig).",
    limits={"steps": {"ge": 0, "le": 10_000}, "lr": {"gt": 0, "le": 10}, "keep": {"ge": 0}, "pull": {"ge": 0}})


class EditParams(Section):
    """The example edit; `strength` is the only key the α stage depends on.

    The example's final state is w0 + s·Δ*: s = 1 as edited, 0 < s < 1 part of the way, s > 1 beyond,
    s = 0 back to the example's own before state, s < 0 past it (the opposite edit).
    """

    strength: float = Field(1.0, ge=-10, le=10)
    example_steps: int = Field(30, ge=1, le=100_000)  # before/after pair: steps of each of its two projections
    direction: DirectionParams = DirectionParams()
    brush: BrushParams = BrushParams()
    refine: RefineParams = RefineParams()


TransferParams = engine_section(
    TransferConfig, "Edit transfer onto the original photo (iGAN §4.2 motion + colour flow; edit_core.transfer).",
    limits={"frames": {"ge": 1, "le": 64}, "iterations": {"ge": 1, "le": 20}, "color_radius": {"ge": 1, "le": 64},
            "color_eps": {"gt": 0}, "guide_radius": {"ge": 1, "le": 256}, "guide_eps": {"gt": 0},
            "subsample": {"ge": 1, "le": 64}},
    types={"flow_method": Literal["dis", "farneback"]},
    extra={  # around the engine call (tasks/transfer.py): bounded memory, the paste-back of a non-square photo
        "max_side": (int, Field(1024, ge=16, le=16384)),  # larger centre squares: the change found at this side
        "max_pixels": (int, Field(120_000_000, ge=4096)),  # larger originals are rejected (ingest's own limit)
        "feather": (float, Field(0.1, ge=0, le=1))})  # the change fades out over this fraction beyond the square


class GuardParams(Section):
    """Range guard (edit_core.alphas.range_guard): which photos an edit would push off G's range.

    A photo is out of range when its start along n, or the example's final state, leaves the span
    that G's own samples cover along n (quantiles `quantile`, 1 − `quantile` of `samples` draws,
    widened by `margin` of their width on each side), or when its projection error is an outlier
    (log err_pixel above the catalog's median + `error_mads` robust deviations). `action` decides:
    skip (no edited image, status "skipped"), clamp (the final state pulled back into the span;
    photos out of range for other reasons skipped) or flag (edited anyway, status "flagged").
    """

    margin: float = Field(0.1, ge=0, le=10)
    samples: int = Field(4096, ge=16, le=1_000_000)
    quantile: float = Field(0.001, ge=0, lt=0.5)
    error_mads: float = Field(6.0, gt=0)
    action: Literal["skip", "clamp", "flag"] = "skip"
    truncation: float = Field(1.0, gt=0, le=1)  # G's samples drawn with this truncation ψ (1 = none)
    seed: int = 0


class ReportParams(Section):
    """The HTML report."""

    grid: int = Field(12, ge=1, le=200)
    thumb: int = Field(160, ge=32, le=1024)
    estimate: int = Field(300, ge=0, le=1_000_000)  # 0: no attribute measurement


class ExportParams(Section):
    """Catalog-ready copies (`oneedit export`, tasks/export.py): how outputs are encoded."""

    jpeg_quality: int = Field(0, ge=0, le=100)  # 0: the original JPEG's own quantization tables (95 for others)
    webp_quality: int = Field(90, ge=1, le=100)  # lossy WebP originals; lossless ones stay lossless


class RuntimeParams(Section):
    """Where and how the flows run."""

    device: str = "auto"
    task_runner: Literal["threads", "dask"] = "threads"
    dask_address: str = Field("", pattern=r"^$|^(tcp|tls|ucx|inproc)://\S+$")
    gpu_resource: bool = False
    workers: int = Field(2, ge=1, le=256)
    threads: int = Field(2, ge=1, le=256)
    shard_size: int = Field(256, ge=1, le=1_000_000)

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if v in ("auto", "cpu", "mps") or v == "cuda" or (v.startswith("cuda:") and v[5:].isdigit()):
            return v
        raise ValueError(f"device must be auto, cpu, cuda, cuda:N or mps, got {_shown.repr(v)}")


class Params(Section):
    """All sections."""

    catalog: CatalogParams = CatalogParams()
    demo: DemoParams = DemoParams()
    model: ModelParams = ModelParams()
    gan: GanParams = GanParams()
    encoder: EncoderParams = EncoderParams()
    project: ProjectParams = ProjectParams()
    edit: EditParams = EditParams()
    transfer: TransferParams = TransferParams()
    guard: GuardParams = GuardParams()
    report: ReportParams = ReportParams()
    export: ExportParams = ExportParams()
    runtime: RuntimeParams = RuntimeParams()

    def to_dict(self) -> dict[str, Any]:
        """Plain dict in params.yaml spelling (`lambda`, lists for tuples)."""
        return json.loads(self.model_dump_json(by_alias=True))

    def digest(self, *sections: str) -> str:
        """sha256 of the named sections (all when none), for fingerprints."""
        d = self.to_dict()
        picked = {k: d[k] for k in sections} if sections else d
        return fingerprint(picked)


def _did_you_mean(loc: tuple) -> str:
    """` (did you mean section.key?)` for an unknown key close to a known one of its section (difflib)."""
    model: Any = Params
    for part in loc[:-1]:
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return ""
        model = field.annotation
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return ""
    known = [f.alias or name for name, f in model.model_fields.items()]
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    return f" (did you mean {'.'.join([*map(str, loc[:-1]), close[0]])}?)" if close else ""


def _error_line(err: ValidationError, source: str) -> str:
    """The first validation error as one line: `source: section.key: message`."""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key" + _did_you_mean(first["loc"])
    elif first["type"] != "value_error" and "input" in first and not isinstance(first["input"], dict):
        msg = f"{msg} (got {_shown.repr(first['input'])})"
    return f"{source}: {where}: {msg}"


class _AliasBomb(yaml.YAMLError):
    """A YAML document whose aliases expand to more than MAX_ALIAS_NODES values (or to themselves)."""


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with a budget on what aliases expand to: a 1 KB "billion laughs" document is
    refused while it is composed (before it costs memory or time), not expanded by validation."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._expanded = 0
        self._sizes: dict[int, int] = {}

    def _size(self, node: yaml.Node, open_: set[int]) -> int:
        """Values under `node` (itself included), counted once per node; a node inside itself is refused."""
        key = id(node)
        if key in self._sizes:
            return self._sizes[key]
        if key in open_:
            raise _AliasBomb("an alias refers to the value that contains it")
        open_.add(key)
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(self._size(child, open_) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            size += sum(self._size(k, open_) + self._size(v, open_) for k, v in node.value)
        open_.discard(key)
        self._sizes[key] = size
        return size

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            anchor = self.peek_event().anchor
            if anchor in self.anchors:
                self._expanded += self._size(self.anchors[anchor], set())
                if self._expanded > MAX_ALIAS_NODES:
                    raise _AliasBomb(f"aliases expand to more than {MAX_ALIAS_NODES:,} values")
        return super().compose_node(parent, index)


def safe_yaml(text: str) -> Any:
    """`yaml.safe_load` with the alias budget of `_BoundedLoader` (every params text goes through it)."""
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def parse_override(item: str) -> tuple[list[str], Any]:
    """`section.key=value` -> (["section", "key"], YAML-parsed value)."""
    key, sep, raw = item.partition("=")
    path = key.strip().split(".")
    if not sep or len(path) < 2 or not all(path):
        raise InputError(f"--set {item!r}: expected section.key=value")
    try:
        value = safe_yaml(raw) if raw.strip() else ""
    except _AliasBomb as err:
        raise InputError(f"--set {key.strip()}: {err}") from None
    except (yaml.YAMLError, ValueError):  # not YAML (or an integer of thousands of digits): the text itself
        value = raw
    return path, value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set each `section.key=value` in a nested dict (a copy); unknown keys are caught by validation."""
    out = json.loads(json.dumps(data))
    for item in overrides:
        path, value = parse_override(item)
        node = out
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise InputError(f"--set {item!r}: {part} is not a section")
            node = child
        node[path[-1]] = value
    return out


def validate(data: dict[str, Any], source: str) -> Params:
    """Validate a nested dict into Params; the first problem becomes one InputError line."""
    try:
        return Params.model_validate(data)
    except ValidationError as err:
        raise InputError(_error_line(err, source)) from None


def load_params(path: Path | None = None, overrides: list[str] | None = None) -> Params:
    """params.yaml (explicit path, else ./params.yaml, else the packaged defaults) + overrides."""
    if path is not None and not Path(path).is_file():
        raise InputError(f"params file not found: {path}")
    source = Path(path) if path is not None else DEFAULT_PATH
    data: dict[str, Any] = {}
    if source.is_file():
        data = _read_file(source)
    name = str(source) if source.is_file() else "defaults"
    params = validate(data, name)
    if overrides:
        params = validate(apply_overrides(params.to_dict(), overrides), "--set")
    check_device(params.runtime.device)
    return params


def _read_file(source: Path) -> dict[str, Any]:
    """A params file's sections: at most MAX_FILE_BYTES, UTF-8, YAML within the alias budget, a mapping."""
    size = source.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputError(f"{source}: {size:,} bytes, more than a params file's limit of {MAX_FILE_BYTES:,}")
    try:
        data = safe_yaml(source.read_text(encoding="utf-8")) or {}
    except _AliasBomb as err:
        raise InputError(f"{source}: refused, {err}") from None
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err).splitlines()[0]
        raise InputError(f"{source}: not readable ({reason})") from None
    except (yaml.YAMLError, ValueError) as err:
        raise InputError(f"{source}: not valid YAML ({_shown.repr(str(err).splitlines()[0])})") from None
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a mapping of sections")
    return data


def check_device(device: str) -> None:
    """The device must exist on this machine (cuda[:N] only with that many CUDA devices, mps only where
    PyTorch has it): one line now, rather than a crash loading the first checkpoint there. torch is imported
    only for a device that needs the check (auto and cpu always exist), so a bad argument is answered at once."""
    if device in ("auto", "cpu"):
        return
    import torch

    if device.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.split(":")[1]) if ":" in device else 0
        if count == 0:
            raise InputError(f"device {device!r} requested but CUDA is not available (use --device cpu or auto)")
        if index >= count:
            raise InputError(f"device {device!r}: only {count} CUDA device(s) present")
    elif device == "mps" and not (torch.backends.mps.is_built() and torch.backends.mps.is_available()):
        raise InputError("device 'mps' requested but this machine has no MPS (Apple GPU) device "
                         "(use --device cpu or auto)")
