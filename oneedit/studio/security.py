"""Who may use the Studio, and how much it keeps (docs/RELIABILITY.md, "The Studio's security model").

Only loopback Host names (and the --host it is bound to) are served, a request with an Origin must come from
the page's own origin, and every /api route needs the session's token (`X-OneEdit-Token`, or `?token=` on a
GET for the page's images). Uploads are read up to MAX_UPLOAD; drafts and uploads are capped in number and
bytes (`Studio.stored` reads the caps when it makes room, so a test may lower them).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from common.errors import InputError
from oneedit.studio.words import shown

MAX_UPLOAD = 64 << 20  # bytes of one uploaded photo
MAX_DRAFTS, MAX_UPLOADS = 32, 16  # live ones; a new one drops the oldest idle one
MAX_STORED = 512 << 20  # bytes of every draft and upload on disk together
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
TOKEN_HEADER = "X-OneEdit-Token"
MIN_TOKEN = 16  # characters of a token given with --token
SECURITY_HEADERS = {"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
                    "X-Frame-Options": "DENY", "Cross-Origin-Resource-Policy": "same-origin"}
SUFFIXES = {"jpeg": ".jpg", "jpg": ".jpg", "png": ".png", "webp": ".webp", "tiff": ".tif", "bmp": ".bmp"}


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


def refused(status: int, message: str) -> JSONResponse:
    """A request the guard turns away, as the page's one-line error."""
    return JSONResponse({"error": message}, status_code=status, headers=SECURITY_HEADERS)


def add_guard(app: FastAPI, token: str, host: str, port: int | None) -> None:
    """Check Host, Origin and the session `token` before any route of `app` runs; every response carries
    SECURITY_HEADERS. `host`:`port` is where the Studio is served (port None: any, as in tests)."""
    names = {*LOOPBACK, f"[{host}]" if ":" in host else host}

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Host, Origin and token, before any route runs (docs/RELIABILITY.md, the Studio's security model)."""
        name, given_port = split_host(request.headers.get("host", ""))
        if name not in names or (port is not None and given_port not in (None, port)):
            return refused(403, f"host {shown.repr(request.headers.get('host', ''))} is not served: open the studio "
                                "as http://127.0.0.1 (or the --host it was started with)")
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.headers['host']}":
            return refused(403, f"origin {shown.repr(origin)} may not use the studio")
        path = request.url.path
        if not (path == "/" or path.startswith(("/static/", "/reports/"))):
            given = request.headers.get(TOKEN_HEADER) or None
            if given is None and request.method in ("GET", "HEAD"):
                given = request.query_params.get("token")  # the page's <img> tags cannot send a header
            if given is None or not hmac.compare_digest(given.encode(), token.encode()):
                return refused(403, f"missing or wrong studio token ({TOKEN_HEADER}): reload the studio's page")
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response


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
