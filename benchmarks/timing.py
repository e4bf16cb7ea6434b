"""How the benchmarks time things: a call by wall or CPU clock, this machine's matmul rate (the yardstick
FLOP rates are compared with), a transfer's median time, and the peak RSS so far.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable, Sequence

import cv2
import numpy as np
import torch

from edit_core.transfer import transfer


def timed(fn: Callable[[], object], clock: Callable[[], float] = time.perf_counter) -> tuple[object, float]:
    """(result, seconds of `clock`) of fn(): wall time by default; time.process_time for CPU time (all threads),
    which a loaded machine does not inflate."""
    start = clock()
    out = fn()
    return out, clock() - start


def matmul_gflops(size: int = 1024, reps: int = 10, rounds: int = 5,
                  clock: Callable[[], float] = time.perf_counter) -> float:
    """Median float32 matmul rate of this machine (GFLOP/s) with the current torch thread setting, per second
    of `clock` (wall by default; per CPU-second with time.process_time): `rounds` rounds of `reps` products."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    rates = []
    for _ in range(rounds):
        _, seconds = timed(lambda: [a @ b for _ in range(reps)], clock)
        rates.append(2 * size**3 * reps / seconds / 1e9)
    return statistics.median(rates)


def time_transfer(photos: Sequence[np.ndarray], clips: Sequence[np.ndarray], threads: int = 1,
                  edit: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                  clock: Callable[[], float] = time.perf_counter) -> float:
    """Median time (s) of one transfer per (photo, frames) pair, OpenCV and torch held to `threads`.

    `edit(photo, frames)` defaults to `edit_core.transfer.transfer` with its defaults (the speed benchmark
    passes the pipeline's own, tasks.transfer.edit_photo with its params). `clock`: wall time by default;
    `time.thread_time` (the calling thread's CPU time, exact for threads=1 on the CPU) reads what an idle core
    would take on a shared, loaded machine. One untimed warm-up call; thread settings are restored.
    """
    run = edit or transfer
    before = cv2.getNumThreads(), torch.get_num_threads()
    cv2.setNumThreads(threads)
    torch.set_num_threads(threads)
    try:
        run(photos[0], clips[0])
        times = []
        for photo, frames in zip(photos, clips, strict=True):
            start = clock()
            run(photo, frames)
            times.append(clock() - start)
    finally:
        cv2.setNumThreads(before[0])
        torch.set_num_threads(before[1])
    return statistics.median(times)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
