"""Tasks of the scheduled retraining (flows/retrain.py) beyond the models: the saved edits, DVC commit.

The fine-tuning itself is in tasks/train.py (`finetune_catalog_gan`, `finetune_catalog_encoder`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import torch
from prefect import task
from prefect.cache_policies import NO_CACHE

from common.errors import InputError, OneEditError
from common.storage import read_json
from common.workspace import EditPaths, Workspace
from tasks.alphas import applied_strength
from tasks.direction import input_digest


@task(cache_policy=NO_CACHE, persist_result=False)
def saved_edits(ws: Workspace) -> dict[str, dict]:
    """name -> the saved edit, read from WS/edits/*/spec.json (its durable record) and its results:
    `form` (what re-creates it), `kind`, `applied` (results exist; False when only `direction` ran),
    `strength` (the strength it was applied at; None for results made before it was recorded) and
    `gan_sha256` (the generator its direction was fitted on)."""
    edits = {}
    for spec_path in ws.edit_specs():
        spec = read_json(spec_path)
        paths = ws.edit(spec["name"])
        source = paths.root / spec["input"]  # the copy in the edit's folder (an absolute path before copies)
        example = spec["example_id"] or (str(paths.root / spec["example_input"]) if "example_input" in spec
                                         else spec["example"])  # an outside example: the edit's own copy
        form = {"kind": spec["kind"], "example": example, "path": str(source),
                "source_input": spec.get("source_input", spec["input"]), "source_example": spec["example"],
                **({"truth": spec["truth"]} if "truth" in spec else {})}
        edits[spec["name"]] = {"form": form, "kind": spec["kind"], "applied": paths.results.exists(),
                               "strength": applied_strength(paths), "gan_sha256": spec.get("gan_sha256") or _direction_gan(paths),
                               "input_sha256": spec["input_sha256"]}
    return edits


def _direction_gan(paths: EditPaths) -> str | None:
    """The generator recorded in direction.pt (specs written before it was recorded there too)."""
    if not paths.direction.exists():
        return None
    return torch.load(paths.direction, map_location="cpu", weights_only=True).get("gan_sha256")


def check_input(ws: Workspace, name: str, edit: dict) -> None:
    """Before re-fitting a saved edit: its input still holds the bytes it was made from."""
    source = Path(edit["form"]["path"])
    if not source.is_file() or input_digest(edit["kind"], source) != edit["input_sha256"]:
        raise InputError(f"edit {name!r}: its input {source} is missing or changed since the edit was made; "
                         f"restore it or delete {ws.edit(name).root}")


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
