"""What a command runs with: Prefect's environment, the params from the command line, the workspace lock,
progress bars and the task runner's cluster while a flow runs.

Nothing heavy is imported here at import time: a bad argument is answered at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from common.errors import InputError
from common.params import check_device, load_params
from common.workspace import Workspace
from oneedit.cli.printing import console
from oneedit.cli.signals import bridge_prefect_sigterm

if TYPE_CHECKING:
    from common.params import Params

# Offline, quiet Prefect with a temporary local server; set before prefect is imported.
for _key, _value in {
    "DO_NOT_TRACK": "1",
    "DVC_NO_ANALYTICS": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_LOGGING_EXTRA_LOGGERS": ",".join(("oneedit", "flows", "tasks", "common", "edit_core")),  # to the UI
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",  # outside a run (export, review) the file / stderr only
}.items():
    os.environ.setdefault(_key, _value)


def command_params(params: Path | None, sets: list[str] | None, device: str | None = None,
                   strength: float | None = None, dask_address: str | None = None,
                   dask_local: int | None = None) -> Params:
    """Load + validate params with the command-line overrides, each error named after what the user typed
    (`--strength 20`, not a `--set` error). Nothing heavy is imported: a bad argument is answered at once."""
    if dask_address is not None and dask_local is not None:
        raise InputError("give --dask-address or --dask-local, not both")
    p = load_params(params, list(sets or []))
    named = {"--device": (device, ["runtime.device={}"]), "--strength": (strength, ["edit.strength={}"]),
             "--dask-address": (dask_address, ["runtime.task_runner=dask", "runtime.dask_address={}"]),
             "--dask-local": (dask_local, ["runtime.task_runner=dask", "runtime.dask_address=",
                                           "runtime.workers={}"])}
    for flag, (value, keys) in named.items():
        if value is not None:
            p = with_option(p, flag, value, [k.format(value) for k in keys])
    if device is not None:
        check_device(p.runtime.device)  # the params file's own device was checked by load_params
    return p


def with_option(p: Params, flag: str, value: object, overrides: list[str]) -> Params:
    """`p` with one command-line option's overrides; its error says `flag value: why`."""
    from common.params import apply_overrides, validate

    try:
        return validate(apply_overrides(p.to_dict(), overrides), flag)
    except InputError as exc:
        shown = f"{value:g}" if isinstance(value, float) else value
        raise InputError(f"{flag} {shown}: {str(exc).split(': ', 2)[-1]}") from None


def workspace_params(ws: Workspace, p: Params, sets: list[str] | None) -> Params:
    """Params for this workspace: model.resolution is the imported generator's unless the command line sets
    it (the preflight's catalog_fits then checks that it matches)."""
    from tasks.pretrained import imported_generator

    imported = imported_generator(ws)
    typed = any(s.strip().startswith("model.resolution=") for s in sets or [])
    if imported is not None and not typed and imported.get("resolution") not in (None, p.model.resolution):
        p = with_option(p, "model.resolution", imported["resolution"], [f"model.resolution={imported['resolution']}"])
    return p


def torch_threads(p: Params) -> None:
    """torch's intra-op threads (runtime.threads), set when a command starts its work (torch imported then)."""
    import torch

    torch.set_num_threads(p.runtime.threads)


@contextmanager
def cluster(p: Params) -> Iterator[Params]:
    """The params to run with: a Dask LocalCluster is started for the whole command when they ask for one."""
    from flows.runners import shared_cluster

    with shared_cluster(p) as running:
        yield running


@contextmanager
def running(ws: Workspace, p: Params) -> Iterator[None]:
    """Hold the workspace lock and show progress bars while a flow runs (Prefect's console quiet, torch's
    threads set)."""
    from common import progress
    from common.lock import workspace_lock

    torch_threads(p)
    bridge_prefect_sigterm()
    with workspace_lock(ws.root, wait=False), quiet_prefect_console(), progress.live(console):
        yield


@contextmanager
def quiet_prefect_console() -> Iterator[None]:
    """Prefect's console handlers only show CRITICAL (a failed task is our one `error:` line, not three
    tracebacks); the run logs still reach the Prefect API."""
    import logging

    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]
    handlers = {h for lg in loggers for h in getattr(lg, "handlers", []) if isinstance(h, PrefectConsoleHandler)}
    levels = {h: h.level for h in handlers}
    for h in handlers:
        h.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for h, level in levels.items():
            h.setLevel(level)
