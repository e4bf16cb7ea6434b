"""What a workspace holds: `list` (the saved edits) and `status` (models, projection, edits: what is stale)."""

from __future__ import annotations

from common.workspace import Workspace
from oneedit.cli.options import ParamsOptions, WorkspaceOpt, params_block
from oneedit.cli.printing import out, print_edits, print_status


def list_(workspace: WorkspaceOpt) -> None:
    """The saved edits: kind, strength, state (fitted / partial / applied / reported), counts, what is stale."""
    ws = Workspace.open(workspace)
    from tasks.edits import list_edits
    from tasks.versions import deleted_edits

    print_edits(ws, list_edits(ws))
    for name, kept in deleted_edits(ws).items():
        out.print(f"{name:<24} deleted; {kept} version(s) kept (`oneedit versions {name}`, `oneedit restore`)",
                  markup=False, highlight=False)


@params_block
def status(workspace: WorkspaceOpt, options: ParamsOptions) -> None:
    """What the workspace holds and what is stale: models, projection, every saved edit."""
    p = options.load()
    ws = Workspace.open(workspace)
    from tasks.edits import workspace_status

    print_status(ws, workspace_status(ws, p))
