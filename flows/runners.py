"""Where the flows' tasks run: Prefect threads on this machine, or a Dask cluster (one machine or many).

`runtime.task_runner: threads` runs mapped tasks in `runtime.workers` threads of the flow's process.
`runtime.task_runner: dask` sends them to the Dask scheduler at `runtime.dask_address`
(`tcp://HOST:PORT`), or, with no address, to a LocalCluster of `runtime.workers` processes.
A flow gets its runner at call time (`on_runner(flow, runtime)`); `shared_cluster` starts one
LocalCluster for a whole command so that its subflows share it instead of each starting one.

Tasks that need a GPU are submitted inside `gpu_annotation(runtime.gpu_resource)`: Dask then only
places them on workers started with `--resources GPU=1` (docs/SCALE_OUT.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, TypeVar

import dask
from prefect import Flow
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from common.params import Params, RuntimeParams

GPU_RESOURCE = "GPU"
LOCAL_CLUSTER = "distributed.LocalCluster"
F = TypeVar("F", bound=Flow)


def local_cluster_kwargs(n_workers: int, torch_threads: int, gpu: bool) -> dict[str, Any]:
    """LocalCluster arguments: `n_workers` processes running one task each with `torch_threads` torch threads."""
    threads = str(torch_threads)
    return {
        "n_workers": n_workers,
        "threads_per_worker": 1,
        "processes": True,
        "resources": {GPU_RESOURCE: 1} if gpu else {},
        "env": {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads},
        "dashboard_address": None,
    }


def make_task_runner(runtime: RuntimeParams) -> TaskRunner:
    """The task runner `runtime` asks for: threads, a Dask scheduler's address, or a LocalCluster."""
    if runtime.task_runner == "threads":
        return ThreadPoolTaskRunner(max_workers=runtime.workers)
    from prefect_dask import DaskTaskRunner

    if runtime.dask_address:
        return DaskTaskRunner(address=runtime.dask_address)
    return DaskTaskRunner(cluster_class=LOCAL_CLUSTER,
                          cluster_kwargs=local_cluster_kwargs(runtime.workers, runtime.threads, runtime.gpu_resource))


def on_runner(flow: F, runtime: RuntimeParams) -> F:
    """`flow` with the task runner `runtime` asks for (Prefect gives every (sub)flow run its own copy)."""
    return flow.with_options(task_runner=make_task_runner(runtime))


@contextlib.contextmanager
def shared_cluster(params: Params) -> Iterator[Params]:
    """Params whose Dask runner is one LocalCluster, started here and shared by every subflow.

    Only `task_runner: dask` without an address starts a cluster; other params come back unchanged.
    """
    runtime = params.runtime
    if runtime.task_runner != "dask" or runtime.dask_address:
        yield params
        return
    from distributed import LocalCluster

    with LocalCluster(**local_cluster_kwargs(runtime.workers, runtime.threads, runtime.gpu_resource)) as cluster:
        address = runtime.model_copy(update={"dask_address": cluster.scheduler_address})
        yield params.model_copy(update={"runtime": address})


@contextlib.contextmanager
def gpu_annotation(enabled: bool) -> Iterator[None]:
    """Tasks submitted (`.submit` / `.map`) inside need a Dask worker with resource GPU=1 when `enabled`.

    prefect_dask's client submits in the caller's thread through `Client._graph_to_futures`, which
    merges `dask.get_annotations()` into each task's restrictions; threads runners ignore it.
    """
    with dask.annotate(resources={GPU_RESOURCE: 1}) if enabled else contextlib.nullcontext():
        yield
