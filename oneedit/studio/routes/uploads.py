"""Uploads: an example photo from outside the catalog (the CLI's `--example PATH`), projected as a job,
with its thumbnail, its projection G(w) and the photo itself."""

from __future__ import annotations

from pathlib import Path

import torch
from fastapi import APIRouter, Request
from fastapi.responses import Response

from edit_core.imageops import to_uint8
from oneedit.studio.images import DISPLAY, fit_view, png_response
from oneedit.studio.security import read_upload
from oneedit.studio.state import Studio
from tasks.images import read_photo


def router(studio: Studio) -> APIRouter:
    """/api/uploads/... on `studio`."""
    api = APIRouter()

    @api.post("/api/uploads")
    async def upload(request: Request, name: str = "upload") -> dict:
        """An example photo from outside the catalog; its projection runs as a job (its result: the upload)."""
        file = Path(name).name[:200] or "upload"
        data, suffix = await read_upload(request, f"--example {file}")
        new = studio.new_upload(data, suffix, file)
        return studio.submit("project", studio.project_upload, new, title=f"project {new.file}",
                             holds=(new.id,)).to_dict()

    @api.get("/api/uploads/{upload_id}/thumb.png")
    def upload_thumb(upload_id: str) -> Response:
        return png_response(studio.upload(upload_id).thumb)

    @api.get("/api/uploads/{upload_id}/projection.png")
    def upload_projection(upload_id: str) -> Response:
        up = studio.upload(upload_id, projected=True)
        G = studio.generator()
        with torch.no_grad():
            return png_response(to_uint8(G.synthesis(torch.from_numpy(up.w[None]).to(G.device)))[0])

    @api.get("/api/uploads/{upload_id}/photo.png")
    def upload_photo(upload_id: str, size: int = DISPLAY) -> Response:
        return png_response(fit_view(read_photo(studio.upload(upload_id).path), size))

    return api
