"""The report of one edit: a self-contained folder (report/index.html + every image it shows) that a
catalog team can send on, plus metrics.json + alphas.csv for DVC and Prefect markdown/table artifacts.

The page names photos by their file name, shows the example large and in order (before, after, then
the generator's renders), the strength, the brush strokes, whether the edit landed, flagged and rejected
photos with their reasons, a table sortable by α or error, and the model's samples and loss curves.
Plots are drawn with OpenCV; the page is rendered from templates/report.html.j2 (Jinja2).

- writer.py: the tasks `write_report` and `publish_artifacts`, and the page's template;
- context.py: what the page says: the verdict's text, the table rows, the photos to review, the grid;
- figures.py: the report folder and its images (thumbnails, the example's and the models' figures);
- plots.py: histogram, scatter and line plots, the brush strokes over the example;
- truth.py: the demo's ground truth, measured by the attribute estimator.
"""

from tasks.report.context import SUMMARY_COLUMNS, verdict
from tasks.report.plots import PLOT_H, PLOT_W, histogram_plot, line_plot, scatter_plot, stroke_overlay
from tasks.report.writer import publish_artifacts, write_report

__all__ = ["PLOT_H", "PLOT_W", "SUMMARY_COLUMNS", "histogram_plot", "line_plot", "publish_artifacts", "scatter_plot",
           "stroke_overlay", "verdict", "write_report"]
