"""Rich progress bars shared by the CLI and the tasks (which run in threads of the same process).

Every tick is also a cancellation point (`common.cancel.check`): a signal stops the task there.

The CLI opens one `live()` display per command; tasks call `track(...)`. Without a live display
(tests, library use) tracking is a no-op.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from common import cancel

_lock = threading.Lock()
_active: Progress | None = None


class Tracker:
    """One bar; `advance` is safe to call from any thread."""

    def __init__(self, progress: Progress | None, task: TaskID | None) -> None:
        self._progress = progress
        self._task = task

    def advance(self, n: float = 1) -> None:
        cancel.check()
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)

    def update(self, completed: float, total: float | None = None) -> None:
        cancel.check()
        if self._progress is not None and self._task is not None:
            kw = {"total": total} if total is not None else {}
            self._progress.update(self._task, completed=completed, **kw)


@contextmanager
def live(console: Console | None = None) -> Iterator[Progress]:
    """Show progress bars for the duration of a command."""
    global _active
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
    )
    with progress:
        with _lock:
            _active = progress
        try:
            yield progress
        finally:
            with _lock:
                _active = None


@contextmanager
def track(description: str, total: float | None) -> Iterator[Tracker]:
    """A bar for one step (total None: a spinner until done); it stays on screen, completed, when the step ends."""
    with _lock:
        progress = _active
    if progress is None:
        yield Tracker(None, None)
        return
    task = progress.add_task(description, total=total)
    yield Tracker(progress, task)
    done = next(t.total for t in progress.tasks if t.id == task) if total is None else total
    progress.update(task, total=done or 1, completed=done or 1)
