"""Every name docs/ARCHITECTURE.md and docs/SCALE_OUT.md cite as code exists.

A backticked span is read as a claim about the code when it looks like code: a path into the repository
(`flows/runners.py`, `tests/flows/test_runners.py`), a dotted name starting with one of the project's
packages (`edit_core.alphas.guard_decision`), a params key (`runtime.task_runner`, `edit.direction.lam`),
or an identifier written as code (snake_case, CamelCase, ALL_CAPS, or called: `make_task_runner(...)`).
Each must resolve: the file exists, the module imports and has the attribute, the key is in `Params`,
the identifier is defined (or imported) somewhere in the project's code. `def` / `class` lines of the
fenced signature blocks are claims too. Plain words in backticks (`threads`, `hybrid`) are values, not
code, and are not read.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from common.params import Params

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("edit_core", "common", "tasks", "flows", "benchmarks", "oneedit")
DOCS = ("docs/ARCHITECTURE.md", "docs/SCALE_OUT.md")
# Names of Prefect, Dask and the shell the docs cite (not ours to define), and environment variables.
THIRD_PARTY = {"PrefectDaskClient", "_graph_to_futures", "set_working_directory", "job_variables",
               "Retrain_FlowModel", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "PREFECT_API_URL", "ONEEDIT_CHECKOUT",
               "weights_only", "threads_per_worker", "torch_threads", "format_version"}
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def defined_names() -> set[str]:
    """Every function, class, method, assignment, parameter, imported name and dict key of the project's code."""
    names: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names.add(node.name)
                elif isinstance(node, ast.arg):
                    names.add(node.arg)
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    names.add(node.target.id)
                elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                    names.add(node.attr)
                elif isinstance(node, ast.ImportFrom | ast.Import):
                    names.update((a.asname or a.name).split(".")[-1] for a in node.names)
                elif isinstance(node, ast.Dict):  # keys of the records the code writes (a checkpoint's spec)
                    names.update(k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str))
    return names


def params_keys(model: type[BaseModel] = Params, prefix: str = "") -> set[str]:
    """Every params key as `section.key` (nested sections too)."""
    keys = set()
    for name, field in model.model_fields.items():
        keys.add(prefix + name)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            keys |= params_keys(field.annotation, f"{prefix}{name}.")
    return keys


def cited(text: str) -> list[str]:
    """Backticked spans outside fenced blocks, and the names of `def` / `class` lines inside them."""
    spans, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            match = re.match(r"\s*(?:@dataclass(?:\(frozen=True\))?\s+)?(?:def|class)\s+([A-Za-z_]\w*)", line)
            if match:
                spans.append(match.group(1))
        else:
            spans += re.findall(r"`([^`\n]+)`", line)
    return spans


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def problem(span: str, names: set[str], keys: set[str]) -> str | None:
    """Why `span` (cited as code) does not exist, or None when it does or is not code."""
    code = span.split("(")[0].strip()
    if " " in code or "=" in code or "*" in code or code.startswith(("-", "WS/", "$")) or not code:
        return None
    if "/" in code:  # a path into the repository (folders end with /; line anchors are dropped)
        path = code.split(":")[0].split("::")[0]
        first = path.split("/")[0]
        if first not in (*PACKAGES, "tests", "docs", "data", "bench") and not path.endswith(".py"):
            return None
        if (ROOT / path).exists() or any((ROOT / p / path).exists() for p in PACKAGES):
            return None
        return f"no file {path}"
    if code.endswith(".py"):
        return None if any(ROOT.glob(f"*/**/{code}")) or (ROOT / code).exists() else f"no module file {code}"
    if "." in code:
        top = code.split(".")[0]
        if top in PACKAGES:
            return None if _resolves(code) else f"{code} does not import"
        if top == "params":
            code = code.removeprefix("params.")
        if code.split(".")[0] in Params.model_fields:
            return None if code in keys else f"no params key {code}"
        return None  # another library's name (dask.annotate, flow.serve, ...)
    if not IDENTIFIER.fullmatch(code) or code in THIRD_PARTY:
        return None
    looks_like_code = "_" in code.strip("_") or code != code.lower() or span.rstrip().endswith(")")
    if looks_like_code and code not in names:
        return f"{code} is defined nowhere in {', '.join(PACKAGES)}"
    return None


@pytest.mark.parametrize("doc", DOCS)
def test_every_name_the_doc_cites_exists(doc: str) -> None:
    names, keys = defined_names(), params_keys()
    bad = sorted({f"`{span}`: {why}" for span in cited((ROOT / doc).read_text(encoding="utf-8"))
                  if (why := problem(span, names, keys))})
    assert bad == []


def test_the_check_catches_stale_names() -> None:
    names, keys = defined_names(), params_keys()
    for stale in ("range_guard", "alphas_at_strength", "edit_shard", "edit.verify", "oneedit/scaling.py",
                  "edit_core.metrics.reconstruction_errors", "TorchScriptFeatures", "image_loss(G, w0)"):
        assert problem(stale, names, keys), stale
    for fine in ("guard_decision", "edit.direction.lam", "flows/steps.py", "tasks.pretrained.settle_generator",
                 "threads", "rescale_steps(ws, name, params, steps)"):
        assert problem(fine, names, keys) is None, fine
