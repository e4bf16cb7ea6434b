"""Inputs that must not hurt (issue 28): hostile params files and values, hostile generator files,
outputs of an interrupted run, and raw OS errors, each through the CLI's `main`.

Every case ends in one `error: ...` line (exit 2 for what the user passed, 1 for a run that cannot
finish), costs no more than its input's size and leaves every file as it was.
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from common.workspace import Workspace
from oneedit.cli import main


def _one_line(capsys: pytest.CaptureFixture) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def _alias_bomb(path: Path, levels: int = 9) -> Path:
    """A YAML "billion laughs": 9 levels of 9 aliases each, 9**9 strings once expanded, under 400 bytes."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append(f"gan:\n  betas: *a{levels - 1}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_yaml_alias_bomb_is_refused_in_one_line_at_once(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ws = Workspace.create(tmp_path / "ws")
    bomb = _alias_bomb(tmp_path / "params.yaml")
    assert bomb.stat().st_size < 1024
    tracemalloc.start()
    start = time.perf_counter()
    try:
        assert main(["status", "--workspace", str(ws.root), "--params", str(bomb)]) == 2
        took, (_, peak) = time.perf_counter() - start, tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "aliases expand to more than" in _one_line(capsys)
    assert took < 1.0 and peak < 20e6, (took, peak)  # was: 20-45 s, GBs, then `internal error: MemoryError`
    assert main(["status", "--workspace", str(ws.root), "--set", "gan.betas=[&x [1, 2], *x, *x, *x]"]) == 2
    assert "gan.betas" in _one_line(capsys)  # a few aliases are YAML, refused by the schema as any value is


def test_a_huge_params_file_and_echoed_values_are_cut(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ws = Workspace.create(tmp_path / "ws")
    big = tmp_path / "big.yaml"
    big.write_text("runtime:\n  dask_address: " + "x" * (2 << 20) + "\n", encoding="utf-8")
    assert main(["status", "--workspace", str(ws.root), "--params", str(big)]) == 2
    assert "more than a params file's limit" in _one_line(capsys)
    long = tmp_path / "long.yaml"
    long.write_text("runtime:\n  dask_address: " + "x" * 100_000 + "\n", encoding="utf-8")
    assert main(["status", "--workspace", str(ws.root), "--params", str(long)]) == 2
    line = _one_line(capsys)
    assert "runtime.dask_address" in line and len(line) < 300, len(line)  # was: the whole value echoed


@pytest.mark.parametrize(("override", "expected"), [
    ("gan.seed=" + "1" + "0" * 30, "gan.seed: must be an integer from 0 to 4294967295"),  # was: internal error
    ("project.seed=-1", "project.seed: must be an integer from 0"),
    ("gan.steps=" + "9" * 5000, "gan.steps"),
    ("runtime.threads=true", "runtime.threads: expected int, got the boolean true"),  # was: accepted as 1
    ("edit.strength=false", "edit.strength: expected float, got the boolean false"),
    ("runtime.device=mps", "device 'mps' requested but this machine has no MPS"),  # was: internal error
    ("runtime.device=cuda:7", "device 'cuda:7'"),
])
def test_params_values_that_cannot_hurt(override: str, expected: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture) -> None:
    import torch

    if "device" in override and (torch.cuda.device_count() > 7 or torch.backends.mps.is_available()):
        pytest.skip("this machine has the device")
    ws = Workspace.create(tmp_path / "ws")
    assert main(["status", "--workspace", str(ws.root), "--set", override]) == 2
    line = _one_line(capsys)
    assert expected in line and len(line) < 300, line
