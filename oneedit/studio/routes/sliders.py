"""The sliders: the principal directions of W with their names and end images, and an example rendered
with the sliders' offset."""

from __future__ import annotations

import torch
from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from edit_core.imageops import to_uint8
from oneedit.studio.images import png_response
from oneedit.studio.models import OffsetBody
from oneedit.studio.state import Studio
from oneedit.studio.words import shown


def router(studio: Studio) -> APIRouter:
    """/api/directions/... and /api/render on `studio`."""
    api = APIRouter()

    @api.get("/api/directions")
    def directions() -> dict:
        """The sliders: principal directions of W, each named after what it changes (`describe_change`)."""
        studio.require_models()
        _, sigma = studio.principal_directions()
        looks = studio.direction_looks()
        return {"count": len(sigma), "sigma": [float(s) for s in sigma],
                "labels": [{"what": x["what"], "minus": x["less"], "plus": x["more"],
                            "minus_image": f"/api/directions/{k}/minus.png", "plus_image": f"/api/directions/{k}/plus.png"}
                           for k, x in enumerate(looks)]}

    @api.get("/api/directions/{k}/{end}.png")
    def direction_image(k: int, end: str) -> Response:
        """G's mean latent moved along principal direction k, toward its − or + end."""
        studio.require_models()
        looks = studio.direction_looks()
        if end not in ("minus", "plus") or not 0 <= k < len(looks):
            raise HTTPException(404, f"no direction image {k}/{shown.repr(end)}")
        return png_response(looks[k][end])

    @api.post("/api/render")
    def render(body: OffsetBody) -> Response:
        studio.require_models()
        w0, delta = studio.offset(body.example, body.offsets)
        G = studio.generator()
        with torch.no_grad():
            w = torch.from_numpy(w0 + delta)[None].to(G.device)
            return png_response(to_uint8(G.synthesis(w))[0])

    return api
