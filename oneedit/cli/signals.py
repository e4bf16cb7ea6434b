"""SIGINT / SIGTERM: every task stops at its next progress tick, finished work stays, exit 130 / 143.

The main thread unwinds like Ctrl-C (locks released, temp files removed); a watchdog ends the process
GRACE_S later if it is still alive, after stopping the temporary Prefect server this command started.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from common import cancel
from oneedit.cli.printing import console

GRACE_S = 10.0
"""After a signal, tasks stop at their next progress tick; a run still alive this long after it is ended
hard (os._exit): every output is written atomically, so that is as safe as the SIGKILLs of the crash test."""
_told: list[bool] = []


def reset() -> None:
    """A new command: no stop asked for, nothing said yet."""
    cancel.reset()
    _told.clear()


def terminate(signum: int, frame: object) -> None:
    """SIGTERM / SIGINT: every task stops at its next progress tick (`common.cancel`) and the main thread
    unwinds like Ctrl-C (locks released, temp files removed); a watchdog ends the process GRACE_S later
    if it is still alive (a task in a long step without a tick). A second Ctrl-C ends it at once."""
    if cancel.requested() is not None and signum == signal.SIGINT:
        hard_exit(signum)
    stop_tasks(signum)
    raise KeyboardInterrupt


def stop_tasks(signum: int) -> None:
    """Ask every task to stop (once), and arm the watchdog."""
    if cancel.requested() is not None:
        return
    cancel.request(signum)
    watchdog = threading.Timer(GRACE_S, hard_exit, args=(signum,))
    watchdog.daemon = True
    watchdog.start()


def bridge_prefect_sigterm() -> None:
    """While a flow runs, Prefect swaps our SIGTERM handler for its own, which raises TerminationSignal in
    the main thread only (the tasks' threads would run to the end) and re-sends the signal after its
    teardown. Wrap Prefect's handler so that SIGTERM reaches the tasks first (a no-op on a Prefect
    without that handler: the watchdog is then armed by the re-sent signal)."""
    from prefect.utilities import engine

    original = getattr(engine, "_prefect_sigterm_handler", None)
    if original is None or getattr(original, "oneedit_bridge", False):
        return

    def handler(signum: int, *args: object) -> None:
        stop_tasks(signum)
        original(signum, *args)

    handler.oneedit_bridge = True  # type: ignore[attr-defined]
    engine._prefect_sigterm_handler = handler


def hard_exit(signum: int) -> None:
    interrupted()
    sys.stderr.flush()
    stop_servers()
    os._exit(128 + (cancel.requested() or signum))


def stop_servers() -> None:
    """Stop the temporary Prefect server this command started: it is stopped at exit (atexit), which
    os._exit skips, and a `kill -INT` reaches only this process, not the server's."""
    module = sys.modules.get("prefect.server.api.server")
    for server in list(getattr(getattr(module, "SubprocessASGIServer", None), "_instances", {}).values()):
        try:
            server.stop()
        except Exception:  # already gone: nothing to stop
            pass


def interrupted() -> int:
    """One line (once), and exit code 128 + the signal (130 SIGINT, 143 SIGTERM)."""
    signum = cancel.requested() or signal.SIGINT
    if not _told:
        _told.append(True)
        console.print(f"error: interrupted by {signal.Signals(signum).name}; finished work is kept: run the same "
                      "command again to resume", markup=False, highlight=False, soft_wrap=True)
    return 128 + signum
