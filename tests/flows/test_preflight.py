"""The preflight table: one entry per step a flow runs, every output it names has its command, and
recovery hints read the same table."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.errors import InputError
from common.params import Params
from common.workspace import OUTPUTS, Workspace, recovery_hint
from flows.demo import catalog_flow, demo_flow, pretrain_flow
from flows.edit import direction_flow, edit_flow
from flows.preflight import STEPS, preflight
from flows.project import project_flow
from flows.report import report_flow
from flows.rerun import rerun_flow
from flows.rescale import rescale_flow
from flows.retrain import retrain_flow, update_flow
from flows.train import ingest_flow, train_flow

STEPPED = [ingest_flow, train_flow, project_flow, direction_flow, edit_flow, rescale_flow, rerun_flow, report_flow,
           update_flow, retrain_flow]


def test_every_step_names_known_outputs_and_every_flow_that_needs_a_workspace_has_a_step() -> None:
    assert sorted(STEPS) == sorted(f.name for f in STEPPED)
    for step in STEPS.values():
        assert set(step.needs) | set(step.makes) <= set(OUTPUTS)
    for flow in (catalog_flow, demo_flow, pretrain_flow):  # they make a workspace's inputs: nothing to require
        assert flow.name not in STEPS


def test_preflight_names_the_first_missing_output_and_its_command(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "ws")
    with pytest.raises(InputError, match=r"manifest.parquet is missing: run `oneedit ingest SRC_DIR --workspace WS` first"):
        preflight("project", ws, Params())
    ws.manifest.parent.mkdir(parents=True)
    ws.manifest.touch()
    with pytest.raises(InputError, match=r"direction.pt is missing: run `oneedit edit --workspace WS --name hue \.\.\.`"):
        preflight("rescale", ws, Params(), name="hue")


@pytest.mark.parametrize(("path", "hint"), [
    ("WS/edits/hue/direction.pt", "run `oneedit edit --name hue ...` again (or delete WS/edits/hue)"),
    ("WS/edits/hue/example/before.png", "run `oneedit edit --name hue ...` again (or delete WS/edits/hue)"),
    ("WS/edits/hue/results.parquet", "run `oneedit rescale --name hue` again"),
    ("WS/models/gan.pt", "run `oneedit train` again"),
    ("WS/latents/shard-00000.h5", "run `oneedit project` again (it rewrites unreadable shards)"),
    ("WS/ingest/manifest.parquet", "run `oneedit ingest SRC_DIR` into a new workspace"),
    ("WS/workspace.json", "recreate the workspace"),
    ("elsewhere/photo.png", ""),
])
def test_recovery_hints_read_the_outputs_table(path: str, hint: str) -> None:
    assert recovery_hint(Path(path)) == hint
