"""The state behind the page (`Studio`): the workspace, the cached generator, latents and sliders, the
drafts and uploads being made (in the Studio's own temp folder, capped), the jobs, and what each route does
through the CLI's own modules (its checks, its flows under the workspace lock, review, re-runs, versions,
export)."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from fastapi import HTTPException

from common import progress
from common.errors import InputError, OneEditError, first_line
from common.lock import workspace_lock
from common.params import Params, load_params
from common.storage import read_json
from common.workspace import EditPaths, Workspace
from edit_core.alphas import EDITED
from edit_core.checkpoint import load_generator
from edit_core.imageops import resolve_device
from oneedit.studio import cache, security, sliders
from oneedit.studio.jobs import Job, new_job, run_job
from oneedit.studio.models import RerunBody, ReviewBody
from oneedit.studio.words import page_words, shown
from tasks.alphas import applied_strength
from tasks.example import photo_size, project_example
from tasks.images import read_thumbnail
from tasks.manifest import accepted_mask

FILTERS = ("all", "edited", "landed", "short", "flagged", "clamped", "skipped", "rejected", "accepted",
           "rejected-by-review", "unreviewed")  # the review grid's filters


@dataclass
class Draft:
    """An edit being made: its input files (the CLI's forms) and, once previewed, the fitted Δ*."""

    id: str
    folder: Path
    form: dict
    example: str  # the catalog id or upload id it was made on
    preview: Any = None  # tasks.preview.Preview
    sample: list[dict] = field(default_factory=list)
    strength: float = 1.0


@dataclass
class Upload:
    """An example photo from outside the catalog: the studio's copy of the uploaded bytes (the user's
    file is never touched) and, once projected, its latent."""

    id: str
    path: Path
    file: str  # the uploaded file's own name, as the edit's spec records it
    height: int
    width: int
    thumb: np.ndarray
    w: np.ndarray | None = None
    err_pixel: float | None = None

    def to_dict(self) -> dict:
        base = f"/api/uploads/{self.id}"
        return {"id": self.id, "file": self.file, "width": self.width, "height": self.height,
                "err_pixel": self.err_pixel, "base": base}


class Studio:
    """The state behind the page: workspace, cached generator/latents, drafts and jobs, and the session
    token (random, or the one given with --token: then the page does not carry it, the user does)."""

    def __init__(self, workspace: Path, params_path: Path | None = None, sets: list[str] | None = None,
                 token: str | None = None) -> None:
        self.ws = Workspace.open(workspace)
        self.params_path, self.sets = params_path, list(sets or [])
        self.params = self.load_params()
        self.token = token or secrets.token_urlsafe(32)
        self.token_in_page = token is None
        _remove_dead_studios()
        self.drafts_root = Path(tempfile.mkdtemp(prefix=f"oneedit-studio-{os.getpid()}-"))
        self.drafts: dict[str, Draft] = {}
        self.uploads: dict[str, Upload] = {}
        self.jobs: dict[str, Job] = {}
        self.run: Job | None = None
        self._lock = threading.Lock()
        self._work = ThreadPoolExecutor(1, thread_name_prefix="studio-work")
        self._runs = ThreadPoolExecutor(1, thread_name_prefix="studio-run")
        self._G: tuple[float, Any] | None = None
        self._pca: tuple[float, torch.Tensor, torch.Tensor] | None = None
        self._looks: tuple[float, list[dict]] | None = None

    def load_params(self, *extra: str) -> Params:
        return load_params(self.params_path, [*self.sets, *extra])

    def close(self) -> None:
        """Stop the jobs (a running catalog run finishes) and remove every draft and upload."""
        self._work.shutdown(wait=False, cancel_futures=True)
        self._runs.shutdown(wait=True)
        shutil.rmtree(self.drafts_root, ignore_errors=True)

    def report_url(self, name: str) -> str:
        """The report's address: under a key derived from the token for this edit alone, so that the
        report's own relative links work in a tab, and a shared link opens that report and nothing else."""
        key = hmac.new(self.token.encode(), f"report:{name}".encode(), hashlib.sha256).hexdigest()[:32]
        return f"/reports/{key}/{name}/index.html"

    def check_example(self, example: str) -> str:
        """An example is a catalog photo id or an upload id of this studio, never a path on the server:
        anything else gets the same line whatever it names (no oracle of which files exist)."""
        if example in self.uploads or (self.ws.manifest.exists() and accepted_mask(self.ws, np.array([example]))[0]):
            return example
        raise InputError(f"example {shown.repr(example)}: not a photo id of the catalog nor an upload of this "
                         "studio (pick a photo, or upload it)")

    def page_words(self, message: str) -> str:
        """A CLI line as the page says it (`words.page_words`: no CLI flags, none of the studio's folders)."""
        return page_words(message, self.drafts_root)

    # the catalog ------------------------------------------------------------------------

    def require_models(self) -> None:
        self.ws.require(self.ws.manifest, hint="run `oneedit ingest SRC_DIR --workspace WS` first")
        self.ws.require(self.ws.gan, self.ws.encoder, hint="run `oneedit train --workspace WS` first")
        self.ws.require(self.ws.latents, hint="run `oneedit project --workspace WS` first")

    def catalog(self) -> list[dict]:
        """Accepted photos in manifest order: id, file, shard file, index."""
        return cache.catalog(self.ws.manifest, self.ws.manifest.stat().st_mtime_ns)

    def photo(self, photo_id: str) -> dict:
        for row in self.catalog():
            if row["id"] == photo_id:
                return row
        raise HTTPException(404, f"no photo {photo_id!r} in the catalog")

    def latents(self) -> dict:
        from tasks.latents import load_latents

        stamp = tuple(p.stat().st_mtime_ns for p in sorted(self.ws.latents.glob("*.h5")))
        return cache.latents(self.ws.root, stamp, load_latents)

    def generator(self) -> Any:
        stamp = self.ws.gan.stat().st_mtime
        with self._lock:
            if self._G is None or self._G[0] != stamp:
                self._G = (stamp, load_generator(self.ws.gan, resolve_device(self.params.runtime.device)))
            return self._G[1]

    def principal_directions(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The sliders' directions (`sliders.principal_directions`), computed once per generator."""
        G = self.generator()
        stamp = self.ws.gan.stat().st_mtime
        with self._lock:
            if self._pca is None or self._pca[0] != stamp:
                self._pca = (stamp, *sliders.principal_directions(G))
            return self._pca[1], self._pca[2]

    def direction_looks(self) -> list[dict]:
        """The sliders' names and end images (`sliders.direction_looks`), rendered once per generator."""
        components, sigma = self.principal_directions()
        G = self.generator()
        stamp = self.ws.gan.stat().st_mtime
        with self._lock:
            if self._looks is None or self._looks[0] != stamp:
                self._looks = (stamp, sliders.direction_looks(G, components, sigma))
            return self._looks[1]

    def offset(self, example: str, offsets: list[float]) -> tuple[np.ndarray, np.ndarray]:
        """(w0, Δw) for slider values (in standard deviations along each principal direction)."""
        self.check_example(example)
        components, sigma = self.principal_directions()
        if len(offsets) > len(sigma):
            raise InputError(f"offsets: {len(offsets)} values, but there are {len(sigma)} principal directions")
        if example in self.uploads:
            w0 = self.upload(example, projected=True).w
        else:
            lat = self.latents()
            where = np.flatnonzero(lat["ids"] == example)
            if not len(where):
                raise InputError(f"example {example!r} has no latent yet: run `oneedit project`")
            w0 = lat["w"][int(where[0])]
        return w0, sliders.slider_offset(components, sigma, offsets, w0.shape)

    # uploaded examples ------------------------------------------------------------------

    def new_upload(self, data: bytes, suffix: str, file: str) -> Upload:
        """Store an uploaded example photo (checked as `--example PATH` is) and its model-size thumbnail."""
        self.require_models()
        with self.stored("upload", len(data)) as folder:
            path = folder / f"example{Path(file).suffix.lower() or suffix}"
            path.write_bytes(data)
            try:
                height, width = photo_size(path, "--example")
                thumb = read_thumbnail(path, self.generator().resolution)
            except InputError as exc:  # the CLI's message, naming the user's file rather than the studio's copy
                message = first_line(exc, type(exc).__name__).replace(str(path), file)
                raise InputError(message if message.startswith("--example") else f"--example {message}") from None
            upload = Upload(id=folder.name, path=path, file=file, height=height, width=width, thumb=thumb)
            self.uploads[upload.id] = upload
        return upload

    def project_upload(self, job: Job, upload: Upload) -> dict:
        """Project the uploaded example as the catalog's photos are (E init + optimization)."""
        job.on_progress(0, 1, f"project {upload.file}")
        G = self.generator()
        with progress.track(f"project {upload.file}", total=None) as bar, progress.optimizer_steps(bar):  # cancel points
            result = project_example(G, self.ws, upload.thumb, self.params, G.device)
        upload.w, upload.err_pixel = result["w"].detach().cpu().numpy(), result["err_pixel"]
        job.on_progress(1, 1, f"project {upload.file}")
        return upload.to_dict()

    def upload(self, upload_id: str, projected: bool = False) -> Upload:
        if upload_id not in self.uploads:
            raise HTTPException(404, f"no uploaded photo {upload_id!r} (the studio was restarted?): upload it again")
        upload = self.uploads[upload_id]
        if projected and upload.w is None:
            raise InputError(f"--example {upload.file}: still being projected; wait for its projection")
        return upload

    def form(self, kind: str, path: Path, example: str) -> dict:
        """The CLI's form of an edit: an uploaded example is its photo file (`--example PATH`)."""
        self.check_example(example)
        if example in self.uploads:
            upload = self.upload(example)
            return {"kind": kind, "path": str(path), "example": str(upload.path), "source_example": upload.file}
        return {"kind": kind, "path": str(path), "example": example}

    # drafts -----------------------------------------------------------------------------

    def new_draft(self, form: dict, folder: Path, example: str) -> Draft:
        """Register the draft whose input files `folder` holds, once the CLI's checks accept them."""
        from tasks.example import check_example_form

        self.require_models()
        check_example_form(self.ws, form)
        draft = Draft(id=folder.name, folder=folder, form=form, example=example)
        self.drafts[draft.id] = draft
        return draft

    @contextmanager
    def stored(self, kind: str, incoming: int = 0) -> Iterator[Path]:
        """A new folder for a draft or an upload (`kind`), made room for first: the oldest idle ones of its
        kind are dropped to keep MAX_DRAFTS / MAX_UPLOADS, then idle drafts and uploads (drafts first) while
        their files and `incoming` bytes pass MAX_STORED (the caps of `security`); a one-line refusal when busy
        ones fill it. Whatever fails inside removes the folder: a refused request leaves nothing on disk."""
        items, limit = (self.uploads, security.MAX_UPLOADS) if kind == "upload" else (self.drafts, security.MAX_DRAFTS)
        with self._lock:
            for old in [i for i in items if not self.busy(i)][:max(0, len(items) - limit + 1)]:
                self.drop(old)
            for old in [i for i in [*self.drafts, *self.uploads] if not self.busy(i)]:  # drafts first
                if _folder_bytes(self.drafts_root) + incoming <= security.MAX_STORED:
                    break
                self.drop(old)
            stored = _folder_bytes(self.drafts_root)
            if len(items) >= limit or stored + incoming > security.MAX_STORED:
                raise InputError(f"no room for another {kind}: {len(items)} kept, {stored >> 20} MiB stored, and "
                                 f"{incoming >> 20} MiB more (limits: {limit}, {security.MAX_STORED >> 20} MiB) "
                                 "while the others are in use: wait for their jobs to finish")
            folder = self.drafts_root / (("upload-" if kind == "upload" else "") + uuid.uuid4().hex[:12])
            folder.mkdir()
        try:
            yield folder
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def busy(self, item_id: str) -> bool:
        """A job still works on this draft or upload (or on a draft made on this upload)."""
        held = {i for job in list(self.jobs.values()) if job.live for i in job.holds}  # a copy: jobs come and go
        return item_id in held or any(d.example == item_id and d.id in held for d in list(self.drafts.values()))

    def drop(self, item_id: str) -> None:
        """Forget a draft or an upload and remove its files (an upload with the drafts made on it)."""
        gone = self.drafts.pop(item_id, None) or self.uploads.pop(item_id, None)
        if gone is None:
            return
        shutil.rmtree(gone.folder if isinstance(gone, Draft) else gone.path.parent, ignore_errors=True)
        for draft in [d for d in self.drafts.values() if d.example == item_id]:
            self.drop(draft.id)

    def draft(self, draft_id: str) -> Draft:
        if draft_id not in self.drafts:
            raise HTTPException(404, f"no draft {draft_id!r} (the studio was restarted?): make the edit again")
        return self.drafts[draft_id]

    def example_size(self, example: str) -> tuple[int, int]:
        from tasks.example import example_size

        self.check_example(example)
        return example_size(self.ws, str(self.upload(example).path) if example in self.uploads else example)

    # jobs -------------------------------------------------------------------------------

    def submit(self, kind: str, fn: Callable[..., dict], *args: Any, run: bool = False, title: str = "",
               holds: tuple[str, ...] = ()) -> Job:
        """`fn(job, *args)` as a job: in the work thread, or (`run`) in the catalog-run thread."""
        job = new_job(self.jobs, kind, title, holds)
        (self._runs if run else self._work).submit(run_job, job, fn, args, run, self.page_words)
        return job

    def start_run(self, kind: str, fn: Callable[..., dict], *args: Any, title: str,
                  holds: tuple[str, ...] = ()) -> dict:
        """One catalog run at a time (Apply, re-run), in the run thread; a second one is refused (409)."""
        with self._lock:
            if self.run is not None and self.run.live:
                raise HTTPException(409, f"a run is in progress ({self.run.title}): wait for it to finish")
            self.run = self.submit(kind, fn, *args, run=True, title=title, holds=holds)
        return self.run.to_dict()

    def preview(self, job: Job, draft: Draft, strength: float, k: int) -> dict:
        """Fit Δ* once per draft, then α for every photo and the sample's transfer at `strength`."""
        from tasks.alphas import spread_over_alpha
        from tasks.preview import catalog_alphas, catalog_summary, fit_preview, transfer_sample

        params = self.load_params(f"edit.strength={strength}")
        if draft.preview is None:
            draft.preview = fit_preview(self.ws, draft.form, params, on_progress=job.on_progress)
        table = catalog_alphas(self.ws, draft.preview, strength, params)
        ids = spread_over_alpha(table["id"], table["alpha"], k)
        draft.sample = transfer_sample(self.ws, draft.preview, table, ids, params, G=self.generator(),
                                       on_progress=job.on_progress)
        draft.strength = strength
        base = f"/api/drafts/{draft.id}"
        stamp = uuid.uuid4().hex[:6]
        return {
            "draft": draft.id, "strength": strength, "delta_norm": float(draft.preview.delta_star.norm()),
            "renders": {k: f"{base}/render/{k}.png" for k in draft.preview.renders},
            "catalog": catalog_summary(table),
            "sample": [{"id": s["id"], "file": s["file"], "alpha": s["alpha"], "flagged": s["flagged"],
                        "status": s["status"], "reason": s["reason"],
                        "before": f"{base}/sample/{k}/before.png?v={stamp}" if s["before"] is not None else None,
                        "after": f"{base}/sample/{k}/after.png?v={stamp}" if s["after"] is not None else None}
                       for k, s in enumerate(draft.sample)],
        }

    def check_name(self, draft: Draft, name: str, replace: bool) -> None:
        """The CLI's rule (`oneedit edit --replace`): a name already used by another edit is refused unless
        the request says replace."""
        from tasks.direction import check_edit_name

        self.ws.edit(name)  # validates the name
        check_edit_name(self.ws, name, draft.form, self.params, replace)

    def would_edit(self, draft: Draft, strength: float) -> None:
        """Apply's honesty check, before any work: when the draft's preview says no photo of the catalog would be
        edited at `strength` (every one skipped by the range guard), one line with the commonest reason."""
        from tasks.preview import catalog_alphas, catalog_summary

        if draft.preview is None:
            return
        made = catalog_summary(catalog_alphas(self.ws, draft.preview, strength, self.load_params()))
        if not made["would_edit"]:
            listed = ", ".join(f"{v} {k}" for k, v in made["status"].items())
            raise InputError(f"nothing would be edited at strength {strength:g} ({listed}): "
                             f"{made['common_reason'] or 'no reason recorded'}; change the edit or the strength")

    def run_flows(self, job: Job, name: str, params: Params, run: Callable[[], dict]) -> dict:
        """`run()` (an edit's flows) then its report, under the workspace lock, the flows' bars captured for the
        page; a cancel puts the edit back as it was. Returns what the run made of the catalog (counts per status,
        the verdict, the report's address); a run that edited no photo fails (tasks.review.nothing_edited)."""
        from flows.report import report_flow
        from flows.runners import on_runner
        from tasks.review import nothing_edited, outcome
        from tasks.versions import undone_if_cancelled

        with progress.capture() as bars, undone_if_cancelled(self.ws, name):
            job.bars = bars
            job.phase = "edit"
            summary = run()
            job.phase = "report"
            on_runner(report_flow, params.runtime)(self.ws.root, name, params)
        made = outcome(self.ws, name)
        verdict = summary.get("final_state") or {}
        job.result = {"name": name, "strength": params.edit.strength, "status": made["status"],
                      "edited": made["edited"], "photos": made["photos"], "landed": verdict.get("landed"),
                      "warnings": [self.page_words(w) for w in verdict.get("warnings", [])],
                      "report": self.report_url(name)}
        failure = nothing_edited(name, made)
        if failure is not None:  # the results and report stay (they say why), but this is no success
            raise OneEditError(failure)
        job.phase = "done"
        return job.result

    def apply(self, job: Job, draft: Draft, name: str, strength: float, replace: bool) -> dict:
        """The edit saved and run exactly as `oneedit edit` would, then its report; under the workspace lock."""
        from flows.edit import edit_flow
        from flows.runners import on_runner
        from tasks.example import check_example_form
        from tasks.train import check_models

        params = self.load_params(f"edit.strength={strength}")
        job.phase = "waiting for the workspace lock"
        with workspace_lock(self.ws.root, wait=False):
            self.check_name(draft, name, replace)  # again under the lock: another tab may have made it since
            check_models(self.ws, params)
            form = dict(draft.form)  # the edit copies its input into its own folder (tasks/direction.py)
            check_example_form(self.ws, form)
            return self.run_flows(job, name, params,
                                  lambda: on_runner(edit_flow, params.runtime)(self.ws.root, name, form, params))

    # applied edits: review, re-run, versions, download --------------------------------------

    def applied(self, name: str) -> EditPaths:
        """The paths of edit `name`, which must have been applied (one line otherwise)."""
        paths = self.ws.edit(name)
        if not paths.results.exists():
            raise InputError(f"edit {name!r} has no results yet: apply it first")
        return paths

    def results(self, name: str, show: str, page: int, size: int) -> dict:
        """One page of edit `name`'s photos under filter `show` (FILTERS), with every filter's count: each photo's
        status, reason, final state (landed / short), measured gap to the final state, α, review decision."""
        from tasks.review import decisions, outcome

        paths = self.applied(name)
        if show not in FILTERS:
            raise InputError(f"show {shown.repr(show)}: choose one of {', '.join(FILTERS)}")
        rows = cache.results(paths.results, paths.results.stat().st_mtime_ns)
        made = decisions(self.ws, name)
        decided = np.array([made.get(i, "") for i in rows["id"]], dtype=object)
        has_image = rows["status"].isin(EDITED).to_numpy()
        final = rows["final_state"].to_numpy() if "final_state" in rows else np.full(len(rows), "", dtype=object)
        masks = {"all": np.ones(len(rows), bool), "edited": has_image, "landed": final == "landed",
                 "short": final == "short", "accepted": decided == "accepted",
                 "rejected-by-review": decided == "rejected", "unreviewed": has_image & (decided == ""),
                 **{s: (rows["status"] == s).to_numpy() for s in ("flagged", "clamped", "skipped", "rejected")}}
        chosen = rows[masks[show]]
        chunk = chosen.iloc[page * size:(page + 1) * size]
        verdict_path = paths.final_state
        verdict = read_json(verdict_path) if verdict_path.exists() else {}

        def number(v: Any) -> float | None:
            return None if v is None or not np.isfinite(v) else float(v)

        catalog = {r["id"] for r in self.catalog()}

        return {"name": name, "show": show, "page": page, "size": size, "total": len(chosen),
                "pages": max(1, (len(chosen) + size - 1) // size),
                "counts": {k: int(m.sum()) for k, m in masks.items()},
                "outcome": {k: v for k, v in outcome(self.ws, name).items() if k != "notes"},
                "verdict": {"landed": verdict.get("landed"), "ratio": number(verdict.get("final_state_ratio")),
                            "warnings": [self.page_words(w) for w in verdict.get("warnings", [])]},
                "strength": applied_strength(paths),
                "report": self.report_url(name) if (paths.report / "index.html").exists() else None,
                "photos": [{"id": r.id, "file": r.source_path, "status": r.status, "reason": self.page_words(r.reason),
                            "final_state": getattr(r, "final_state", "") or "",
                            "final_gap": number(getattr(r, "final_gap", None)),
                            "before_gap": number(getattr(r, "before_gap", None)), "alpha": number(r.alpha),
                            "strength": number(getattr(r, "strength", None)), "decision": made.get(r.id),
                            "image": r.status in EDITED, "original": r.id in catalog}
                           for r in chunk.itertuples(index=False)]}

    def review(self, name: str, body: ReviewBody) -> dict:
        """Accept / reject / clear photos of edit `name` (tasks.review.set_decisions), under the workspace lock."""
        from tasks.review import set_decisions, summary

        self.applied(name)
        changes: dict[str, str | None] = {}
        for decision, ids in (("accepted", body.accept), ("rejected", body.reject), (None, body.clear)):
            for i in ids:
                if i in changes:
                    raise InputError(f"photo {shown.repr(i)} is given two decisions (accept, reject, clear): choose one")
                changes[i] = decision
        with workspace_lock(self.ws.root, wait=False):
            if changes:
                set_decisions(self.ws, name, changes)
            return summary(self.ws, name)

    def rerun_ids(self, name: str, body: RerunBody) -> tuple[list[str], Params]:
        """The photos a re-run would take (tasks.rerun.select_rerun) and its params, checked before any work."""
        from tasks.latents import check_latents
        from tasks.manifest import require_source
        from tasks.rerun import select_rerun
        from tasks.train import check_models

        paths = self.applied(name)
        self.ws.require(paths.direction, hint="apply the edit again")
        strength = body.strength if body.strength is not None else applied_strength(paths)
        strength = strength if strength is not None else self.params.edit.strength
        extra = [f"edit.strength={strength}", *([f"edit.refine.steps={body.refine_steps}"]
                                                if body.refine_steps is not None else [])]
        params = self.load_params(*extra)
        if body.only == "ids":
            if not body.ids:
                raise InputError("no photos chosen: tick the photos to re-run first")
            only = ",".join(body.ids)
        elif body.only in ("rejected", "short"):
            only = body.only
        else:
            raise InputError(f"only {shown.repr(body.only)}: choose rejected, short or ids")
        check_models(self.ws, params)
        check_latents(self.ws)
        require_source(self.ws)
        return select_rerun(self.ws, name, only), params

    def rerun(self, job: Job, name: str, ids: list[str], params: Params) -> dict:
        """Only these photos of edit `name` again (flows/rerun.py, as `oneedit rescale --only`), the rest kept;
        then its report. Under the workspace lock; a cancel puts the edit back as it was."""
        from flows.rerun import rerun_flow
        from flows.runners import on_runner

        job.phase = "waiting for the workspace lock"
        with workspace_lock(self.ws.root, wait=False):
            return self.run_flows(job, name, params, lambda: {
                **on_runner(rerun_flow, params.runtime)(self.ws.root, name, ids, params), "final_state": None})

    def export_zip(self, name: str, only: str) -> Path:
        """Edit `name`'s photos as a catalog takes them (tasks.export.export_zip), one zip written whole into the
        studio's folder (removed once sent), under the workspace lock."""
        from tasks.export import ExportOptions, export_zip, plan_export
        from tasks.manifest import require_source

        self.applied(name)
        require_source(self.ws)
        plan_export(self.ws, name, only)  # every choice checked before anything is written
        p = self.params
        folder = self.drafts_root / f"export-{uuid.uuid4().hex[:12]}"
        folder.mkdir()
        try:
            with workspace_lock(self.ws.root, wait=False):
                export_zip(self.ws, name, folder / f"{name}.zip", only,
                           ExportOptions("same", p.export.jpeg_quality, p.export.webp_quality), p.runtime.threads)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return folder / f"{name}.zip"


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.is_dir() else 0


def _remove_dead_studios() -> None:
    """Drafts and uploads of studios that were killed (their pid gone) are removed when the next one starts."""
    for folder in Path(tempfile.gettempdir()).glob("oneedit-studio-*-*"):
        found = re.fullmatch(r"oneedit-studio-(\d+)-\w+", folder.name)
        if found is None or int(found.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(found.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            pass  # alive, someone else's
