"""Run one registered benchmark and write its JSON: the results, then the machine, versions and command.

`run_benchmark(name, options)` validates params (path + `--set` overrides), sets torch's threads, picks
the device, calls `benchmarks.<name>.run(options, setup)` and writes what it returns, with `meta`: the
benchmark, the exact command line, when it finished, its wall time, the params digest, and the machine
and library versions the numbers were measured with.
"""

from __future__ import annotations

import importlib
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from benchmarks.registry import BENCHMARKS
from common.params import Params, load_params
from common.storage import write_json
from edit_core.imageops import resolve_device


@dataclass(frozen=True)
class Setup:
    """What every benchmark runs with: the validated params and the device they name."""

    params: Params
    device: torch.device


def setup(params_path: Path | None, sets: list[str] | None) -> Setup:
    """Validated params (+ overrides), torch threads set, and the device."""
    p = load_params(params_path, list(sets or []))
    torch.set_num_threads(p.runtime.threads)
    return Setup(p, resolve_device(p.runtime.device))


def machine() -> dict:
    """The machine and library versions the numbers were measured with."""
    import cv2
    import skimage

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").is_file() else ""
    return {"cpu": model, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
            "load_avg_start": os.getloadavg(), "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "opencv": cv2.__version__, "scikit_image": skimage.__version__,
            "platform": platform.platform()}


def write_result(out: Path, name: str, p: Params, started: float, result: dict) -> None:
    """The JSON: results first, then the run's context."""
    meta = {"benchmark": name, "argv": shlex.join(sys.argv),
            "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"), "wall_s": time.perf_counter() - started,
            "params_sha256": p.digest(), "machine": machine()}
    write_json(out, {**result, "meta": meta})
    print(f"{name}: wrote {out}")


def run_benchmark(name: str, options: object) -> None:
    """Benchmark `name` (a key of BENCHMARKS) with its `options` -> options.out."""
    if not isinstance(options, BENCHMARKS[name]):
        raise TypeError(f"{name}: expected {BENCHMARKS[name].__name__}, got {type(options).__name__}")
    started = time.perf_counter()
    s = setup(options.params, options.set_)
    result = importlib.import_module(f"benchmarks.{name}").run(options, s)
    write_result(options.out, name, s.params, started, result)
