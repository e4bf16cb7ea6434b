import numpy as np
import pandas as pd

from edit_core.metrics import edit_summary
from tasks.report import PLOT_H, PLOT_W, SUMMARY_COLUMNS, _html, histogram_plot, scatter_plot


def test_plots_are_images_even_for_degenerate_data() -> None:
    for img in (histogram_plot(np.array([1.0, 2.0, np.nan, 2.5]), "a"), histogram_plot(np.array([]), "empty"),
                histogram_plot(np.array([3.0, 3.0]), "constant"),
                scatter_plot(np.array([0.0, 1.0]), np.array([0.0, 0.0]), "s", target=0.0),
                scatter_plot(np.array([np.nan]), np.array([1.0]), "nan")):
        assert img.shape == (PLOT_H, PLOT_W, 3) and img.dtype == np.uint8
    assert (histogram_plot(np.array([1.0, 2.0]), "a") != 255).any()


def test_metrics_count_every_status() -> None:
    results = pd.DataFrame({
        "status": ["edited", "edited", "flagged", "rejected"],
        "alpha": [1.0, 2.0, 3.0, np.nan], "distance_before": [-1.0, -2.0, -3.0, np.nan],
        "distance_after": [0.0, 1e-7, -1e-7, np.nan], "err_pixel": [0.1, 0.2, 0.3, np.nan],
        "t_transfer": [0.5, 0.5, 0.5, 0.0]})
    m = edit_summary(*(results[c].to_numpy() for c in SUMMARY_COLUMNS))
    assert (m["images"], m["n_edited"], m["n_flagged"], m["n_rejected"]) == (4, 2, 1, 1)
    assert m["alpha_mean"] == 2.0 and m["distance_after_max_abs"] < 1e-6
    page = _html("x<y", {"kind": "pair", "example_id": "abc"}, m, [], ["../example/before.png"], [("a.png", "α")])
    assert page.startswith("<!doctype html>") and "x&lt;y" in page and "../example/before.png" in page
