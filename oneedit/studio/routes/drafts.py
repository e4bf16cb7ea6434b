"""Drafts: an edit made in the page (brush strokes, an edited "after" photo, or the sliders' offset) saved as
the files `oneedit edit` takes, previewed on a sample of the catalog, then applied to the whole catalog."""

from __future__ import annotations

import numpy as np
import torch
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from common.errors import InputError
from oneedit.studio.images import png_response
from oneedit.studio.models import ApplyBody, BrushBody, OffsetBody, PreviewBody
from oneedit.studio.security import read_upload
from oneedit.studio.state import Studio
from oneedit.studio.strokes import write_strokes
from tasks.example import read_brush


def router(studio: Studio) -> APIRouter:
    """/api/drafts/... and /api/apply on `studio`."""
    api = APIRouter()

    @api.post("/api/drafts/brush")
    def brush(body: BrushBody) -> dict:
        if body.color is None and body.sketch is None:
            raise InputError("--constraints: paint at least one colour or sketch stroke")
        size = studio.example_size(body.example)
        with studio.stored("draft") as folder:
            strokes = write_strokes(body.color, body.sketch, size, folder)
            form = studio.form("brush", strokes, body.example)
            # the strokes as the generator will see them (any coverage: a thin stroke survives), now
            read_brush(strokes, studio.generator().resolution, torch.device("cpu"))
            draft = studio.new_draft(form, folder, body.example)
        return {"draft": draft.id}

    @api.post("/api/drafts/after")
    async def after(request: Request, example: str) -> dict:
        studio.check_example(example)
        data, suffix = await read_upload(request, "--after")
        with studio.stored("draft", len(data)) as folder:
            path = folder / f"after{suffix}"
            path.write_bytes(data)
            draft = studio.new_draft(studio.form("pair", path, example), folder, example)
        return {"draft": draft.id}

    @api.post("/api/drafts/offset")
    def offset(body: OffsetBody) -> dict:
        studio.require_models()
        _, delta = studio.offset(body.example, body.offsets)
        if not np.any(delta):
            raise InputError("--offset: move at least one slider")
        with studio.stored("draft") as folder:
            np.save(folder / "offset.npy", delta)
            draft = studio.new_draft(studio.form("offset", folder / "offset.npy", body.example), folder, body.example)
        return {"draft": draft.id}

    @api.post("/api/drafts/{draft_id}/preview")
    def preview(draft_id: str, body: PreviewBody) -> dict:
        draft = studio.draft(draft_id)
        return studio.submit("preview", studio.preview, draft, body.strength, body.sample, holds=(draft.id,)).to_dict()

    @api.get("/api/drafts/{draft_id}/render/{key}.png")
    def draft_render(draft_id: str, key: str) -> Response:
        draft = studio.draft(draft_id)
        if draft.preview is None or key not in draft.preview.renders:
            raise HTTPException(404, f"no render {key!r} yet: preview the edit first")
        return png_response(draft.preview.renders[key])

    @api.get("/api/drafts/{draft_id}/sample/{k}/{which}.png")
    def draft_sample(draft_id: str, k: int, which: str) -> Response:
        draft = studio.draft(draft_id)
        if which not in ("before", "after") or not 0 <= k < len(draft.sample) or draft.sample[k][which] is None:
            raise HTTPException(404, "no such sample image: preview the edit first")
        return png_response(draft.sample[k][which])

    @api.post("/api/apply")
    def apply(body: ApplyBody) -> dict:
        draft = studio.draft(body.draft)
        studio.check_name(draft, body.name, body.replace)  # the CLI's checks, before any work
        studio.would_edit(draft, body.strength)
        return studio.start_run("apply", studio.apply, draft, body.name, body.strength, body.replace,
                                title=f"{body.name} at strength {body.strength:g}", holds=(draft.id,))

    return api
