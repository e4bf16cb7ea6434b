"""Cooperative cancellation: a signal stops every running task within one progress tick.

The CLI's signal handler calls `request(signum)`; Prefect runs tasks in worker threads, which a
KeyboardInterrupt in the main thread does not reach, so every long loop (training steps, projection
batches, transferred photos, ingested files) reports progress through `common.progress`, whose
trackers call `check()`: it raises `Interrupted` once a signal has arrived. Finished shards and
checkpoints stay, so the same command resumes.

The Studio cancels one job, not the process: `scope(event)` makes `check()` also stop once that job's
event is set. The scope is a context variable, so the tasks a flow runs in Prefect's threads inherit it
(Prefect's thread runner copies the caller's context into each task run).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_event = threading.Event()
_signum: list[int] = []
_scope: ContextVar[threading.Event | None] = ContextVar("oneedit_cancel_scope", default=None)


class Interrupted(KeyboardInterrupt):
    """A signal asked the run to stop (a KeyboardInterrupt, so no `except Exception` swallows it)."""


def request(signum: int) -> None:
    """Ask every task to stop at its next progress tick."""
    if not _signum:
        _signum.append(signum)
    _event.set()


def requested() -> int | None:
    """The signal that asked to stop (None: none did)."""
    return _signum[0] if _event.is_set() and _signum else None


def check() -> None:
    """Raise Interrupted when a signal asked to stop, or the enclosing `scope`'s event is set."""
    if _event.is_set():
        raise Interrupted(signal.Signals(_signum[0]).name if _signum else "interrupted")
    event = _scope.get()
    if event is not None and event.is_set():
        raise Interrupted("cancelled")


@contextmanager
def scope(event: threading.Event) -> Iterator[None]:
    """Inside the block (and in the task threads it starts), `check()` also stops once `event` is set."""
    token = _scope.set(event)
    try:
        yield
    finally:
        _scope.reset(token)


def reset() -> None:
    """Forget an earlier request (a new command in the same process)."""
    _signum.clear()
    _event.clear()
