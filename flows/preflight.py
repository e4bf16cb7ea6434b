"""What each pipeline step requires before it runs, in one table (`STEPS`).

A step needs earlier steps' outputs (`common.workspace.OUTPUTS` keys, each named in its error with the
command that makes it), then passes checks of the workspace against the params and the run's arguments:
the models are the ones params describe, the latents are of the current generator, the originals are
reachable, the example edit is usable. The first problem raises one InputError line, before any work.

One call, `preflight(step, ws, params, ...)`, serves every caller: every flow runs it when it starts
(`flows.inputs.pipeline_flow`), so a run a deployment starts is checked as a command is; the CLI runs it
before it starts a flow (its errors then come before Prefect starts, with exit code 2); the Studio before
it starts a job. `makes` says what a step writes: the flow removes what a writer that died there left
behind (common.storage.remove_stale_temps) before it starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common.errors import InputError
from common.params import Params
from common.workspace import Workspace
from tasks.direction import check_direction_layers
from tasks.edits import edit_state
from tasks.example import check_example_form
from tasks.latents import check_latents
from tasks.manifest import check_source, require_source
from tasks.pretrained import check_catalog_fits
from tasks.train import check_encoder, check_models


@dataclass(frozen=True)
class Run:
    """What a check looks at: the workspace, the params and the run's own arguments (those it has)."""

    ws: Workspace
    params: Params
    name: str = ""
    form: dict | None = None
    source: Path | None = None


Check = Callable[[Run], None]


def catalog_ingested(run: Run) -> None:
    """The catalog is ingested, unless the run ingests `source` first (`train_flow(..., source=...)`)."""
    if run.source is None:
        run.ws.require_output("catalog")


def catalog_fits(run: Run) -> None:
    """params model.resolution is the imported generator's and the catalog's as ingested."""
    check_catalog_fits(run.ws, run.params)


def models_current(run: Run) -> None:
    """params model describes the trained generator."""
    check_models(run.ws, run.params)


def encoder_current(run: Run) -> None:
    """The encoder was trained for the current generator."""
    check_encoder(run.ws)


def latents_current(run: Run) -> None:
    """Every latents shard was projected with the current generator."""
    check_latents(run.ws)


def layers_fit_latents(run: Run) -> None:
    """edit.direction.layers exist in the stored latents."""
    check_direction_layers(run.ws, run.params)


def example_usable(run: Run) -> None:
    """The example exists and its edit (after photo, brush, offset) is well formed, at its size."""
    check_example_form(run.ws, run.form or {})


def originals_reachable(run: Run) -> None:
    """The originals' folder is there (not moved or unmounted)."""
    require_source(run.ws)


def source_is_the_catalog(run: Run) -> None:
    """The folder to ingest is the catalog's own (a folder of only new photos would drop the catalog)."""
    if run.source is not None:
        check_source(run.ws, run.source)


def last_run_finished(run: Run) -> None:
    """The edit's images and results are of one run (its last run did not stop midway)."""
    if edit_state(run.ws.edit(run.name)) == "partial":
        raise InputError(f"edit {run.name!r}: its last run stopped midway: run `oneedit rescale --workspace WS "
                         f"--name {run.name}` to finish it, then `oneedit report`")


@dataclass(frozen=True)
class Step:
    """A step's preflight: the outputs it reads (checked first, in order), then its checks, in order; and the
    outputs it writes."""

    needs: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    makes: tuple[str, ...] = ()


_DIRECTION_CHECKS = (catalog_fits, models_current, encoder_current, latents_current, layers_fit_latents,
                     example_usable)
_APPLY_CHECKS = (catalog_fits, models_current, latents_current, originals_reachable)

STEPS: dict[str, Step] = {
    "ingest": Step((), (catalog_fits, source_is_the_catalog), makes=("catalog",)),
    "train": Step((), (catalog_ingested, catalog_fits), makes=("models",)),
    "project": Step(("catalog", "models"), (catalog_fits, models_current, encoder_current), makes=("latents",)),
    "direction": Step(("catalog", "models", "latents"), _DIRECTION_CHECKS, makes=("direction",)),
    "edit": Step(("catalog", "models", "latents"), (*_DIRECTION_CHECKS, originals_reachable),
                 makes=("direction", "results")),
    "rescale": Step(("catalog", "direction"), _APPLY_CHECKS, makes=("results",)),
    "rerun": Step(("catalog", "direction"), _APPLY_CHECKS, makes=("results",)),
    "report": Step(("catalog", "results"), (last_run_finished, originals_reachable)),
    "update": Step(("models",), (source_is_the_catalog,)),
    "retrain": Step(("models",), (source_is_the_catalog,)),
}
"""Step -> what it requires and makes. A flow names its step (`pipeline_flow(..., step=...)`)."""


def preflight(step: str, ws: Workspace, params: Params, *, name: str = "", form: dict | None = None,
              source: Path | None = None) -> None:
    """Everything `step` requires of workspace `ws` for a run with these params and arguments (edit `name`,
    example `form`, photo folder `source`); the first problem raises one InputError line."""
    requires = STEPS[step]
    for output in requires.needs:
        ws.require_output(output, name)
    run = Run(ws, params, name, form, source)
    for check in requires.checks:
        check(run)
