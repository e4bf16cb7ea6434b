"""OneEdit Studio: make the example edit in the browser, preview it on a sample, apply it to the catalog.

`oneedit studio --workspace WS` serves one page (oneedit/static/, plain HTML + JavaScript) and a JSON
API on 127.0.0.1. The page picks the example from the catalog (or uploads a photo from outside it,
projected as the catalog is: tasks.example.project_example), makes the edit (colour / sketch brush
strokes, an edited "after" upload, or sliders along principal directions of W), previews it on a
sample of the catalog with the real transfer, and applies it. Every input the page makes becomes the
same files `oneedit edit` takes (strokes.json + mask PNGs, an after image, an offset .npy; an
uploaded example is a photo file, as `--example PATH` takes it) in a draft folder, checked by the CLI's
own checks; Apply runs
the CLI's flows (edit_flow, then report_flow) under the workspace lock, so `rescale`, `report`,
`retrain` and `dvc repro` see an ordinary edit.

Everything slow (brush optimization, Δ* fit, transfers, the catalog run) runs in a job thread and is
polled (GET /api/jobs/ID); a run belongs to the server, not to a tab: a second tab sees it, a closed
tab does not stop it. Errors are the CLI's one-line messages, as {"error": "..."}.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import shutil
import tempfile
import threading
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from common import progress
from common.errors import InputError, OneEditError, WorkspaceLocked
from common.lock import workspace_lock
from common.params import Params, load_params
from common.storage import read_h5, read_parquet
from common.workspace import Workspace
from edit_core.checkpoint import load_generator
from edit_core.imageops import resolve_device, to_uint8
from tasks.edits import list_edits
from tasks.example import photo_size, project_example, read_brush
from tasks.images import read_photo, read_thumbnail
from tasks.ingest import shard_name

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD = 64 << 20  # bytes
SUFFIXES = {"jpeg": ".jpg", "jpg": ".jpg", "png": ".png", "webp": ".webp", "tiff": ".tif", "bmp": ".bmp"}
PCA_SAMPLES, PCA_COMPONENTS = 2000, 5
DISPLAY = 512  # px, longest side of the example as the page shows it


# --------------------------------------------------------------------------------------------
# request bodies


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
    strength: float = Field(1.0, ge=-10, le=10)  # as edit.strength
    sample: int = Field(16, ge=1, le=64)


class ApplyBody(BaseModel):
    draft: str
    name: str
    strength: float = Field(1.0, ge=-10, le=10)  # as edit.strength


# --------------------------------------------------------------------------------------------
# jobs


@dataclass
class Job:
    """One piece of work run off the request thread; polled as JSON."""

    id: str
    kind: str
    state: str = "queued"  # queued | running | done | failed
    phase: str = ""
    done: int = 0
    of: int = 0
    error: str = ""
    result: dict = field(default_factory=dict)
    title: str = ""
    bars: Any = None  # the flow's progress bars (common.progress.capture), for runs
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def phase_fn(self, what: str, done: int, of: int) -> None:
        self.phase, self.done, self.of = what, done, of

    def to_dict(self) -> dict:
        lines = progress.snapshot(self.bars) if self.bars is not None else []
        return {"id": self.id, "kind": self.kind, "title": self.title, "state": self.state, "phase": self.phase, "done": self.done,
                "of": self.of, "error": self.error, "result": self.result, "progress": lines,
                "elapsed": (self.finished or time.time()) - self.started}


def one_line(exc: BaseException) -> str:
    """The CLI's one-line message for an error (first non-empty line)."""
    return next((s.strip() for s in str(exc).splitlines() if s.strip()), type(exc).__name__)


@dataclass
class Draft:
    """An edit being made: its input files (the CLI's forms) and, once previewed, the fitted Δ*."""

    id: str
    folder: Path
    form: dict
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


def read_upload(data: bytes, content_type: str, what: str) -> tuple[bytes, str]:
    """An uploaded image's bytes and file suffix, or the one-line error of an empty, too large or
    non-image upload (`what` names it as the CLI would: --example, --after)."""
    if not data:
        raise InputError(f"{what}: the upload is empty")
    if len(data) > MAX_UPLOAD:
        raise InputError(f"{what}: the upload is larger than {MAX_UPLOAD >> 20} MiB")
    kind = content_type.split(";")[0].strip().lower()
    if kind and not (kind.startswith("image/") or kind == "application/octet-stream"):
        raise InputError(f"{what}: not an image (content type {kind}); upload a JPEG, PNG, WebP, TIFF or BMP photo")
    return data, SUFFIXES.get(kind.split("/")[-1], ".img")


# --------------------------------------------------------------------------------------------
# image helpers


def png(rgb: np.ndarray) -> Response:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
    return Response(buf.tobytes(), media_type="image/png", headers={"Cache-Control": "no-store"})


def fit(rgb: np.ndarray, size: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = min(1.0, size / max(h, w))
    return rgb if s == 1.0 else cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))),
                                           interpolation=cv2.INTER_AREA)


def decode_data_url(url: str, what: str) -> np.ndarray:
    """A `data:image/png;base64,...` canvas export -> the painted pixels as a bool mask (alpha > 0)."""
    head, _, data = url.partition(",")
    if not head.startswith("data:image/") or ";base64" not in head:
        raise InputError(f"{what}: expected a data:image/...;base64 URL")
    try:
        with Image.open(io.BytesIO(base64.b64decode(data, validate=True))) as im:
            rgba = np.asarray(im.convert("RGBA"))
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"{what}: not a readable image ({one_line(exc)})") from None
    return rgba[..., 3] > 0


def mask_png(mask: np.ndarray, size: tuple[int, int], path: Path) -> None:
    """A bool mask brought to (height, width) and written white-on-black, as `--constraints` reads it."""
    h, w = size
    grey = cv2.resize(mask.astype(np.uint8) * 255, (w, h), interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(path), grey)


# --------------------------------------------------------------------------------------------
# the studio


class Studio:
    """The state behind the page: workspace, cached generator/latents, drafts and jobs."""

    def __init__(self, workspace: Path, params_path: Path | None = None, sets: list[str] | None = None) -> None:
        self.ws = Workspace.open(workspace)
        self.params_path, self.sets = params_path, list(sets or [])
        self.params = self.load_params()
        self.drafts_root = Path(tempfile.mkdtemp(prefix="oneedit-studio-"))
        self.drafts: dict[str, Draft] = {}
        self.uploads: dict[str, Upload] = {}
        self.jobs: dict[str, Job] = {}
        self.run: Job | None = None
        self._lock = threading.Lock()
        self._work = ThreadPoolExecutor(1, thread_name_prefix="studio-work")
        self._runs = ThreadPoolExecutor(1, thread_name_prefix="studio-run")
        self._G: tuple[float, Any] | None = None
        self._pca: tuple[float, torch.Tensor, torch.Tensor] | None = None

    def load_params(self, *extra: str) -> Params:
        return load_params(self.params_path, [*self.sets, *extra])

    def close(self) -> None:
        self._work.shutdown(wait=False, cancel_futures=True)
        self._runs.shutdown(wait=True)
        shutil.rmtree(self.drafts_root, ignore_errors=True)

    # the catalog ------------------------------------------------------------------------

    def require_models(self) -> None:
        self.ws.require(self.ws.manifest, hint="run `oneedit ingest SRC_DIR --workspace WS` first")
        self.ws.require(self.ws.gan, self.ws.encoder, hint="run `oneedit train --workspace WS` first")
        self.ws.require(self.ws.latents, hint="run `oneedit project --workspace WS` first")

    def catalog(self) -> list[dict]:
        """Accepted photos in manifest order: id, file, shard file, index."""
        return _catalog(self.ws.manifest, self.ws.manifest.stat().st_mtime_ns)

    def photo(self, photo_id: str) -> dict:
        for row in self.catalog():
            if row["id"] == photo_id:
                return row
        raise HTTPException(404, f"no photo {photo_id!r} in the catalog")

    def latents(self) -> dict:
        from tasks.latents import load_latents

        stamp = tuple(p.stat().st_mtime_ns for p in sorted(self.ws.latents.glob("*.h5")))
        return _latents(self.ws.root, stamp, load_latents)

    def generator(self):
        stamp = self.ws.gan.stat().st_mtime
        with self._lock:
            if self._G is None or self._G[0] != stamp:
                self._G = (stamp, load_generator(self.ws.gan, resolve_device(self.params.runtime.device)))
            return self._G[1]

    def principal_directions(self) -> tuple[torch.Tensor, torch.Tensor]:
        """GANSpace-style PCA of sampled w: (components [K, w_dim], their standard deviations [K])."""
        G = self.generator()
        stamp = self.ws.gan.stat().st_mtime
        with self._lock:
            if self._pca is None or self._pca[0] != stamp:
                w = G.sample_w(PCA_SAMPLES, seed=0).float().cpu()
                centred = w - w.mean(0)
                _, s, vh = torch.linalg.svd(centred, full_matrices=False)
                k = min(PCA_COMPONENTS, len(s))
                self._pca = (stamp, vh[:k], s[:k] / (len(w) - 1) ** 0.5)
            return self._pca[1], self._pca[2]

    def offset(self, example: str, offsets: list[float]) -> tuple[np.ndarray, np.ndarray]:
        """(w0, Δw) for slider values (in standard deviations along each principal direction)."""
        components, sigma = self.principal_directions()
        if len(offsets) > len(sigma):
            raise InputError(f"offsets: {len(offsets)} values, but there are {len(sigma)} principal directions")
        if example in self.uploads:
            w0 = self.upload(example, projected=True).w
        else:
            lat = self.latents()
            where = np.flatnonzero(lat["ids"] == example)
            if not len(where):
                raise InputError(f"--example {example!r} is neither a catalog photo id nor an image file")
            w0 = lat["w"][int(where[0])]
        delta = sum((float(v) * sigma[k] * components[k] for k, v in enumerate(offsets)),
                    torch.zeros(components.shape[1]))
        delta = np.broadcast_to(delta.numpy(), w0.shape).astype(np.float32)
        return w0, delta

    # uploaded examples ------------------------------------------------------------------

    def new_upload(self, data: bytes, content_type: str, file: str) -> Upload:
        """Store an uploaded example photo (checked as `--example PATH` is) and its model-size thumbnail."""
        self.require_models()
        file = Path(file).name or "upload"
        data, suffix = read_upload(data, content_type, f"--example {file}")
        upload_id = "upload-" + uuid.uuid4().hex[:12]
        folder = self.drafts_root / upload_id
        folder.mkdir()
        path = folder / f"example{Path(file).suffix.lower() or suffix}"
        path.write_bytes(data)
        try:
            height, width = photo_size(path, "--example")
            thumb = read_thumbnail(path, self.generator().resolution)
        except InputError as exc:  # the CLI's message, naming the user's file rather than the studio's copy
            shutil.rmtree(folder, ignore_errors=True)
            message = one_line(exc).replace(str(path), file)
            raise InputError(message if message.startswith("--example") else f"--example {message}") from None
        upload = Upload(id=upload_id, path=path, file=file, height=height, width=width, thumb=thumb)
        self.uploads[upload_id] = upload
        return upload

    def project_upload(self, job: Job, upload: Upload) -> dict:
        """Project the uploaded example as the catalog's photos are (E init + optimization)."""
        job.phase_fn(f"project {upload.file}", 0, 1)
        G = self.generator()
        result = project_example(G, self.ws, upload.thumb, self.params, G.device)
        upload.w, upload.err_pixel = result["w"].detach().cpu().numpy(), result["err_pixel"]
        job.phase_fn(f"project {upload.file}", 1, 1)
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
        if example in self.uploads:
            upload = self.upload(example)
            return {"kind": kind, "path": str(path), "example": str(upload.path), "source_example": upload.file}
        return {"kind": kind, "path": str(path), "example": example}

    # drafts -----------------------------------------------------------------------------

    def new_draft(self, form: dict, folder: Path) -> Draft:
        from tasks.example import check_example_form

        self.require_models()
        check_example_form(self.ws, form)
        draft = Draft(id=folder.name, folder=folder, form=form)
        self.drafts[draft.id] = draft
        return draft

    def draft_folder(self) -> Path:
        folder = self.drafts_root / uuid.uuid4().hex[:12]
        folder.mkdir()
        return folder

    def draft(self, draft_id: str) -> Draft:
        if draft_id not in self.drafts:
            raise HTTPException(404, f"no draft {draft_id!r} (the studio was restarted?): make the edit again")
        return self.drafts[draft_id]

    def example_size(self, example: str) -> tuple[int, int]:
        from tasks.example import example_size

        return example_size(self.ws, str(self.upload(example).path) if example in self.uploads else example)

    # jobs -------------------------------------------------------------------------------

    def submit(self, kind: str, fn, *args: Any, run: bool = False, title: str = "") -> Job:
        job = Job(id=uuid.uuid4().hex[:12], kind=kind, title=title)
        self.jobs[job.id] = job

        def body() -> None:
            job.state = "running"
            try:
                job.result = fn(job, *args)
                job.state = "done"
            except (OneEditError, ValueError, FileNotFoundError) as exc:
                job.error, job.state = one_line(exc), "failed"
            except Exception as exc:  # a bug: the page shows one line, the server log the traceback
                traceback.print_exc()
                job.error, job.state = f"internal error: {type(exc).__name__}: {one_line(exc)}", "failed"
            finally:
                job.finished = time.time()

        (self._runs if run else self._work).submit(body)
        return job

    def preview(self, job: Job, draft: Draft, strength: float, k: int) -> dict:
        """Fit Δ* once per draft, then α for every photo and the sample's transfer at `strength`."""
        from tasks.alphas import spread_over_alpha
        from tasks.preview import catalog_alphas, fit_preview, transfer_sample

        params = self.load_params(f"edit.strength={strength}")
        if draft.preview is None:
            draft.preview = fit_preview(self.ws, draft.form, params, on_phase=job.phase_fn)
        table = catalog_alphas(self.ws, draft.preview, strength, params)
        ids = spread_over_alpha(table["id"], table["alpha"], k)
        draft.sample = transfer_sample(self.ws, draft.preview, table, ids, params, on_phase=job.phase_fn)
        draft.strength = strength
        base = f"/api/drafts/{draft.id}"
        stamp = uuid.uuid4().hex[:6]
        return {
            "draft": draft.id, "strength": strength, "delta_norm": float(draft.preview.delta_star.norm()),
            "renders": {k: f"{base}/render/{k}.png" for k in draft.preview.renders},
            "catalog": {"photos": len(table), "flagged": int(table["flagged"].sum()),
                        "alpha_min": float(table["alpha"].min()), "alpha_max": float(table["alpha"].max())},
            "sample": [{"file": s["file"], "alpha": s["alpha"], "flagged": s["flagged"], "reason": s["reason"],
                        "before": f"{base}/sample/{k}/before.png?v={stamp}" if s["before"] is not None else None,
                        "after": f"{base}/sample/{k}/after.png?v={stamp}" if s["after"] is not None else None}
                       for k, s in enumerate(draft.sample)],
        }

    def apply(self, job: Job, draft: Draft, name: str, strength: float) -> dict:
        """The edit saved and run exactly as `oneedit edit` would, then its report; under the workspace lock."""
        from flows.edit import edit_flow
        from flows.report import report_flow
        from flows.runners import on_runner
        from tasks.example import check_example_form
        from tasks.train import check_models

        params = self.load_params(f"edit.strength={strength}")
        self.ws.edit(name)  # validates the name
        job.phase = "waiting for the workspace lock"
        with workspace_lock(self.ws.root, wait=False):
            check_models(self.ws, params)
            form = dict(draft.form)  # the edit copies its input into its own folder (tasks/direction.py)
            check_example_form(self.ws, form)
            with progress.capture() as bars:
                job.bars = bars
                job.phase = "edit"
                summary = on_runner(edit_flow, params.runtime)(self.ws.root, name, form, params)
                job.phase = "report"
                on_runner(report_flow, params.runtime)(self.ws.root, name, params)
        job.phase = "done"
        return {"name": name, "strength": strength, "status": summary["status"],
                "report": f"/reports/{name}/index.html"}


@lru_cache(maxsize=2)
def _catalog(manifest: Path, stamp: int) -> list[dict]:
    m = read_parquet(manifest)
    m = m[m["status"] == "accepted"]
    return [{"id": r.id, "file": r.source_path, "shard": shard_name(int(r.shard)), "index": int(r.index),
             "width": int(r.width), "height": int(r.height)} for r in m.itertuples(index=False)]


@lru_cache(maxsize=2)
def _latents(root: Path, stamp: tuple, load) -> dict:
    return load(Workspace.open(root))


@lru_cache(maxsize=8)
def _shard_images(path: Path, stamp: int) -> np.ndarray:
    return read_h5(path, ["images"])["images"]


# --------------------------------------------------------------------------------------------
# the app


def create_app(studio: Studio) -> FastAPI:
    """The page and its JSON API on one Studio."""
    app = FastAPI(title="OneEdit Studio", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.studio = studio
    ws = studio.ws

    @app.exception_handler(OneEditError)
    async def _one_line(request: Request, exc: OneEditError) -> JSONResponse:
        return JSONResponse({"error": one_line(exc)}, status_code=409 if isinstance(exc, WorkspaceLocked) else 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(ValueError)
    async def _value(request: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"error": one_line(exc)}, status_code=400)

    @app.get("/")
    def index() -> FileResponse:
        return FileResponse(STATIC / "studio.html", headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/state")
    def state() -> dict:
        missing = None
        try:
            studio.require_models()
        except InputError as exc:
            missing = one_line(exc)
        photos = len(studio.catalog()) if ws.manifest.exists() else 0
        return {"workspace": str(ws.root), "photos": photos, "ready": missing is None, "missing": missing,
                "strength": studio.params.edit.strength, "edits": list_edits(ws) if ws.manifest.exists() else [],
                "run": studio.run.to_dict() if studio.run is not None else None}

    @app.get("/api/photos")
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

    @app.get("/api/photos/{photo_id}/thumb.png")
    def thumb(photo_id: str) -> Response:
        row = studio.photo(photo_id)
        path = ws.ingest / row["shard"]
        return png(_shard_images(path, path.stat().st_mtime_ns)[row["index"]])

    @app.get("/api/photos/{photo_id}/projection.png")
    def projection(photo_id: str) -> Response:
        studio.photo(photo_id)
        lat = studio.latents()
        where = np.flatnonzero(lat["ids"] == photo_id)
        if not len(where):
            raise HTTPException(404, f"photo {photo_id!r} has no latent yet: run `oneedit project`")
        G = studio.generator()
        with torch.no_grad():
            w = torch.from_numpy(lat["w"][int(where[0])][None]).to(G.device)
            return png(to_uint8(G.synthesis(w))[0])

    @app.get("/api/photos/{photo_id}/photo.png")
    def photo(photo_id: str, size: int = DISPLAY) -> Response:
        from tasks.manifest import source_paths

        studio.photo(photo_id)
        try:
            return png(fit(read_photo(source_paths(ws)[photo_id]), max(16, min(size, 2048))))
        except OSError as exc:
            raise InputError(f"the original of {photo_id} is unavailable: {exc.strerror or exc}") from None

    @app.get("/api/directions")
    def directions() -> dict:
        studio.require_models()
        _, sigma = studio.principal_directions()
        return {"count": len(sigma), "sigma": [float(s) for s in sigma]}

    @app.post("/api/render")
    def render(body: OffsetBody) -> Response:
        studio.require_models()
        w0, delta = studio.offset(body.example, body.offsets)
        G = studio.generator()
        with torch.no_grad():
            w = torch.from_numpy(w0 + delta)[None].to(G.device)
            return png(to_uint8(G.synthesis(w))[0])

    @app.post("/api/drafts/brush")
    def brush(body: BrushBody) -> dict:
        if body.color is None and body.sketch is None:
            raise InputError("--constraints: paint at least one colour or sketch stroke")
        size = studio.example_size(body.example)
        folder = studio.draft_folder()
        spec: dict = {}
        if body.color is not None:
            mask = decode_data_url(body.color.mask, "colour strokes")
            if not mask.any():
                raise InputError("--constraints: the colour strokes are empty; paint on the photo first")
            mask_png(mask, size, folder / "color_mask.png")
            spec["color"] = {"mask": "color_mask.png", "rgb": [max(0, min(255, int(v))) for v in body.color.rgb]}
        if body.sketch is not None:
            edges = decode_data_url(body.sketch.mask, "sketch strokes")
            if not edges.any():
                raise InputError("--constraints: the sketch strokes are empty; draw on the photo first")
            radius = max(1, round(0.03 * max(edges.shape)))
            area = cv2.dilate(edges.astype(np.uint8), np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)) > 0
            mask_png(edges, size, folder / "sketch_edges.png")
            mask_png(area, size, folder / "sketch_mask.png")
            spec["sketch"] = {"edges": "sketch_edges.png", "mask": "sketch_mask.png"}
        (folder / "strokes.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
        form = studio.form("brush", folder / "strokes.json", body.example)
        draft = studio.new_draft(form, folder)
        resolution = studio.generator().resolution
        try:  # the strokes as the generator will see them (any coverage: a thin stroke survives), now
            read_brush(folder / "strokes.json", resolution, torch.device("cpu"))
        except InputError:
            del studio.drafts[draft.id]
            raise
        return {"draft": draft.id}

    @app.post("/api/drafts/after")
    async def after(request: Request, example: str) -> dict:
        data, suffix = read_upload(await request.body(), request.headers.get("content-type", ""), "--after")
        folder = studio.draft_folder()
        path = folder / f"after{suffix}"
        path.write_bytes(data)
        return {"draft": studio.new_draft(studio.form("pair", path, example), folder).id}

    @app.post("/api/drafts/offset")
    def offset(body: OffsetBody) -> dict:
        studio.require_models()
        _, delta = studio.offset(body.example, body.offsets)
        if not np.any(delta):
            raise InputError("--offset: move at least one slider")
        folder = studio.draft_folder()
        np.save(folder / "offset.npy", delta)
        return {"draft": studio.new_draft(studio.form("offset", folder / "offset.npy", body.example), folder).id}

    @app.post("/api/uploads")
    async def upload(request: Request, name: str = "upload") -> dict:
        """An example photo from outside the catalog; its projection runs as a job (its result: the upload)."""
        data = await request.body()
        new = studio.new_upload(data, request.headers.get("content-type", ""), name)
        return studio.submit("project", studio.project_upload, new, title=f"project {new.file}").to_dict()

    @app.get("/api/uploads/{upload_id}/thumb.png")
    def upload_thumb(upload_id: str) -> Response:
        return png(studio.upload(upload_id).thumb)

    @app.get("/api/uploads/{upload_id}/projection.png")
    def upload_projection(upload_id: str) -> Response:
        up = studio.upload(upload_id, projected=True)
        G = studio.generator()
        with torch.no_grad():
            return png(to_uint8(G.synthesis(torch.from_numpy(up.w[None]).to(G.device)))[0])

    @app.get("/api/uploads/{upload_id}/photo.png")
    def upload_photo(upload_id: str, size: int = DISPLAY) -> Response:
        return png(fit(read_photo(studio.upload(upload_id).path), max(16, min(size, 2048))))

    @app.post("/api/drafts/{draft_id}/preview")
    def preview(draft_id: str, body: PreviewBody) -> dict:
        draft = studio.draft(draft_id)
        return studio.submit("preview", studio.preview, draft, body.strength, body.sample).to_dict()

    @app.get("/api/drafts/{draft_id}/render/{key}.png")
    def draft_render(draft_id: str, key: str) -> Response:
        draft = studio.draft(draft_id)
        if draft.preview is None or key not in draft.preview.renders:
            raise HTTPException(404, f"no render {key!r} yet: preview the edit first")
        return png(draft.preview.renders[key])

    @app.get("/api/drafts/{draft_id}/sample/{k}/{which}.png")
    def draft_sample(draft_id: str, k: int, which: str) -> Response:
        draft = studio.draft(draft_id)
        if which not in ("before", "after") or not 0 <= k < len(draft.sample) or draft.sample[k][which] is None:
            raise HTTPException(404, "no such sample image: preview the edit first")
        return png(draft.sample[k][which])

    @app.get("/api/jobs/{job_id}")
    def job(job_id: str) -> dict:
        if job_id not in studio.jobs:
            raise HTTPException(404, f"no job {job_id!r}")
        return studio.jobs[job_id].to_dict()

    @app.post("/api/apply")
    def apply(body: ApplyBody) -> dict:
        draft = studio.draft(body.draft)
        ws.edit(body.name)  # the CLI's name check, before any work
        with studio._lock:
            if studio.run is not None and studio.run.state in ("queued", "running"):
                raise HTTPException(409, f"a run is in progress ({studio.run.title}): wait for it to finish")
            studio.run = studio.submit("apply", studio.apply, draft, body.name, body.strength, run=True,
                                       title=f"{body.name} at strength {body.strength:g}")
        return studio.run.to_dict()

    @app.get("/api/run")
    def current_run() -> dict:
        return {"run": studio.run.to_dict() if studio.run is not None else None}

    @app.get("/reports/{name}/{path:path}")
    def report_file(name: str, path: str) -> FileResponse:
        root = ws.edit(name).report.resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise HTTPException(404, f"no report file {path!r} for edit {name!r}")
        return FileResponse(target, headers={"Cache-Control": "no-store"})

    return app


def serve(workspace: Path, params_path: Path | None, sets: list[str] | None, host: str, port: int) -> None:
    """Run the studio until Ctrl-C (uvicorn, one process)."""
    import uvicorn

    studio = Studio(workspace, params_path, sets)
    try:
        uvicorn.run(create_app(studio), host=host, port=port, log_level="warning")
    finally:
        studio.close()
