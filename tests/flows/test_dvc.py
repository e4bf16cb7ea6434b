"""`dvc repro` on a temporary copy of the repository with tiny params.

First run: every stage. Second run: nothing. Changing only edit.strength: only alphas + report.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from common.params import load_params
from common.storage import read_parquet

pytestmark = pytest.mark.slow  # infrastructure: dvc repro of the whole pipeline (CI's `make test` runs it)

REPO = Path(__file__).resolve().parents[2]
STAGES = {"catalog", "ingest", "train", "project", "direction", "alphas", "report"}


def _repro(repo: Path, env: dict[str, str]) -> set[str]:
    """Run `dvc repro`; the names of the stages it ran."""
    done = subprocess.run(["dvc", "repro"], cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return set(re.findall(r"Running stage '([\w-]+)'", done.stdout))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    shutil.copy(REPO / "dvc.yaml", repo / "dvc.yaml")
    shutil.copy(REPO / "data" / ".gitignore", repo / "data" / ".gitignore")
    shutil.copytree(REPO / "data" / "pretrained", repo / "data" / "pretrained")  # the frozen stage's output
    params = load_params(Path(__file__).parent / "tiny_params.yaml", ["report.estimate=0", "demo.init="]).to_dict()
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return repo


def test_dvc_repro_runs_once_and_reruns_only_from_alpha(repo: Path, prefect_server: str) -> None:
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "PREFECT_API_URL": prefect_server, "DVC_NO_ANALYTICS": "1"}
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True)

    assert _repro(repo, env) == STAGES
    results = repo / "data" / "ws" / "edits" / "demo" / "results.parquet"
    first = read_parquet(results)
    assert (first["status"] != "rejected").all()
    assert (repo / "data" / "ws" / "edits" / "demo" / "report" / "index.html").is_file()

    assert _repro(repo, env) == set()

    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["edit"]["strength"] = 1.5
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert _repro(repo, env) == {"alphas", "report"}
    assert not read_parquet(results)["alpha"].equals(first["alpha"])
