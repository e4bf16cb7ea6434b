"""The `oneedit` command: one Typer app, one flow per command, one-line errors.

Every command reads params.yaml (`--params`, default ./params.yaml, else the packaged defaults),
applies repeatable `--set section.key=value` overrides and validates them before any work, then
locks the workspace and runs its flow. Every failure is one line on stderr:

- what the user passed is unusable (InputError, usage errors): `error: ...`, exit 2;
- the run could not finish (a write error, a corrupt workspace file, ...): `error: ...`, exit 1;
- a bug: `internal error: ... (run with --debug for the traceback)`, exit 1;
- SIGINT / SIGTERM: every task stops at its next progress tick, finished work stays, exit 130 / 143.

`--debug` anywhere on the command line prints the traceback of an error as well.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from typer._click.exceptions import NoArgsIsHelpError

from common import cancel
from common.errors import InputError, OneEditError, os_error_line
from common.params import check_device, load_params
from common.workspace import Workspace
from oneedit.bench import bench_app

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

if TYPE_CHECKING:
    from prefect import Flow

    from common.params import Params, RuntimeParams

F = TypeVar("F", bound="Flow")
console = Console(stderr=True)
out = Console()

WorkspaceOpt = Annotated[Path, typer.Option("--workspace", "-w", help="Workspace directory.", show_default=False)]
NameOpt = Annotated[str, typer.Option("--name", "-n", help="Name of the edit (WS/edits/NAME).", show_default=False)]
ParamsOpt = Annotated[
    Path | None, typer.Option("--params", help="params.yaml to read (default ./params.yaml, else built-in defaults).")
]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="Override one parameter: section.key=value (repeatable).")
]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="auto | cpu | cuda | cuda:N (default: runtime.device).")]
StrengthOpt = Annotated[
    float | None, typer.Option("--strength", help="Edit strength s (w0' = w0 + s·Δ*); default edit.strength.")
]
DaskAddressOpt = Annotated[
    str | None, typer.Option("--dask-address", help="Run the tasks on the Dask scheduler at tcp://HOST:PORT.")
]
DaskLocalOpt = Annotated[
    int | None, typer.Option("--dask-local", min=1, help="Run the tasks on a local Dask cluster of N processes.")
]


class _App(typer.Typer):
    """Typer app whose every failure is one `error: ...` line (exit 2), never a traceback or usage box."""

    def __call__(self, *args: object, **kwargs: object) -> None:
        sys.exit(main())


app = _App(
    name="oneedit",
    help="Edit one photo; the same edit lands, at the same final state, on every photo of a catalog.\n\n"
         "Anywhere on the command line: --debug (tracebacks), --log-level debug|info|warning|error (OneEdit's "
         "log on stderr), --log-file PATH (the log of the run, Prefect's included, at --log-level, default info).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(bench_app, name="bench")
LOGGERS = ("oneedit", "flows", "tasks", "common", "edit_core")  # OneEdit's own loggers (modules' __name__)
LEVELS = ("debug", "info", "warning", "error")


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        out.print(f"oneedit {version('oneedit')}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Edit one photo; the same edit lands, at the same final state, on every photo of a catalog."""


def _global_options(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """`--log-level L` / `--log-file P` (or `--opt=value`) taken from anywhere on the command line, as --debug
    is: (the other arguments, {option: value})."""
    rest, found = [], {}
    it = iter(args)
    for a in it:
        name, eq, value = a.partition("=")
        if name in ("--log-level", "--log-file"):
            if not eq:
                value = next(it, None)
                if value is None:
                    raise InputError(f"{name} needs a value")
            found[name] = value
        else:
            rest.append(a)
    return rest, found


@contextmanager
def _logging(options: dict[str, str]) -> Iterator[None]:
    """Python logging for the command: OneEdit's loggers at --log-level (default info; shown on stderr only
    when a level is asked for), and with --log-file every record at that level (Prefect's too) in the file."""
    import logging

    level_name = options.get("--log-level", "info").lower()
    if level_name not in LEVELS:
        raise InputError(f"--log-level {level_name}: choose one of {', '.join(LEVELS)}")
    level = getattr(logging, level_name.upper())
    handlers: list[tuple[logging.Logger, logging.Handler]] = []
    form = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    if "--log-level" in options:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(level)
        handlers += [(logging.getLogger(name), stream) for name in LOGGERS]
    if "--log-file" in options:
        try:
            file = logging.FileHandler(options["--log-file"], encoding="utf-8")
        except OSError as exc:
            raise InputError(f"--log-file {options['--log-file']}: {exc.strerror or exc}") from None
        file.setLevel(level)
        handlers.append((logging.getLogger(), file))
    before = {name: logging.getLogger(name).level for name in LOGGERS}
    for name in LOGGERS:
        logging.getLogger(name).setLevel(level)
    for logger, handler in handlers:
        handler.setFormatter(form)
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger, handler in handlers:
            logger.removeHandler(handler)
            handler.close()
        for name, old in before.items():
            logging.getLogger(name).setLevel(old)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI on `argv` (default sys.argv[1:]) and return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    command = typer.main.get_command(app)
    cancel.reset()
    _told.clear()
    main_thread = threading.current_thread() is threading.main_thread()
    handlers = {s: signal.signal(s, _terminate) for s in (signal.SIGTERM, signal.SIGINT)} if main_thread else {}
    try:
        args, options = _global_options(args)
        with _logging(options):
            command.main(args=args, prog_name="oneedit", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        return _interrupted()
    except NoArgsIsHelpError as exc:
        exc.show()
        return 2
    except typer.TyperException as exc:
        return _fail(exc.format_message(), debug)
    except InputError as exc:
        return _fail(str(exc), debug)
    except OneEditError as exc:
        return _fail(str(exc), debug, code=1)
    except OSError as exc:
        return _fail(os_error_line(exc), debug, code=1)
    except Exception as exc:
        if cancel.requested() is not None:  # what a task raised while it was being stopped
            return _interrupted()
        if _is_checkpoint_mismatch(exc):
            return _fail(f"{exc}; run `oneedit train` again", debug, code=1)
        return _fail(f"internal error: {type(exc).__name__}: {_first_line(str(exc))} (run with --debug for the "
                     "traceback)", debug, code=1, prefix="")
    except BaseException:  # Prefect's TerminationSignal, our Interrupted from a task
        if cancel.requested() is not None:
            return _interrupted()
        raise
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)
    return _interrupted() if cancel.requested() is not None else 0


def _is_checkpoint_mismatch(exc: Exception) -> bool:
    """The engine's one user-facing error (a checkpoint of another model), imported only when one is raised."""
    from edit_core.checkpoint import CheckpointMismatch

    return isinstance(exc, CheckpointMismatch)


GRACE_S = 10.0
"""After a signal, tasks stop at their next progress tick; a run still alive this long after it is ended
hard (os._exit): every output is written atomically, so that is as safe as the SIGKILLs of the crash test."""
_told: list[bool] = []


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM / SIGINT: every task stops at its next progress tick (`common.cancel`) and the main thread
    unwinds like Ctrl-C (locks released, temp files removed); a watchdog ends the process GRACE_S later
    if it is still alive (a task in a long step without a tick). A second Ctrl-C ends it at once."""
    if cancel.requested() is not None and signum == signal.SIGINT:
        _hard_exit(signum)
    _stop_tasks(signum)
    raise KeyboardInterrupt


def _stop_tasks(signum: int) -> None:
    """Ask every task to stop (once), and arm the watchdog."""
    if cancel.requested() is not None:
        return
    cancel.request(signum)
    watchdog = threading.Timer(GRACE_S, _hard_exit, args=(signum,))
    watchdog.daemon = True
    watchdog.start()


def _bridge_prefect_sigterm() -> None:
    """While a flow runs, Prefect swaps our SIGTERM handler for its own, which raises TerminationSignal in
    the main thread only (the tasks' threads would run to the end) and re-sends the signal after its
    teardown. Wrap Prefect's handler so that SIGTERM reaches the tasks first (a no-op on a Prefect
    without that handler: the watchdog is then armed by the re-sent signal)."""
    from prefect.utilities import engine

    original = getattr(engine, "_prefect_sigterm_handler", None)
    if original is None or getattr(original, "oneedit_bridge", False):
        return

    def handler(signum: int, *args: object) -> None:
        _stop_tasks(signum)
        original(signum, *args)

    handler.oneedit_bridge = True  # type: ignore[attr-defined]
    engine._prefect_sigterm_handler = handler


def _hard_exit(signum: int) -> None:
    _interrupted()
    sys.stderr.flush()
    _stop_servers()
    os._exit(128 + (cancel.requested() or signum))


def _stop_servers() -> None:
    """Stop the temporary Prefect server this command started: it is stopped at exit (atexit), which
    os._exit skips, and a `kill -INT` reaches only this process, not the server's."""
    module = sys.modules.get("prefect.server.api.server")
    for server in list(getattr(getattr(module, "SubprocessASGIServer", None), "_instances", {}).values()):
        try:
            server.stop()
        except Exception:  # already gone: nothing to stop
            pass


def _interrupted() -> int:
    """One line (once), and exit code 128 + the signal (130 SIGINT, 143 SIGTERM)."""
    signum = cancel.requested() or signal.SIGINT
    if not _told:
        _told.append(True)
        console.print(f"error: interrupted by {signal.Signals(signum).name}; finished work is kept: run the same "
                      "command again to resume", markup=False, highlight=False, soft_wrap=True)
    return 128 + signum


def _first_line(message: str) -> str:
    return next((s.strip() for s in message.splitlines() if s.strip()), "failed")


def _fail(message: str, debug: bool = False, code: int = 2, prefix: str = "error: ") -> int:
    """Print one `error:` line on stderr (after the traceback with --debug); return the exit code."""
    if debug:
        traceback.print_exc()
    console.print(f"{prefix}{_first_line(message)}", markup=False, highlight=False, soft_wrap=True)
    return code


def _params(params: Path | None, sets: list[str] | None, device: str | None = None,
            strength: float | None = None, dask_address: str | None = None, dask_local: int | None = None) -> Params:
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
            p = _option(p, flag, value, [k.format(value) for k in keys])
    if device is not None:
        check_device(p.runtime.device)  # the params file's own device was checked by load_params
    return p


def _option(p: Params, flag: str, value: object, overrides: list[str]) -> Params:
    """`p` with one command-line option's overrides; its error says `flag value: why`."""
    from common.params import apply_overrides, validate

    try:
        return validate(apply_overrides(p.to_dict(), overrides), flag)
    except InputError as exc:
        shown = f"{value:g}" if isinstance(value, float) else value
        raise InputError(f"{flag} {shown}: {str(exc).split(': ', 2)[-1]}") from None


def _workspace_model(ws: Workspace, p: Params, sets: list[str] | None) -> Params:
    """Params for this workspace, checked before any work: model.resolution is the imported generator's
    unless the command line sets it (then it must match), and the catalog's as ingested
    (tasks.pretrained.check_catalog_fits)."""
    from tasks.pretrained import check_catalog_fits, imported_generator

    imported = imported_generator(ws)
    typed = any(s.strip().startswith("model.resolution=") for s in sets or [])
    if imported is not None and not typed and imported.get("resolution") not in (None, p.model.resolution):
        p = _option(p, "model.resolution", imported["resolution"], [f"model.resolution={imported['resolution']}"])
    check_catalog_fits(ws, p)
    return p


def _torch_threads(p: Params) -> None:
    """torch's intra-op threads (runtime.threads), set when a command starts its work (torch imported then)."""
    import torch

    torch.set_num_threads(p.runtime.threads)


def on_runner(flow: F, runtime: RuntimeParams) -> F:
    """The flow with the task runner params ask for (runtime.task_runner, runtime.workers); imported lazily."""
    from flows.runners import on_runner as with_runner

    return with_runner(flow, runtime)


@contextmanager
def _cluster(p: Params) -> Iterator[Params]:
    """The params to run with: a Dask LocalCluster is started for the whole command when they ask for one."""
    from flows.runners import shared_cluster

    with shared_cluster(p) as running:
        yield running


@contextmanager
def _running(ws: Workspace, p: Params) -> Iterator[None]:
    """Hold the workspace lock and show progress bars while a flow runs (Prefect's console quiet, torch's
    threads set)."""
    from common import progress
    from common.lock import workspace_lock

    _torch_threads(p)
    _bridge_prefect_sigterm()
    with workspace_lock(ws.root, wait=False), _quiet_prefect_console(), progress.live(console):
        yield


@contextmanager
def _quiet_prefect_console() -> Iterator[None]:
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


@app.command()
def ingest(
    src_dir: Annotated[Path, typer.Argument(help="Folder of photos (searched recursively).", show_default=False)],
    workspace: WorkspaceOpt,
    params: ParamsOpt = None,
    set_: SetOpt = None,
    device: DeviceOpt = None,
) -> None:
    """Decode every photo of SRC_DIR into model-resolution shards + a manifest."""
    p = _params(params, set_, device)
    if not src_dir.is_dir():
        raise InputError(f"source folder not found: {src_dir}")
    ws = Workspace.create(workspace)
    p = _workspace_model(ws, p, set_)
    from flows.train import ingest_flow
    from tasks.manifest import check_source

    check_source(ws, src_dir)

    with _running(ws, p), _cluster(p) as p:
        summary = on_runner(ingest_flow, p.runtime)(src_dir, ws.root, p)
    out.print(f"ingested {summary['accepted']} photos ({summary['duplicate']} duplicates, "
              f"{summary['rejected']} rejected) into {ws.ingest}", markup=False)
    _print_rejected(ws)


def _print_rejected(ws: Workspace, limit: int = 20) -> None:
    """The files ingest rejected, with their reasons (the first `limit`; all of them are in the manifest)."""
    from tasks.manifest import rejected_files

    rejected = rejected_files(ws)
    for path, reason in rejected[:limit]:
        out.print(f"  rejected {path}: {reason}", markup=False, highlight=False, soft_wrap=True)
    if rejected:
        more = f"{len(rejected) - limit} more; " if len(rejected) > limit else ""
        out.print(f"  ({more}every rejected file and its reason: status 'rejected' in {ws.manifest})", markup=False,
                  highlight=False, soft_wrap=True)


@app.command()
def train(workspace: WorkspaceOpt, params: ParamsOpt = None, set_: SetOpt = None, device: DeviceOpt = None,
          dask_address: DaskAddressOpt = None, dask_local: DaskLocalOpt = None,
          init: Annotated[str | None, typer.Option(
              "--init", help="Fine-tune this GAN checkpoint (e.g. WS/models/gan.pt after `oneedit "
                             "import-generator`, or the demo's data/pretrained/demo-gan.pt) on the catalog for "
                             "gan.steps steps, instead of training from scratch ('' = from scratch).")] = None) -> None:
    """Train the GAN on the ingested catalog (or fine-tune one: --init), then the encoder that inverts it."""
    p = _params(params, set_, device, dask_address=dask_address, dask_local=dask_local)
    ws = Workspace.open(workspace)
    ws.require(ws.manifest, hint="run `oneedit ingest SRC_DIR --workspace WS` first")
    p = _workspace_model(ws, p, set_)
    from tasks.pretrained import check_init

    start = check_init(Path(init), p, "--init") if init else None
    from flows.train import train_flow

    with _running(ws, p), _cluster(p) as p:
        trained = on_runner(train_flow, p.runtime)(ws.root, p, init=start)
    out.print(f"models in {ws.models}", markup=False)
    _print_quality(trained["quality"])


def _print_quality(quality: dict) -> None:
    """What the models reached (tasks.train.model_quality), and a warning when too weak to carry an edit."""
    out.print(f"the models reconstruct the catalog to {quality['reconstruction_error']:.4f} (pixel MSE; "
              f"{quality['unexplained']:.0%} of its photos' variance unexplained); samples: {quality['samples']}",
              markup=False, highlight=False, soft_wrap=True)
    if quality["weak"]:
        console.print(f"warning: the generator renders this catalog poorly ({quality['unexplained']:.0%} of the photos' "
                      "variance unexplained): edits will not look like the example; train longer (gan.steps, "
                      "encoder.steps) or start from a pretrained generator (--init)", markup=False, highlight=False,
                      soft_wrap=True)


@app.command()
def project(workspace: WorkspaceOpt, params: ParamsOpt = None, set_: SetOpt = None, device: DeviceOpt = None,
            dask_address: DaskAddressOpt = None, dask_local: DaskLocalOpt = None) -> None:
    """Project every photo into latent space (encoder init + optimization), shard by shard."""
    p = _params(params, set_, device, dask_address=dask_address, dask_local=dask_local)
    ws = Workspace.open(workspace)
    ws.require(ws.manifest, hint="run `oneedit ingest SRC_DIR --workspace WS` first")
    ws.require(ws.gan, ws.encoder, hint="run `oneedit train --workspace WS` first")
    p = _workspace_model(ws, p, set_)
    from flows.project import project_flow
    from tasks.train import check_encoder, check_models

    check_models(ws, p)
    check_encoder(ws)

    with _running(ws, p), _cluster(p) as p:
        summary = on_runner(project_flow, p.runtime)(ws.root, p)
    out.print(f"projected {summary['images']} photos into {ws.latents} "
              f"({summary['skipped']} of {summary['shards']} shards already done)", markup=False)


def _example_form(after: Path | None, constraints: Path | None, offset: Path | None) -> dict[str, str]:
    """Exactly one example form: before/after pair, brush constraints or latent offset."""
    given = {k: v for k, v in (("after", after), ("constraints", constraints), ("offset", offset)) if v is not None}
    if len(given) != 1:
        raise InputError("give exactly one of --after EDITED_IMAGE, --constraints FILE or --offset FILE.npy")
    (kind, path), = given.items()
    if not path.is_file():
        raise InputError(f"--{kind}: file not found: {path}")
    return {"kind": {"after": "pair", "constraints": "brush", "offset": "offset"}[kind], "path": str(path.resolve())}


ExampleOpt = Annotated[str, typer.Option("--example", "-e", help="Catalog photo id or file name, or a path to a photo.",
                                         show_default=False)]
AfterOpt = Annotated[Path | None, typer.Option("--after", help="The example photo after your edit (pair form).")]
ConstraintsOpt = Annotated[
    Path | None, typer.Option("--constraints", help="Brush edit: JSON with colour/sketch strokes + mask PNGs.")
]
OffsetOpt = Annotated[Path | None, typer.Option("--offset", help="Latent offset Δw as a .npy file.")]
ReplaceOpt = Annotated[bool, typer.Option("--replace", help="Replace an existing edit of this name made from "
                                                               "another example edit (its results are dropped).")]
TruthOpt = Annotated[Path | None, typer.Option("--truth", hidden=True,
                                               help="Demo: JSON {attribute, value} of the example's ground truth.")]


def _direction(workspace: Path, name: str, example: str, after: Path | None, constraints: Path | None,
               offset: Path | None, truth: Path | None, p: Params, replace: bool,
               sets: list[str] | None) -> tuple[Workspace, dict, Params]:
    """Shared checks of `edit` and `direction`; returns the opened workspace, the example's form and the
    params for this workspace (`_workspace_model`)."""
    form: dict = _example_form(after, constraints, offset)
    if truth is not None:
        form["truth"] = _read_truth(truth)
    ws = Workspace.open(workspace)
    ws.edit(name)
    ws.require(ws.manifest, hint="run `oneedit ingest SRC_DIR --workspace WS` first")
    from tasks.manifest import catalog_id

    form["example"] = example if Path(example).is_file() else catalog_id(ws, example) or example
    ws.require(ws.gan, ws.encoder, hint="run `oneedit train --workspace WS` first")
    ws.require(ws.latents, hint="run `oneedit project --workspace WS` first")
    from tasks.direction import check_direction_layers, check_edit_name
    from tasks.example import check_example_form
    from tasks.latents import check_latents
    from tasks.train import check_encoder, check_models

    p = _workspace_model(ws, p, sets)
    check_models(ws, p)
    check_encoder(ws)
    check_latents(ws)
    check_direction_layers(ws, p)
    check_example_form(ws, form)
    check_edit_name(ws, name, form, p, replace)
    return ws, form, p


def _read_truth(path: Path) -> dict:
    """The demo example's ground truth: {"attribute": name, "value": number}."""
    try:
        truth = json.loads(path.read_text(encoding="utf-8"))
        return {**truth, "attribute": str(truth["attribute"]), "value": float(truth["value"])}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"--truth {path}: expected JSON with attribute and value ({exc})") from None


@app.command()
def edit(
    workspace: WorkspaceOpt,
    name: NameOpt,
    example: ExampleOpt,
    after: AfterOpt = None,
    constraints: ConstraintsOpt = None,
    offset: OffsetOpt = None,
    truth: TruthOpt = None,
    strength: StrengthOpt = None,
    preview: Annotated[int | None, typer.Option(
        "--preview", min=1, max=200, help="Edit only N photos spread over α, into WS/edits/NAME/preview/ "
                                          "(the catalog's results are left as they are).")] = None,
    only: Annotated[str | None, typer.Option(
        "--only", help="Edit only these photos, as --preview does: ids or file names, comma-separated, or "
                       "@FILE with one per line; rejected / short: re-run those photos of the applied edit "
                       "into its results.")] = None,
    replace: ReplaceOpt = False,
    params: ParamsOpt = None,
    set_: SetOpt = None,
    device: DeviceOpt = None,
    dask_address: DaskAddressOpt = None,
    dask_local: DaskLocalOpt = None,
) -> None:
    """Edit one example; the same edit, at the same final state, lands on every photo."""
    if preview is not None and only is not None:
        raise InputError("give --preview N or --only IDS, not both")
    p = _params(params, set_, device, strength, dask_address, dask_local)
    ws, form, p = _direction(workspace, name, example, after, constraints, offset, truth, p, replace, set_)
    if only in SUBSETS:  # the applied edit's rejected / short photos again, into its results
        from tasks.direction import is_current

        if not (is_current(ws, name, form, p) and ws.edit(name).results.exists()):
            raise InputError(f"--only {only}: edit {name!r} must be applied with this example, input and params "
                             f"first (then re-run its {only} photos)")
        _rerun(ws, name, only, p)
        return
    if preview is not None or only is not None:
        from tasks.manifest import select_photos

        _preview(ws, name, form, p, preview if only is None else select_photos(ws, only))
        return
    from flows.edit import edit_flow
    from tasks.manifest import require_source

    require_source(ws)
    with _running(ws, p), _cluster(p) as p:
        summary = on_runner(edit_flow, p.runtime)(ws.root, name, form, p)
    _print_edit(ws, name, summary)


def _preview(ws: Workspace, name: str, form: dict, p: Params, sample: int | list[str]) -> None:
    """`edit --preview K` / `--only IDS`: the edit on K (or these) photos only, printed and written to
    WS/edits/NAME/preview/."""
    from common import progress
    from tasks.preview import write_preview

    k = sample if isinstance(sample, int) else len(sample)
    with _running(ws, p), progress.track(f"preview {name!r} on {k} photos", total=None) as bar:
        summary = write_preview(ws, name, form, p, sample, on_phase=lambda what, done, of: bar.update(
            done, total=of, description=f"preview {name!r}: {what}"))
    folder = ws.edit(name).root / "preview"
    counts = ", ".join(f"{v} {k}" for k, v in summary["status"].items())
    out.print(f"preview of {name!r} at strength {summary['strength']:g}: of {summary['photos']} photos, applying "
              f"it would leave {counts}; sample in {folder}", markup=False, soft_wrap=True)
    for row in summary["sample"]:
        shown = f"{row['after']}" if "after" in row else "not edited"
        why = f" ({row['reason']})" if row["reason"] else ""
        out.print(f"  {row['file']}: alpha {row['alpha']:.4f} {row['status']}{why} -> {shown}", markup=False,
                  highlight=False, soft_wrap=True)
    if not summary["would_edit"]:
        console.print(f"warning: applying this edit would edit no photo: {summary['common_reason']}", markup=False,
                      highlight=False, soft_wrap=True)


def _stale(stale: list[str]) -> str:
    return "stale: " + "; ".join(stale) if stale else "up to date"


def _print_edits(ws: Workspace, edits: list[dict], indent: str = "") -> None:
    """One line per saved edit (`list`, `status`): kind, strength, state, counts, what is stale."""
    if not edits:
        out.print(f"{indent}no edits in {ws.root} yet: `oneedit edit` or `oneedit studio` makes one", markup=False)
    for e in edits:
        strength = f"{e['strength']:.3g}" if e["strength"] is not None else "-"
        counts = ", ".join(f"{v} {k}" for k, v in sorted(e["counts"].items())) or "no results"
        kept = f"  {e['versions']} earlier version(s)" if e.get("versions") else ""
        out.print(f"{indent}{e['name']:<24} {e['kind']:<6} strength {strength:<6} {e['state']:<8} ({counts})  "
                  f"{_stale(e['stale'])}{kept}", markup=False, highlight=False, soft_wrap=True)


@app.command("list")
def list_(workspace: WorkspaceOpt) -> None:
    """The saved edits: kind, strength, state (fitted / partial / applied / reported), counts, what is stale."""
    ws = Workspace.open(workspace)
    from tasks.edits import list_edits
    from tasks.versions import deleted_edits

    _print_edits(ws, list_edits(ws))
    for name, kept in deleted_edits(ws).items():
        out.print(f"{name:<24} deleted; {kept} version(s) kept (`oneedit versions {name}`, `oneedit restore`)",
                  markup=False, highlight=False)


@app.command()
def status(workspace: WorkspaceOpt, params: ParamsOpt = None, set_: SetOpt = None) -> None:
    """What the workspace holds and what is stale: models, projection, every saved edit."""
    p = _params(params, set_)
    ws = Workspace.open(workspace)
    from tasks.edits import workspace_status

    st = workspace_status(ws, p)
    out.print(f"workspace {ws.root}", markup=False)
    out.print("models:", markup=False)
    for m in st["models"]:
        if not m["present"]:
            out.print(f"  {m['name']:<8} none  {_stale(m['stale'])}", markup=False, highlight=False, soft_wrap=True)
            continue
        made = (f"{m['steps']} steps" if m["steps"] is not None else "steps unknown") + (
            "  imported" if m["imported"] is not None else "")
        key = f"fingerprint {m['fingerprint'][:12]}" if m["fingerprint"] else "no fingerprint"
        out.print(f"  {m['name']:<8} {made}  {key}  {_stale(m['stale'])}", markup=False, highlight=False,
                  soft_wrap=True)
    pr = st["projection"]
    out.print(f"projection: {pr['projected']} of {pr['ingested']} ingested photos projected ({pr['shards']} shards)  "
              f"{_stale(pr['stale'])}", markup=False, highlight=False, soft_wrap=True)
    out.print("edits:", markup=False)
    _print_edits(ws, st["edits"], indent="  ")


@app.command()
def direction(
    workspace: WorkspaceOpt,
    name: NameOpt,
    example: ExampleOpt,
    after: AfterOpt = None,
    constraints: ConstraintsOpt = None,
    offset: OffsetOpt = None,
    truth: TruthOpt = None,
    replace: ReplaceOpt = False,
    params: ParamsOpt = None,
    set_: SetOpt = None,
    device: DeviceOpt = None,
    dask_address: DaskAddressOpt = None,
    dask_local: DaskLocalOpt = None,
) -> None:
    """Only the first half of `edit`: the example edit and its direction Δ* (then `rescale` applies it)."""
    p = _params(params, set_, device, dask_address=dask_address, dask_local=dask_local)
    ws, form, p = _direction(workspace, name, example, after, constraints, offset, truth, p, replace, set_)
    from flows.edit import direction_flow

    with _running(ws, p), _cluster(p) as p:
        fitted = on_runner(direction_flow, p.runtime)(ws.root, name, form, p)
    out.print(f"direction in {ws.edit(name).direction}", markup=False)
    if (fitted.get("capture") or {}).get("weak"):
        capture = fitted["capture"]["direction"]
        share = f"only {capture:.0%}" if capture > 0 else "not at all (capture ≤ 0)"  # never a negative share
        console.print(f"warning: the example's own edit is {share} reproduced by the generator: the photos reach "
                      "the example's state only as far as G renders it", markup=False, highlight=False)


RerunOpt = Annotated[str | None, typer.Option(
    "--only", help="Re-run only these photos into the applied edit's results, the others kept: rejected (in "
                   "`oneedit review`), short (short of the final state) or ids / file names, comma-separated, "
                   "or @FILE.")]


@app.command()
def rescale(
    workspace: WorkspaceOpt,
    name: NameOpt,
    strength: StrengthOpt = None,
    only: RerunOpt = None,
    params: ParamsOpt = None,
    set_: SetOpt = None,
    device: DeviceOpt = None,
    dask_address: DaskAddressOpt = None,
    dask_local: DaskLocalOpt = None,
) -> None:
    """Apply an edit at a new strength: every α recomputed from the stored latents, every photo re-rendered
    (or, with --only, only the rejected / short / given photos)."""
    p = _params(params, set_, device, strength, dask_address, dask_local)
    ws = Workspace.open(workspace)
    edit_paths = ws.edit(name)  # the name checked first
    ws.require(ws.manifest, hint="run `oneedit ingest SRC_DIR --workspace WS` first")
    ws.require(edit_paths.direction, hint=f"run `oneedit edit --workspace WS --name {name} ...` first")
    p = _workspace_model(ws, p, set_)
    from tasks.latents import check_latents
    from tasks.manifest import require_source
    from tasks.train import check_models

    check_models(ws, p)
    check_latents(ws)
    require_source(ws)
    if only is not None:
        _rerun(ws, name, only, p)
        return
    from flows.rescale import rescale_flow

    with _running(ws, p), _cluster(p) as p:
        summary = on_runner(rescale_flow, p.runtime)(ws.root, name, p)
    _print_edit(ws, name, summary)


def _rerun(ws: Workspace, name: str, only: str, p: Params) -> None:
    """`rescale|edit --only rejected|short|IDS` on an applied edit: those photos re-run into its results."""
    from flows.rerun import rerun_flow
    from tasks.rerun import select_rerun

    ids = select_rerun(ws, name, only)
    with _running(ws, p), _cluster(p) as p:
        summary = on_runner(rerun_flow, p.runtime)(ws.root, name, ids, p)
    counts = ", ".join(f"{v} {k}" for k, v in summary["rerun"].items())
    out.print(f"re-ran {summary['photos']} photo(s) of {name!r} at strength {p.edit.strength:g}: {counts}; the "
              "others kept (their final state is measured again by a full `oneedit rescale`)", markup=False,
              soft_wrap=True)
    _print_edit(ws, name, {"final_state": {"landed": None, "warnings": []}})


@app.command()
def report(workspace: WorkspaceOpt, name: NameOpt, params: ParamsOpt = None, set_: SetOpt = None) -> None:
    """Write the static HTML report of an edit: before/after grid, α histogram, final state, metrics."""
    p = _params(params, set_)
    ws = Workspace.open(workspace)
    edit_paths = ws.edit(name)  # the name checked first
    ws.require(ws.manifest, hint="run `oneedit ingest SRC_DIR --workspace WS` first")
    ws.require(edit_paths.results, hint=f"run `oneedit edit --workspace WS --name {name} ...` first")
    from flows.report import report_flow
    from tasks.edits import edit_state
    from tasks.manifest import require_source

    if edit_state(edit_paths) == "partial":  # its images and results would be of two runs
        raise InputError(f"edit {name!r}: its last run stopped midway: run `oneedit rescale --workspace WS --name "
                         f"{name}` to finish it, then `oneedit report`")
    require_source(ws)

    with _running(ws, p), _cluster(p) as p:
        index = on_runner(report_flow, p.runtime)(ws.root, name, p)
    out.print(f"report: {index}", markup=False)


@app.command()
def export(
    name: Annotated[str, typer.Argument(help="The edit to export (WS/edits/NAME).", show_default=False)],
    workspace: WorkspaceOpt,
    to: Annotated[Path, typer.Option("--to", help="Folder to write: the originals' tree, mirrored.",
                                     show_default=False)],
    format_: Annotated[str, typer.Option("--format", help="same (each photo in its original's format) | jpeg | "
                                                          "png | webp | tiff")] = "same",
    only: Annotated[str, typer.Option("--only", help="edited (every photo with an edited image) | landed (those "
                                                     "that reached the example's final state) | accepted (in "
                                                     "`oneedit review`)")] = "edited",
    params: ParamsOpt = None,
    set_: SetOpt = None,
) -> None:
    """Write an edit's photos as a catalog takes them: the originals' names, folders, formats and metadata."""
    p = _params(params, set_)
    ws = Workspace.open(workspace)
    ws.edit(name)
    from common import progress
    from common.lock import workspace_lock
    from tasks.export import ExportOptions, check_destination, export_edit, plan_export
    from tasks.manifest import require_source

    require_source(ws)
    check_destination(ws, to)
    options = ExportOptions(format_, p.export.jpeg_quality, p.export.webp_quality)
    plan_export(ws, name, only, format_)  # every choice checked before anything is written
    with workspace_lock(ws.root, wait=False), progress.live(console), \
            progress.track(f"export {name!r}", total=None) as bar:
        summary = export_edit(ws, name, to, only, options, p.runtime.threads,
                              on_progress=lambda done, of: bar.update(done, total=of))
    out.print(f"exported {summary['exported']} photos of {name!r} to {summary['dest']} ({summary['unchanged']} "
              f"already there, {summary['removed']} no longer selected removed, {len(summary['skipped'])} skipped)",
              markup=False, highlight=False, soft_wrap=True)
    for path, reason in summary["skipped"][:20]:
        out.print(f"  skipped {path}: {reason}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def review(
    name: Annotated[str, typer.Argument(help="The edit to review (WS/edits/NAME).", show_default=False)],
    workspace: WorkspaceOpt,
    accept: Annotated[str | None, typer.Option("--accept", help="Accept these photos: ids or file names, "
                                                                "comma-separated, or @FILE with one per line.")] = None,
    reject: Annotated[str | None, typer.Option("--reject", help="Reject these photos (same forms).")] = None,
    clear: Annotated[str | None, typer.Option("--clear", help="Forget the decisions on these photos.")] = None,
) -> None:
    """Accept or reject an edit's photos, one by one or in bulk (`export --only accepted`, `rescale --only
    rejected` read the decisions); without options, the counts so far."""
    ws = Workspace.open(workspace)
    ws.edit(name)
    from common.lock import workspace_lock
    from tasks.manifest import select_photos
    from tasks.review import set_decisions, summary

    given = {"accepted": ("--accept", accept), "rejected": ("--reject", reject), None: ("--clear", clear)}
    changes: dict[str, str | None] = {}
    for decision, (option, value) in given.items():
        for i in select_photos(ws, value, option) if value is not None else []:
            if i in changes:
                raise InputError(f"{option}: photo {i} is also given to another of --accept / --reject / --clear")
            changes[i] = decision
    with workspace_lock(ws.root, wait=False):
        if changes:
            set_decisions(ws, name, changes)
        counts = summary(ws, name)
    out.print(f"edit {name!r}: {counts['accepted']} accepted, {counts['rejected']} rejected, "
              f"{counts['unreviewed']} not reviewed yet", markup=False)


EditArg = Annotated[str, typer.Argument(help="The edit (WS/edits/NAME).", show_default=False)]


@app.command()
def versions(
    name: EditArg,
    workspace: WorkspaceOpt,
    diff: Annotated[tuple[str, str] | None, typer.Option("--diff", help="Compare the settings of two versions "
                                                                       "(numbers, or current).")] = None,
) -> None:
    """An edit's kept versions (every replace, re-apply at another strength or re-run keeps the one before)."""
    ws = Workspace.open(workspace)
    from tasks.versions import diff_versions, list_versions

    if diff is not None:
        changed = diff_versions(ws, name, *diff)
        for key, a, b in changed:
            out.print(f"{key}: {a!r} -> {b!r}", markup=False, highlight=False, soft_wrap=True)
        if not changed:
            out.print(f"versions {diff[0]} and {diff[1]} of {name!r} have the same settings", markup=False)
        return
    for v in list_versions(ws, name):
        strength = f"{v['strength']:.3g}" if v["strength"] is not None else "-"
        counts = ", ".join(f"{n} {k}" for k, n in sorted(v["counts"].items())) or "not applied"
        kept = f"  kept {v['saved_utc']}: {v['reason']}" if v["reason"] else ""
        out.print(f"{v['version']!s:>7}  {v['kind']:<6} example {v['example']}  strength {strength}  ({counts})"
                  f"{kept}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def restore(
    name: EditArg,
    version: Annotated[int, typer.Argument(help="The version to bring back (`oneedit versions NAME`).",
                                           show_default=False)],
    workspace: WorkspaceOpt,
) -> None:
    """Make a kept version the edit again (the current edit is kept as a version first: undoable)."""
    ws = Workspace.open(workspace)
    from common.lock import workspace_lock
    from tasks.versions import restore_version

    with workspace_lock(ws.root, wait=False):
        kept = restore_version(ws, name, version)
    before = f"; the edit it replaced is version {kept}" if kept is not None else ""
    out.print(f"edit {name!r} is version {version} again{before}", markup=False)


@app.command()
def delete(
    name: EditArg,
    workspace: WorkspaceOpt,
    version: Annotated[int | None, typer.Option("--version", help="Delete this kept version for good instead.")]
    = None,
) -> None:
    """Delete an edit (kept as a version: `oneedit restore` brings it back), or one kept version for good."""
    ws = Workspace.open(workspace)
    from common.lock import workspace_lock
    from tasks.versions import delete_edit

    with workspace_lock(ws.root, wait=False):
        kept = delete_edit(ws, name, version)
    out.print(f"version {version} of {name!r} deleted" if version is not None else
              f"edit {name!r} deleted (kept as version {kept}: `oneedit restore {name} {kept}` brings it back)",
              markup=False)


@app.command()
def studio(
    workspace: WorkspaceOpt,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to serve on.")] = 8765,
    host: Annotated[str, typer.Option("--host", help="Address to bind (default: this machine only; any other "
                                                     "address needs --token).")] = "127.0.0.1",
    token: Annotated[str | None, typer.Option(
        "--token", help="The secret the page must present (at least 16 characters); required with a --host "
                        "beyond this machine. Default: a random one, inside the page.")] = None,
    params: ParamsOpt = None,
    set_: SetOpt = None,
    device: DeviceOpt = None,
) -> None:
    """Serve OneEdit Studio: pick the example, make the edit in the browser, preview it, apply it."""
    sets = [*(set_ or []), *([f"runtime.device={device}"] if device is not None else [])]
    p = _params(params, sets)
    Workspace.open(workspace)
    _torch_threads(p)
    from oneedit.studio import MIN_TOKEN, is_loopback, serve

    if token is not None and len(token) < MIN_TOKEN:
        raise InputError(f"--token: at least {MIN_TOKEN} characters (e.g. `python -c 'import secrets; "
                         "print(secrets.token_urlsafe())'`)")
    shown = f"[{host}]" if ":" in host else host
    if not is_loopback(host):
        if token is None:
            raise InputError(f"--host {host} serves the studio beyond this machine: pass --token SECRET too "
                             "(whoever has it can read every photo and change the workspace)")
        console.print(f"WARNING: OneEdit Studio is reachable beyond this machine ({host}:{port}). Anyone who can "
                      "reach it and has the token can read every photo of the catalog and change the workspace; "
                      f"the traffic is not encrypted. It answers only as http://{shown}:{port}/ and through loopback "
                      "names.", markup=False, highlight=False, soft_wrap=True)
    fragment = f"#token={token}" if token is not None else ""
    out.print(f"OneEdit Studio: http://{shown}:{port}/{fragment}  (Ctrl-C to stop)", markup=False)
    serve(workspace, params, sets, host, port, token)


@app.command("demo-pretrain")
def demo_pretrain(
    out_file: Annotated[Path, typer.Argument(help="The checkpoint to write (the demo reads demo.init).")],
    workspace: Annotated[Path, typer.Option("--workspace", "-w", help="Scratch workspace (resumable).")] = Path(
        "data/pretrain"),
    params: ParamsOpt = None,
    set_: SetOpt = None,
    device: DeviceOpt = None,
) -> None:
    """Make the demo's starting generator: a GAN trained on a larger catalog of the same renders (demo.pretrain)."""
    p = _params(params, set_, device)
    ws = Workspace.create(workspace)
    from flows.demo import pretrain_flow

    with _running(ws, p):
        done = on_runner(pretrain_flow, p.runtime)(out_file, ws.root, p)
    out.print(f"{done['path']}: GAN at step {done['step']}, {done['bytes'] / 2**20:.1f} MiB (float16)", markup=False)


@app.command("demo-catalog")
def demo_catalog(
    out_dir: Annotated[Path, typer.Argument(help="Where to write photos/, attributes.parquet, example/.")],
    params: ParamsOpt = None,
    set_: SetOpt = None,
) -> None:
    """Render the demo catalog (ground-truth attributes) and its example before/after pair."""
    p = _params(params, set_)
    from common import progress
    from flows.demo import catalog_flow
    from tasks.catalog import check_catalog_folder

    check_catalog_folder(out_dir)

    _torch_threads(p)
    with progress.live(console):
        pair = on_runner(catalog_flow, p.runtime)(out_dir, p)
    out.print(f"catalog in {out_dir}; example pair {pair['before']} -> {pair['after']}", markup=False)


@app.command()
def demo(
    workspace: Annotated[Path, typer.Option("--workspace", "-w", help="Workspace directory.")] = Path("workspace"),
    params: ParamsOpt = None,
    set_: SetOpt = None,
    device: DeviceOpt = None,
    dask_address: DaskAddressOpt = None,
    dask_local: DaskLocalOpt = None,
) -> None:
    """The whole pipeline on a generated catalog: catalog, ingest, train, project, edit, report."""
    p = _params(params, set_, device, dask_address=dask_address, dask_local=dask_local)
    from tasks.demo import check_demo_workspace
    from tasks.pretrained import check_init

    check_demo_workspace(workspace)
    if p.demo.init:
        check_init(Path(p.demo.init), p, "demo.init")
    ws = Workspace.create(workspace)
    from flows.demo import DEMO_EDIT, demo_flow

    with _running(ws, p), _cluster(p) as p:
        summary = on_runner(demo_flow, p.runtime)(ws.root, p)
    for stage, t in summary["timings"].items():
        out.print(f"  {stage:<10} {t['wall']:7.1f} s  (cpu {t['cpu']:7.1f} s)", markup=False)
    _print_edit(ws, DEMO_EDIT, summary["edit"])
    total = sum(t["wall"] for t in summary["timings"].values())
    out.print(f"demo done in {total:.0f} s; report: {summary['report']}", markup=False)


SourceArg = Annotated[Path, typer.Argument(
    help="The catalog's own photo folder (as first ingested, or where it moved), with the new photos added to it; "
         "a folder of only the new photos is refused.", show_default=False)]
CronOpt = Annotated[str | None, typer.Option("--cron", help="Serve a deployment on this schedule instead of running "
                                                         "once (needs PREFECT_API_URL), e.g. '0 3 * * 0'.")]


def _check_schedule(cron: str, src_dir: Path) -> None:
    """Before serving: a valid cron line, a source folder and a Prefect server to register with."""
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.settings import PREFECT_API_URL
    from pydantic import ValidationError

    try:
        CronSchedule(cron=cron)
    except ValidationError:
        raise InputError(f"--cron {cron!r}: not a cron schedule (minute hour day month weekday, e.g. '0 3 * * 0')") from None
    if not src_dir.is_dir():
        raise InputError(f"source folder not found: {src_dir}")
    if not PREFECT_API_URL.value():
        raise InputError("--cron needs a Prefect server: run `prefect server start` and set PREFECT_API_URL")


@app.command()
def update(
    src_dir: SourceArg,
    workspace: WorkspaceOpt,
    params: ParamsOpt = None,
    cron: CronOpt = None,
    set_: SetOpt = None,
    device: DeviceOpt = None,
    dask_address: DaskAddressOpt = None,
    dask_local: DaskLocalOpt = None,
) -> None:
    """Photos added to SRC_DIR since the last run: ingest, project and apply every saved edit to them alone."""
    p = _params(params, set_, device, dask_address=dask_address, dask_local=dask_local)
    ws = Workspace.open(workspace)
    ws.require(ws.gan, ws.encoder, hint="run `oneedit train --workspace WS` first")
    from flows.retrain import serve_update, update_flow
    from tasks.manifest import check_source

    check_source(ws, src_dir)

    if cron is not None:
        _check_schedule(cron, src_dir)
        serve_update(ws.root, src_dir, p, cron=cron)
        return
    with _running(ws, p), _cluster(p) as p:
        summary = on_runner(update_flow, p.runtime)(ws.root, src_dir, p)
    done = summary["project"]["shards"] - summary["project"]["skipped"]
    out.print(f"{summary['ingest']['new']} new photos; {done} shards projected; edits re-applied: "
              f"{', '.join(summary['edits']) or 'none'}{_skipped(summary)}", markup=False)


@app.command()
def retrain(
    src_dir: SourceArg,
    workspace: WorkspaceOpt,
    mode: Annotated[str, typer.Option("--mode", help="finetune (resume, --steps more) | retrain (from scratch)")] = (
        "finetune"),
    steps: Annotated[int, typer.Option("--steps", min=1, help="Fine-tuning steps for G/D and for E.")] = 200,
    dvc: Annotated[bool, typer.Option("--dvc/--no-dvc", help="Commit the outputs with DVC afterwards.")] = False,
    cron: CronOpt = None,
    params: ParamsOpt = None,
    set_: SetOpt = None,
    device: DeviceOpt = None,
    dask_address: DaskAddressOpt = None,
    dask_local: DaskLocalOpt = None,
) -> None:
    """New photos -> fine-tune or retrain G and E -> re-project -> re-fit and re-apply every saved edit."""
    if mode not in ("finetune", "retrain"):
        raise InputError(f"--mode must be finetune or retrain, got {mode!r}")
    p = _params(params, set_, device, dask_address=dask_address, dask_local=dask_local)
    ws = Workspace.open(workspace)
    ws.require(ws.gan, ws.encoder, hint="run `oneedit train --workspace WS` first")
    from flows.retrain import retrain_flow, serve_retraining
    from tasks.manifest import check_source

    check_source(ws, src_dir)

    if cron is not None:
        _check_schedule(cron, src_dir)
        serve_retraining(ws.root, src_dir, p, cron=cron, mode=mode, steps=steps, dvc=dvc)
        return
    with _running(ws, p), _cluster(p) as p:
        summary = on_runner(retrain_flow, p.runtime)(ws.root, src_dir, p, mode=mode, steps=steps, dvc=dvc)
    out.print(f"{summary['ingest']['new']} new photos; models {mode}d; edits re-fitted: "
              f"{', '.join(summary['edits']) or 'none'}{_skipped(summary)}; {summary['dvc']}", markup=False)


SUBSETS = ("rejected", "short")  # --only words for the photos of an applied edit (tasks.rerun.SUBSETS)
NOTES_SHOWN = 10  # photos listed per status at the end of a run (all of them are in results.parquet)


def _print_edit(ws: Workspace, name: str, summary: dict) -> None:
    """The end of a run: edited / skipped / flagged counts, each photo that was not plainly edited with its
    reason (the first NOTES_SHOWN per status), the verdict. An edit that edited no photo is a failure: one
    `error:` line with the commonest reason, exit 1 (the results stay, for the report)."""
    from tasks.review import outcome

    made = outcome(ws, name)
    counts = made["status"]
    if made["photos"] and not made["edited"]:
        shown = ", ".join(f"{v} {k}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
        raise OneEditError(f"edit {name!r} edited no photo ({shown}); the commonest reason: "
                           f"{made['common_reason'] or 'none recorded'} (every photo's reason: {ws.edit(name).results})")
    others = "".join(f", {counts[s]} {s}" for s in ("clamped", "rejected") if counts.get(s))
    out.print(f"edit {name!r}: {counts.get('edited', 0)} edited, {counts.get('skipped', 0)} skipped, "
              f"{counts.get('flagged', 0)} flagged{others}; results in {ws.edit(name).results}", markup=False)
    for status in ("flagged", "clamped", "skipped", "rejected"):
        notes = [(f, r) for f, s, r in made["notes"] if s == status]
        for path, reason in notes[:NOTES_SHOWN]:
            out.print(f"  {status} {path}: {reason}", markup=False, highlight=False, soft_wrap=True)
        if len(notes) > NOTES_SHOWN:
            out.print(f"  ({len(notes) - NOTES_SHOWN} more {status}: status {status!r} in results.parquet)",
                      markup=False, highlight=False)
    verdict = summary["final_state"]
    if verdict["landed"] is not None:
        word = "landed" if verdict["landed"] else "did NOT land"
        out.print(f"final state: the edit {word} (the outputs are {verdict['final_state_ratio']:.2f}x as far from the "
                  f"example's final state as the originals, {verdict['reading']}; {verdict['n_landed']} of "
                  f"{verdict['final_state_photos']} photos landed, {verdict['n_short']} short)", markup=False)
    for warning in verdict["warnings"]:
        console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)  # one line each


@app.command("import-generator")
def import_generator(
    file: Annotated[Path, typer.Argument(help="NVlabs stylegan2-ada-pytorch .pkl or rosinality .pt checkpoint.",
                                         show_default=False)],
    workspace: WorkspaceOpt,
    precision: Annotated[str, typer.Option(help="as-file (float16 blocks as the file records: upstream's exact "
                                                "outputs) | float32 (faster on CPU)")] = "as-file",
    replace: Annotated[bool, typer.Option("--replace", help="Replace the workspace's generator.")] = False,
) -> None:
    """Use a pretrained StyleGAN2 as the workspace's generator (nothing in the file is executed)."""
    if precision not in ("as-file", "float32"):
        raise InputError(f"--precision must be as-file or float32, got {precision!r}")
    if file.exists() and not file.is_file():  # a FIFO or a device would block or never end
        raise InputError(f"generator file {file}: not a regular file")
    if not file.is_file():
        raise InputError(f"generator file not found: {file}")
    ws = Workspace.create(workspace)
    from common.lock import workspace_lock
    from tasks.pretrained import import_generator as run_import

    with workspace_lock(ws.root, wait=False):
        summary = run_import(file, ws, precision, replace)
    out.print(f"imported {summary['line']} into {ws.gan}", markup=False)
    out.print(f"ingest the catalog at its resolution: --set model.resolution={summary['resolution']}", markup=False)


def _skipped(summary: dict) -> str:
    """The saved edits a flow left alone, each with its reason."""
    return "".join(f"; skipped {name}: {reason}" for name, reason in summary.get("skipped", {}).items())
