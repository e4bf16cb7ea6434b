"""The command line's options: one Annotated type per option, and the params block every command shares.

`--params`, `--set` (and `--device`, `--dask-address`, `--dask-local`) are one block in every command that
runs a step. A command declares it as one parameter typed `ParamsOptions`, `DeviceOptions` or `RunOptions`;
`@params_block` spells it out as those options, at that place, for Typer (so --help lists them where they
were), and hands the command the values as one object that loads the params (`oneedit.cli.runtime`).
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar

import typer

if TYPE_CHECKING:
    from common.params import Params

C = TypeVar("C", bound=Callable[..., Any])

WorkspaceOpt = Annotated[Path, typer.Option("--workspace", "-w", help="Workspace directory.", show_default=False)]
NameOpt = Annotated[str, typer.Option("--name", "-n", help="Name of the edit (WS/edits/NAME).", show_default=False)]
EditArg = Annotated[str, typer.Argument(help="The edit (WS/edits/NAME).", show_default=False)]
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
RerunOpt = Annotated[str | None, typer.Option(
    "--only", help="Re-run only these photos into the applied edit's results, the others kept: rejected (in "
                   "`oneedit review`), short (short of the final state) or ids / file names, comma-separated, "
                   "or @FILE.")]
SourceArg = Annotated[Path, typer.Argument(
    help="The catalog's own photo folder (as first ingested, or where it moved), with the new photos added to it; "
         "a folder of only the new photos is refused.", show_default=False)]
CronOpt = Annotated[str | None, typer.Option("--cron", help="Serve a deployment on this schedule instead of running "
                                                         "once (needs PREFECT_API_URL), e.g. '0 3 * * 0'.")]


@dataclass(frozen=True)
class ParamsOptions:
    """--params FILE and --set KEY=VALUE as given (the params block of every command)."""

    params: ParamsOpt = None
    set_: SetOpt = None
    device: DeviceOpt = None
    dask_address: DaskAddressOpt = None
    dask_local: DaskLocalOpt = None
    SHOWN: ClassVar[tuple[str, ...]] = ("params", "set_")

    def load(self, strength: float | None = None) -> Params:
        """The params these options give, validated (`oneedit.cli.runtime.command_params`)."""
        from oneedit.cli.runtime import command_params

        return command_params(self.params, self.set_, self.device, strength, self.dask_address, self.dask_local)


@dataclass(frozen=True)
class DeviceOptions(ParamsOptions):
    """The params block with --device."""

    SHOWN: ClassVar[tuple[str, ...]] = ("params", "set_", "device")


@dataclass(frozen=True)
class RunOptions(ParamsOptions):
    """The params block of a command that runs tasks: with --device, --dask-address and --dask-local."""

    SHOWN: ClassVar[tuple[str, ...]] = ("params", "set_", "device", "dask_address", "dask_local")


def params_block(command: C) -> C:
    """`command` with its one `ParamsOptions` (or subclass) parameter spelt out, in its place, as the options
    the block shows; the command is called with the block's values as one object."""
    hints = typing.get_type_hints(command, include_extras=True)
    signature = inspect.signature(command)
    (name, block), = [(n, h) for n, h in hints.items() if isinstance(h, type) and issubclass(h, ParamsOptions)]
    options = typing.get_type_hints(block, include_extras=True)
    shown = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=options[n])
             for n in block.SHOWN]
    parameters = []
    for p in signature.parameters.values():
        as_keyword = p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints.get(p.name, p.annotation))
        parameters += shown if p.name == name else [as_keyword]

    @functools.wraps(command)
    def run(**values: Any) -> Any:
        given = {k: values.pop(k) for k in block.SHOWN}
        return command(**values, **{name: block(**given)})

    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]  # what Typer reads
    run.__annotations__ = {p.name: p.annotation for p in parameters}
    return typing.cast(C, run)
