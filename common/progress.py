"""Progress shared by the CLI and the tasks (which run in threads of the same process).

The CLI opens one `live()` display per command; tasks call `track(...)`. On a terminal it is a rich
bar display; anywhere else (a log file, CI, a pipe) it writes one plain line per running step every
`interval` seconds (description, n/N, rate, ETA) and a line when a step ends, so a log never goes
silent for the length of a stage. The ETA comes from the first steps: the rate is measured from the
first reported step on, so the time spent loading before step 1 does not skew it. Without a live
display (tests, library use) tracking is a no-op; `capture()` collects the bars without showing them
(the studio's progress endpoint reads them with `snapshot`).
Every tick is also a cancellation point (`common.cancel.check`): a signal stops the task there.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from common import cancel

INTERVAL_ENV = "ONEEDIT_PROGRESS_SECONDS"
DEFAULT_INTERVAL = 10.0


_lock = threading.Lock()
_active: Progress | None = None


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def estimate(task: Task, now: float) -> tuple[float | None, float | None]:
    """(rate in steps/s, seconds remaining) of a task, or None where not known yet.

    The rate is measured from the first reported step (fields first_t, first_n) when a later one
    exists; with a single step so far it is that step over the time since the task started.
    """
    first_t, first_n = task.fields.get("first_t"), task.fields.get("first_n")
    rate = None
    if first_t is not None and task.completed > first_n and now > first_t:
        rate = (task.completed - first_n) / (now - first_t)
    elif task.completed > 0 and task.start_time is not None and now > task.start_time:
        rate = task.completed / (now - task.start_time)
    if rate is None or rate <= 0 or task.total is None:
        return rate, None
    return rate, max(0.0, (task.total - task.completed) / rate)


def describe(task: Task, now: float) -> str:
    """One plain progress line: `description  n/N (p%)  rate/s  ETA ...  elapsed ...`."""
    seconds = task.finished_time if task.finished else now - task.start_time if task.start_time is not None else 0.0
    elapsed = _duration(seconds or 0.0)
    total = f"/{task.total:g}" if task.total is not None else ""
    if task.finished:
        return f"done: {task.description}  {task.completed:g}{total}  in {elapsed}"
    rate, eta = estimate(task, now)
    parts = [task.description, f"{task.completed:g}{total}" + (f" ({task.percentage:.0f}%)" if task.total else "")]
    if rate is not None:
        parts.append(f"{rate:.3g}/s" if rate >= 1 else f"{1 / rate:.3g} s each")
    parts.append(f"ETA {_duration(eta)}" if eta is not None else "ETA estimating")
    parts.append(f"elapsed {elapsed}")
    return "  ".join(parts)


class EstimateColumn(ProgressColumn):
    """Time remaining, from the first steps on (rich's own column waits for several samples)."""

    def render(self, task: Task) -> Text:
        if task.finished:
            return Text("done", style="progress.remaining")
        _, eta = estimate(task, task.get_time())
        return Text(f"ETA {_duration(eta)}" if eta is not None else "ETA -", style="progress.remaining")


class ProgressFn(Protocol):
    """The one shape of a progress callback in the pipeline: `done` of `of` (None: as before, or not known
    yet), in the phase `what` (None: the phase goes on). `Tracker.update` is one; the studio's job and the CLI's bars
    take the same calls. (The engine's training reports a telemetry dict, losses and samples with the
    step; tasks.train turns it into these calls at the task edge.)"""

    def __call__(self, done: float, of: float | None = None, what: str | None = None) -> None: ...


def quiet(done: float, of: float | None = None, what: str | None = None) -> None:
    """A ProgressFn that reports nothing."""


class Tracker:
    """One bar; `advance` and `update` are safe to call from any thread."""

    def __init__(self, progress: Progress | None, task: TaskID | None) -> None:
        self._progress = progress
        self._task = task

    def _mark_first(self, completed: float) -> None:
        task = next(t for t in self._progress.tasks if t.id == self._task)
        if "first_t" not in task.fields and completed > 0:
            self._progress.update(self._task, first_t=self._progress.get_time(), first_n=completed)

    def advance(self, n: float = 1) -> None:
        cancel.check()
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)
            self._mark_first(next(t.completed for t in self._progress.tasks if t.id == self._task))

    def update(self, completed: float, total: float | None = None, description: str | None = None) -> None:
        """Set the count; a new description starts a new phase (count, rate and ETA start again)."""
        cancel.check()
        if self._progress is None or self._task is None:
            return
        task = next(t for t in self._progress.tasks if t.id == self._task)
        if description is not None and description != task.description:
            task.fields.pop("first_t", None)
            task.fields.pop("first_n", None)
            self._progress.reset(self._task, total=total, completed=completed, description=description)
        else:
            self._progress.update(self._task, completed=completed, **({"total": total} if total is not None else {}))
        self._mark_first(completed)


def _interval() -> float:
    try:
        return max(0.05, float(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL)))
    except ValueError:
        return DEFAULT_INTERVAL


def _line_writer(progress: Progress, console: Console, interval: float, stop: threading.Event) -> None:
    """Every `interval` s a line per running step; one `done:` line per finished step."""
    reported: set[TaskID] = set()

    def write() -> None:
        now = progress.get_time()
        for task in progress.tasks:
            if task.id in reported:
                continue
            if task.finished:
                reported.add(task.id)
            elif task.start_time is None:
                continue
            console.print(describe(task, now), markup=False, highlight=False, soft_wrap=True)

    while not stop.wait(interval):
        write()
    write()


@contextmanager
def live(console: Console | None = None, interval: float | None = None) -> Iterator[Progress]:
    """Show progress for the duration of a command: bars on a terminal, else plain lines every `interval`
    seconds (default $ONEEDIT_PROGRESS_SECONDS, else 10)."""
    global _active
    console = console or Console(stderr=True)
    terminal = console.is_terminal
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        EstimateColumn(),
        console=console,
        disable=not terminal,
    )
    stop = threading.Event()
    writer = None
    if not terminal:
        writer = threading.Thread(target=_line_writer, args=(progress, console, interval or _interval(), stop),
                                  name="oneedit-progress", daemon=True)
    with progress:
        with _lock:
            _active = progress
        if writer is not None:
            writer.start()
        try:
            yield progress
        finally:
            with _lock:
                _active = None
            stop.set()
            if writer is not None:
                writer.join()


@contextmanager
def capture() -> Iterator[Progress]:
    """Collect the bars of the steps run inside the block without showing them; read them with `snapshot`."""
    global _active
    progress = Progress(disable=True)
    with _lock:
        _active = progress
    try:
        yield progress
    finally:
        with _lock:
            _active = None


def snapshot(progress: Progress, now: float | None = None) -> list[dict]:
    """Every bar of `progress` as plain data: description, completed, total, finished, line."""
    now = progress.get_time() if now is None else now
    return [{"description": t.description, "completed": t.completed, "total": t.total, "finished": t.finished,
             "line": describe(t, now)} for t in progress.tasks]


@contextmanager
def optimizer_steps(tracker: Tracker) -> Iterator[None]:
    """Advance `tracker` by one for every torch optimizer step this thread takes inside the block: the
    engine's optimization loops (the example edit, the direction fit) get a bar with an ETA, and a
    cancellation point per step, without a callback through the engine. Other threads' steps (shards
    projected beside it) are not counted."""
    from torch.optim.optimizer import register_optimizer_step_post_hook

    owner = threading.get_ident()

    def hook(optimizer: object, args: object, kwargs: object) -> None:
        if threading.get_ident() == owner:
            tracker.advance()

    handle = register_optimizer_step_post_hook(hook)
    try:
        yield
    finally:
        handle.remove()


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
    t = next(t for t in progress.tasks if t.id == task)
    done = t.total if t.total is not None else (t.completed or 1)
    progress.update(task, total=done, completed=done)

