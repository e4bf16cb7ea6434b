"""The report's task: `write_report` writes report/index.html (rendered from tasks/templates/report.html.j2,
Jinja2, streamed) with every image it shows, and metrics.json + alphas.csv beside it for DVC;
`publish_artifacts` makes the Prefect markdown and table artifacts of the metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from common.params import Params
from common.storage import atomic_path, read_json, write_json
from common.workspace import Workspace
from edit_core.alphas import EDITED
from edit_core.metrics import edit_summary
from tasks.alphas import RESULTS_ROWS, applied_strength, spread_over_alpha
from tasks.manifest import source_hashes, source_root
from tasks.report.context import (
    SUMMARY_COLUMNS,
    grid,
    read_summary_columns,
    review_count,
    shown_rows,
    table_rows,
    to_review,
    verdict,
)
from tasks.report.figures import ReportFolder, example_figures, model_figures
from tasks.report.plots import histogram_plot, scatter_plot
from tasks.report.truth import measure_truth, measured_pairs

TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parents[1] / "templates"),
                               autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def render_page(context: dict) -> Iterator[str]:
    """The report's HTML from its context (templates/report.html.j2), in pieces as it is rendered."""
    return TEMPLATES.get_template("report.html.j2").generate(**context)


@task(cache_policy=NO_CACHE, persist_result=False)
def write_report(ws: Workspace, name: str, params: Params) -> dict:
    """report/index.html + the images it shows; metrics.json + alphas.csv beside it (DVC); returns the metrics.

    Reads results.parquet as compact columns (`read_summary_columns`) and, for the photos it shows, their
    rows only; the page's per-photo tables are streamed into index.html."""
    paths = ws.edit(name)
    folder = ReportFolder(paths.report)
    cols = read_summary_columns(paths.results)
    spec = read_json(paths.spec)
    edited = np.flatnonzero(np.isin(cols["status"], EDITED))
    done = edited[np.sort(np.unique(cols["id"][edited], return_index=True)[1])]  # first row of each photo
    done_ids = cols["id"][done]
    done_alpha = cols["alpha"][done]
    metrics = edit_summary(*(cols[c] for c in SUMMARY_COLUMNS))
    strength = applied_strength(paths)
    if strength is not None:
        metrics["strength"] = strength
    if paths.final_state.exists():  # the verdict measured after the edit (tasks/final_state.py)
        metrics |= read_json(paths.final_state)

    def sample(k: int) -> list[str]:
        return [i.decode("utf-8") for i in spread_over_alpha(done_ids, done_alpha, k)]

    shown = sample(params.report.grid)
    estimated = sample(params.report.estimate) if "truth" in spec and len(done) and params.report.estimate else []
    rows = shown_rows(paths.results, sorted({*shown, *estimated, *([spec["example_id"]] if spec.get("example_id")
                                                                    else [])}))
    root = source_root(ws)
    sources = {i: root / r["source_path"] for i, r in rows.items()}  # as results were made
    hashes = source_hashes(ws, list(rows))

    cells = grid(folder, paths, shown, rows, sources, hashes, params.report.thumb)
    plots = [{"src": folder.png("alpha_hist.png", histogram_plot(done_alpha, "alpha (closed form)")),
              "caption": "How far each photo was moved along the edit (α)"},
             {"src": folder.png("final_state.png", scatter_plot(
                 cols["distance_before"][done], cols["distance_after"][done],
                 "signed distance to the example's hyperplane: before (x), after (y)", target=0.0)),
              "caption": "Final state in latent space: after the edit every photo sits on the line"}]
    pairs = measured_pairs(estimated, paths, sources, hashes) if estimated else []
    if pairs:
        measured, plot = measure_truth(spec["truth"], pairs)
        metrics |= measured
        plots.append({"src": folder.png("final_state_attribute.png", plot),
                      "caption": f"Final state on the photos: measured {spec['truth']['attribute']} before and after"})

    context = {
        "name": name, "spec": spec, "metrics": metrics, "strength": strength, "verdict": verdict(metrics),
        "example": example_figures(folder, paths, spec, sources), "grid": cells, "plots": plots,
        "models": model_figures(folder, ws), "rows": table_rows(paths.results),
        "problems": table_rows(paths.results, to_review), "problem_count": review_count(paths.results),
        "counts": pd.Series(cols["status"], dtype=object).value_counts().to_dict(), "thumb": params.report.thumb,
    }
    write_json(paths.metrics, metrics)
    with atomic_path(paths.alphas_csv) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        for start in range(0, max(len(done), 1), RESULTS_ROWS):
            at = done[start : start + RESULTS_ROWS]
            pd.DataFrame({"id": pd.Series([i.decode("utf-8") for i in cols["id"][at]], dtype=object),
                          **{c: cols[c][at] for c in ("alpha", "distance_before", "distance_after")}}
                         ).to_csv(fh, index=False, header=start == 0)
    with atomic_path(paths.report_index) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.writelines(render_page(context))
    folder.written.add(paths.report_index)
    folder.remove_others()
    return metrics


@task(cache_policy=NO_CACHE, persist_result=False)
def publish_artifacts(name: str, index: Path, metrics: dict) -> None:
    """Prefect markdown + table artifacts of the edit's metrics."""
    lines = "\n".join(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items())
    create_markdown_artifact(f"# OneEdit edit `{name}`\n\nReport: `{index}`\n\n| metric | value |\n|---|---|\n{lines}\n",
                             key=f"oneedit-{name.lower().replace('_', '-').replace('.', '-')}-summary")
    create_table_artifact([{"metric": k, "value": v} for k, v in metrics.items()],
                          key=f"oneedit-{name.lower().replace('_', '-').replace('.', '-')}-metrics")
