"""The `oneedit` command: one Typer app, one flow per command, one-line errors.

Every command reads params.yaml (`--params`, default ./params.yaml, else the packaged defaults),
applies repeatable `--set section.key=value` overrides and validates them before any work, checks what
its step requires (flows/preflight.py), then locks the workspace and runs its flow. Every failure is one
line on stderr, with an exit code per outcome (oneedit/cli/app.py); `--debug` anywhere on the command
line prints the traceback of an error as well.

- app.py: the Typer app, global options, logging, `main` and its exit codes;
- options.py: the options, and the params block every command shares;
- runtime.py: params from the command line, the workspace lock, progress and the cluster while a flow runs;
- signals.py: SIGINT / SIGTERM;
- printing.py: what the commands print;
- commands/: the commands, one module per group, registered below in the order --help lists them.
"""

from oneedit.cli.app import app, main
from oneedit.cli.commands import demo, edit, overview, pipeline, ship, studio, updates

for _name, _command in (
    ("ingest", pipeline.ingest), ("train", pipeline.train), ("project", pipeline.project), ("edit", edit.edit),
    ("list", overview.list_), ("status", overview.status), ("direction", edit.direction),
    ("rescale", edit.rescale), ("report", pipeline.report), ("export", ship.export), ("review", ship.review),
    ("versions", ship.versions), ("restore", ship.restore), ("delete", ship.delete), ("studio", studio.studio),
    ("demo-pretrain", demo.demo_pretrain), ("demo-catalog", demo.demo_catalog), ("demo", demo.demo),
    ("update", updates.update), ("retrain", updates.retrain), ("import-generator", pipeline.import_generator),
):
    app.command(_name)(_command)

__all__ = ["app", "main"]
