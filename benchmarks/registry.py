"""Every benchmark by name, with its options type (as NVlabs' metric_main registers its metrics).

`BENCHMARKS[name]` is the frozen dataclass of that benchmark's options; the benchmark itself is the
module `benchmarks.<name>`, whose `run(options, setup)` returns the JSON's results (`benchmarks.driver`
runs it and writes the file). Each field's metadata (`option`) carries what the command line needs:
its flags, help, bounds; `oneedit bench NAME` is generated from it (oneedit/bench.py). This module only
declares: it imports no torch, so the CLI starts fast.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from common.errors import InputError

T = TypeVar("T")
BENCHMARKS: dict[str, type] = {}


def register(name: str) -> Callable[[type[T]], type[T]]:
    """Class decorator: `name`'s options type (its docstring is the command's help)."""

    def add(options: type[T]) -> type[T]:
        BENCHMARKS[name] = options
        return options

    return add


def option(default: Any = dataclasses.MISSING, *, help: str, flags: tuple[str, ...] = (),
           min: float | None = None, max: float | None = None, show_default: bool = True) -> Any:
    """A dataclass field with its command-line option: flags (default: from the field's name), help, bounds."""
    meta = {"help": help, "flags": flags, "min": min, "max": max, "show_default": show_default}
    return dataclasses.field(default=default, metadata=meta)


def choices(spec: str, known: Iterable[str], option_name: str) -> list[str]:
    """A comma-separated list of names, each one of `known` (else a one-line error naming the option)."""
    names = [a.strip() for a in spec.split(",") if a.strip()]
    unknown = [a for a in names if a not in known]
    if unknown or not names:
        raise InputError(f"{option_name}: unknown {unknown or 'empty list'}; choose from {sorted(known)}")
    return names


def _out() -> Any:
    return option(help="JSON file to write.", flags=("--out", "-o"), show_default=False)


def _params() -> Any:
    return option(None, help="params.yaml (default ./params.yaml).", flags=("--params",))


def _set() -> Any:
    return option(None, help="Override one parameter: section.key=value.", flags=("--set",))


@dataclasses.dataclass(frozen=True, kw_only=True)
class BenchOptions:
    """What every benchmark on a workspace takes: the JSON out, the workspace, params + overrides."""

    out: Path = _out()
    workspace: Path = option(Path("workspace"), help="Workspace with trained models (else trained into WS/bench/).",
                             flags=("--workspace", "-w"))
    params: Path | None = _params()
    set_: list[str] | None = _set()


@dataclasses.dataclass(frozen=True, kw_only=True)
class EditOptions(BenchOptions):
    """Example edits on the demo catalog: how many, of which attributes, which rows (seed)."""

    images: int = option(500, help="Catalog latents / test images used.", flags=("--images",), min=3)
    examples: int = option(5, help="Example edits per attribute.", flags=("--examples",), min=1)
    attributes: str = option("hue,size,rotation", help="Comma-separated edited attributes.", flags=("--attributes",))
    seed: int = option(0, help="Seed of the example choice.", flags=("--seed",))


@register("consistency")
@dataclasses.dataclass(frozen=True, kw_only=True)
class ConsistencyOptions(EditOptions):
    """Final-state MAE (Edit One for All Table 2): unedited, w+Δw, w+Δ*, α-scaled (ours)."""


@register("linearity")
@dataclasses.dataclass(frozen=True, kw_only=True)
class LinearityOptions(EditOptions):
    """R² of attribute vs distance to the edit's hyperplane (Edit One for All Fig. 8a), Δw vs Δ*."""


@register("transfer")
@dataclasses.dataclass(frozen=True, kw_only=True)
class TransferOptions(EditOptions):
    """PSNR / SSIM of the full-resolution edit vs the ideal re-render: motion+colour flow, naive, GAN."""

    images: int = option(6, help="Photos edited per example.", flags=("--images",), min=1)
    examples: int = option(1, help="Example edits per attribute.", flags=("--examples",), min=1)
    photo_res: int = option(512, help="Photo size (px).", flags=("--photo-res",), min=16)


@register("probe")
@dataclasses.dataclass(frozen=True, kw_only=True)
class ProbeOptions(BenchOptions):
    """Held-out R² of a linear probe w -> each demo attribute, per backbone (issue 2's criterion: >= 0.9)."""

    gan: list[Path] | None = option(None, help="Probe these GAN checkpoints (repeatable) instead of training one "
                                              "per backbone.", flags=("--gan",))
    backbones: str = option("style,dcgan", help="Backbones trained and probed (without --gan).")
    train_images: int = option(20000, help="Demo renders the probe GANs train on.", min=8)
    train: int = option(2000, help="Samples the probe is fitted on.", flags=("--train",), min=10)
    test: int = option(1000, help="Held-out samples it is scored on.", flags=("--test",), min=10)
    seed: int = option(0, help="Seed of the example choice.", flags=("--seed",))


@register("projection")
@dataclasses.dataclass(frozen=True, kw_only=True)
class ProjectionOptions(BenchOptions):
    """Reconstruction error of encoder / optimize / hybrid (iGAN), demo catalog + Fashion-MNIST, cross-category."""

    images: int = option(32, help="Catalog latents / test images used.", flags=("--images",), min=3)
    fmnist_gan_steps: int = option(400, help="Fashion-MNIST GAN budget (steps).", min=1)
    fmnist_encoder_steps: int = option(200, help="Its encoder budget (steps).", min=1)
    fmnist_resolution: int = option(32, help="Its model resolution.")
    fmnist_width: int = option(8, help="Its base channel width.", min=4)
    fmnist_train_images: int = option(6000, help="Its training images.", min=8)


@register("fashion")
@dataclasses.dataclass(frozen=True, kw_only=True)
class FashionOptions(BenchOptions):
    """A real-photo edit: one Fashion-MNIST garment darkened, the catalog edited, brightness measured."""

    photos: int = option(1500, help="Fashion-MNIST photos of the catalog.", min=3)
    classes: str = option("t-shirt,pullover", help="Their classes (names or 0-9).")
    photo_res: int = option(112, help="Photo size (px).", flags=("--photo-res",), min=16)
    darken: float = option(0.55, help="The example's garment is scaled by this.", min=0.05, max=2.0)
    init: Path | None = option(None, help="Fine-tune this GAN instead of training from scratch.")


@register("speed")
@dataclasses.dataclass(frozen=True, kw_only=True)
class SpeedOptions(BenchOptions):
    """Edit One for All Table 1 on this machine: edit, direction, α + render, transfer, projection."""

    loop_images: int = option(16, help="Images of the batched-vs-loop comparison.", min=1)
    steps: int = option(5, help="Optimization steps of that comparison.", min=1)
    project_sizes: str = option("25,100", help="Catalog sizes projected in full.")
    render_sizes: str = option("100,1000,10000", help="Catalog sizes for α + rendering.")
    transfer_images: int = option(8, help="Photos transferred (timed).", min=1)
    photo_res: int = option(512, help="Photo size (px).", flags=("--photo-res",), min=16)
    edit_photos: int = option(0, help="Photos of the end-to-end edit stage (α + frames + transfer + PNG through "
                                      "the flows); 0 = skip.", min=0)


@register("memory")
@dataclasses.dataclass(frozen=True, kw_only=True)
class MemoryOptions(BenchOptions):
    """Peak RSS of every stage (ingest .. update) per catalog size, each in a fresh process (benchmarks.memory)."""

    sizes: str = option("10000,100000", help="Catalog sizes (64 px demo photos).")
    steps: int = option(20, help="Training steps of G and of E.", min=1)
    synthetic: int = option(0, help="Photos of a synthetic catalog (ingest and projection simulated); 0: none.",
                            min=0)
    real_shards: int = option(2, help="Shards transferred for real (the rest simulated).", min=1)


@register("stylegan2")
@dataclasses.dataclass(frozen=True, kw_only=True)
class StyleGAN2Options:
    """StyleGAN2 cost: forward and projection step per image here; config F at 512 px from FLOP counts."""

    out: Path = _out()
    gan: Path = option(help="A stylegan2 gan.pt (after `oneedit import-generator`).", flags=("--gan",),
                       show_default=False)
    params: Path | None = _params()
    set_: list[str] | None = _set()
    batch: int = option(8, help="Images per timed batch.", min=1)
    repeats: int = option(5, help="Timed repeats (median).", min=1)


@register("export")
@dataclasses.dataclass(frozen=True, kw_only=True)
class ExportBenchOptions(BenchOptions):
    """`oneedit export` of an applied edit of N JPEG photos (synthetic, no training): seconds, and for a rerun."""

    workspace: Path = option(Path("workspace/bench-export"), help="Scratch folder for the synthetic applied edit "
                                                                   "(reused).", flags=("--workspace", "-w"))
    photos: int = option(1000, help="Photos of the applied edit.", min=1)
    photo_res: int = option(512, help="Photo size (px).", flags=("--photo-res",), min=16)
