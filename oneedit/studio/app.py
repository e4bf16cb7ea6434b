"""The Studio's FastAPI app: the guard (security.py), errors as the page's one-line `{"error": ...}`, the
page itself (with the session token) and its static files, then the routers (routes/); `serve` runs it."""

from __future__ import annotations

import html
import traceback
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from common.errors import OneEditError, WorkspaceLocked, first_line, os_error_line
from oneedit.studio.routes import drafts, edits, jobs, photos, reports, sliders, uploads
from oneedit.studio.security import SECURITY_HEADERS, add_guard
from oneedit.studio.state import Studio
from oneedit.studio.words import validation_line

STATIC = Path(__file__).parents[1] / "static"  # oneedit/static/: the page, its script and its style


def add_error_handlers(app: FastAPI, studio: Studio) -> None:
    """Every error as one line `{"error": ...}` in the page's words: a OneEdit error 400 (a held workspace lock
    409), a route's HTTPException its own status, a schema error 422, an OSError or a bug 500 (the bug's
    traceback in the server's log)."""

    @app.exception_handler(OneEditError)
    async def _one_line(request: Request, exc: OneEditError) -> JSONResponse:
        return JSONResponse({"error": studio.page_words(first_line(exc, type(exc).__name__))},
                            status_code=409 if isinstance(exc, WorkspaceLocked) else 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": studio.page_words(first_line(str(exc.detail), "Exception"))},
                            status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": validation_line(exc)}, status_code=422)

    @app.exception_handler(ValueError)
    async def _value(request: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"error": studio.page_words(first_line(exc, type(exc).__name__))}, status_code=400)

    @app.exception_handler(OSError)
    async def _os(request: Request, exc: OSError) -> JSONResponse:
        return JSONResponse({"error": studio.page_words(os_error_line(exc))}, status_code=500,
                            headers=SECURITY_HEADERS)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        traceback.print_exception(exc)  # the server's log has the traceback, the page one line
        return JSONResponse({"error": f"internal error: {type(exc).__name__}: {first_line(exc, type(exc).__name__)}"},
                            status_code=500, headers=SECURITY_HEADERS)


def create_app(studio: Studio, host: str = "127.0.0.1", port: int | None = None) -> FastAPI:
    """The page and its JSON API on one Studio, served as `host`:`port` (None: any port, as in tests)."""
    app = FastAPI(title="OneEdit Studio", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.studio = studio
    add_guard(app, studio.token, host, port)
    add_error_handlers(app, studio)
    page = (STATIC / "studio.html").read_text(encoding="utf-8")

    @app.get("/")
    def index() -> HTMLResponse:
        """The page, carrying the session token unless the user brings it (--token)."""
        token = html.escape(studio.token if studio.token_in_page else "")
        return HTMLResponse(page.replace('name="oneedit-token" content=""', f'name="oneedit-token" content="{token}"'),
                            headers={"Cache-Control": "no-store", "Content-Security-Policy":
                                     "default-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for routes in (photos, sliders, drafts, uploads, jobs, edits, reports):
        app.include_router(routes.router(studio))
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
