"""Every bad argument: exit code 2 and exactly one `error: ...` line, before any work starts."""

from pathlib import Path

import pytest

from common.workspace import Workspace
from oneedit.cli import main


def _one_error_line(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return Workspace.create(tmp_path / "ws").root


def test_bad_arguments(capsys: pytest.CaptureFixture, tmp_path: Path, ws: Path) -> None:
    w = ["--workspace", str(ws)]
    cases = {
        "No such option": ["train", *w, "--bogus"],
        "Missing option": ["edit", *w, "--example", "x", "--after", "a.png"],
        "No such command": ["frobnicate"],
        "not a OneEdit workspace": ["train", "--workspace", str(tmp_path / "nowhere")],
        "source folder not found": ["ingest", str(tmp_path / "nowhere"), *w],
        "unknown key": ["train", *w, "--set", "gan.stepz=3"],
        "edit.strength": ["rescale", *w, "--name", "x", "--strength", "-12"],
        "give exactly one of": ["edit", *w, "--name", "x", "--example", "x"],
        "file not found": ["edit", *w, "--name", "x", "--example", "x", "--after", str(tmp_path / "no.png")],
        "edit name": ["rescale", *w, "--name", "../x"],
        "params file not found": ["train", *w, "--params", str(tmp_path / "p.yaml")],
        "runtime.device": ["train", *w, "--device", "tpu"],
        "manifest.parquet is missing": ["train", *w],
    }
    for expected, argv in cases.items():
        assert expected in _one_error_line(capsys, argv), argv


def test_cuda_requested_without_cuda(capsys: pytest.CaptureFixture, ws: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    assert "CUDA is not available" in _one_error_line(capsys, ["train", "--workspace", str(ws), "--device", "cuda"])


def test_help_exits_zero(capsys: pytest.CaptureFixture) -> None:
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for command in ("ingest", "train", "project", "edit", "rescale", "report", "demo"):
        assert command in text
