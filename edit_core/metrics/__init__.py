"""Every metric of the project, in one package with a registry: the report, the benchmarks and training
all call these.

- `image`: PSNR / SSIM, edit locality (per image);
- `latent`: final-state MAE (Edit One for All Table 2), linearity R² (Fig. 8a), the linear probe;
- `edit`: the summary of one catalog edit (counts, α) and whether it landed (the final state measured
  on the edited photos).

`METRICS` maps a metric's name to its function; `metric(name)` looks one up with a one-line error.
"""

from __future__ import annotations

from collections.abc import Callable

from edit_core.metrics.edit import (
    LANDED_RATIO,
    attribute_final_state,
    edit_summary,
    final_state_verdict,
    photo_final_states,
)
from edit_core.metrics.image import (
    edit_region_mask,
    outside_change,
    psnr,
    ssim,
)
from edit_core.metrics.latent import attribute_probe, final_state_mae, linear_probe_r2, linearity_r2

METRICS: dict[str, Callable] = {f.__name__: f for f in (
    psnr, ssim, edit_region_mask, outside_change,
    final_state_mae, linearity_r2, linear_probe_r2, attribute_probe, edit_summary, attribute_final_state,
    final_state_verdict, photo_final_states)}


def metric(name: str) -> Callable:
    """The metric called `name`."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}")
    return METRICS[name]


__all__ = ["LANDED_RATIO", "METRICS", "metric", *METRICS]
