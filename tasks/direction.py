"""Step 4b as a task: the example edit -> the direction Δ* (Edit One for All §3.1), and how an edit's
files are replaced.

Writes spec.json (the durable record of the edit), example/*.png, example/input/ (a copy of what the
user gave: the after photo, the brush JSON and its masks, or the offset, and the example photo itself
when it is not in the catalog, so the edit survives the user moving their files) and direction.pt; the α stage reads only direction.pt and the stored latents, so a
new strength never projects anything again.

An edit is replaced only by a complete new one: the new direction is fitted into WS/edits/.NAME.next/
and published at the end (`publish_edit`, spec.json last), so a failed re-fit leaves the edit as it
was. The spec records the edit's identity (kind, example, input digest, params); the same identity on
the same generator is current and not fitted again (a rerun after a crash resumes the transfer);
another identity under the same name needs `--replace` (`check_edit_name`), and publishing it drops
the old edit's results, images and report first, so the new example never mixes with old photos.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import torch
from prefect import task
from prefect.cache_policies import NO_CACHE

from common import progress
from common.errors import InputError
from common.fingerprint import fingerprint
from common.params import Params
from common.storage import atomic_path, read_json, read_torch, reading, sha256_file, write_json
from common.workspace import EditPaths, Workspace
from edit_core.alphas import unit_normal
from edit_core.checkpoint import load_generator
from edit_core.direction import fit_direction, layer_mask
from edit_core.edits import WEAK_CAPTURE, ExampleEdit, edit_capture
from edit_core.imageops import resolve_device, to_tensor, to_uint8
from edit_core.models.base import Generator
from tasks.example import example_edit_steps, make_example_edit
from tasks.images import write_png
from tasks.manifest import accepted_rows
from tasks.versions import keep_version

log = logging.getLogger(__name__)
BRUSH_FILES = (("color", "mask"), ("sketch", "edges"), ("sketch", "mask"))


def staged_edit(ws: Workspace, name: str) -> EditPaths:
    """Where a new direction for edit `name` is fitted before it is published (hidden: never a saved edit)."""
    ws.edit(name)  # validates the name
    return EditPaths(ws.root / "edits" / f".{name}.next")


def _brush_files(spec: dict) -> list[tuple[str, str, str]]:
    """(stroke, key, relative file name) of every mask / edge map a brush JSON names."""
    return [(s, k, str(spec[s][k])) for s, k in BRUSH_FILES if isinstance(spec.get(s), dict) and k in spec[s]]


def input_digest(kind: str, path: Path) -> str:
    """Digest of the edit's input: the file's sha256; for a brush, the JSON with each mask's sha256 in
    place of its file name (so a copy with other file names has the same digest)."""
    path = Path(path)
    if kind != "brush":
        return sha256_file(path)
    spec = json.loads(path.read_text(encoding="utf-8"))
    for stroke, key, rel in _brush_files(spec):
        spec[stroke] = {**spec[stroke], key: sha256_file(path.parent / rel)}
    return fingerprint(spec)


def copy_input(kind: str, path: Path, dest: Path) -> Path:
    """Copy the edit's input into `dest` (a brush JSON with its masks, renamed); returns the copy's path."""
    path = Path(path)
    if kind != "brush":
        copy = dest / f"{'after' if kind == 'pair' else 'offset'}{path.suffix.lower()}"
        with atomic_path(copy) as tmp:
            shutil.copyfile(path, tmp)
        return copy
    spec = json.loads(path.read_text(encoding="utf-8"))
    for stroke, key, rel in _brush_files(spec):
        name = f"{stroke}-{key}{Path(rel).suffix.lower()}"
        with atomic_path(dest / name) as tmp:
            shutil.copyfile(path.parent / rel, tmp)
        spec[stroke] = {**spec[stroke], key: name}
    copy = dest / "constraints.json"
    write_json(copy, spec)
    return copy


def copy_example(path: Path, dest: Path) -> Path:
    """Copy an example photo from outside the catalog into `dest` (the edit keeps it, as it keeps its input)."""
    copy = dest / f"example{Path(path).suffix.lower()}"
    with atomic_path(copy) as tmp:
        shutil.copyfile(path, tmp)
    return copy


def example_key(ws: Workspace, example: str) -> str:
    """The example's catalog id, or the sha256 of an example photo from outside the catalog (manifest
    lookups by id: no whole-catalog table)."""
    if accepted_rows(ws, ["id"], [example])["id"]:
        return example
    digest = sha256_file(example)
    return digest[:16] if accepted_rows(ws, ["id"], [digest[:16]])["id"] else digest


def _identity_params(params: Params) -> dict:
    d = params.to_dict()
    return {"edit.example_steps": d["edit"]["example_steps"], "edit.direction": d["edit"]["direction"],
            "edit.brush": d["edit"]["brush"], "project": d["project"]}


def identity(spec: dict) -> dict:
    """What makes two edits the same edit (not the generator: a re-fit on a new one is the same edit)."""
    return {"kind": spec.get("kind"), "example": spec.get("example_key", spec.get("example_id") or spec.get("example")),
            "input": spec.get("input_sha256"), "params": spec.get("params")}


def form_identity(ws: Workspace, form: dict, params: Params) -> dict:
    """The identity the spec of the edit `form` describes would have."""
    return identity({"kind": form["kind"], "example_key": example_key(ws, form["example"]),
                     "input_sha256": input_digest(form["kind"], Path(form["path"])),
                     "params": _identity_params(params)})


def check_edit_name(ws: Workspace, name: str, form: dict, params: Params, replace: bool) -> None:
    """Before any work: a name already used by another edit is refused unless `replace`."""
    spec_path = ws.edit(name).spec
    if replace or not spec_path.exists():
        return
    spec = read_json(spec_path)
    if identity(spec) != form_identity(ws, form, params):
        raise InputError(f"edit {name!r} already exists ({spec.get('kind')} edit of {spec.get('example')}, other "
                         "input or params): pass --replace to replace it, or choose another --name")


def is_current(ws: Workspace, name: str, form: dict, params: Params) -> bool:
    """True when edit `name` holds this very edit's direction, fitted on the current generator."""
    paths = ws.edit(name)
    if not (paths.spec.exists() and paths.direction.exists()):
        return False
    spec = read_json(paths.spec)
    return spec.get("gan_sha256") == sha256_file(ws.gan) and identity(spec) == form_identity(ws, form, params)


def check_direction_layers(ws: Workspace, params: Params) -> None:
    """Before any work: edit.direction.layers fit the stored latents (W+ with that many layers; W has none)."""
    layers = tuple(params.edit.direction.layers)
    if not layers:
        return
    from tasks.latents import iter_latent_shards

    w = next(iter_latent_shards(ws, ("w",)))["w"][:1]
    try:
        layer_mask(torch.from_numpy(w[0]), layers)
    except ValueError as exc:  # the engine's own words: W latents, or layers the generator does not have
        raise InputError(f"{exc}: the photos' latents in {ws.latents} have shape {list(w.shape[1:])}") from None


def fit_example_direction(G: Generator, edit: ExampleEdit, params: Params) -> torch.Tensor:
    """Δ* of one example edit with params.edit.direction (origin: G's mean w, or raw latents)."""
    d = params.edit.direction
    origin = G.mean_w().to(edit.w0.device) if d.origin == "mean" else None
    try:
        layer_mask(edit.w0, tuple(d.layers))
    except ValueError as exc:  # layers that the latents do not have: the user's params
        raise InputError(f"edit.direction.layers: {exc}") from None
    return fit_direction(G, edit.w0, edit.delta_w, lam=d.lam, steps=d.steps, lr=d.lr, init=d.init, origin=origin,
                         anchors=d.anchors, seed=d.seed, layers=tuple(d.layers)).detach()


@task(cache_policy=NO_CACHE, persist_result=False)
def fit_edit_direction(ws: Workspace, name: str, form: dict, params: Params) -> dict:
    """Example edit -> Δ* (§3.1); writes spec.json, example/ (renders + input copy) and direction.pt
    into the staging folder `staged_edit(ws, name)` (publish it with `publish_edit`)."""
    paths = staged_edit(ws, name)
    shutil.rmtree(paths.root, ignore_errors=True)  # a run that died before publishing
    device = resolve_device(params.runtime.device)
    with reading(ws.gan):
        G = load_generator(ws.gan, device)
    steps = example_edit_steps(ws, form, params)
    with progress.track(f"example edit ({form['kind']})", total=steps or None) as bar, progress.optimizer_steps(bar):
        edit, example = make_example_edit(G, ws, form, params, device)
    with progress.track("fit direction Δ*", total=params.edit.direction.steps or None) as bar, \
            progress.optimizer_steps(bar):
        delta_star = fit_example_direction(G, edit, params)
    if not bool(torch.isfinite(delta_star).all()):
        raise InputError(f"edit {name!r}: the fitted direction is not finite (check the example edit's input)")
    capture = None
    if edit.kind == "pair":  # share of the user's pixel change that G reproduces (edits.edit_capture)
        before, after = (to_tensor(example[k], device) for k in ("before", "after"))
        capture = {"direction": edit_capture(G, edit.w0, delta_star, before, after),
                   "user_edit": edit_capture(G, edit.w0, edit.delta_w, before, after)}
        capture["weak"] = capture["direction"] < WEAK_CAPTURE
    with torch.no_grad():
        renders = to_uint8(G.synthesis(torch.stack([edit.w0, edit.w0_edited, edit.w0 + delta_star])))
    for key, image in {**{k: v for k, v in example.items() if k not in ("id", "w_catalog")},
                       "render_before": renders[0], "render_user_edit": renders[1],
                       "render_direction": renders[2]}.items():
        write_png(paths.example / f"{key}.png", image)
    copy = copy_input(form["kind"], Path(form["path"]), paths.example / "input")
    outside = copy_example(Path(form["example"]), paths.example / "input") if example["id"] is None else None
    gan_sha256 = sha256_file(ws.gan)
    state = {"delta_star": delta_star.detach().cpu(), "n": unit_normal(delta_star).detach().cpu(),
             "w0": edit.w0.detach().cpu(), "w0_edited": edit.w0_edited.detach().cpu(),
             "w_example": example["w_catalog"].detach().cpu(), "gan_sha256": gan_sha256, "kind": edit.kind}
    with atomic_path(paths.direction) as tmp:
        torch.save(state, tmp)
    spec = {"name": name, "kind": form["kind"], "example": form.get("source_example", form["example"]),
            "example_id": example["id"], "example_key": example_key(ws, form["example"]),
            **({"example_input": outside.relative_to(paths.root).as_posix()} if outside is not None else {}),
            "input": copy.relative_to(paths.root).as_posix(),
            "source_input": form.get("source_input", form["path"]), "input_sha256": input_digest(form["kind"], copy),
            "capture": capture, "params": _identity_params(params), "gan_sha256": gan_sha256,
            **({"truth": form["truth"]} if "truth" in form else {})}
    write_json(paths.spec, spec)
    log.info("edit %s: direction fitted (|Δ*| %.4g%s)", name, float(delta_star.norm()),
             f", the generator reproduces {capture['direction']:.0%} of the example's change" if capture else "")
    return {"delta_norm": float(delta_star.norm()), "example_id": example["id"], "capture": capture}


def _files(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else set()


def publish_edit(ws: Workspace, name: str) -> None:
    """Move the staged direction over edit `name`; the old edit is kept as a version (tasks/versions.py), then
    its results (and, for another edit, its images) go, spec.json comes last (it says which edit the folder
    holds)."""
    final, stage = ws.edit(name), staged_edit(ws, name)
    new = read_json(stage.spec)
    if final.spec.exists():
        keep_version(ws, name, "replaced by another edit" if identity(read_json(final.spec)) != identity(new)
                     else "re-fitted on another generator")
        for stale in (final.results, final.root / "metrics.json", final.root / "alphas.csv",
                      final.root / "final_state.json"):
            stale.unlink(missing_ok=True)
        same = identity(read_json(final.spec)) == identity(new)
        for folder in (final.report, final.parts, *(() if same else (final.images,))):
            shutil.rmtree(folder, ignore_errors=True)
    final.root.mkdir(parents=True, exist_ok=True)
    keep = _files(stage.example)
    for rel in sorted(keep):
        (final.example / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage.example / rel, final.example / rel)
    for rel in _files(final.example) - keep:
        (final.example / rel).unlink()
    os.replace(stage.direction, final.direction)
    os.replace(stage.spec, final.spec)
    shutil.rmtree(stage.root, ignore_errors=True)


def load_direction(ws: Workspace, paths: EditPaths) -> dict[str, torch.Tensor]:
    """direction.pt, refusing one fitted on another generator. `w_example` is the example's latent as the
    catalog sees it (the final state is placed from it); a direction.pt written before it was recorded
    places it from w0, as it was made."""
    state = read_torch(paths.direction)
    if state["gan_sha256"] != sha256_file(ws.gan):
        raise InputError(f"{paths.direction} was fitted on another generator; run `oneedit edit` again")
    state.setdefault("w_example", state["w0"])
    return state
