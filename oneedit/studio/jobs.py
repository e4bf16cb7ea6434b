"""The Studio's jobs: everything slow runs off the request thread and is polled as JSON (GET /api/jobs/ID).

A job runs inside its own cancel scope (`common.cancel.scope`): Cancel sets its flag and the work stops at
its next progress tick. A job ends done, failed (one line in the page's words) or cancelled; the server's log
has the traceback of a bug.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from common import cancel, progress
from common.errors import OneEditError, first_line, os_error_line

MAX_JOBS = 200  # finished jobs remembered (for a tab that polls late)


@dataclass
class Job:
    """One piece of work run off the request thread; polled as JSON."""

    id: str
    kind: str
    state: str = "queued"  # queued | running | done | failed | cancelled
    phase: str = ""
    done: int = 0
    of: int = 0
    error: str = ""
    result: dict = field(default_factory=dict)
    title: str = ""
    bars: Any = None  # the flow's progress bars (common.progress.capture), for runs
    holds: tuple[str, ...] = ()  # the drafts / uploads it works on: never dropped while it runs
    started: float = field(default_factory=time.time)
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)  # set by Cancel; polled at every tick

    @property
    def live(self) -> bool:
        return self.state in ("queued", "running")

    def on_progress(self, done: float, of: float | None = None, what: str | None = None) -> None:
        """A step's progress (a common.progress.ProgressFn), and a cancellation point (the job's Cancel)."""
        self.done = int(done)
        if of is not None:
            self.of = int(of)
        if what is not None:
            self.phase = what
        cancel.check()

    def to_dict(self) -> dict:
        lines = progress.snapshot(self.bars) if self.bars is not None else []
        return {"id": self.id, "kind": self.kind, "title": self.title, "state": self.state, "phase": self.phase,
                "done": self.done, "of": self.of, "error": self.error, "result": self.result, "progress": lines,
                "cancelling": self.live and self.cancel.is_set(),
                "elapsed": (self.finished or time.time()) - self.started}


def new_job(jobs: dict[str, Job], kind: str, title: str, holds: tuple[str, ...]) -> Job:
    """A queued job registered in `jobs`, the oldest finished ones forgotten beyond MAX_JOBS."""
    job = Job(id=uuid.uuid4().hex[:12], kind=kind, title=title, holds=holds)
    for old in [i for i, j in list(jobs.items()) if not j.live][:max(0, len(jobs) - MAX_JOBS)]:
        jobs.pop(old, None)
    jobs[job.id] = job
    return job


def run_job(job: Job, fn: Callable[..., dict], args: tuple, run: bool, words: Callable[[str], str]) -> None:
    """`fn(job, *args)` in the job's cancel scope, its outcome recorded on the job: a failure as one line in the
    page's words (`words`); a cancelled catalog run (`run`) says the workspace is as it was."""
    if job.cancel.is_set():  # cancelled while it waited for its turn
        job.error, job.state, job.finished = "cancelled before it started", "cancelled", time.time()
        return
    job.state = "running"
    try:
        with cancel.scope(job.cancel):
            job.result = fn(job, *args)
        job.state = "done"
    except cancel.Interrupted:
        job.error, job.state = ("cancelled: the workspace is as it was before" if run else "cancelled"), "cancelled"
    except (OneEditError, ValueError) as exc:
        job.error, job.state = words(first_line(exc, type(exc).__name__)), "failed"
    except OSError as exc:
        job.error, job.state = words(os_error_line(exc)), "failed"
    except Exception as exc:  # a bug: the page shows one line, the server log the traceback
        traceback.print_exc()
        job.error, job.state = f"internal error: {type(exc).__name__}: {first_line(exc, type(exc).__name__)}", "failed"
    finally:
        job.finished = time.time()
