"""What every OneEdit flow accepts, from the CLI and from a Prefect deployment alike.

The CLI passes `Path` and `Params` objects. A deployment passes JSON: paths as strings, params as
a dict (params.yaml spelling) or the path of a params file. `flow` wraps `prefect.flow` so that
both work: a path annotated `Path` is cast by Prefect's own validation, a `ParamsInput` is turned
into `Params` by `as_params` with the CLI's one-line errors (common.params), so a bad deployment
run fails with one line in its Prefect state. A run a deployment started holds the workspace lock.

Why the wrapper resolves annotations: a served or deployed run gets its flow pickled by value into
a fresh process, whose copy of the function's globals holds only the names its code uses. String
annotations (`from __future__ import annotations`) naming `Path` or `Params` then no longer
resolve and Prefect refuses every run ("..._FlowModel is not fully defined").
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


def flow(name: str, *keys: str, **options: Any) -> Callable[[C], prefect.Flow]:
    """`prefect.flow` named `name`, its runs named by `run_name(name, *keys)`, annotations resolved,
    the workspace locked when a deployment started the run (`deployment_lock`)."""

    def decorate(fn: C) -> prefect.Flow:
        fn.__annotations__ = typing.get_type_hints(fn)

        @functools.wraps(fn)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with deployment_lock(inspect.signature(fn).bind(*args, **kwargs).arguments.get("workspace")):
                return fn(*args, **kwargs)

        version = file_hash(inspect.getsourcefile(fn))  # Prefect's default, of the flow's file (not this one)
        return prefect.flow(name=name, flow_run_name=run_name(name, *keys), version=version, **options)(locked)

    return decorate
