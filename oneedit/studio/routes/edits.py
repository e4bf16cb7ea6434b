"""Applied edits: their photos (paged, filtered) and outputs, the review's decisions, re-runs of some
photos, versions (restore, delete) and the zip download, through the CLI's own modules."""

from __future__ import annotations

import shutil

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from common.errors import InputError
from common.lock import workspace_lock
from oneedit.studio.images import fit_view, png_response
from oneedit.studio.models import RerunBody, ReviewBody, VersionBody
from oneedit.studio.state import Studio
from tasks.images import read_photo


def router(studio: Studio) -> APIRouter:
    """/api/edits/... on `studio`."""
    api = APIRouter()
    ws = studio.ws

    @api.get("/api/edits/{name}/results")
    def edit_results(name: str, show: str = "all", page: int = 0, size: int = 48) -> dict:
        if page < 0 or not 1 <= size <= 500:
            raise InputError("page must be >= 0 and size between 1 and 500")
        return studio.results(name, show, page, size)

    @api.get("/api/edits/{name}/output/{photo_id}.png")
    def edit_output(name: str, photo_id: str, size: int = 0) -> Response:
        """A photo as the edit made it (images/<id>.png), full resolution (size 0) or brought to `size`."""
        studio.photo(photo_id)
        image = studio.applied(name).images / f"{photo_id}.png"
        if not image.is_file():
            raise HTTPException(404, f"edit {name!r} has no edited image of {photo_id!r} (not edited: see its reason)")
        if size <= 0:
            return FileResponse(image, media_type="image/png", headers={"Cache-Control": "no-store"})
        return png_response(fit_view(read_photo(image), size))

    @api.post("/api/edits/{name}/review")
    def edit_review(name: str, body: ReviewBody) -> dict:
        return studio.review(name, body)

    @api.post("/api/edits/{name}/rerun")
    def edit_rerun(name: str, body: RerunBody) -> dict:
        """Only the rejected / short / chosen photos again (another strength, more refinement), the rest kept."""
        ids, params = studio.rerun_ids(name, body)
        return studio.start_run("rerun", studio.rerun, name, ids, params,
                                title=f"{name}: {len(ids)} photo(s) again at strength {params.edit.strength:g}")

    @api.get("/api/edits/{name}/versions")
    def edit_versions(name: str) -> dict:
        from tasks.versions import list_versions

        return {"name": name, "versions": list_versions(ws, name)}

    @api.post("/api/edits/{name}/restore")
    def edit_restore(name: str, body: VersionBody) -> dict:
        """Version K becomes the edit again; the edit it replaces is kept as a version (undoable)."""
        from tasks.versions import restore_version

        if body.version is None:
            raise InputError("choose the version to restore")
        with workspace_lock(ws.root, wait=False):
            kept = restore_version(ws, name, body.version)
        return {"name": name, "restored": body.version, "kept": kept}

    @api.post("/api/edits/{name}/delete")
    def edit_delete(name: str, body: VersionBody) -> dict:
        """The edit deleted (kept as a version: restorable), or one kept version deleted for good."""
        from tasks.versions import delete_edit

        with workspace_lock(ws.root, wait=False):
            kept = delete_edit(ws, name, body.version)
        return {"name": name, "deleted": body.version if body.version is not None else "current", "kept": kept}

    @api.get("/api/edits/{name}/export.zip")
    def edit_export(name: str, only: str = "edited") -> FileResponse:
        """The edit's photos as a catalog takes them (their names, folders, formats, metadata), one zip written
        whole, then streamed; `?token=` works here, so the page's download link carries it."""
        target = studio.export_zip(name, only)
        return FileResponse(target, media_type="application/zip", filename=target.name,
                            headers={"Cache-Control": "no-store"},
                            background=BackgroundTask(shutil.rmtree, target.parent, ignore_errors=True))

    return api
