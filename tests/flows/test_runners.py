"""Task runner choice from runtime params, and GPU resource annotations reaching the Dask scheduler."""

from __future__ import annotations

import time

import dask
import pytest
from distributed import LocalCluster
from prefect import task
from prefect.task_runners import ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from common.params import load_params
from flows.runners import gpu_annotation, local_cluster_kwargs, make_task_runner, on_runner, shared_cluster


def runtime(*overrides: str):
    return load_params(None, list(overrides)).runtime


def test_threads_by_default() -> None:
    runner = make_task_runner(runtime("runtime.workers=3"))
    assert isinstance(runner, ThreadPoolTaskRunner) and runner == ThreadPoolTaskRunner(max_workers=3)


def test_dask_address() -> None:
    runner = make_task_runner(runtime("runtime.task_runner=dask", "runtime.dask_address=tcp://10.0.0.5:8786"))
    assert isinstance(runner, DaskTaskRunner) and runner.address == "tcp://10.0.0.5:8786"
    assert runner.cluster_class is None


def test_dask_local_cluster_arguments() -> None:
    rt = runtime("runtime.task_runner=dask", "runtime.workers=4", "runtime.threads=2", "runtime.gpu_resource=true")
    runner = make_task_runner(rt)
    assert runner.address is None and runner.cluster_class == "distributed.LocalCluster"
    kw = runner.cluster_kwargs
    assert (kw["n_workers"], kw["threads_per_worker"], kw["processes"], kw["resources"]) == (4, 1, True, {"GPU": 1})
    assert kw["env"]["OMP_NUM_THREADS"] == "2"
    assert local_cluster_kwargs(2, 1, gpu=False)["resources"] == {}


def test_bad_address_is_refused() -> None:
    with pytest.raises(ValueError, match="dask_address"):
        runtime("runtime.dask_address=localhost:8786")


def test_cli_dask_flags_become_runtime_params() -> None:
    from common.errors import InputError
    from oneedit.cli.runtime import command_params

    local = command_params(None, ["runtime.dask_address=tcp://h:1"], dask_local=3).runtime
    assert (local.task_runner, local.dask_address, local.workers) == ("dask", "", 3)
    remote = command_params(None, None, dask_address="tcp://10.0.0.5:8786").runtime
    assert (remote.task_runner, remote.dask_address) == ("dask", "tcp://10.0.0.5:8786")
    with pytest.raises(InputError, match="not both"):
        command_params(None, None, dask_address="tcp://h:1", dask_local=2)


def test_on_runner_and_shared_cluster_leave_threads_alone() -> None:
    from flows.project import project_flow

    rt = runtime("runtime.workers=5")
    assert on_runner(project_flow, rt).task_runner == ThreadPoolTaskRunner(max_workers=5)
    params = load_params(None)
    with shared_cluster(params) as same:
        assert same is params


def test_gpu_annotation_context() -> None:
    with gpu_annotation(True):
        assert dask.get_annotations() == {"resources": {"GPU": 1}}
    with gpu_annotation(False):
        assert dask.get_annotations() == {}


@task
def _square(x: int) -> int:
    return x * x


def test_gpu_tasks_wait_for_a_gpu_worker(prefect_server: str) -> None:
    """Through prefect_dask, an annotated task carries GPU=1 and never runs on a CPU-only worker."""
    with LocalCluster(n_workers=1, processes=False, threads_per_worker=1, dashboard_address=None) as cluster:
        with DaskTaskRunner(address=cluster.scheduler_address) as runner:
            assert runner.submit(_square, {"x": 3}).result() == 9
            with gpu_annotation(True):
                future = runner.submit(_square, {"x": 4})
            key, deadline = future.wrapped_future.key, time.monotonic() + 10
            while (seen := runner.client.run_on_scheduler(_states).get(key)) is None or seen[0] != "no-worker":
                assert time.monotonic() < deadline, seen
                time.sleep(0.05)
            assert seen == ("no-worker", {"GPU": 1})
            future.wrapped_future.cancel()


def _states(dask_scheduler) -> dict:
    return {k: (ts.state, ts.resource_restrictions) for k, ts in dask_scheduler.tasks.items()}
