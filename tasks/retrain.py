"""Tasks of the scheduled retraining (flows/retrain.py) beyond the models: the saved edits, DVC commit.

The fine-tuning itself is in tasks/train.py (`finetune_catalog_gan`, `finetune_catalog_encoder`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from common.errors import InputError, OneEditError
from common.storage import read_json, sha256_file
from common.workspace import Workspace


@task(cache_policy=NO_CACHE, persist_result=False)
def saved_edits(ws: Workspace) -> dict[str, dict]:
    """name -> the form that re-creates the edit, read from WS/edits/*/spec.json (its durable record).

    The recorded input file (after-image, brush JSON or offset) must still hold the same bytes.
    """
    forms = {}
    for spec_path in sorted((ws.root / "edits").glob("*/spec.json")):
        spec = read_json(spec_path)
        source = Path(spec["input"])
        if not source.is_file() or sha256_file(source) != spec["input_sha256"]:
            raise InputError(f"edit {spec['name']!r}: its input {source} is missing or changed since the edit "
                             f"was made; restore it or delete {spec_path.parent}")
        forms[spec["name"]] = {"kind": spec["kind"], "example": spec["example_id"] or spec["example"],
                               "path": str(source), **({"truth": spec["truth"]} if "truth" in spec else {})}
    return forms


def dvc_root(path: Path) -> Path | None:
    """The DVC repository (a folder holding .dvc/) that contains `path`, if any."""
    for folder in (path.resolve(), *path.resolve().parents):
        if (folder / ".dvc").is_dir():
            return folder
    return None


@task(cache_policy=NO_CACHE, persist_result=False)
def dvc_commit(ws: Workspace) -> str:
    """Record the workspace's new outputs in DVC: `dvc commit` of the dvc.yaml stages, else `dvc add WS`."""
    root = dvc_root(ws.root)
    if root is None:
        return "skipped: the workspace is not inside a DVC repository"
    dvc = shutil.which("dvc") or str(Path(sys.executable).with_name("dvc"))
    if (root / "dvc.yaml").is_file():
        command = [dvc, "commit", "--force", "--quiet"]
    else:
        command = [dvc, "add", "--quiet", str(ws.root.resolve().relative_to(root))]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()
        raise OneEditError(f"{' '.join(command[1:])} failed in {root}: {last[-1] if last else done.returncode}")
    return " ".join(["dvc", *command[1:]])
