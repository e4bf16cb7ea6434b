"""Bring your own StyleGAN2 through the CLI (issue 16): import, keep, fine-tune and edit with it.

A rosinality checkpoint (made by that code base, ../shared/fixtures/stylegan2) becomes the workspace's
generator; `train` then trains only the encoder against it, `project` and `edit` run on it, and
`train --init` fine-tunes it on the catalog. A hostile pickle is refused in one line, nothing written.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from common.storage import read_json, read_parquet, sha256_file
from edit_core.checkpoint import load_checkpoint, load_generator
from oneedit.cli import main
from tests.helpers import cli_args

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "stylegan2"
ROSINALITY = FIXTURES / "rosinality-tiny-32.pt"
SETS = ["catalog.size=16", "model.resolution=32", "encoder.steps=4", "gan.steps=2"]

pytestmark = pytest.mark.skipif(not ROSINALITY.is_file(), reason=f"StyleGAN2 fixtures not found in {FIXTURES}")


def cli(*args: str) -> int:
    return main(cli_args(*args, sets=SETS))


class Hostile:
    def __reduce__(self) -> tuple:
        import os

        return os.system, ("touch HOSTILE_RAN",)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 16-photo catalog ingested at 32 px, the rosinality generator imported, the encoder trained."""
    root = tmp_path_factory.mktemp("byo")
    assert cli("demo-catalog", str(root / "cat")) == 0
    ws = root / "ws"
    assert cli("ingest", str(root / "cat" / "photos"), "-w", str(ws)) == 0
    assert main(["import-generator", str(ROSINALITY), "-w", str(ws), "--precision", "float32"]) == 0
    return ws


def test_a_hostile_pickle_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "network-snapshot-000000.pkl"
    evil.write_bytes(pickle.dumps({"G_ema": Hostile()}))
    assert main(["import-generator", str(evil), "-w", str(tmp_path / "ws")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "system" in err[0]
    assert not (tmp_path / "HOSTILE_RAN").exists() and not (tmp_path / "ws" / "models" / "gan.pt").exists()


def test_imported_generator_reproduces_the_upstream_render(ws: Path) -> None:
    reference = np.load(FIXTURES / "rosinality-tiny-32-reference.npz")
    G = load_generator(ws / "models" / "gan.pt")
    with torch.no_grad():
        img = G.synthesis(torch.from_numpy(reference["wplus"]))
    assert float((img - torch.from_numpy(reference["img_wplus"])).abs().max()) < 1e-4
    meta = read_json(ws / "models" / "gan.json")["imported"]
    assert meta["source_sha256"] == sha256_file(ROSINALITY) and meta["resolution"] == 32


def test_train_keeps_it_project_and_edit_run_on_it(ws: Path, capsys: pytest.CaptureFixture) -> None:
    before = sha256_file(ws / "models" / "gan.pt")
    assert main(["import-generator", str(ROSINALITY), "-w", str(ws)]) == 2  # no silent replacement
    capsys.readouterr()
    assert cli("train", "-w", str(ws)) == 0
    out, err = capsys.readouterr()  # what the models reached: a generator of other pictures, 4 encoder steps
    assert "the models reconstruct the catalog to" in out and "warning: the generator renders this catalog poorly" in err
    assert sha256_file(ws / "models" / "gan.pt") == before  # the user's generator is not retrained
    assert (ws / "models" / "encoder.pt").is_file()
    assert cli("project", "-w", str(ws)) == 0
    cat = ws.parent / "cat"
    assert cli("edit", "-w", str(ws), "-n", "e1", "-e", str(cat / "example" / "before.png"),
               "--after", str(cat / "example" / "after.png")) == 0
    results = read_parquet(ws / "edits" / "e1" / "results.parquet")
    assert (results["status"] == "edited").sum() + (results["status"] == "flagged").sum() == 16


def test_train_init_fine_tunes_it_and_replaces_it_whole(ws: Path, tmp_path: Path) -> None:
    copy = tmp_path / "imported.pt"
    shutil.copyfile(ws / "models" / "gan.pt", copy)
    encoder = sha256_file(ws / "models" / "encoder.pt")
    assert cli("train", "-w", str(ws), "--init", str(copy)) == 0
    tuned = load_checkpoint(ws / "models" / "gan.pt")
    start = load_checkpoint(copy)
    assert tuned["step"] == 2 and tuned["config"] == start["config"]
    name = next(k for k in start["G"] if k.endswith("weight"))
    assert not torch.equal(tuned["G"][name], start["G"][name])
    assert sha256_file(ws / "models" / "encoder.pt") != encoder  # retrained for the fine-tuned generator
    assert cli("train", "-w", str(ws), "--init", str(ws / "missing.pt")) == 2


def test_bench_stylegan2_measures_the_imported_generator(ws: Path) -> None:
    from typer.testing import CliRunner

    from oneedit.bench import bench_app

    out = ws.parent / "sg2.json"
    result = CliRunner().invoke(bench_app, ["stylegan2", "--out", str(out), "--gan", str(ws / "models" / "gan.pt"),
                                            "--batch", "2", "--repeats", "1"])
    assert result.exit_code == 0, result.output
    data = read_json(out)
    assert data["measured"]["config"]["resolution"] == 32 and data["measured"]["forward_s_per_img"] > 0
    assert data["estimate"]["config"]["resolution"] == 512 and data["estimate"]["gflop_forward"] > 100
