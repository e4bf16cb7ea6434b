"""Workspace lock: one OneEdit command at a time per workspace (fcntl.flock on WS/.lock).

The kernel drops the lock when the holder exits, even on a crash or SIGKILL, so a stale lock
file never blocks anyone. The holder's pid is written into the file for the refusal message.
Not re-entrant: nesting `workspace_lock` on the same workspace in one process deadlocks/refuses.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from common.errors import WorkspaceLocked

LOCK_NAME = ".lock"
_POLL_S = 0.05


def _holder(fd: int) -> str:
    """The pid recorded by the current holder (best effort: it may be mid-write)."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return text or "unknown"


@contextmanager
def workspace_lock(ws: Path | str, wait: bool | float = False) -> Iterator[Path]:
    """Hold WS/.lock for the duration of the block; yields the lock file's path.

    wait=False refuses at once, wait=True waits indefinitely, a number waits up to that many
    seconds; a refusal raises WorkspaceLocked naming the holder's pid.
    """
    path = Path(ws) / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if wait is True:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + float(wait)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        waited = f" after waiting {float(wait):g} s" if wait else ""
                        raise WorkspaceLocked(
                            f"workspace {ws} is in use by pid {_holder(fd)}{waited} (lock file {path})"
                        ) from None
                    time.sleep(_POLL_S)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
