"""The JSON bodies the page sends, validated by FastAPI before a route runs; the strength range is the
params' own (`edit.strength`), so the page, the routes and the CLI share one range."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from common.params import EditParams


def _bounds(field: Any) -> tuple[float, float]:
    """(ge, le) of a pydantic field: the limits the params declare (one source for the page and the routes)."""
    ge = next(m.ge for m in field.metadata if hasattr(m, "ge"))
    le = next(m.le for m in field.metadata if hasattr(m, "le"))
    return float(ge), float(le)


STRENGTH_MIN, STRENGTH_MAX = _bounds(EditParams.model_fields["strength"])  # edit.strength's range, as the CLI's


class Stroke(BaseModel):
    mask: str  # data:image/png;base64,... painted pixels have alpha > 0
    rgb: list[int] = Field(default_factory=lambda: [0, 0, 0], min_length=3, max_length=3)


class BrushBody(BaseModel):
    example: str
    color: Stroke | None = None
    sketch: Stroke | None = None


class OffsetBody(BaseModel):
    example: str
    offsets: list[float]


class PreviewBody(BaseModel):
    strength: float = Field(1.0, ge=STRENGTH_MIN, le=STRENGTH_MAX)  # as edit.strength
    sample: int = Field(16, ge=1, le=64)


class ApplyBody(BaseModel):
    draft: str
    name: str
    strength: float = Field(1.0, ge=STRENGTH_MIN, le=STRENGTH_MAX)  # as edit.strength
    replace: bool = False  # as --replace: the page asks the user before it sends true


class ReviewBody(BaseModel):
    accept: list[str] = Field(default_factory=list, max_length=1_000_000)  # photo ids
    reject: list[str] = Field(default_factory=list, max_length=1_000_000)
    clear: list[str] = Field(default_factory=list, max_length=1_000_000)


class RerunBody(BaseModel):
    only: str = "rejected"  # rejected (in review) | short (final_state) | ids: the photos of `ids`
    ids: list[str] = Field(default_factory=list, max_length=1_000_000)
    strength: float | None = Field(None, ge=STRENGTH_MIN, le=STRENGTH_MAX)  # None: the edit's applied strength
    refine_steps: int | None = None  # edit.refine.steps (checked by the params, as `--set` is)


class VersionBody(BaseModel):
    version: int | None = None  # None: the edit itself (delete keeps it as a version)
