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
tab does not stop it; a job can be cancelled (`common.cancel.scope`: the job polls its own flag at every
progress tick), and a cancelled Apply or re-run leaves the edit as it was (`tasks.versions.undone_if_cancelled`).
Applied edits are reviewed in the page through the same modules as the CLI: results.parquet's status, reason
and final state per photo, accept / reject (tasks/review.py), re-runs of the rejected or short photos
(flows/rerun.py), versions (tasks/versions.py), a zip download (tasks/export.py). Errors are the CLI's one-line
messages in the page's words (`Studio.page_words`: no CLI flags, no server temp paths), as {"error": "..."}.

Security (docs/RELIABILITY.md, "The Studio's security model"): only loopback Host names (and the
--host it is bound to) are served, a request with an Origin must come from the page's own origin, and
every /api route needs the session's token (`X-OneEdit-Token`, or `?token=` on a GET for the page's
images); the page gets it inside index.html, which no other origin can read. Reports are served under
a per-edit key (`report_url`). Examples are catalog ids or uploads, never server paths; drafts and
uploads are capped and removed with the studio.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import io
import ipaddress
import json
import os
import re
import reprlib
import secrets
import shutil
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import torch
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from common import cancel, progress
from common.errors import InputError, OneEditError, WorkspaceLocked, os_error_line
from common.lock import workspace_lock
from common.params import EditParams, Params, load_params
from common.storage import read_h5, read_json, read_parquet
from common.workspace import EditPaths, Workspace
from edit_core.alphas import EDITED
from edit_core.checkpoint import load_generator
from edit_core.imageops import resolve_device, to_uint8
from tasks.edits import edit_state, list_edits
from tasks.example import photo_size, project_example, read_brush
from tasks.images import read_photo, read_thumbnail
from tasks.ingest import shard_name
from tasks.manifest import accepted_mask
from tasks.versions import deleted_edits

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD = 64 << 20  # bytes of one uploaded photo
MAX_DRAFTS, MAX_UPLOADS = 32, 16  # live ones; a new one drops the oldest idle one
MAX_STORED = 512 << 20  # bytes of every draft and upload on disk together
MAX_JOBS = 200  # finished jobs remembered (for a tab that polls late)
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
TOKEN_HEADER = "X-OneEdit-Token"
MIN_TOKEN = 16  # characters of a token given with --token
SECURITY_HEADERS = {"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
                    "X-Frame-Options": "DENY", "Cross-Origin-Resource-Policy": "same-origin"}
_cut = reprlib.Repr()  # what a request sent, echoed in a message: a few dozen characters at most
_cut.maxstring = 40
SUFFIXES = {"jpeg": ".jpg", "jpg": ".jpg", "png": ".png", "webp": ".webp", "tiff": ".tif", "bmp": ".bmp"}
PCA_SAMPLES, PCA_COMPONENTS = 2000, 5
PCA_LABEL_SIGMAS = 2.0  # a direction is named from the mean latent moved this many standard deviations each way
DISPLAY = 512  # px, longest side of the example as the page shows it
FILTERS = ("all", "edited", "landed", "short", "flagged", "clamped", "skipped", "rejected", "accepted",
           "rejected-by-review", "unreviewed")  # the review grid's filters


def _bounds(field: Any) -> tuple[float, float]:
    """(ge, le) of a pydantic field: the limits the params declare (one source for the page and the routes)."""
    ge = next(m.ge for m in field.metadata if hasattr(m, "ge"))
    le = next(m.le for m in field.metadata if hasattr(m, "le"))
    return float(ge), float(le)


STRENGTH_MIN, STRENGTH_MAX = _bounds(EditParams.model_fields["strength"])  # edit.strength's range, as the CLI's
# the CLI's option words in the page's words (`Studio.page_words`); a `oneedit ...` command in backticks is kept
PAGE_PHRASES = (("pass --replace to replace it, or choose another --name", "confirm replacing it, or choose another name"),
                ("--constraints mask", "the brush mask"), ("--constraints", "the brush strokes"),
                ("--after", "the edited photo"), ("--example", "the example"), ("--offset", "the sliders' offset"),
                ("--strength", "strength"), ("--only", "the photos chosen"), ("--name", "name"),
                ("--format", "the format"))


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


# --------------------------------------------------------------------------------------------
# jobs


@dataclass
class Job:
    """One piece of work run off the request thread; polled as JSON."""

    id: str
    kind: str
    state: str = "queued"  # queued | running | done | failed | cancelled
    phase: str = ""
    done: int = 0
    of: int = 0
    error: str = ""
    result: dict = field(default_factory=dict)
    title: str = ""
    bars: Any = None  # the flow's progress bars (common.progress.capture), for runs
    holds: tuple[str, ...] = ()  # the drafts / uploads it works on: never dropped while it runs
    started: float = field(default_factory=time.time)
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)  # set by Cancel; polled at every tick

    @property
    def live(self) -> bool:
        return self.state in ("queued", "running")

    def phase_fn(self, what: str, done: int, of: int) -> None:
        """A step's progress, and a cancellation point (the job's Cancel)."""
        self.phase, self.done, self.of = what, done, of
        cancel.check()

    def to_dict(self) -> dict:
        lines = progress.snapshot(self.bars) if self.bars is not None else []
        return {"id": self.id, "kind": self.kind, "title": self.title, "state": self.state, "phase": self.phase,
                "done": self.done, "of": self.of, "error": self.error, "result": self.result, "progress": lines,
                "cancelling": self.live and self.cancel.is_set(),
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


async def read_upload(request: Request, what: str) -> tuple[bytes, str]:
    """An uploaded image's bytes and file suffix, or the one-line error of an upload without an image
    Content-Type (a form or text/plain post, which any page may send blind), an empty one, or one larger
    than MAX_UPLOAD (refused from its Content-Length, else as soon as the body passes the limit; the rest
    is never read). `what` names it as the CLI would: --example, --after."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (kind.startswith("image/") or kind == "application/octet-stream"):
        raise InputError(f"{what}: not an image (content type {kind[:40] or 'missing'}); "
                         "upload a JPEG, PNG, WebP, TIFF or BMP photo")
    too_large = InputError(f"{what}: the upload is larger than {MAX_UPLOAD >> 20} MiB")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD:
        raise too_large
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_UPLOAD:
            raise too_large
    if not data:
        raise InputError(f"{what}: the upload is empty")
    return bytes(data), SUFFIXES.get(kind.split("/")[-1], ".img")


def split_host(value: str) -> tuple[str, int | None]:
    """A Host header as (lower-case name, port or None): "[::1]:8765" -> ("[::1]", 8765)."""
    name, sep, port = value.rpartition(":")
    if sep and port.isdigit() and (not name.startswith("[") or name.endswith("]")):
        return name.lower(), int(port)
    return value.lower(), None


def is_loopback(host: str) -> bool:
    """True for an address (or name) that only this machine reaches."""
    if host.strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.is_dir() else 0


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
        raise InputError(f"example {_cut.repr(example)}: not a photo id of the catalog nor an upload of this "
                         "studio (pick a photo, or upload it)")

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

    def direction_looks(self) -> list[dict]:
        """What each principal direction changes, for the page's slider names: G's mean latent moved
        PCA_LABEL_SIGMAS standard deviations each way, rendered (the slider's tiny end images) and compared
        (`describe_change`)."""
        components, sigma = self.principal_directions()
        G = self.generator()
        stamp = self.ws.gan.stat().st_mtime
        with self._lock:
            if self._looks is None or self._looks[0] != stamp:
                looks = []
                with torch.no_grad():
                    mean = G.mean_w().float().cpu()
                    for k in range(len(sigma)):
                        step = PCA_LABEL_SIGMAS * sigma[k] * components[k]
                        w = torch.stack([mean - step, mean + step]).to(G.device)
                        minus, plus = to_uint8(G.synthesis(w))
                        what, less, more = describe_change(minus, plus)
                        looks.append({"minus": minus, "plus": plus, "what": what, "less": less, "more": more})
                self._looks = (stamp, looks)
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
        delta = sum((float(v) * sigma[k] * components[k] for k, v in enumerate(offsets)),
                    torch.zeros(components.shape[1]))
        delta = np.broadcast_to(delta.numpy(), w0.shape).astype(np.float32)
        return w0, delta

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
                message = one_line(exc).replace(str(path), file)
                raise InputError(message if message.startswith("--example") else f"--example {message}") from None
            upload = Upload(id=folder.name, path=path, file=file, height=height, width=width, thumb=thumb)
            self.uploads[upload.id] = upload
        return upload

    def project_upload(self, job: Job, upload: Upload) -> dict:
        """Project the uploaded example as the catalog's photos are (E init + optimization)."""
        job.phase_fn(f"project {upload.file}", 0, 1)
        G = self.generator()
        with progress.track(f"project {upload.file}", total=None) as bar, progress.optimizer_steps(bar):  # cancel points
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
        their files and `incoming` bytes pass MAX_STORED; a one-line refusal when busy ones fill it. Whatever fails inside
        removes the folder: a refused request leaves nothing on disk."""
        items, limit = (self.uploads, MAX_UPLOADS) if kind == "upload" else (self.drafts, MAX_DRAFTS)
        with self._lock:
            for old in [i for i in items if not self.busy(i)][:max(0, len(items) - limit + 1)]:
                self.drop(old)
            for old in [i for i in [*self.drafts, *self.uploads] if not self.busy(i)]:  # drafts first
                if _folder_bytes(self.drafts_root) + incoming <= MAX_STORED:
                    break
                self.drop(old)
            stored = _folder_bytes(self.drafts_root)
            if len(items) >= limit or stored + incoming > MAX_STORED:
                raise InputError(f"no room for another {kind}: {len(items)} kept, {stored >> 20} MiB stored, and "
                                 f"{incoming >> 20} MiB more (limits: {limit}, {MAX_STORED >> 20} MiB) while the "
                                 "others are in use: wait for their jobs to finish")
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

    def submit(self, kind: str, fn, *args: Any, run: bool = False, title: str = "", holds: tuple[str, ...] = ()) -> Job:
        job = Job(id=uuid.uuid4().hex[:12], kind=kind, title=title, holds=holds)
        for old in [i for i, j in list(self.jobs.items()) if not j.live][:max(0, len(self.jobs) - MAX_JOBS)]:
            self.jobs.pop(old, None)
        self.jobs[job.id] = job

        def body() -> None:
            if job.cancel.is_set():  # cancelled while it waited for its turn
                job.error, job.state, job.finished = "cancelled before it started", "cancelled", time.time()
                return
            job.state = "running"
            try:
                with cancel.scope(job.cancel):
                    job.result = fn(job, *args)
                job.state = "done"
            except cancel.Interrupted:
                job.error, job.state = ("cancelled: the workspace is as it was before" if run else "cancelled"), \
                    "cancelled"
            except (OneEditError, ValueError) as exc:
                job.error, job.state = self.page_words(one_line(exc)), "failed"
            except OSError as exc:
                job.error, job.state = self.page_words(os_error_line(exc)), "failed"
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
        from tasks.preview import catalog_alphas, catalog_summary, fit_preview, transfer_sample

        params = self.load_params(f"edit.strength={strength}")
        if draft.preview is None:
            draft.preview = fit_preview(self.ws, draft.form, params, on_phase=job.phase_fn)
        table = catalog_alphas(self.ws, draft.preview, strength, params)
        ids = spread_over_alpha(table["id"], table["alpha"], k)
        draft.sample = transfer_sample(self.ws, draft.preview, table, ids, params, G=self.generator(),
                                       on_phase=job.phase_fn)
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
            shown = ", ".join(f"{v} {k}" for k, v in made["status"].items())
            raise InputError(f"nothing would be edited at strength {strength:g} ({shown}): "
                             f"{made['common_reason'] or 'no reason recorded'}; change the edit or the strength")

    def run_flows(self, job: Job, name: str, params: Params, run: Any) -> dict:
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
            raise InputError(f"show {_cut.repr(show)}: choose one of {', '.join(FILTERS)}")
        rows = _results(paths.results, paths.results.stat().st_mtime_ns)
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
        verdict_path = paths.root / "final_state.json"
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
                "strength": _applied(paths), "report": self.report_url(name) if (paths.report / "index.html").exists()
                else None,
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
                    raise InputError(f"photo {_cut.repr(i)} is given two decisions (accept, reject, clear): choose one")
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
        strength = body.strength if body.strength is not None else _applied(paths)
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
            raise InputError(f"only {_cut.repr(body.only)}: choose rejected, short or ids")
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

    def page_words(self, message: str) -> str:
        """A CLI line as the page says it: the studio's own folders (drafts, uploads) out, each option named for
        what the page calls it; a `oneedit ...` command in backticks (to run in a terminal) kept as it is."""
        root = re.escape(str(self.drafts_root))
        message = re.sub(rf"\s?{root}[^\s:;,)']*", "", message)
        parts = message.split("`")
        for k in range(0, len(parts), 2):  # outside backticks
            text = re.sub(r"--set:?\s*", "", parts[k])
            for flag, words in PAGE_PHRASES:
                text = text.replace(flag, words)
            parts[k] = text
        return "`".join(parts)


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


CHANGES = (("brightness", "darker", "brighter"), ("warmth", "cooler", "warmer"), ("tint", "greener", "redder"),
           ("colourfulness", "greyer", "more colourful"), ("contrast", "flatter", "more contrast"))
NOTICEABLE = 3.0  # CIELAB units (lightness 0-100): a smaller change of every statistic is shape, not colour


def describe_change(minus: np.ndarray, plus: np.ndarray) -> tuple[str, str, str]:
    """(what changes, the word for its − end, for its + end) between two renders (uint8 RGB): the largest change
    of their mean lightness, yellow-blue and red-green axes, colourfulness and lightness contrast (CIELAB);
    "shape" when none of them changes noticeably."""

    def stats(rgb: np.ndarray) -> np.ndarray:
        lab = cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
        lightness, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
        return np.array([lightness.mean(), b.mean(), a.mean(), np.hypot(a, b).mean(), lightness.std()])

    change = stats(plus) - stats(minus)
    k = int(np.argmax(np.abs(change)))
    if abs(change[k]) < NOTICEABLE:
        return "shape", "shape −", "shape +"
    what, less, more = CHANGES[k]
    return (what, less, more) if change[k] > 0 else (what, more, less)


def _applied(paths: EditPaths) -> float | None:
    from tasks.alphas import applied_strength

    return applied_strength(paths)


@lru_cache(maxsize=4)
def _results(path: Path, stamp: int) -> pd.DataFrame:
    return read_parquet(path)


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


def _validation_line(exc: RequestValidationError) -> str:
    """A request that does not fit the route's schema as one line naming the field (the value not echoed)."""
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
    return f"{where}: {first.get('msg', 'invalid request')}"


def create_app(studio: Studio, host: str = "127.0.0.1", port: int | None = None) -> FastAPI:
    """The page and its JSON API on one Studio, served as `host`:`port` (None: any port, as in tests)."""
    app = FastAPI(title="OneEdit Studio", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.studio = studio
    ws = studio.ws
    names = {*LOOPBACK, f"[{host}]" if ":" in host else host}

    def refused(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=SECURITY_HEADERS)

    @app.middleware("http")
    async def guard(request: Request, call_next) -> Response:
        """Host, Origin and token, before any route runs (docs/RELIABILITY.md, the Studio's security model)."""
        name, given_port = split_host(request.headers.get("host", ""))
        if name not in names or (port is not None and given_port not in (None, port)):
            return refused(403, f"host {_cut.repr(request.headers.get('host', ''))} is not served: open the studio "
                                "as http://127.0.0.1 (or the --host it was started with)")
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.headers['host']}":
            return refused(403, f"origin {_cut.repr(origin)} may not use the studio")
        path = request.url.path
        if not (path == "/" or path.startswith(("/static/", "/reports/"))):
            token = request.headers.get(TOKEN_HEADER) or None
            if token is None and request.method in ("GET", "HEAD"):
                token = request.query_params.get("token")  # the page's <img> tags cannot send a header
            if token is None or not hmac.compare_digest(token.encode(), studio.token.encode()):
                return refused(403, f"missing or wrong studio token ({TOKEN_HEADER}): reload the studio's page")
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.exception_handler(OneEditError)
    async def _one_line(request: Request, exc: OneEditError) -> JSONResponse:
        return JSONResponse({"error": studio.page_words(one_line(exc))},
                            status_code=409 if isinstance(exc, WorkspaceLocked) else 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": studio.page_words(one_line(Exception(str(exc.detail))))},
                            status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_line(exc)}, status_code=422)

    @app.exception_handler(ValueError)
    async def _value(request: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"error": studio.page_words(one_line(exc))}, status_code=400)

    @app.exception_handler(OSError)
    async def _os(request: Request, exc: OSError) -> JSONResponse:
        return JSONResponse({"error": studio.page_words(os_error_line(exc))}, status_code=500,
                            headers=SECURITY_HEADERS)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        traceback.print_exception(exc)  # the server's log has the traceback, the page one line
        return JSONResponse({"error": f"internal error: {type(exc).__name__}: {one_line(exc)}"}, status_code=500,
                            headers=SECURITY_HEADERS)

    page = (STATIC / "studio.html").read_text(encoding="utf-8")

    @app.get("/")
    def index() -> HTMLResponse:
        """The page, carrying the session token unless the user brings it (--token)."""
        token = html.escape(studio.token if studio.token_in_page else "")
        return HTMLResponse(page.replace('name="oneedit-token" content=""', f'name="oneedit-token" content="{token}"'),
                            headers={"Cache-Control": "no-store", "Content-Security-Policy":
                                     "default-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/state")
    def state() -> dict:
        missing = None
        try:
            studio.require_models()
        except InputError as exc:
            missing = one_line(exc)
        photos = len(studio.catalog()) if ws.manifest.exists() else 0
        edits = list_edits(ws) if ws.manifest.exists() else []
        for e in edits:
            e["report"] = studio.report_url(e["name"]) if e["state"] == "reported" else None
        return {"workspace": str(ws.root), "photos": photos, "ready": missing is None, "missing": missing,
                "strength": studio.params.edit.strength, "strength_range": [STRENGTH_MIN, STRENGTH_MAX],
                "refine_steps": studio.params.edit.refine.steps, "edits": edits,
                "deleted": deleted_edits(ws) if ws.manifest.exists() else {},
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
        """The original, display-oriented, its longest side brought to `size` (0: full resolution, the compare)."""
        from tasks.manifest import source_paths

        studio.photo(photo_id)
        try:
            rgb = read_photo(source_paths(ws)[photo_id])
            return png(rgb if size <= 0 else fit(rgb, max(16, min(size, 2048))))
        except OSError as exc:
            raise InputError(f"the original of {photo_id} is unavailable: {exc.strerror or exc}") from None

    @app.get("/api/directions")
    def directions() -> dict:
        """The sliders: principal directions of W, each named after what it changes (`describe_change`)."""
        studio.require_models()
        _, sigma = studio.principal_directions()
        looks = studio.direction_looks()
        return {"count": len(sigma), "sigma": [float(s) for s in sigma],
                "labels": [{"what": x["what"], "minus": x["less"], "plus": x["more"],
                            "minus_image": f"/api/directions/{k}/minus.png", "plus_image": f"/api/directions/{k}/plus.png"}
                           for k, x in enumerate(looks)]}

    @app.get("/api/directions/{k}/{end}.png")
    def direction_image(k: int, end: str) -> Response:
        """G's mean latent moved along principal direction k, toward its − or + end."""
        studio.require_models()
        looks = studio.direction_looks()
        if end not in ("minus", "plus") or not 0 <= k < len(looks):
            raise HTTPException(404, f"no direction image {k}/{_cut.repr(end)}")
        return png(looks[k][end])

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
        with studio.stored("draft") as folder:
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
            # the strokes as the generator will see them (any coverage: a thin stroke survives), now
            read_brush(folder / "strokes.json", studio.generator().resolution, torch.device("cpu"))
            draft = studio.new_draft(form, folder, body.example)
        return {"draft": draft.id}

    @app.post("/api/drafts/after")
    async def after(request: Request, example: str) -> dict:
        studio.check_example(example)
        data, suffix = await read_upload(request, "--after")
        with studio.stored("draft", len(data)) as folder:
            path = folder / f"after{suffix}"
            path.write_bytes(data)
            draft = studio.new_draft(studio.form("pair", path, example), folder, example)
        return {"draft": draft.id}

    @app.post("/api/drafts/offset")
    def offset(body: OffsetBody) -> dict:
        studio.require_models()
        _, delta = studio.offset(body.example, body.offsets)
        if not np.any(delta):
            raise InputError("--offset: move at least one slider")
        with studio.stored("draft") as folder:
            np.save(folder / "offset.npy", delta)
            draft = studio.new_draft(studio.form("offset", folder / "offset.npy", body.example), folder, body.example)
        return {"draft": draft.id}

    @app.post("/api/uploads")
    async def upload(request: Request, name: str = "upload") -> dict:
        """An example photo from outside the catalog; its projection runs as a job (its result: the upload)."""
        file = Path(name).name[:200] or "upload"
        data, suffix = await read_upload(request, f"--example {file}")
        new = studio.new_upload(data, suffix, file)
        return studio.submit("project", studio.project_upload, new, title=f"project {new.file}",
                             holds=(new.id,)).to_dict()

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
        return studio.submit("preview", studio.preview, draft, body.strength, body.sample, holds=(draft.id,)).to_dict()

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

    @app.post("/api/jobs/{job_id}/cancel")
    def cancel_job(job_id: str) -> dict:
        """Ask a job to stop at its next progress tick; a cancelled Apply or re-run leaves the edit as it was."""
        if job_id not in studio.jobs:
            raise HTTPException(404, f"no job {job_id!r}")
        job = studio.jobs[job_id]
        if job.live:
            job.cancel.set()
        return job.to_dict()

    def start_run(kind: str, fn: Any, *args: Any, title: str, holds: tuple[str, ...] = ()) -> dict:
        """One catalog run at a time (Apply, re-run), in the run thread."""
        with studio._lock:
            if studio.run is not None and studio.run.live:
                raise HTTPException(409, f"a run is in progress ({studio.run.title}): wait for it to finish")
            studio.run = studio.submit(kind, fn, *args, run=True, title=title, holds=holds)
        return studio.run.to_dict()

    @app.post("/api/apply")
    def apply(body: ApplyBody) -> dict:
        draft = studio.draft(body.draft)
        studio.check_name(draft, body.name, body.replace)  # the CLI's checks, before any work
        studio.would_edit(draft, body.strength)
        return start_run("apply", studio.apply, draft, body.name, body.strength, body.replace,
                         title=f"{body.name} at strength {body.strength:g}", holds=(draft.id,))

    @app.get("/api/run")
    def current_run() -> dict:
        return {"run": studio.run.to_dict() if studio.run is not None else None}

    @app.get("/api/edits/{name}/results")
    def edit_results(name: str, show: str = "all", page: int = 0, size: int = 48) -> dict:
        if page < 0 or not 1 <= size <= 500:
            raise InputError("page must be >= 0 and size between 1 and 500")
        return studio.results(name, show, page, size)

    @app.get("/api/edits/{name}/output/{photo_id}.png")
    def edit_output(name: str, photo_id: str, size: int = 0) -> Response:
        """A photo as the edit made it (images/<id>.png), full resolution (size 0) or brought to `size`."""
        studio.photo(photo_id)
        image = studio.applied(name).images / f"{photo_id}.png"
        if not image.is_file():
            raise HTTPException(404, f"edit {name!r} has no edited image of {photo_id!r} (not edited: see its reason)")
        if size <= 0:
            return FileResponse(image, media_type="image/png", headers={"Cache-Control": "no-store"})
        return png(fit(read_photo(image), max(16, min(size, 2048))))

    @app.post("/api/edits/{name}/review")
    def edit_review(name: str, body: ReviewBody) -> dict:
        return studio.review(name, body)

    @app.post("/api/edits/{name}/rerun")
    def edit_rerun(name: str, body: RerunBody) -> dict:
        """Only the rejected / short / chosen photos again (another strength, more refinement), the rest kept."""
        ids, params = studio.rerun_ids(name, body)
        return start_run("rerun", studio.rerun, name, ids, params,
                         title=f"{name}: {len(ids)} photo(s) again at strength {params.edit.strength:g}")

    @app.get("/api/edits/{name}/versions")
    def edit_versions(name: str) -> dict:
        from tasks.versions import list_versions

        return {"name": name, "versions": list_versions(ws, name)}

    @app.post("/api/edits/{name}/restore")
    def edit_restore(name: str, body: VersionBody) -> dict:
        """Version K becomes the edit again; the edit it replaces is kept as a version (undoable)."""
        from tasks.versions import restore_version

        if body.version is None:
            raise InputError("choose the version to restore")
        with workspace_lock(ws.root, wait=False):
            kept = restore_version(ws, name, body.version)
        return {"name": name, "restored": body.version, "kept": kept}

    @app.post("/api/edits/{name}/delete")
    def edit_delete(name: str, body: VersionBody) -> dict:
        """The edit deleted (kept as a version: restorable), or one kept version deleted for good."""
        from tasks.versions import delete_edit

        with workspace_lock(ws.root, wait=False):
            kept = delete_edit(ws, name, body.version)
        return {"name": name, "deleted": body.version if body.version is not None else "current", "kept": kept}

    @app.get("/api/edits/{name}/export.zip")
    def edit_export(name: str, only: str = "edited") -> FileResponse:
        """The edit's photos as a catalog takes them (their names, folders, formats, metadata), one zip written
        whole, then streamed; `?token=` works here, so the page's download link carries it."""
        target = studio.export_zip(name, only)
        return FileResponse(target, media_type="application/zip", filename=target.name,
                            headers={"Cache-Control": "no-store"},
                            background=BackgroundTask(shutil.rmtree, target.parent, ignore_errors=True))

    @app.get("/reports/{key}/{name}/{path:path}")
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

    return app


def serve(workspace: Path, params_path: Path | None, sets: list[str] | None, host: str, port: int,
          token: str | None = None) -> None:
    """Run the studio until Ctrl-C (uvicorn, one process); drafts and uploads are removed when it stops."""
    import uvicorn

    studio = Studio(workspace, params_path, sets, token)
    try:
        uvicorn.run(create_app(studio, host, port), host=host, port=port, log_level="warning")
    finally:
        studio.close()
