"""Reports: an edit's report folder served under its per-edit key (`Studio.report_url`)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from common.errors import InputError
from oneedit.studio.state import Studio
from tasks.edits import edit_state


def router(studio: Studio) -> APIRouter:
    """/reports/KEY/NAME/... on `studio` (no token: the key is the report's own)."""
    api = APIRouter()
    ws = studio.ws

    @api.get("/reports/{key}/{name}/{path:path}")
    def report_file(key: str, name: str, path: str) -> FileResponse:
        """A report's file, under its key (`Studio.report_url`); an edit whose last run stopped midway is
        refused, as `oneedit report` refuses it (its images and results would be of two runs)."""
        paths = ws.edit(name)
        if not hmac.compare_digest(studio.report_url(name).split("/")[2], key):
            raise HTTPException(404, f"no report file {path!r} for edit {name!r}")
        if edit_state(paths) == "partial":
            raise InputError(f"edit {name!r}: its last run stopped midway: run `oneedit rescale --name {name}` "
                             "to finish it, then `oneedit report`")
        root = paths.report.resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise HTTPException(404, f"no report file {path!r} for edit {name!r}")
        return FileResponse(target, headers={"Cache-Control": "no-store"})

    return api
