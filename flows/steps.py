"""How a flow's steps run: as Prefect tasks, or as plain calls in this process.

A flow's body is one plain function (`train_steps`, `project_steps`, `direction_steps`, `rescale_steps`)
that names its steps in order and runs each through a `Steps`:

- `FlowSteps` (what the flows use): every step a Prefect task run; `submit` / `map` go to the flow's task
  runner inside `gpu_annotation(runtime.gpu_resource)`, mapped task runs are named after the shard;
- `PlainSteps` (what the memory benchmark uses): every step the task's own function (`task.fn`), called in
  order in this process, without the Prefect engine around it.

So the flow and the benchmark run the same steps, with the same arguments, in the same order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from prefect import Task, unmapped

from flows.inputs import task_run_name
from flows.runners import gpu_annotation


class Steps(Protocol):
    """The three ways a flow body runs a task, and how it waits for mapped ones."""

    def call(self, task: Task, *args: Any) -> Any:
        """Run `task` now, in the flow's own process, and return its result."""

    def submit(self, task: Task, *args: Any) -> Any:
        """Run `task` on the task runner (a GPU task: annotated) and return its result."""

    def map(self, task: Task, run_name: tuple[str, ...], *args: Any) -> Any:
        """One `task` per element of the mapped (not `unmapped`) arguments, named `run_name` (see
        `flows.inputs.task_run_name`: the step, then the keys); returns a handle for `wait`."""

    def wait(self, mapped: Any) -> list:
        """The results of a `map`, in order (a failed task raises as itself)."""


class FlowSteps:
    """Steps as Prefect task runs of the current flow run (on its task runner)."""

    def __init__(self, workspace: Path, gpu_resource: bool) -> None:
        self.workspace = workspace
        self.gpu_resource = gpu_resource

    def call(self, task: Task, *args: Any) -> Any:
        return task(*args)

    def submit(self, task: Task, *args: Any) -> Any:
        with gpu_annotation(self.gpu_resource):
            future = task.submit(*args)
        return future.result()

    def map(self, task: Task, run_name: tuple[str, ...], *args: Any) -> Any:
        named = task.with_options(task_run_name=task_run_name(run_name[0], self.workspace, *run_name[1:]))
        with gpu_annotation(self.gpu_resource):
            return named.map(*args)

    def wait(self, mapped: Any) -> list:
        return mapped.result()


class PlainSteps:
    """Steps as plain calls of each task's function, in order, in this process (no Prefect engine)."""

    def call(self, task: Task, *args: Any) -> Any:
        return task.fn(*args)

    def submit(self, task: Task, *args: Any) -> Any:
        return task.fn(*args)

    def map(self, task: Task, run_name: tuple[str, ...], *args: Any) -> list:
        mapped = [a for a in args if not isinstance(a, unmapped)]
        count = len(mapped[0]) if mapped else 0
        if any(len(a) != count for a in mapped):
            raise ValueError(f"{task.name}: mapped arguments of different lengths")
        return [task.fn(*(a.value if isinstance(a, unmapped) else a[i] for a in args)) for i in range(count)]

    def wait(self, mapped: list) -> list:
        return mapped

