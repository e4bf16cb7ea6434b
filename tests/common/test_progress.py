import io
import threading

import pytest
from rich.console import Console
from rich.progress import Progress

from common import progress


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _bars(clock: Clock) -> Progress:
    return Progress(get_time=clock, disable=True)


def test_estimate_comes_from_the_first_steps_not_the_loading() -> None:
    clock = Clock()
    bars = _bars(clock)
    task = bars.add_task("train GAN", total=100)
    bar = progress.Tracker(bars, task)
    assert progress.estimate(bars.tasks[0], clock()) == (None, None)
    clock.t = 30.0  # 30 s of loading, then step 1
    bar.update(1)
    rate, eta = progress.estimate(bars.tasks[0], clock())
    assert rate == pytest.approx(1 / 30) and eta == pytest.approx(99 * 30)  # one step: a first, pessimistic estimate
    clock.t = 32.0  # then 2 s a step
    bar.update(2)
    rate, eta = progress.estimate(bars.tasks[0], clock())
    assert rate == pytest.approx(0.5) and eta == pytest.approx(98 * 2)
    line = progress.describe(bars.tasks[0], clock())
    assert line.startswith("train GAN  2/100 (2%)") and "2 s each" in line and "ETA 3m16s" in line


def test_a_new_description_starts_a_new_phase() -> None:
    clock = Clock()
    bars = _bars(clock)
    bar = progress.Tracker(bars, bars.add_task("ingest", total=None))
    for n, t in ((1, 1.0), (1513, 10.0)):
        clock.t = t
        bar.update(n, 1514, "ingest: hash 1514 files")
    assert bars.tasks[0].description == "ingest: hash 1514 files" and bars.tasks[0].total == 1514
    clock.t = 11.0
    bar.update(0, 1500, "ingest: decode 1500 new photos (1514 files hashed)")
    task = bars.tasks[0]
    assert (task.completed, task.total) == (0, 1500)
    assert task.description == "ingest: decode 1500 new photos (1514 files hashed)"
    clock.t = 12.0
    bar.update(10, 1500, "ingest: decode 1500 new photos (1514 files hashed)")
    clock.t = 14.0
    bar.update(30, 1500, "ingest: decode 1500 new photos (1514 files hashed)")
    assert progress.estimate(bars.tasks[0], clock())[0] == pytest.approx(10.0)  # decode rate, not hash rate


def test_lines_at_a_steady_rate_when_not_on_a_terminal() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=False, width=200)
    step, seen = threading.Event(), threading.Event()
    with progress.live(console, interval=0.02), progress.track("project shard-00000.h5", total=8) as bar:
        for _ in range(3):
            bar.advance()
        while "3/8" not in buf.getvalue():  # the writer thread reports without any step ending
            step.wait(0.01)
        seen.set()
        for _ in range(5):
            bar.advance()
    text = buf.getvalue()
    assert seen.is_set() and "project shard-00000.h5  3/8 (38%)" in text and "ETA" in text
    assert text.strip().splitlines()[-1].startswith("done: project shard-00000.h5  8/8  in ")
    assert text.count("done:") == 1


def test_track_without_a_display_is_a_no_op() -> None:
    with progress.track("nothing", total=3) as bar:
        bar.advance()
        bar.update(2, total=3, description="x")


def test_capture_collects_the_bars() -> None:
    with progress.capture() as bars:
        with progress.track("fit direction Δ*", total=None):
            pass
        with progress.track("transfer", total=4) as bar:
            bar.advance(2)
            rows = progress.snapshot(bars)
    assert [r["description"] for r in rows] == ["fit direction Δ*", "transfer"]
    assert rows[0]["finished"] and not rows[1]["finished"] and rows[1]["completed"] == 2 and rows[1]["total"] == 4
    assert progress.snapshot(bars)[1]["finished"]


def test_engine_optimization_steps_move_a_bar_with_an_eta() -> None:
    """The example edit and the direction fit showed "0  ETA estimating" for minutes (issue 27): every
    optimizer step of the calling thread now advances the bar; another thread's steps do not."""
    import torch

    def optimize(n: int) -> None:
        x = torch.zeros(3, requires_grad=True)
        opt = torch.optim.Adam([x], lr=0.1)
        for _ in range(n):
            opt.zero_grad()
            (x - 1).square().sum().backward()
            opt.step()

    with progress.capture() as bars, progress.track("fit direction Δ*", total=5) as bar, \
            progress.optimizer_steps(bar):
        other = threading.Thread(target=optimize, args=(7,))
        other.start()
        other.join()
        optimize(3)
        line = progress.snapshot(bars)[0]["line"]
    assert line.startswith("fit direction Δ*  3/5 (60%)") and "ETA estimating" not in line, line
    optimize(2)  # after the block: not counted
    assert progress.snapshot(bars)[0]["completed"] == 5  # the finished bar is completed, not advanced further


def test_a_fine_tune_bar_counts_this_runs_steps() -> None:
    """A fine-tune of a 20,000-step model read 20002/20600 (97 %) with an hour to go."""
    from tasks.train import _bar_callback

    with progress.capture() as bars, progress.track("fine-tune GAN", total=20600) as bar:
        on_progress = _bar_callback(bar)
        for step in (20001, 20002):
            on_progress({"step": step, "steps": 20600})
        shown = progress.snapshot(bars)[0]
    assert (shown["completed"], shown["total"]) == (2, 600), shown
