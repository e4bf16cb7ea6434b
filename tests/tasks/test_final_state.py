import numpy as np
import pytest
import torch

from edit_core.alphas import distances, example_target
from tasks.final_state import reading_line


class _Renderer(torch.nn.Module):
    """A generator whose images are its latents in disguise (what a perfect encoder would read back)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.seen: torch.Tensor | None = None

    def synthesis(self, w: torch.Tensor) -> torch.Tensor:
        self.seen = w.detach().clone()
        return torch.zeros(len(w), 3, 4, 4)


class _Shrinking(torch.nn.Module):
    """An encoder that reads half of the true latent and half of the catalog's mean (regression to the mean)."""

    def __init__(self, renderer: _Renderer, mean: torch.Tensor) -> None:
        super().__init__()
        self.renderer, self.mean = renderer, mean

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * self.renderer.seen + 0.5 * self.mean


def test_the_reading_line_undoes_the_encoders_pull_toward_the_catalog() -> None:
    g = torch.Generator().manual_seed(0)
    w = torch.randn(300, 8, generator=g)
    n = torch.nn.functional.normalize(torch.randn(8, generator=g), dim=0)
    state = {"w_example": w[0], "delta_star": 2.0 * n, "n": n}
    G = _Renderer()
    E = _Shrinking(G, w.mean(0))
    line = reading_line(G, E, state, 1.0, w.numpy())
    target = example_target(state["w_example"], state["delta_star"], 1.0)
    assert line["slope"] == pytest.approx(0.5, abs=1e-4)
    assert line["offset"] == pytest.approx(0.5 * float(distances(w.mean(0)[None], target, n)[0]), abs=1e-4)
    # read through the line, a photo at the final state reads 0, not the catalog's side of it
    raw = 0.5 * 0.0 + 0.5 * float(distances(w.mean(0)[None], target, n)[0])
    assert (raw - line["offset"]) / line["slope"] == pytest.approx(0.0, abs=1e-3)
    assert np.isfinite(list(line.values())).all()
