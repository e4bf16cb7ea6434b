"""Cost of a StyleGAN2 generator: measured time per image at a small size, FLOP-based estimate at 512 px.

`run` measures a workspace's gan.pt (e.g. one `oneedit import-generator` wrote): `bench_stylegan2(G)`
times synthesis forward and one projection step (forward + backward to a W+ latent + Adam step) per
image on this machine (the matmul rate: `benchmarks.timing.matmul_gflops`), counts the FLOPs of a config-F generator at 512 px
(torch's FlopCounterMode on the meta device: convolutions and matmuls, nothing is computed) and
turns them into seconds per photo on these CPU cores (at the measured matmul rate, corrected by the
efficiency the small generator reached) and on an H100-class GPU (stated peak x stated utilization).
"""

from __future__ import annotations

import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.driver import Setup
from benchmarks.registry import StyleGAN2Options
from benchmarks.timing import matmul_gflops
from common.errors import InputError
from edit_core.checkpoint import load_generator
from edit_core.models import Generator, ModelConfig, build_generator
from edit_core.models.stylegan2 import default_spec

# H100 SXM peak dense rates (NVIDIA datasheet): FP32 on CUDA cores, FP16/BF16 on tensor cores.
H100_PEAK_TFLOPS = {"fp32": 67.0, "fp16": 989.0}
GPU_UTILIZATION = 0.35  # assumed fraction of peak a StyleGAN2 conv stack reaches at batch >= 8


def config_f(resolution: int = 512) -> ModelConfig:
    """StyleGAN2 config F at `resolution`: z = w = 512, 8 mapping layers, min(32768 / res, 512) channels."""
    return ModelConfig(backbone="stylegan2", resolution=resolution, z_dim=512, w_dim=512, mapping_layers=8,
                       stylegan2=default_spec(resolution, 512, conv_clamp=256))


def synthesis_flops(cfg: ModelConfig, batch: int = 2) -> dict[str, float]:
    """FLOPs per image of synthesis forward, and of forward + backward to a W+ latent (G frozen), float32."""
    with torch.device("meta"):
        G = build_generator(cfg).eval().requires_grad_(False)
    G.force_fp32 = True
    w = torch.zeros(batch, G.num_ws, G.w_dim, device="meta", requires_grad=True)
    with FlopCounterMode(display=False) as fwd:
        G.synthesis(w)
    with FlopCounterMode(display=False) as step:
        G.synthesis(w).square().sum().backward()
    return {"forward": fwd.get_total_flops() / batch, "projection_step": step.get_total_flops() / batch}


def time_synthesis(G: Generator, batch: int = 8, repeats: int = 5, seed: int = 0) -> dict[str, float]:
    """Median seconds per image of synthesis forward (no grad) and of one W+ projection step."""
    G = G.eval().requires_grad_(False)
    target = G.synthesis(G.sample_w(batch, seed)).detach().flip(0)
    w = G.ws(G.sample_w(batch, seed + 1)).clone().requires_grad_(True)
    opt = torch.optim.Adam([w], lr=0.01)

    def forward() -> None:
        with torch.no_grad():
            G.synthesis(w)

    def step() -> None:
        loss = (G.synthesis(w) - target).square().sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    out = {}
    for name, fn in (("forward_s_per_img", forward), ("projection_step_s_per_img", step)):
        fn()  # warm-up
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            runs.append((time.perf_counter() - start) / batch)
        out[name] = statistics.median(runs)
    return out


def bench_stylegan2(G: Generator, big: ModelConfig | None = None, batch: int = 8, repeats: int = 5,
                    project_steps: int = 10, threads: int | None = None, matmul_size: int = 1024) -> dict:
    """Measured cost of G (per image) and the FLOP-based cost of `big` (default config F at 512 px) per photo.

    Per photo = `project_steps` projection steps (the pipeline's hybrid default) + one forward to render.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    big = big or config_f(512)
    gflops = matmul_gflops(matmul_size, reps=5)
    small_flops = synthesis_flops(G.config)
    half = G.force_fp32
    G.force_fp32 = True  # float32 throughout (the estimate's precision on CPU)
    measured = time_synthesis(G, batch, repeats)
    G.force_fp32 = False
    if G.config.stylegan2["fp16_resolution"] is not None:  # the file's own mixed precision, as imported
        measured["as_imported_fp16_blocks"] = time_synthesis(G, batch, repeats)
    G.force_fp32 = half
    # Fraction of the matmul rate the generator's convolutions reach on this CPU (fwd and fwd+bwd).
    eff = {k: small_flops[k] / 1e9 / measured[f"{k}_s_per_img"] / gflops for k in small_flops}
    big_flops = synthesis_flops(big)
    photo_flops = project_steps * big_flops["projection_step"] + big_flops["forward"]
    cpu_s = {k: big_flops[k] / 1e9 / (gflops * eff[k]) for k in big_flops}
    gpu = {prec: photo_flops / (peak * 1e12 * GPU_UTILIZATION) for prec, peak in H100_PEAK_TFLOPS.items()}
    return {
        "machine": {"threads": torch.get_num_threads(), "matmul_gflops": gflops, "torch": torch.__version__},
        "measured": {"config": G.config.to_dict(), "batch": batch, "repeats": repeats, **measured,
                     "gflop_forward": small_flops["forward"] / 1e9,
                     "gflop_projection_step": small_flops["projection_step"] / 1e9,
                     "efficiency_vs_matmul": eff},
        "estimate": {"config": big.to_dict(), "gflop_forward": big_flops["forward"] / 1e9,
                     "gflop_projection_step": big_flops["projection_step"] / 1e9, "project_steps": project_steps,
                     "gflop_per_photo": photo_flops / 1e9,
                     "cpu_forward_s": cpu_s["forward"], "cpu_projection_step_s": cpu_s["projection_step"],
                     "cpu_s_per_photo": project_steps * cpu_s["projection_step"] + cpu_s["forward"],
                     "gpu_assumption": f"H100 SXM peak {H100_PEAK_TFLOPS} TFLOP/s x {GPU_UTILIZATION} utilization, "
                                       "batch >= 8 photos, convolutions and matmuls only",
                     "gpu_s_per_photo": gpu},
    }


def run(o: StyleGAN2Options, s: Setup) -> dict:
    """Cost of the stylegan2 generator `o.gan`: measured per image on this machine, config F at 512 px from FLOPs."""
    G = load_generator(o.gan, "cpu")
    if G.config.backbone != "stylegan2":
        raise InputError(f"--gan {o.gan}: a {G.config.backbone} generator; this bench measures stylegan2 ones")
    return bench_stylegan2(G, batch=o.batch, repeats=o.repeats, project_steps=s.params.project.steps)
