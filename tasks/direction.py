"""Step 4b as a task: the example edit -> the direction Δ* (Edit One for All §3.1).

Writes spec.json (the durable record of the edit), example/*.png and direction.pt; the α stage reads
only direction.pt and the stored latents, so a new strength never projects anything again.
"""

from __future__ import annotations

import torch
from prefect import task
from prefect.cache_policies import NO_CACHE

from common import progress
from common.errors import InputError
from common.params import Params
from common.storage import atomic_path, read_torch, reading, sha256_file, write_json
from common.workspace import EditPaths, Workspace
from edit_core.alphas import unit_normal
from edit_core.checkpoint import load_generator
from edit_core.direction import fit_direction
from edit_core.imageops import resolve_device, to_uint8
from tasks.example import make_example_edit
from tasks.images import write_png


@task(cache_policy=NO_CACHE, persist_result=False)
def fit_edit_direction(ws: Workspace, name: str, form: dict, params: Params) -> dict:
    """Example edit -> Δ* (§3.1); writes spec.json, example/*.png and direction.pt."""
    paths = ws.edit(name)
    device = resolve_device(params.runtime.device)
    with reading(ws.gan):
        G = load_generator(ws.gan, device)
    with progress.track(f"example edit ({form['kind']})", total=None):
        edit, example = make_example_edit(G, ws, form, params, device)
    d = params.edit.direction
    origin = G.mean_w().to(device) if d.origin == "mean" else None
    with progress.track("fit direction Δ*", total=None):
        delta_star = fit_direction(G, edit.w0, edit.delta_w, lam=d.lam, steps=d.steps, lr=d.lr, init=d.init,
                                   origin=origin, anchors=d.anchors, seed=d.seed)
    with torch.no_grad():
        renders = to_uint8(G.synthesis(torch.stack([edit.w0, edit.w0_edited, edit.w0 + delta_star])))
    for key, image in {**{k: v for k, v in example.items() if k != "id"},
                       "render_before": renders[0], "render_user_edit": renders[1],
                       "render_direction": renders[2]}.items():
        write_png(paths.example / f"{key}.png", image)
    state = {"delta_star": delta_star.detach().cpu(), "n": unit_normal(delta_star).detach().cpu(),
             "w0": edit.w0.detach().cpu(), "w0_edited": edit.w0_edited.detach().cpu(),
             "gan_sha256": sha256_file(ws.gan), "kind": edit.kind}
    with atomic_path(paths.direction) as tmp:
        torch.save(state, tmp)
    spec = {"name": name, "kind": form["kind"], "example": form["example"], "example_id": example["id"],
            "input": form["path"], "input_sha256": sha256_file(form["path"]),
            "params": {"edit.direction": params.to_dict()["edit"]["direction"],
                       "edit.brush": params.to_dict()["edit"]["brush"], "project": params.to_dict()["project"]},
            **({"truth": form["truth"]} if "truth" in form else {})}
    write_json(paths.spec, spec)
    return {"delta_norm": float(delta_star.norm()), "example_id": example["id"]}


def load_direction(ws: Workspace, paths: EditPaths) -> dict[str, torch.Tensor]:
    """direction.pt, refusing one fitted on another generator."""
    state = read_torch(paths.direction)
    if state["gan_sha256"] != sha256_file(ws.gan):
        raise InputError(f"{paths.direction} was fitted on another generator; run `oneedit edit` again")
    return state
