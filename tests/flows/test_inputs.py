"""Flow parameters as a deployment passes them: JSON into a fresh process that unpickles the flow."""

from __future__ import annotations

import pickle
from pathlib import Path

import cloudpickle
import pytest

from common.errors import InputError
from common.params import Params, load_params
from flows.demo import catalog_flow, demo_flow
from flows.edit import direction_flow, edit_flow
from flows.inputs import as_params, run_name, task_run_name
from flows.project import project_flow
from flows.report import report_flow
from flows.rescale import rescale_flow
from flows.retrain import retrain_flow, update_flow
from flows.train import ingest_flow, train_flow
from tests.helpers import TINY

FORM = {"kind": "pair", "example": "car-000.png", "path": "/photos/after.png"}
DEPLOYABLE = [
    (retrain_flow, {"workspace": "/ws", "source": "/photos", "mode": "retrain", "steps": 3, "dvc": True}),
    (update_flow, {"workspace": "/ws", "source": "/photos"}),
    (project_flow, {"workspace": "/ws"}),
    (edit_flow, {"workspace": "/ws", "name": "hue", "form": FORM}),
    (direction_flow, {"workspace": "/ws", "name": "hue", "form": FORM}),
    (rescale_flow, {"workspace": "/ws", "name": "hue"}),
    (report_flow, {"workspace": "/ws", "name": "hue"}),
    (ingest_flow, {"source": "/photos", "workspace": "/ws"}),
    (train_flow, {"workspace": "/ws", "source": "/photos"}),
    (demo_flow, {"workspace": "/ws"}),
    (catalog_flow, {"out_dir": "/catalog"}),
]


@pytest.mark.parametrize("params", [load_params(TINY).to_dict(), str(TINY)], ids=["dict", "file"])
@pytest.mark.parametrize(("flow", "json"), DEPLOYABLE, ids=[f.name for f, _ in DEPLOYABLE])
def test_flow_validates_deployment_json_after_pickling(flow, json: dict, params: object) -> None:
    """A served or deployed run unpickles the flow (by value) in a new process, then validates its JSON."""
    copy = pickle.loads(cloudpickle.dumps(flow))
    values = copy.validate_parameters({**json, "params": params})
    assert all(isinstance(values[k], Path) for k in json if k in ("workspace", "source", "out_dir"))
    assert as_params(values["params"]) == load_params(TINY)


def test_as_params_accepts_every_form_and_fails_in_one_line() -> None:
    p = load_params(TINY)
    assert as_params(p) is p and as_params(p.to_dict()) == p == as_params(str(TINY)) == as_params(TINY)
    assert as_params({}) == Params()
    for bad, message in (({"gan": {"stepz": 1}}, "params: gan.stepz: unknown key"),
                         ({"gan": {"steps": 0}}, "params: gan.steps: Input should be greater than or equal to 1"),
                         ("missing.yaml", "params file not found: missing.yaml"),
                         (3, "params: expected a mapping of sections or a params file path, got int")):
        with pytest.raises(InputError) as err:
            as_params(bad)
        assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_run_names_follow_workspace_edit_and_shard() -> None:
    assert task_run_name("project", Path("/data/ws{1}"), "shard.stem").format(shard=Path("x/shard-00002.h5")) == (
        "project ws{1}/shard-00002")
    assert task_run_name("transfer", Path("/ws"), "name", "shard").format(name="hue", shard="shard-00000") == (
        "transfer ws/hue/shard-00000")
    assert run_name("edit", "name")() == "edit"  # outside a flow run: no parameters to name it by
