"""The engine's settings: every config dataclass whose fields are the defaults of its engine functions
and of the pipeline's params sections (common/params.py builds its sections from them: one source).

Plain dataclasses, no torch: the CLI validates params (and answers a bad argument) without importing
the engine. Each engine module re-exports its own config (`edit_core.direction.DirectionConfig`, ...).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

BACKBONES = ("style", "dcgan", "stylegan2")  # the generator registry's keys (edit_core.models.GENERATORS)


@dataclass
class ModelConfig:
    """Architecture of a generator / discriminator / encoder family; stored inside every checkpoint."""

    backbone: str = "style"  # "style" | "dcgan" | "stylegan2"
    resolution: int = 64  # 32 | 64 | 128 (any power of two >= 8 builds; small ones are for tests)
    z_dim: int = 64
    w_dim: int = 256  # chosen by the linear probe (BENCHMARKS.md, probe); dcgan: w_dim == z_dim (w = z)
    width: int = 16  # channels at 32 px (see channels_at); 16 fits the 2-core CPU demo budget
    mapping_layers: int = 4  # style only
    mapping_lr_mul: float = 0.01  # style only: learning-rate multiplier of the mapping network (StyleGAN: 0.01)
    channels: int = 3
    # stylegan2 only: its architecture hyperparameters (channels per resolution, conv_clamp, ...; see
    # edit_core.models.stylegan2.default_spec), filled with config-F defaults when left None.
    stylegan2: dict | None = None

    def __post_init__(self) -> None:
        r = self.resolution
        if r < 8 or r & (r - 1):
            raise ValueError(f"resolution must be a power of two >= 8, got {r}")
        if self.backbone == "stylegan2":
            from edit_core.models.stylegan2 import check_spec  # the backbone's own module owns its spec

            self.stylegan2 = check_spec(self)
        elif self.stylegan2 is not None:
            raise ValueError(f"stylegan2 hyperparameters given for backbone {self.backbone!r}")
        if self.backbone == "dcgan" and self.w_dim != self.z_dim:
            raise ValueError(f"dcgan has w = z: w_dim ({self.w_dim}) must equal z_dim ({self.z_dim})")

    def to_dict(self) -> dict:
        """As a dict; `stylegan2` only when set, so other backbones' dicts (and digests of them) stay as before."""
        d = asdict(self)
        if d["stylegan2"] is None:
            del d["stylegan2"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown ModelConfig keys: {sorted(unknown)}")
        return cls(**d)



@dataclass
class GanTrainConfig:
    """Optimisation settings: the defaults of the pipeline's `gan` params (one source); the `make demo` budget
    (64 px style model, 2 CPU cores)."""

    steps: int = 600  # a usable model needs far more (e.g. 20000 on a GPU)
    batch_size: int = 16
    lr: float = 0.002
    betas: tuple[float, float] = (0.0, 0.99)
    r1_gamma: float = 1.0
    r1_every: int = 16  # lazy R1: applied every k steps with weight k (its double backward is costly on CPU)
    ema_beta: float = 0.995  # per step, ramped up from 0 over the first steps
    pl_weight: float = 0.0  # path-length regularization of G (StyleGAN2 uses 2); 0 = off
    pl_every: int = 4  # lazy: applied every k steps with weight k, on half the batch
    pl_decay: float = 0.01  # running-mean rate of the target path length
    # Optional second phase from step `tune_from` on (0 = none): a lower rate, a slower EMA and
    # path-length regularization sharpen a trained G (BENCHMARKS.md, probe).
    tune_from: int = 0
    tune_lr: float = 0.0005
    tune_ema_beta: float = 0.999
    tune_pl_weight: float = 2.0
    sample_every: int = 250
    ckpt_every: int = 250
    ckpt_seconds: float = 60.0  # also a checkpoint after this much wall time (0: by steps only): Ctrl-C loses less
    log_every: int = 25
    augment: str = ""  # differentiable augmentation of D's inputs, e.g. "color,translation,cutout" ("" = none)
    seed: int = 0



@dataclass
class EncoderTrainConfig:
    """Optimisation settings: the defaults of the pipeline's `encoder` params (one source); the `make demo` budget."""

    steps: int = 300
    batch_size: int = 16
    lr: float = 0.002
    betas: tuple[float, float] = (0.9, 0.99)
    pixel_weight: float = 1.0
    feature_weight: float = 0.1
    latent_weight: float = 0.1  # measured: 0.1 reconstructs and recovers w better than 1.0
    w_plus: bool = False
    sample_every: int = 200
    ckpt_every: int = 200
    ckpt_seconds: float = 60.0  # also a checkpoint after this much wall time (0: by steps only)
    log_every: int = 25
    seed: int = 0



@dataclass(frozen=True)
class ProjectConfig:
    """Projection settings: the defaults of `project` and of the pipeline's `project` params (one source)."""

    mode: str = "hybrid"  # "encoder" | "optimize" | "hybrid"
    steps: int = 10  # the `make demo` budget; a real catalog wants 100 or more
    lr: float = 0.05
    feature_weight: float = 0.002  # iGAN's weight of the deep-feature term
    w_plus: bool = False
    wplus_pull: float = 0.0  # W+ only: weight of mean_layers ||w_l − w̄||² / w_dim, keeping the layers near one w
    starts: int = 1
    seed: int = 0



@dataclass(frozen=True)
class DirectionConfig:
    """Δ* settings: the defaults of `fit_direction` and of the pipeline's edit.direction params (one source)."""

    lam: float = 0.0  # attribute-term weight (paper 0.02); 0 measured best for consistency here (BENCHMARKS.md)
    steps: int = 200
    lr: float = 0.01
    init: str = "zero"  # "zero" (the paper) | "delta" (the authors' code: start from the user's Δw)
    origin: str = "mean"  # "mean": latents centred on G's mean w (the caller passes it) | "raw"
    anchors: int = 0  # extra random anchor latents in the image term (0 = the paper's loss)
    layers: tuple[int, ...] = ()  # W+ only: the synthesis layers Δ* may move (the authors' code: the first 6 of 18)
    seed: int = 0



@dataclass(frozen=True)
class BrushConfig:
    """Brush-edit settings: the defaults of `edit_from_brush` and of the edit.brush params (one source)."""

    lambda_s: float = 5.0  # smoothness weight: λ_s·mean((w − w0)²) keeps the edit near the example (iGAN)
    lambda_d: float = 0.0  # discriminator realism weight
    starts: int = 64
    steps: int = 40
    lr: float = 0.1
    spread: float = 0.5  # random starts: w0 + spread·(w_j − mean w)
    seed: int = 0



@dataclass(frozen=True)
class TransferConfig:
    """Transfer settings: the defaults of `transfer` and of the pipeline's `transfer` params (one source)."""

    frames: int = 7  # N: the caller renders G(w + (t/N)·α·n), t = 0..N
    iterations: int = 3  # flow / colour alternations from the first frame to the last
    flow_method: str = "dis"  # "dis" | "farneback"
    color_radius: int = 3  # local colour model window (frame px)
    color_eps: float = 1e-3
    guide_radius: int = 8  # guided upsampling to the photo (photo px)
    guide_eps: float = 1e-3
    subsample: int = 8  # the guided fit runs on a grid this much coarser than the photo (He & Sun)


@dataclass(frozen=True)
class RefineConfig:
    """Refinement settings: the defaults of `refine` and of the pipeline's edit.refine params (one source)."""

    steps: int = 10  # Adam steps per photo (0: the closed form, unchanged)
    lr: float = 0.05
    keep: float = 20.0  # weight of the photo outside its edit region held where the closed form put it
    pull: float = 0.05  # weight of δ held near the closed form's α·n

