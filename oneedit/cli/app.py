"""The Typer app and how a command line runs: global options, logging, and one exit code per outcome.

- what the user passed is unusable (InputError, usage errors): `error: ...`, exit 2;
- the run could not finish (a write error, a corrupt workspace file, ...): `error: ...`, exit 1;
- a bug: `internal error: ... (run with --debug for the traceback)`, exit 1;
- SIGINT / SIGTERM: exit 130 / 143 (oneedit.cli.signals).
"""

from __future__ import annotations

import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from typer._click.exceptions import NoArgsIsHelpError

from common import cancel
from common.errors import InputError, OneEditError, first_line, os_error_line
from oneedit.bench import bench_app
from oneedit.cli import runtime  # noqa: F401  (Prefect's environment, set before any command imports prefect)
from oneedit.cli.printing import console, out
from oneedit.cli.signals import interrupted, reset, terminate

LOGGERS = ("oneedit", "flows", "tasks", "common", "edit_core")  # OneEdit's own loggers (modules' __name__)
LEVELS = ("debug", "info", "warning", "error")


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


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        out.print(f"oneedit {version('oneedit')}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Edit one photo; the same edit lands, at the same final state, on every photo of a catalog."""


def global_options(args: list[str]) -> tuple[list[str], dict[str, str]]:
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
def logging_to(options: dict[str, str]) -> Iterator[None]:
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
    reset()
    main_thread = threading.current_thread() is threading.main_thread()
    handlers = {s: signal.signal(s, terminate) for s in (signal.SIGTERM, signal.SIGINT)} if main_thread else {}
    try:
        args, options = global_options(args)
        with logging_to(options):
            command.main(args=args, prog_name="oneedit", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        return interrupted()
    except NoArgsIsHelpError as exc:
        exc.show()
        return 2
    except typer.TyperException as exc:
        return fail(exc.format_message(), debug)
    except InputError as exc:
        return fail(str(exc), debug)
    except OneEditError as exc:
        return fail(str(exc), debug, code=1)
    except OSError as exc:
        return fail(os_error_line(exc), debug, code=1)
    except Exception as exc:
        if cancel.requested() is not None:  # what a task raised while it was being stopped
            return interrupted()
        if _is_checkpoint_mismatch(exc):
            return fail(f"{exc}; run `oneedit train` again", debug, code=1)
        return fail(f"internal error: {type(exc).__name__}: {first_line(exc, 'failed')} (run with --debug for the "
                    "traceback)", debug, code=1, prefix="")
    except BaseException:  # Prefect's TerminationSignal, our Interrupted from a task
        if cancel.requested() is not None:
            return interrupted()
        raise
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)
    return interrupted() if cancel.requested() is not None else 0


def _is_checkpoint_mismatch(exc: Exception) -> bool:
    """The engine's one user-facing error (a checkpoint of another model), imported only when one is raised."""
    from edit_core.checkpoint import CheckpointMismatch

    return isinstance(exc, CheckpointMismatch)


def fail(message: str, debug: bool = False, code: int = 2, prefix: str = "error: ") -> int:
    """Print one `error:` line on stderr (after the traceback with --debug); return the exit code."""
    if debug:
        traceback.print_exc()
    console.print(f"{prefix}{first_line(message, 'failed')}", markup=False, highlight=False, soft_wrap=True)
    return code
