"""The edit: `edit` (direction + every photo), `direction` (its first half), `rescale` (its second half, at a
new strength, or again for some photos)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from common.errors import InputError
from common.workspace import Workspace
from oneedit.cli.options import (
    AfterOpt,
    ConstraintsOpt,
    ExampleOpt,
    NameOpt,
    OffsetOpt,
    ReplaceOpt,
    RerunOpt,
    RunOptions,
    StrengthOpt,
    TruthOpt,
    WorkspaceOpt,
    params_block,
)
from oneedit.cli.printing import console, out, print_edit, print_preview
from oneedit.cli.runtime import cluster, running, workspace_params

if TYPE_CHECKING:
    from common.params import Params

SUBSETS = ("rejected", "short")  # --only words for the photos of an applied edit (tasks.rerun.SUBSETS)


@params_block
def edit(
    workspace: WorkspaceOpt,
    name: NameOpt,
    example: ExampleOpt,
    after: AfterOpt = None,
    constraints: ConstraintsOpt = None,
    offset: OffsetOpt = None,
    truth: TruthOpt = None,
    strength: StrengthOpt = None,
    preview: Annotated[int | None, typer.Option(
        "--preview", min=1, max=200, help="Edit only N photos spread over α, into WS/edits/NAME/preview/ "
                                          "(the catalog's results are left as they are).")] = None,
    only: Annotated[str | None, typer.Option(
        "--only", help="Edit only these photos, as --preview does: ids or file names, comma-separated, or "
                       "@FILE with one per line; rejected / short: re-run those photos of the applied edit "
                       "into its results.")] = None,
    replace: ReplaceOpt = False,
    *,
    options: RunOptions,
) -> None:
    """Edit one example; the same edit, at the same final state, lands on every photo."""
    if preview is not None and only is not None:
        raise InputError("give --preview N or --only IDS, not both")
    p = options.load(strength)
    applying = preview is None and only is None
    ws, form, p = _example_edit(workspace, name, example, after, constraints, offset, truth, p, replace,
                                options.set_, "edit" if applying else "direction")
    if only in SUBSETS:  # the applied edit's rejected / short photos again, into its results
        from tasks.direction import is_current

        if not (is_current(ws, name, form, p) and ws.edit(name).results.exists()):
            raise InputError(f"--only {only}: edit {name!r} must be applied with this example, input and params "
                             f"first (then re-run its {only} photos)")
        _rerun(ws, name, only, p)
        return
    if not applying:
        from tasks.manifest import select_photos

        _preview(ws, name, form, p, preview if only is None else select_photos(ws, only))
        return
    from flows.edit import edit_flow

    with running(ws, p), cluster(p) as p:
        summary = edit_flow(ws.root, name, form, p)
    print_edit(ws, name, summary)


@params_block
def direction(
    workspace: WorkspaceOpt,
    name: NameOpt,
    example: ExampleOpt,
    after: AfterOpt = None,
    constraints: ConstraintsOpt = None,
    offset: OffsetOpt = None,
    truth: TruthOpt = None,
    replace: ReplaceOpt = False,
    *,
    options: RunOptions,
) -> None:
    """Only the first half of `edit`: the example edit and its direction Δ* (then `rescale` applies it)."""
    p = options.load()
    ws, form, p = _example_edit(workspace, name, example, after, constraints, offset, truth, p, replace,
                                options.set_, "direction")
    from flows.edit import direction_flow

    with running(ws, p), cluster(p) as p:
        fitted = direction_flow(ws.root, name, form, p)
    out.print(f"direction in {ws.edit(name).direction}", markup=False)
    if (fitted.get("capture") or {}).get("weak"):
        capture = fitted["capture"]["direction"]
        share = f"only {capture:.0%}" if capture > 0 else "not at all (capture ≤ 0)"  # never a negative share
        console.print(f"warning: the example's own edit is {share} reproduced by the generator: the photos reach "
                      "the example's state only as far as G renders it", markup=False, highlight=False)


@params_block
def rescale(
    workspace: WorkspaceOpt,
    name: NameOpt,
    strength: StrengthOpt = None,
    only: RerunOpt = None,
    *,
    options: RunOptions,
) -> None:
    """Apply an edit at a new strength: every α recomputed from the stored latents, every photo re-rendered
    (or, with --only, only the rejected / short / given photos)."""
    p = options.load(strength)
    ws = Workspace.open(workspace)
    ws.edit(name)  # the name checked first
    p = workspace_params(ws, p, options.set_)
    from flows.preflight import preflight

    preflight("rescale", ws, p, name=name)
    if only is not None:
        _rerun(ws, name, only, p)
        return
    from flows.rescale import rescale_flow

    with running(ws, p), cluster(p) as p:
        summary = rescale_flow(ws.root, name, p)
    print_edit(ws, name, summary)


def _example_form(after: Path | None, constraints: Path | None, offset: Path | None) -> dict[str, str]:
    """Exactly one example form: before/after pair, brush constraints or latent offset."""
    given = {k: v for k, v in (("after", after), ("constraints", constraints), ("offset", offset)) if v is not None}
    if len(given) != 1:
        raise InputError("give exactly one of --after EDITED_IMAGE, --constraints FILE or --offset FILE.npy")
    (kind, path), = given.items()
    if not path.is_file():
        raise InputError(f"--{kind}: file not found: {path}")
    return {"kind": {"after": "pair", "constraints": "brush", "offset": "offset"}[kind], "path": str(path.resolve())}


def _example_edit(workspace: Path, name: str, example: str, after: Path | None, constraints: Path | None,
                  offset: Path | None, truth: Path | None, p: Params, replace: bool, sets: list[str] | None,
                  step: str) -> tuple[Workspace, dict, Params]:
    """The arguments of `edit` and `direction` checked, then `step`'s preflight and the name (taken unless
    --replace); returns the opened workspace, the example's form and the params for this workspace."""
    form: dict = _example_form(after, constraints, offset)
    if truth is not None:
        form["truth"] = _read_truth(truth)
    ws = Workspace.open(workspace)
    ws.edit(name)
    ws.require_output("catalog")  # the example is looked up in it
    from flows.preflight import preflight
    from tasks.direction import check_edit_name
    from tasks.manifest import catalog_id

    form["example"] = example if Path(example).is_file() else catalog_id(ws, example) or example
    p = workspace_params(ws, p, sets)
    preflight(step, ws, p, name=name, form=form)
    check_edit_name(ws, name, form, p, replace)
    return ws, form, p


def _read_truth(path: Path) -> dict:
    """The demo example's ground truth: {"attribute": name, "value": number}."""
    try:
        truth = json.loads(path.read_text(encoding="utf-8"))
        return {**truth, "attribute": str(truth["attribute"]), "value": float(truth["value"])}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"--truth {path}: expected JSON with attribute and value ({exc})") from None


def _preview(ws: Workspace, name: str, form: dict, p: Params, sample: int | list[str]) -> None:
    """`edit --preview K` / `--only IDS`: the edit on K (or these) photos only, printed and written to
    WS/edits/NAME/preview/."""
    from common import progress
    from tasks.preview import write_preview

    k = sample if isinstance(sample, int) else len(sample)
    with running(ws, p), progress.track(f"preview {name!r} on {k} photos", total=None) as bar:
        summary = write_preview(ws, name, form, p, sample, on_progress=lambda done, of=None, what=None: bar.update(
            done, of, f"preview {name!r}: {what}" if what is not None else None))
    print_preview(name, ws.edit(name).preview, summary)


def _rerun(ws: Workspace, name: str, only: str, p: Params) -> None:
    """`rescale|edit --only rejected|short|IDS` on an applied edit: those photos re-run into its results."""
    from flows.rerun import rerun_flow
    from tasks.rerun import select_rerun

    ids = select_rerun(ws, name, only)
    with running(ws, p), cluster(p) as p:
        summary = rerun_flow(ws.root, name, ids, p)
    counts = ", ".join(f"{v} {k}" for k, v in summary["rerun"].items())
    out.print(f"re-ran {summary['photos']} photo(s) of {name!r} at strength {p.edit.strength:g}: {counts}; the "
              "others kept (their final state is measured again by a full `oneedit rescale`)", markup=False,
              soft_wrap=True)
    print_edit(ws, name, {"final_state": {"landed": None, "warnings": []}})
