"""`studio`: serve OneEdit Studio (oneedit/studio/) on this workspace."""

from __future__ import annotations

from typing import Annotated

import typer

from common.errors import InputError
from common.workspace import Workspace
from oneedit.cli.options import DeviceOptions, WorkspaceOpt, params_block
from oneedit.cli.printing import console, out
from oneedit.cli.runtime import command_params, torch_threads


@params_block
def studio(
    workspace: WorkspaceOpt,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to serve on.")] = 8765,
    host: Annotated[str, typer.Option("--host", help="Address to bind (default: this machine only; any other "
                                                     "address needs --token).")] = "127.0.0.1",
    token: Annotated[str | None, typer.Option(
        "--token", help="The secret the page must present (at least 16 characters); required with a --host "
                        "beyond this machine. Default: a random one, inside the page.")] = None,
    *,
    options: DeviceOptions,
) -> None:
    """Serve OneEdit Studio: pick the example, make the edit in the browser, preview it, apply it."""
    sets = [*(options.set_ or []), *([f"runtime.device={options.device}"] if options.device is not None else [])]
    p = command_params(options.params, sets)
    Workspace.open(workspace)
    torch_threads(p)
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
    serve(workspace, options.params, sets, host, port, token)
