"""OneEdit's flows run from deployments on a real Prefect server, as scheduled runs do.

One `prefect server start` on 127.0.0.1 (free port, its own PREFECT_HOME) serves both tests; every
child process gets its own environment pointing at it, apart from the session's test harness that
the tiny workspace is built with. `oneedit retrain --cron` serves its deployment and runs triggered
through the API; `prefect deploy` of docs/prefect.yaml goes to a process work pool and a
`prefect worker` runs it. Runs get their parameters as JSON, exactly as a schedule gives them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

from common.lock import workspace_lock
from common.storage import read_json, read_parquet, sha256_file
from common.workspace import Workspace
from edit_core.checkpoint import load_checkpoint
from flows.report import report_flow
from tests.flows import test_scaleout
from tests.flows.test_scaleout import FIRST, add_photos, stamps
from tests.helpers import TINY

pytestmark = pytest.mark.slow  # infrastructure: a Prefect server, a work pool worker and served deployments (CI's `make test` runs it)

REPO = Path(__file__).resolve().parents[2]
CLI = "import sys; from oneedit.cli import main; sys.exit(main(sys.argv[1:]))"
PREFECT = str(Path(sys.executable).with_name("prefect"))
RUN_TIMEOUT_S = 600

# test_scaleout's tiny workspace (20 photos, one pair edit `hue`, DVC repository), built again for this module
base, threads_once = test_scaleout.base, test_scaleout.threads_once


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], env: dict[str, str], log: Path, cwd: Path = REPO) -> subprocess.Popen:
    """A child in its own process group (it starts children of its own), output to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the child's process group, SIGKILL after 30 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A real Prefect server; yields its API URL, the children's environment and the log folder."""
    logs = tmp_path_factory.mktemp("prefect-server")
    url = f"http://127.0.0.1:{free_port()}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"PREFECT_HOME": str(logs / "home"), "PREFECT_API_URL": url, "DO_NOT_TRACK": "1",
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DVC_NO_ANALYTICS": "1",
                "PREFECT_RUNNER_POLL_FREQUENCY": "1", "PREFECT_WORKER_QUERY_SECONDS": "1",
                "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])})
    port = url.split(":")[-1].removesuffix("/api")
    proc = start([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", port], env, logs / "server.log")
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, tail(logs / "server.log")
            time.sleep(0.5)
        with temporary_settings({PREFECT_API_URL: url}):
            yield {"url": url, "env": env, "logs": logs}
    finally:
        stop(proc)


def wait_for_deployment(name: str, child: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    """Until deployment `name` is registered (the child serving or deploying it must not die first)."""
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            try:
                client.read_deployment_by_name(name)
                return
            except Exception:
                assert child.poll() in (None, 0) and time.monotonic() < deadline, tail(log)
                time.sleep(1)


def run(name: str, log: Path, **parameters: object) -> FlowRun:
    """Trigger deployment `name` through the API and wait until its run is final."""
    flow_run = run_deployment(name, parameters=parameters, timeout=RUN_TIMEOUT_S, poll_interval=1, as_subflow=False)
    assert flow_run.state is not None and flow_run.state.is_final(), f"still {flow_run.state}\n{tail(log)}"
    return flow_run


def ui_view() -> dict[str, list[str]]:
    """What the Prefect UI lists on this module's server: flow and task run names, artifacts by run name."""
    with get_client(sync_client=True) as client:
        flows = {r.id: r.name for r in client.read_flow_runs(limit=200)}
        artifacts: dict[str, list[str]] = {}
        for artifact in client.read_artifacts(limit=200):
            artifacts.setdefault(flows.get(artifact.flow_run_id, ""), []).append(artifact.key)
        return {"flows": list(flows.values()), "tasks": [r.name for r in client.read_task_runs(limit=200)],
                "artifacts": artifacts}


def test_served_retraining_run_completes_and_retrains(server: dict, base: dict) -> None:
    ws: Workspace = base["ws"]
    logs: Path = server["logs"]
    log = logs / "serve.log"
    models = {m: (sha256_file(path), load_checkpoint(path)["step"]) for m, path in (("gan", ws.gan),
                                                                                      ("encoder", ws.encoder))}
    images = stamps(ws.edit("hue").images, "*.png")
    report = ws.edit("hue").report
    report_flow(ws.root, "hue", base["params"])  # a report to refresh (on the session's test server)
    index = stamps(report, "index.html")
    new = add_photos(base["src"], FIRST, 4)
    serve = start([sys.executable, "-c", CLI, "retrain", str(base["src"]), "--workspace", str(ws.root),
                   "--params", str(TINY), "--set", "gan.steps=2", "--set", "encoder.steps=2",
                   "--steps", "2", "--dvc", "--cron", "0 3 * * 0"], server["env"], log)
    try:
        wait_for_deployment("retrain/oneedit-retrain", serve, log)
        failed = run("retrain/oneedit-retrain", log, params={"gan": {"stepz": 2}})
        assert failed.state.type == StateType.FAILED
        assert "params: gan.stepz: unknown key" in failed.state.message and "\n" not in failed.state.message
        assert {m: (sha256_file(p), load_checkpoint(p)["step"]) for m, p in (("gan", ws.gan),
                                                                              ("encoder", ws.encoder))} == models
        done = run("retrain/oneedit-retrain", log)
        assert done.state.type == StateType.COMPLETED, f"{done.state.message}\n{tail(log)}"
        names = ui_view()
    finally:
        stop(serve)
    assert done.name == f"retrain {ws.root.name}"
    manifest = read_parquet(ws.manifest)
    assert set(new) <= set(manifest["source_path"])
    for m, path in (("gan", ws.gan), ("encoder", ws.encoder)):
        assert load_checkpoint(path)["step"] == models[m][1] + 2 and sha256_file(path) != models[m][0]
    direction = read_json(ws.edit("hue").spec)
    assert direction["input_sha256"] == sha256_file(base["root"] / "after.png")
    assert torch.load(ws.edit("hue").direction, weights_only=True)["gan_sha256"] == sha256_file(ws.gan)
    results = read_parquet(ws.edit("hue").results)
    assert results["id"].nunique() == len(manifest[manifest["status"] == "accepted"])
    now = stamps(ws.edit("hue").images, "*.png")
    assert len(now) == len(images) + len(new) and all(now[k] != v for k, v in images.items())  # all re-applied
    assert (base["root"] / "ws.dvc").is_file()
    assert f"edit {ws.root.name}/hue" in names["flows"] and f"rescale {ws.root.name}/hue" in names["flows"]
    assert any(n.startswith(f"project {ws.root.name}/shard-") for n in names["tasks"])
    assert any(n.startswith(f"transfer {ws.root.name}/hue/") for n in names["tasks"])
    assert stamps(report, "index.html") != index  # the report shows the retrained edit, and the UI has it
    assert set(names["artifacts"][f"report {ws.root.name}/hue"]) == {"oneedit-hue-metrics", "oneedit-hue-summary"}


def test_prefect_yaml_deploys_to_a_process_pool_and_a_worker_runs_it(server: dict, base: dict) -> None:
    ws: Workspace = base["ws"]
    env, logs = server["env"], server["logs"]
    for args in (["work-pool", "create", "oneedit-gpu", "--type", "process"],
                 ["--no-prompt", "deploy", "--prefect-file", "docs/prefect.yaml", "--all"]):
        done = subprocess.run([PREFECT, *args], env=env, cwd=REPO, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    worker = start([PREFECT, "worker", "start", "--pool", "oneedit-gpu"], {**env, "ONEEDIT_CHECKOUT": str(REPO)},
                   logs / "worker.log", cwd=logs)
    new = add_photos(base["src"], FIRST + 100, 3)
    try:
        wait_for_deployment("update/update-nightly", worker, logs / "worker.log")
        json = {"workspace": str(ws.root), "source": str(base["src"]),
                "params": str(TINY.relative_to(REPO))}  # relative: to the pull step's working directory
        with workspace_lock(ws.root):  # as a running `oneedit` command holds it
            refused = run("update/update-nightly", logs / "worker.log", **json)
        assert refused.state.type == StateType.FAILED and "\n" not in refused.state.message
        assert f"workspace {ws.root} is in use by pid {os.getpid()}" in refused.state.message
        done = run("update/update-nightly", logs / "worker.log", **json)
        assert done.state.type == StateType.COMPLETED, f"{done.state.message}\n{tail(logs / 'worker.log')}"
    finally:
        stop(worker)
    manifest = read_parquet(ws.manifest).set_index("source_path")
    assert all((ws.edit("hue").images / f"{manifest.loc[name, 'id']}.png").is_file() for name in new)
