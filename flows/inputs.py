"""What every OneEdit flow accepts, from the CLI and from a Prefect deployment alike.

The CLI passes `Path` and `Params` objects. A deployment passes JSON: paths as strings, params as
a dict (params.yaml spelling) or the path of a params file. `pipeline_flow` wraps `prefect.flow` so
that both work: a path is cast by Prefect's own validation, a `ParamsInput` is turned into `Params`
by `as_params` with the CLI's one-line errors (common.params), so a bad deployment run fails with one
line in its Prefect state. It also does the set-up every flow shares: the workspace opened (and
locked when a deployment started the run), the step's preflight (flows/preflight.py), stale temps
removed, the task runner params ask for.

Why the wrapper resolves annotations: a served or deployed run gets its flow pickled by value into
a fresh process, whose copy of the function's globals holds only the names its code uses. String
annotations (`from __future__ import annotations`) naming `Path` or `Params` then no longer
resolve and Prefect refuses every run ("..._FlowModel is not fully defined"). The signature Prefect
validates runs by is therefore built from resolved types.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import prefect
from prefect.context import FlowRunContext
from prefect.utilities.hashing import file_hash

from common.errors import InputError
from common.lock import workspace_lock
from common.params import Params, load_params, validate
from common.storage import remove_stale_temps
from common.workspace import Workspace
from flows.preflight import STEPS, preflight
from flows.runners import make_task_runner

ParamsInput = Params | dict[str, Any] | str
"""Params as a flow parameter: the object, a params.yaml-shaped dict, or a params file's path."""

C = typing.TypeVar("C", bound=Callable[..., Any])


def as_params(value: ParamsInput | Path) -> Params:
    """Params from any `ParamsInput`; a bad value raises one InputError line (as the CLI prints it)."""
    if isinstance(value, Params):
        return value
    if isinstance(value, dict):
        return validate(value, "params")
    if isinstance(value, str | Path):
        return load_params(Path(value))
    raise InputError(f"params: expected a mapping of sections or a params file path, got {type(value).__name__}")


def run_name(label: str, *keys: str) -> Callable[[], str]:
    """A flow run name for the Prefect UI: `label WORKSPACE[/KEY...]`, e.g. `edit ws-cars/hue`.

    Read from the run's parameters at run time (Prefect calls it with none), so a deployment's
    JSON strings name runs as well as the CLI's Path objects do.
    """

    def name() -> str:
        ctx = FlowRunContext.get()
        parameters = (ctx.parameters or {}) if ctx else {}
        where = Path(str(parameters.get("workspace", "") or parameters.get("out_dir", ""))).name
        return " ".join([label, "/".join([where, *(str(parameters[k]) for k in keys if k in parameters)])]).strip()

    return name


def task_run_name(label: str, workspace: Path, *keys: str) -> str:
    """A task run name template for `Task.with_options`: `label WORKSPACE/{key}/...` (e.g. `project ws/shard-00001`)."""
    where = workspace.name.replace("{", "{{").replace("}", "}}")
    return " ".join([label, "/".join([where, *("{" + k + "}" for k in keys)])])


@contextlib.contextmanager
def deployment_lock(workspace: str | Path | None) -> Iterator[None]:
    """A run started from a deployment (a schedule, the UI, the API) holds the workspace lock, as every
    `oneedit` command does, so a scheduled run and a command never write one workspace at once; runs
    called by the CLI or by another flow are already under their caller's lock. A workspace that is
    not there is left to the flow to refuse (no folder is created for the lock)."""
    ctx = FlowRunContext.get()
    run = ctx.flow_run if ctx else None
    if (workspace is None or not Path(workspace).is_dir() or run is None or run.deployment_id is None
            or run.parent_task_run_id is not None):
        yield
        return
    with workspace_lock(Path(workspace), wait=False):
        yield


CONVERTED: dict[type, tuple[Any, Callable[[Any], Any]]] = {
    Workspace: (Path, Workspace.open),
    Params: (ParamsInput, as_params),
}
"""What a flow's body takes -> (what the run's parameter accepts, from the CLI or a deployment's JSON; the
conversion the decorator applies before the body runs)."""


class PipelineFlow(prefect.Flow):
    """A flow whose every call runs on the task runner its params ask for (runtime.task_runner, workers,
    dask_address): a subflow called by another flow gets it as a command's flow does. `on_runner` still picks
    one explicitly (a served deployment: flows.retrain.serve)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        bound = inspect.signature(self.fn).bind_partial(*args, **{k: v for k, v in kwargs.items()
                                                                    if k not in ("return_state", "wait_for")})
        runtime = as_params(bound.arguments["params"]).runtime
        return prefect.Flow.with_options(self, task_runner=make_task_runner(runtime))(*args, **kwargs)


def pipeline_flow(name: str, *keys: str, step: str | None = None, **options: Any) -> Callable[[C], PipelineFlow]:
    """A OneEdit flow: `prefect.flow` named `name` (runs named by `run_name(name, *keys)`, annotations resolved)
    with the set-up every flow shares. Each run
    - holds the workspace lock when a deployment started it (`deployment_lock`);
    - gets its arguments converted (`CONVERTED`): the body takes a `Workspace` (opened) and `Params` where the
      run is given a path and any `ParamsInput`;
    - passes `step`'s preflight (flows.preflight.STEPS: the outputs it needs, its checks), then has the stale
      temps of what the step makes removed;
    - runs its tasks on the runner its params ask for (`PipelineFlow`)."""

    def decorate(fn: C) -> PipelineFlow:
        hints = typing.get_type_hints(fn)
        signature = inspect.signature(fn)
        accepted = signature.replace(  # what Prefect validates a run's parameters by: resolved types
            parameters=[p.replace(annotation=accepts(hints.get(p.name, p.annotation)))
                        for p in signature.parameters.values()],
            return_annotation=hints.get("return", signature.return_annotation))

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            values = signature.bind(*args, **kwargs)
            values.apply_defaults()
            arguments = values.arguments
            with deployment_lock(arguments.get("workspace")):
                for key, value in arguments.items():
                    if hints.get(key) in CONVERTED:
                        arguments[key] = CONVERTED[hints[key]][1](value)
                if step is not None:
                    start_step(step, arguments)
                return fn(*values.args, **values.kwargs)

        run.__signature__ = accepted  # type: ignore[attr-defined]
        version = file_hash(inspect.getsourcefile(fn))  # Prefect's default, of the flow's file (not this one)
        return PipelineFlow(run, name=name, flow_run_name=run_name(name, *keys), version=version, **options)

    return decorate


def accepts(hint: Any) -> Any:
    """The type a run's parameter accepts for a body's parameter typed `hint` (`CONVERTED`)."""
    return CONVERTED[hint][0] if hint in CONVERTED else hint


def start_step(step: str, arguments: dict[str, Any]) -> None:
    """A run of `step` with these (converted) arguments: its preflight, then the stale temps of what it makes
    removed."""
    ws, name = arguments["workspace"], arguments.get("name", "")
    preflight(step, ws, arguments["params"], name=name, form=arguments.get("form"), source=arguments.get("source"))
    for output in STEPS[step].makes:
        for folder in ws.output_folders(output, name):
            remove_stale_temps(folder)
