"""The layout's one rule: imports run one way, from the CLI down to the engine.

    oneedit (CLI, studio) -> benchmarks -> flows -> tasks -> common -> edit_core

A module may import its own layer or any layer below it, never one above. Task modules call each
other only through public names, and the engine stays pure torch / numpy / OpenCV.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["edit_core", "common", "tasks", "flows", "benchmarks", "oneedit"]  # bottom to top
NOT_IN_ENGINE = {"prefect", "h5py", "pandas", "pyarrow", "dask", "distributed", "typer", "rich", "pydantic",
                 "common", "tasks", "flows", "benchmarks", "oneedit"}


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(imported module, imported names) of every import in the file, also those inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.module, [a.name for a in node.names]))
    return found


def layer_violations(root: Path) -> list[str]:
    """Every import of a higher layer by a lower one, as 'file: imports module'."""
    bad = []
    for rank, layer in enumerate(LAYERS):
        for path in sorted((root / layer).rglob("*.py")):
            for module, _ in imports(path):
                top = module.split(".")[0]
                if top in LAYERS and LAYERS.index(top) > rank:
                    bad.append(f"{path.relative_to(root)}: imports {module}")
    return bad


def test_no_layer_imports_a_higher_one() -> None:
    assert layer_violations(ROOT) == []


def test_tasks_use_each_others_public_names_only() -> None:
    bad = [f"{path.relative_to(ROOT)}: {module}.{name}"
           for path in sorted((ROOT / "tasks").glob("*.py"))
           for module, names in imports(path) if module.startswith("tasks.")
           for name in names if name.startswith("_")]
    assert bad == []


def test_the_engine_does_no_pipeline_io() -> None:
    bad = [f"{path.relative_to(ROOT)}: {module}" for path in sorted((ROOT / "edit_core").rglob("*.py"))
           for module, _ in imports(path) if module.split(".")[0] in NOT_IN_ENGINE]
    assert bad == []


@pytest.mark.parametrize("layer", LAYERS)
def test_every_layer_is_a_package(layer: str) -> None:
    assert (ROOT / layer / "__init__.py").is_file()
