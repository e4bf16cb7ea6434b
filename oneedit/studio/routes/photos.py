"""The workspace and its catalog: the page's state, the photos (paged), each photo's thumbnail, its
projection G(w) and its original."""

from __future__ import annotations

import numpy as np
import torch
from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from common.errors import InputError, first_line
from edit_core.imageops import to_uint8
from oneedit.studio import cache
from oneedit.studio.images import DISPLAY, fit_view, png_response
from oneedit.studio.models import STRENGTH_MAX, STRENGTH_MIN
from oneedit.studio.state import Studio
from tasks.edits import list_edits
from tasks.images import read_photo
from tasks.versions import deleted_edits


def router(studio: Studio) -> APIRouter:
    """/api/state and /api/photos/... on `studio`."""
    api = APIRouter()
    ws = studio.ws

    @api.get("/api/state")
    def state() -> dict:
        missing = None
        try:
            studio.require_models()
        except InputError as exc:
            missing = first_line(exc, type(exc).__name__)
        photos = len(studio.catalog()) if ws.manifest.exists() else 0
        edits = list_edits(ws) if ws.manifest.exists() else []
        for e in edits:
            e["report"] = studio.report_url(e["name"]) if e["state"] == "reported" else None
        return {"workspace": str(ws.root), "photos": photos, "ready": missing is None, "missing": missing,
                "strength": studio.params.edit.strength, "strength_range": [STRENGTH_MIN, STRENGTH_MAX],
                "refine_steps": studio.params.edit.refine.steps, "edits": edits,
                "deleted": deleted_edits(ws) if ws.manifest.exists() else {},
                "run": studio.run.to_dict() if studio.run is not None else None}

    @api.get("/api/photos")
    def photos(page: int = 0, size: int = 24) -> dict:
        if page < 0 or not 1 <= size <= 200:
            raise InputError("page must be >= 0 and size between 1 and 200")
        studio.require_models()
        rows = studio.catalog()
        lat = studio.latents()
        err = dict(zip(lat["ids"], lat["err_pixel"].astype(float), strict=True))
        chunk = rows[page * size:(page + 1) * size]
        return {"total": len(rows), "page": page, "size": size, "pages": (len(rows) + size - 1) // size,
                "photos": [{"id": r["id"], "file": r["file"], "width": r["width"], "height": r["height"],
                            "err_pixel": err.get(r["id"])} for r in chunk]}

    @api.get("/api/photos/{photo_id}/thumb.png")
    def thumb(photo_id: str) -> Response:
        row = studio.photo(photo_id)
        path = ws.ingest / row["shard"]
        return png_response(cache.shard_images(path, path.stat().st_mtime_ns)[row["index"]])

    @api.get("/api/photos/{photo_id}/projection.png")
    def projection(photo_id: str) -> Response:
        studio.photo(photo_id)
        lat = studio.latents()
        where = np.flatnonzero(lat["ids"] == photo_id)
        if not len(where):
            raise HTTPException(404, f"photo {photo_id!r} has no latent yet: run `oneedit project`")
        G = studio.generator()
        with torch.no_grad():
            w = torch.from_numpy(lat["w"][int(where[0])][None]).to(G.device)
            return png_response(to_uint8(G.synthesis(w))[0])

    @api.get("/api/photos/{photo_id}/photo.png")
    def photo(photo_id: str, size: int = DISPLAY) -> Response:
        """The original, display-oriented, its longest side brought to `size` (0: full resolution, the compare)."""
        from tasks.manifest import source_paths

        studio.photo(photo_id)
        try:
            rgb = read_photo(source_paths(ws)[photo_id])
            return png_response(rgb if size <= 0 else fit_view(rgb, size))
        except OSError as exc:
            raise InputError(f"the original of {photo_id} is unavailable: {exc.strerror or exc}") from None

    return api
