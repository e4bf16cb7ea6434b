"""`oneedit bench NAME --out FILE.json`: benchmarks that reproduce the papers' tables on our data.

One command per registered benchmark (benchmarks.registry: probe, projection, consistency, linearity,
transfer, fashion, speed, memory, stylegan2, export), generated from its options type: every field is an
option with the flags, help and bounds its metadata names, the same --workspace / --params / --set as the
rest of the CLI. This module only builds the command line (it stays light to import, for the CLI's start-up);
`benchmarks.driver` runs the benchmark. BENCHMARKS.md documents every benchmark and its JSON keys.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable
from typing import Annotated

import typer

from benchmarks.registry import BENCHMARKS

bench_app = typer.Typer(name="bench", help="Benchmarks reproducing the papers' tables (JSON out).",
                        no_args_is_help=True, add_completion=False)


def _parameter(field: dataclasses.Field, annotation: object) -> inspect.Parameter:
    """The Typer parameter of one options field: its type, flags, help and bounds, its default."""
    meta = field.metadata
    bounds = {k: meta[k] for k in ("min", "max") if meta[k] is not None}
    opt = typer.Option(*meta["flags"], help=meta["help"], show_default=meta["show_default"], **bounds)
    default = inspect.Parameter.empty if field.default is dataclasses.MISSING else field.default
    return inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=Annotated[annotation, opt])


def _command(name: str, options: type) -> Callable[..., None]:
    """A Typer command taking `options`' fields as options; it runs benchmark `name` with them."""
    hints = typing.get_type_hints(options)
    parameters = [_parameter(f, hints[f.name]) for f in dataclasses.fields(options)]

    def command(**values: object) -> None:
        from benchmarks.driver import run_benchmark

        run_benchmark(name, options(**values))

    command.__name__ = name
    command.__doc__ = options.__doc__
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    return command


for _name, _options in BENCHMARKS.items():
    bench_app.command(name=_name)(_command(_name, _options))


if __name__ == "__main__":
    bench_app()
