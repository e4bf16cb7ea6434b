"""What a workspace holds, as the user sees it (`oneedit status`, `oneedit list`, the studio): the models
(steps, fingerprint), the projection (photos projected of those ingested) and every saved edit (its
strength, how far it got, its counts and which of its outputs are stale), each with what to rerun.

"Stale" is what the next command would redo: the same fingerprints the pipeline resumes by
(tasks/train.py, tasks/project.py), the generator a direction was fitted on, and file times where an
output records nothing of its inputs (results vs. direction, latents, report)."""

from __future__ import annotations

from pathlib import Path

import torch

from common.params import Params
from common.storage import read_h5, read_json, read_parquet, sha256_file
from common.workspace import EditPaths, Workspace
from tasks.alphas import applied_strength
from tasks.direction import input_digest
from tasks.project import is_current, shard_fingerprint
from tasks.train import encoder_fingerprint, gan_fingerprint
from tasks.versions import version_numbers


def _newer_part(paths: EditPaths) -> bool:
    """A transfer part written after the results (or with no results yet): a run stopped midway."""
    parts = list(paths.parts.glob("*.parquet")) if paths.parts.is_dir() else []
    return bool(parts) and (not paths.results.exists()
                            or max(p.stat().st_mtime_ns for p in parts) > paths.results.stat().st_mtime_ns)


def edit_state(paths: EditPaths) -> str:
    """started / fitted / partial (its last run stopped midway: results and images of two runs) /
    applied / reported."""
    if _newer_part(paths):
        return "partial"
    if (paths.report / "index.html").exists():
        return "reported"
    if paths.results.exists():
        return "applied"
    return "fitted" if paths.direction.exists() else "started"


def _older(a: Path, b: Path) -> bool:
    return a.exists() and b.exists() and a.stat().st_mtime_ns < b.stat().st_mtime_ns


def _latents_time(ws: Workspace) -> int | None:
    shards = list(ws.latents.glob("*.h5")) if ws.latents.is_dir() else []
    return max(p.stat().st_mtime_ns for p in shards) if shards else None


def list_edits(ws: Workspace) -> list[dict]:
    """One row per WS/edits/*/spec.json: name, kind, example, strength (the one it was applied at),
    state (started / fitted / partial / applied / reported), counts (results per status) and stale
    (what to rerun, and why), versions (how many earlier versions are kept, tasks/versions.py)."""
    rows = []
    gan = sha256_file(ws.gan) if ws.gan.exists() else None
    manifest_rows = len(read_parquet(ws.manifest)) if ws.manifest.exists() else None
    latents_time = _latents_time(ws)
    for spec_path in sorted((ws.root / "edits").glob("*/spec.json")):
        paths = ws.edit(spec_path.parent.name)
        spec = read_json(spec_path)
        stale, strength, counts = [], None, {}
        source = paths.root / spec.get("input", "")  # the copy the edit keeps (relative to its folder)
        if not source.is_file() or input_digest(spec.get("kind", ""), source) != spec.get("input_sha256"):
            stale.append(f"input {source} is missing or changed (retrain cannot re-fit this edit)")
        if spec.get("example_input"):  # the edit's copy of an example photo from outside the catalog
            example = paths.root / spec["example_input"]
            if not example.is_file() or sha256_file(example) != spec.get("example_key"):
                stale.append(f"example {example} is missing or changed (retrain cannot re-fit this edit)")
        if paths.direction.exists():
            direction = torch.load(paths.direction, map_location="cpu", weights_only=True)
            if gan is not None and direction.get("gan_sha256") != gan:
                stale.append("direction: the generator changed since (run `oneedit edit` again)")
            if paths.results.exists():
                results = read_parquet(paths.results)
                strength = applied_strength(paths)
                counts = {str(k): int(v) for k, v in results["status"].value_counts().items()}
                if manifest_rows is not None and len(results) != manifest_rows:
                    stale.append(f"results: {manifest_rows - len(results)} photos added since "
                                 "(run `oneedit update`)")
        if _older(paths.results, paths.direction):
            stale.append("results: older than the direction (run `oneedit rescale`)")
        elif paths.results.exists() and latents_time is not None and paths.results.stat().st_mtime_ns < latents_time:
            stale.append("results: the photos were projected again since (run `oneedit rescale`)")
        if _newer_part(paths):
            stale.append("results: the last run stopped midway (run `oneedit rescale` to finish it)")
        if _older(paths.report / "index.html", paths.results):
            stale.append("report: older than the results (run `oneedit report`)")
        rows.append({"name": paths.root.name, "kind": spec.get("kind", ""),
                     "example": spec.get("example_id") or spec.get("example", ""), "strength": strength,
                     "state": edit_state(paths), "counts": counts, "stale": stale,
                     "versions": len(version_numbers(ws, paths.root.name))})
    return rows


def model_status(ws: Workspace, params: Params) -> list[dict]:
    """Per model (gan, encoder): present, steps trained, fingerprint (as training recorded it), imported
    (what gan.json records of an imported / fine-tuned-from generator) and stale (why `oneedit train`
    would make it again)."""
    rows = []
    gan = sha256_file(ws.gan) if ws.gan.exists() else None
    for name, ckpt in (("gan", ws.gan), ("encoder", ws.encoder)):
        meta_path = ws.models / f"{name}.json"
        meta = read_json(meta_path) if meta_path.is_file() else {}
        row = {"name": name, "present": ckpt.exists(), "fingerprint": meta.get("fingerprint"),
               "steps": int(meta["final_step"]) if "final_step" in meta else None,
               "imported": meta.get("imported"), "stale": []}
        rows.append(row)
        if not ckpt.exists():
            row["stale"].append(f"{ckpt.name} is missing (run `oneedit train`)")
            continue
        sha = gan if name == "gan" else sha256_file(ckpt)
        if meta.get("sha256") not in (None, sha):
            row["stale"].append(f"{ckpt.name} is not the checkpoint training recorded in {meta_path.name}")
        if name == "gan":
            if row["imported"] is None and row["fingerprint"] and ws.manifest.exists() \
                    and row["fingerprint"] != gan_fingerprint(ws, params):
                row["stale"].append("the catalog or params model / gan changed since training (run `oneedit train`)")
        elif meta.get("gan_sha256") not in (None, gan):
            row["stale"].append("trained for another generator (run `oneedit train`)")
        elif row["fingerprint"] and gan is not None and ws.manifest.exists() \
                and row["fingerprint"] != encoder_fingerprint(ws, params):
            row["stale"].append("the catalog or params encoder changed since training (run `oneedit train`)")
    return rows


def projection_status(ws: Workspace, params: Params) -> dict:
    """Photos ingested (accepted) and projected, shards in all, and stale: shards not projected yet, or
    projected with other models or project params (what `oneedit project` would redo)."""
    manifest = read_parquet(ws.manifest) if ws.manifest.exists() else None
    ingested = int((manifest["status"] == "accepted").sum()) if manifest is not None else 0
    shards = ws.ingest_shards() if ws.ingest.is_dir() else []
    models = (sha256_file(ws.gan), sha256_file(ws.encoder)) if ws.gan.exists() and ws.encoder.exists() else None
    projected, missing, other = 0, 0, 0
    for shard in shards:
        out = ws.latent_shard(shard)
        if not out.exists():
            missing += 1
            continue
        projected += len(read_h5(out, ["ids"])["ids"])
        if models is not None and not is_current(out, shard_fingerprint(ws, shard, params, models)):
            other += 1
    stale = []
    if missing:
        stale.append(f"{missing} of {len(shards)} shards not projected yet (run `oneedit project`)")
    if other:
        stale.append(f"{other} of {len(shards)} shards projected with other models or params "
                     "(run `oneedit project`)")
    return {"ingested": ingested, "projected": projected, "shards": len(shards), "stale": stale}


def workspace_status(ws: Workspace, params: Params) -> dict:
    """Everything `oneedit status` shows: models, projection, edits (the rows of `list_edits`)."""
    return {"models": model_status(ws, params), "projection": projection_status(ws, params),
            "edits": list_edits(ws)}
