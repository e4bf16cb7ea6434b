"""StyleGAN2 cost bench: FLOPs from the meta device, per-photo estimate assembled from its parts."""

from __future__ import annotations

import pytest

from benchmarks.stylegan2 import bench_stylegan2, config_f, synthesis_flops
from edit_core.models import ModelConfig, build_generator
from edit_core.models.stylegan2 import default_spec


def tiny(resolution: int, channel_max: int) -> ModelConfig:
    return ModelConfig(backbone="stylegan2", resolution=resolution, z_dim=8, w_dim=8, mapping_layers=2,
                       stylegan2=default_spec(resolution, 8, channel_base=8 * channel_max, channel_max=channel_max))


def test_flops_scale_with_channels_squared_and_config_f_has_16_ws() -> None:
    small, wide = synthesis_flops(tiny(16, 8)), synthesis_flops(tiny(16, 16))
    assert wide["forward"] == pytest.approx(4 * small["forward"], rel=0.2)  # 3x3 convs dominate: ~channels^2
    assert small["projection_step"] > 2 * small["forward"]  # backward costs more than forward
    cfg = config_f(512)
    assert cfg.stylegan2["num_ws"] == 16 and cfg.stylegan2["channels"][-1] == 64


def test_bench_reports_measured_and_estimated_costs() -> None:
    G = build_generator(tiny(16, 8))
    out = bench_stylegan2(G, big=tiny(32, 8), batch=2, repeats=1, project_steps=3, matmul_size=128)
    m, e = out["measured"], out["estimate"]
    assert m["forward_s_per_img"] > 0 and m["projection_step_s_per_img"] > 0 and out["machine"]["matmul_gflops"] > 0
    assert e["gflop_per_photo"] == pytest.approx(3 * e["gflop_projection_step"] + e["gflop_forward"])
    assert e["cpu_s_per_photo"] == pytest.approx(3 * e["cpu_projection_step_s"] + e["cpu_forward_s"])
    assert e["gpu_s_per_photo"]["fp16"] < e["gpu_s_per_photo"]["fp32"]
