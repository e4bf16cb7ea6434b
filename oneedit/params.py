"""Every hyperparameter of the pipeline, typed and validated: params.yaml + `--set section.key=value`.

The defaults below are the packaged defaults; the repository's params.yaml is the commented copy
that DVC tracks (a test keeps the two identical). Unknown keys and out-of-range values fail with
one line before any work starts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tasks.errors import InputError

DEFAULT_PATH = Path("params.yaml")


class Section(BaseModel):
    """A params section: unknown keys are errors, values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CatalogParams(Section):
    """The demo catalog (ground-truth renders)."""

    size: int = Field(400, ge=1, le=1_000_000)
    resolution: int = Field(512, ge=32, le=4096)
    seed: int = 0


class DemoParams(Section):
    """The demo's example edit: one catalog photo re-rendered with one attribute set to a new value."""

    example: int = Field(0, ge=0)
    attribute: Literal["hue", "size", "rotation", "roof_height", "wheel_size"] = "hue"
    value: float = 0.6


class ModelParams(Section):
    """Generator / discriminator / encoder architecture (edit_core.models.ModelConfig)."""

    backbone: Literal["style", "dcgan"] = "style"
    resolution: Literal[8, 16, 32, 64, 128] = 64
    z_dim: int = Field(64, ge=2, le=1024)
    w_dim: int = Field(256, ge=2, le=1024)
    width: int = Field(16, ge=4, le=1024)
    mapping_layers: int = Field(4, ge=1, le=16)
    mapping_lr_mul: float = Field(0.01, gt=0, le=1)

    @model_validator(mode="after")
    def _dcgan_w_is_z(self) -> ModelParams:
        if self.backbone == "dcgan" and self.w_dim != self.z_dim:
            raise ValueError(f"dcgan has w = z: set model.w_dim equal to model.z_dim ({self.z_dim}), got {self.w_dim}")
        return self


class GanParams(Section):
    """GAN training (edit_core.train_gan.GanTrainConfig)."""

    steps: int = Field(600, ge=1)
    batch_size: int = Field(16, ge=2, le=4096)
    lr: float = Field(0.002, gt=0, le=1)
    betas: tuple[float, float] = (0.0, 0.99)
    r1_gamma: float = Field(1.0, ge=0)
    r1_every: int = Field(16, ge=1)
    ema_beta: float = Field(0.995, ge=0, lt=1)
    pl_weight: float = Field(0.0, ge=0)
    pl_every: int = Field(4, ge=1)
    pl_decay: float = Field(0.01, gt=0, le=1)
    tune_from: int = Field(0, ge=0)
    tune_lr: float = Field(0.0005, gt=0, le=1)
    tune_ema_beta: float = Field(0.999, ge=0, lt=1)
    tune_pl_weight: float = Field(2.0, ge=0)
    sample_every: int = Field(250, ge=1)
    ckpt_every: int = Field(250, ge=1)
    log_every: int = Field(25, ge=1)
    seed: int = 0


class EncoderParams(Section):
    """Encoder training against the frozen generator (edit_core.train_encoder.EncoderTrainConfig)."""

    steps: int = Field(300, ge=1)
    batch_size: int = Field(16, ge=2, le=4096)
    lr: float = Field(0.002, gt=0, le=1)
    betas: tuple[float, float] = (0.9, 0.99)
    pixel_weight: float = Field(1.0, ge=0)
    feature_weight: float = Field(0.1, ge=0)
    latent_weight: float = Field(0.1, ge=0)
    w_plus: bool = False
    sample_every: int = Field(200, ge=1)
    ckpt_every: int = Field(200, ge=1)
    log_every: int = Field(25, ge=1)
    seed: int = 0


class ProjectParams(Section):
    """Projection of every photo (edit_core.project.project)."""

    mode: Literal["encoder", "optimize", "hybrid"] = "hybrid"
    features: Literal["discriminator", "hog"] = "discriminator"
    steps: int = Field(10, ge=0, le=100_000)
    lr: float = Field(0.05, gt=0, le=10)
    feature_weight: float = Field(0.002, ge=0)
    w_plus: bool = False
    starts: int = Field(1, ge=1, le=1024)
    batch_size: int = Field(64, ge=1, le=65536)
    seed: int = 0


class DirectionParams(Section):
    """One-example direction Δ* (Edit One for All §3.1)."""

    lam: float = Field(0.0, ge=0, alias="lambda")
    steps: int = Field(200, ge=0, le=100_000)
    lr: float = Field(0.01, gt=0, le=10)
    init: Literal["zero", "delta"] = "zero"
    origin: Literal["mean", "raw"] = "mean"
    anchors: int = Field(0, ge=0, le=4096)
    seed: int = 0


class BrushParams(Section):
    """Brush edits: colour + sketch constraints (iGAN)."""

    lambda_s: float = Field(5.0, ge=0)
    lambda_d: float = Field(0.0, ge=0)
    starts: int = Field(64, ge=1, le=4096)
    steps: int = Field(40, ge=1, le=100_000)
    lr: float = Field(0.1, gt=0, le=10)
    spread: float = Field(0.5, ge=0, le=10)
    seed: int = 0


class EditParams(Section):
    """The example edit; `strength` is the only key the α stage depends on."""

    strength: float = Field(1.0, gt=0, le=10)
    example_steps: int = Field(300, ge=1, le=100_000)  # before/after pair: steps of each of its two projections
    direction: DirectionParams = DirectionParams()
    brush: BrushParams = BrushParams()


class TransferParams(Section):
    """Edit transfer onto the original photo (iGAN §4.2 motion + colour flow)."""

    frames: int = Field(7, ge=1, le=64)
    iterations: int = Field(3, ge=1, le=20)
    flow_method: Literal["dis", "farneback"] = "dis"
    color_radius: int = Field(3, ge=1, le=64)
    color_eps: float = Field(1e-3, gt=0)
    guide_radius: int = Field(8, ge=1, le=256)
    guide_eps: float = Field(1e-3, gt=0)


class GuardParams(Section):
    """Range guard: flag α that leaves the catalog's span along n."""

    margin: float = Field(0.1, ge=0, le=10)


class ReportParams(Section):
    """The HTML report."""

    grid: int = Field(12, ge=1, le=200)
    thumb: int = Field(160, ge=32, le=1024)
    estimate: int = Field(300, ge=0, le=1_000_000)  # 0: no attribute measurement


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
        raise ValueError(f"device must be auto, cpu, cuda, cuda:N or mps, got {v!r}")


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
    runtime: RuntimeParams = RuntimeParams()

    def to_dict(self) -> dict[str, Any]:
        """Plain dict in params.yaml spelling (`lambda`, lists for tuples)."""
        return json.loads(self.model_dump_json(by_alias=True))

    def digest(self, *sections: str) -> str:
        """sha256 of the named sections (all when none), for fingerprints."""
        d = self.to_dict()
        picked = {k: d[k] for k in sections} if sections else d
        return hashlib.sha256(json.dumps(picked, sort_keys=True).encode()).hexdigest()


def _error_line(err: ValidationError, source: str) -> str:
    """The first validation error as one line: `source: section.key: message`."""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif first["type"] != "value_error" and "input" in first and not isinstance(first["input"], dict):
        msg = f"{msg} (got {first['input']!r})"
    return f"{source}: {where}: {msg}"


def parse_override(item: str) -> tuple[list[str], Any]:
    """`section.key=value` -> (["section", "key"], YAML-parsed value)."""
    key, sep, raw = item.partition("=")
    path = key.strip().split(".")
    if not sep or len(path) < 2 or not all(path):
        raise InputError(f"--set {item!r}: expected section.key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
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
        try:
            data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            raise InputError(f"{source}: not valid YAML ({str(err).splitlines()[0]})") from None
        if not isinstance(data, dict):
            raise InputError(f"{source}: expected a mapping of sections")
    name = str(source) if source.is_file() else "defaults"
    params = validate(data, name)
    if overrides:
        params = validate(apply_overrides(params.to_dict(), overrides), "--set")
    return params
