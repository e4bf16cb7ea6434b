"""`oneedit bench NAME --out FILE.json`: benchmarks that reproduce the papers' tables on our data.

One command per benchmark (probe, projection, consistency, linearity, transfer, fashion, speed, memory,
stylegan2, export), with the same --workspace / --params / --set options as the rest of the CLI. This module only
parses the command line (it stays light to import, for the CLI's start-up); `oneedit.bench_run` does the work.
BENCHMARKS.md documents every benchmark and its JSON keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

bench_app = typer.Typer(name="bench", help="Benchmarks reproducing the papers' tables (JSON out).",
                        no_args_is_help=True, add_completion=False)

OutOpt = Annotated[Path, typer.Option("--out", "-o", help="JSON file to write.", show_default=False)]
WorkspaceOpt = Annotated[Path, typer.Option("--workspace", "-w", help="Workspace with trained models (else trained "
                                                                       "into WS/bench/).")]
ParamsOpt = Annotated[Path | None, typer.Option("--params", help="params.yaml (default ./params.yaml).")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override one parameter: section.key=value.")]
ImagesOpt = Annotated[int, typer.Option("--images", help="Catalog latents / test images used.", min=3)]
ExamplesOpt = Annotated[int, typer.Option("--examples", help="Example edits per attribute.", min=1)]
AttributesOpt = Annotated[str, typer.Option("--attributes", help="Comma-separated edited attributes.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the example choice.")]
PhotoResOpt = Annotated[int, typer.Option("--photo-res", help="Photo size (px).", min=16)]


@bench_app.command()
def consistency(out: OutOpt, workspace: WorkspaceOpt = Path("workspace"), params: ParamsOpt = None,
                set_: SetOpt = None, images: ImagesOpt = 500, examples: ExamplesOpt = 5,
                attributes: AttributesOpt = "hue,size,rotation", seed: SeedOpt = 0) -> None:
    """Final-state MAE (Edit One for All Table 2): unedited, w+Δw, w+Δ*, α-scaled (ours)."""
    from oneedit import bench_run

    bench_run.consistency(out, workspace, params, set_, images, examples, attributes, seed)


@bench_app.command()
def linearity(out: OutOpt, workspace: WorkspaceOpt = Path("workspace"), params: ParamsOpt = None,
              set_: SetOpt = None, images: ImagesOpt = 500, examples: ExamplesOpt = 5,
              attributes: AttributesOpt = "hue,size,rotation", seed: SeedOpt = 0) -> None:
    """R² of attribute vs distance to the edit's hyperplane (Edit One for All Fig. 8a), Δw vs Δ*."""
    from oneedit import bench_run

    bench_run.linearity(out, workspace, params, set_, images, examples, attributes, seed)


@bench_app.command()
def transfer(out: OutOpt, workspace: WorkspaceOpt = Path("workspace"), params: ParamsOpt = None,
             set_: SetOpt = None,
             images: Annotated[int, typer.Option("--images", help="Photos edited per example.", min=1)] = 6,
             examples: ExamplesOpt = 1, attributes: AttributesOpt = "hue,size,rotation", seed: SeedOpt = 0,
             photo_res: PhotoResOpt = 512) -> None:
    """PSNR / SSIM of the full-resolution edit vs the ideal re-render: motion+colour flow, naive, GAN."""
    from oneedit import bench_run

    bench_run.transfer(out, workspace, params, set_, images, examples, attributes, seed, photo_res)


@bench_app.command()
def probe(out: OutOpt, workspace: WorkspaceOpt = Path("workspace"), params: ParamsOpt = None, set_: SetOpt = None,
          gan: Annotated[list[Path] | None, typer.Option("--gan", help="Probe these GAN checkpoints (repeatable) "
                                                                      "instead of training one per backbone.")] = None,
          backbones: Annotated[str, typer.Option(help="Backbones trained and probed (without --gan).")] = "style,dcgan",
          train_images: Annotated[int, typer.Option(help="Demo renders the probe GANs train on.", min=8)] = 20000,
          train: Annotated[int, typer.Option("--train", help="Samples the probe is fitted on.", min=10)] = 2000,
          test: Annotated[int, typer.Option("--test", help="Held-out samples it is scored on.", min=10)] = 1000,
          seed: SeedOpt = 0) -> None:
    """Held-out R² of a linear probe w -> each demo attribute, per backbone (issue 2's criterion: >= 0.9)."""
    from oneedit import bench_run

    bench_run.probe(out, workspace, params, set_, gan, backbones, train_images, train, test, seed)


@bench_app.command()
def projection(out: OutOpt, workspace: WorkspaceOpt = Path("workspace"), params: ParamsOpt = None,
               set_: SetOpt = None, images: ImagesOpt = 32,
               fmnist_gan_steps: Annotated[int, typer.Option(help="Fashion-MNIST GAN budget (steps).", min=1)] = 400,
               fmnist_encoder_steps: Annotated[int, typer.Option(help="Its encoder budget (steps).", min=1)] = 200,
               fmnist_resolution: Annotated[int, typer.Option(help="Its model resolution.")] = 32,
               fmnist_width: Annotated[int, typer.Option(help="Its base channel width.", min=4)] = 8,
               fmnist_train_images: Annotated[int, typer.Option(help="Its training images.", min=8)] = 6000) -> None:
    """Reconstruction error of encoder / optimize / hybrid (iGAN), demo catalog + Fashion-MNIST, cross-category."""
    from oneedit import bench_run

    bench_run.projection(out, workspace, params, set_, images, fmnist_gan_steps, fmnist_encoder_steps,
                         fmnist_resolution, fmnist_width, fmnist_train_images)


@bench_app.command()
def fashion(out: OutOpt, workspace: WorkspaceOpt = Path("workspace"), params: ParamsOpt = None,
            set_: SetOpt = None,
            photos: Annotated[int, typer.Option(help="Fashion-MNIST photos of the catalog.", min=3)] = 1500,
            classes: Annotated[str, typer.Option(help="Their classes (names or 0-9).")] = "t-shirt,pullover",
            photo_res: PhotoResOpt = 112,
            darken: Annotated[float, typer.Option(help="The example's garment is scaled by this.", min=0.05,
                                                  max=2.0)] = 0.55,
            init: Annotated[Path | None, typer.Option(help="Fine-tune this GAN instead of training from "
                                                           "scratch.")] = None) -> None:
    """A real-photo edit: one Fashion-MNIST garment darkened, the catalog edited, brightness measured."""
    from oneedit import bench_run

    bench_run.fashion(out, workspace, params, set_, photos, classes, photo_res, darken, init)


@bench_app.command()
def speed(out: OutOpt, workspace: WorkspaceOpt = Path("workspace"), params: ParamsOpt = None,
          set_: SetOpt = None,
          loop_images: Annotated[int, typer.Option(help="Images of the batched-vs-loop comparison.", min=1)] = 16,
          steps: Annotated[int, typer.Option(help="Optimization steps of that comparison.", min=1)] = 5,
          project_sizes: Annotated[str, typer.Option(help="Catalog sizes projected in full.")] = "25,100",
          render_sizes: Annotated[str, typer.Option(help="Catalog sizes for α + rendering.")] = "100,1000,10000",
          transfer_images: Annotated[int, typer.Option(help="Photos transferred (timed).", min=1)] = 8,
          photo_res: PhotoResOpt = 512,
          edit_photos: Annotated[int, typer.Option(help="Photos of the end-to-end edit stage (α + frames + "
                                                        "transfer + PNG through the flows); 0 = skip.", min=0)] = 0
          ) -> None:
    """Edit One for All Table 1 on this machine: edit, direction, α + render, transfer, projection."""
    from oneedit import bench_run

    bench_run.speed(out, workspace, params, set_, loop_images, steps, project_sizes, render_sizes, transfer_images,
                    photo_res, edit_photos)


@bench_app.command()
def memory(out: OutOpt, workspace: WorkspaceOpt = Path("workspace"), params: ParamsOpt = None,
           set_: SetOpt = None,
           sizes: Annotated[str, typer.Option(help="Catalog sizes (64 px demo photos).")] = "10000,100000",
           steps: Annotated[int, typer.Option(help="Training steps of G and of E.", min=1)] = 20,
           synthetic: Annotated[int, typer.Option(help="Photos of a synthetic catalog (ingest and projection "
                                                       "simulated); 0: none.", min=0)] = 0,
           real_shards: Annotated[int, typer.Option(help="Shards transferred for real (the rest simulated).",
                                                    min=1)] = 2) -> None:
    """Peak RSS of every stage (ingest .. update) per catalog size, each in a fresh process (oneedit.scaling)."""
    from oneedit import bench_run

    bench_run.memory(out, workspace, params, set_, sizes, steps, synthetic, real_shards)


@bench_app.command()
def stylegan2(out: OutOpt,
              gan: Annotated[Path, typer.Option("--gan", help="A stylegan2 gan.pt (after `oneedit import-generator`).",
                                                show_default=False)],
              params: ParamsOpt = None, set_: SetOpt = None,
              batch: Annotated[int, typer.Option(help="Images per timed batch.", min=1)] = 8,
              repeats: Annotated[int, typer.Option(help="Timed repeats (median).", min=1)] = 5) -> None:
    """StyleGAN2 cost: forward and projection step per image here; config F at 512 px from FLOP counts."""
    from oneedit import bench_run

    bench_run.stylegan2(out, gan, params, set_, batch, repeats)


@bench_app.command()
def export(out: OutOpt, workspace: Annotated[Path, typer.Option("--workspace", "-w", help="Scratch folder for the "
                                                                 "synthetic applied edit (reused).")] = Path(
               "workspace/bench-export"),
           params: ParamsOpt = None, set_: SetOpt = None,
           photos: Annotated[int, typer.Option(help="Photos of the applied edit.", min=1)] = 1000,
           photo_res: PhotoResOpt = 512) -> None:
    """`oneedit export` of an applied edit of N JPEG photos (synthetic, no training): seconds, and for a rerun."""
    from oneedit import bench_run

    bench_run.export(out, workspace, params, set_, photos, photo_res)


if __name__ == "__main__":
    bench_app()
