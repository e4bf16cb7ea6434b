"""Every bad argument: exit code 2 and exactly one `error: ...` line, before any work starts."""

import subprocess
import sys
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
        "gan.stepz: unknown key (did you mean gan.steps?)": ["train", *w, "--set", "gan.stepz=3"],
        "edit.direction.lamda: unknown key (did you mean edit.direction.lambda?)": [
            "train", *w, "--set", "edit.direction.lamda=0.1"],
        "error: --strength -12: Input should be greater than or equal to -10": [
            "rescale", *w, "--name", "x", "--strength", "-12"],
        "No such command 'edti'. Did you mean 'edit'?": ["edti"],
        "--log-level loud: choose one of": ["list", *w, "--log-level", "loud"],
        "give exactly one of": ["edit", *w, "--name", "x", "--example", "x"],
        "file not found": ["edit", *w, "--name", "x", "--example", "x", "--after", str(tmp_path / "no.png")],
        "edit name": ["rescale", *w, "--name", "../x"],
        "params file not found": ["train", *w, "--params", str(tmp_path / "p.yaml")],
        "error: --device tpu: device must be": ["train", *w, "--device", "tpu"],
        "manifest.parquet is missing": ["train", *w],
        "not a OneEdit workspace (no": ["studio", "--workspace", str(tmp_path / "nowhere")],
        "Invalid value for '--port'": ["studio", *w, "--port", "0"],
        "nowhere is not a OneEdit workspace": ["list", "--workspace", str(tmp_path / "nowhere")],
        "nowhere is not a OneEdit workspace (no": ["status", "--workspace", str(tmp_path / "nowhere")],
        "--preview": ["edit", *w, "--name", "x", "--example", "x", "--after", "a.png", "--preview", "0"],
    }
    for expected, argv in cases.items():
        assert expected in _one_error_line(capsys, argv), argv


def test_the_cli_answers_at_once(tmp_path: Path) -> None:
    """--help, --version and a bad argument import none of the heavy libraries (issue 27: `import oneedit.cli`
    took 7 s, a typo's one-line error 12-24 s): they answer in a fraction of a second."""
    heavy = ("torch", "pandas", "prefect", "cv2", "h5py", "pyarrow", "numpy")
    code = ("import sys\nfrom oneedit.cli import main\n"
            f"codes = [main(['--help']), main(['--version']), main(['train', '-w', {str(tmp_path)!r}, '--set', "
            "'gan.stepz=1']), main(['rescale', '-w', '.', '-n', 'x', '--strength', '20'])]\n"
            f"print(codes, [m for m in {heavy!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).parents[2])
    assert done.stdout.strip().splitlines()[-1] == "[0, 0, 2, 2] []", (done.stdout, done.stderr)
    assert "oneedit 0.1.0" in done.stdout


def test_cuda_requested_without_cuda(capsys: pytest.CaptureFixture, ws: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    assert "CUDA is not available" in _one_error_line(capsys, ["train", "--workspace", str(ws), "--device", "cuda"])


def test_help_exits_zero(capsys: pytest.CaptureFixture) -> None:
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for command in ("ingest", "train", "project", "edit", "rescale", "report", "demo", "studio", "list", "status"):
        assert command in text


def test_ingest_lists_the_rejected_files(capsys: pytest.CaptureFixture, ws: Path) -> None:
    import pandas as pd

    from common.storage import write_parquet
    from oneedit.cli.printing import print_rejected
    from tasks.ingest import manifest_schema

    rows = [["a" * 16, "ok.png", "", 8, 8, "accepted", "", 0, 0]]
    rows += [["", f"bad-{k}.jpg", "", -1, -1, "rejected", "not a recognised image", -1, -1] for k in range(3)]
    workspace = Workspace.open(ws)
    write_parquet(workspace.manifest, pd.DataFrame(rows, columns=manifest_schema(8).names), manifest_schema(8))
    print_rejected(workspace, limit=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["  rejected bad-0.jpg: not a recognised image", "  rejected bad-1.jpg: not a recognised image"]
    assert "1 more" in lines[2] and str(workspace.manifest) in lines[2]


def test_schedule_arguments(capsys: pytest.CaptureFixture, tmp_path: Path, ws: Path) -> None:
    """`retrain|update --cron`: a bad schedule, a missing source or no Prefect server to serve on."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    models = Workspace.open(ws)
    for path in (models.gan, models.encoder):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    photos = tmp_path / "photos"
    photos.mkdir()
    for command in ("retrain", "update"):
        w = [command, str(photos), "--workspace", str(ws)]
        assert "not a cron schedule" in _one_error_line(capsys, [*w, "--cron", "0 3 * *"])
        assert "source folder not found" in _one_error_line(capsys, [command, str(tmp_path / "no"), *w[2:],
                                                                     "--cron", "0 3 * * 0"])
        with temporary_settings(restore_defaults={PREFECT_API_URL}):  # no server, whatever ran before
            assert "needs a Prefect server" in _one_error_line(capsys, [*w, "--cron", "0 3 * * 0"])


def test_a_hard_exit_stops_the_temporary_prefect_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """`kill -INT` on `oneedit train` left its temporary Prefect server running: the watchdog's os._exit
    skips the atexit hook that stops it, so the hard exit stops it first."""
    from prefect.server.api.server import SubprocessASGIServer

    from oneedit.cli import signals

    stopped, exits = [], []

    class Server:
        def stop(self) -> None:
            stopped.append(True)

    # only the fake server: the session's own test server (also one of these) must keep running
    monkeypatch.setattr(SubprocessASGIServer, "_instances", {-1: Server()})
    monkeypatch.setattr(signals.os, "_exit", exits.append)
    signals.hard_exit(2)
    assert stopped == [True] and exits == [130]
