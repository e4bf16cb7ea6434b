"""Catalog-ready copies of an edit's photos (`oneedit export`, the Studio's download).

The workspace keeps every edited photo as a lossless PNG named by id (WS/edits/NAME/images/<id>.png:
what resume, review and the report read). An export writes each one under its original's path
relative to the ingested folder, with its file name and in its format, carrying over what the
original had: JPEG with the original's own quantization tables and chroma subsampling (or
export.jpeg_quality), lossless or lossy WebP as it came, TIFF with its compression, PNG; the alpha
channel (the engine edits RGB composited on white; the original's alpha is put back), the ICC profile
(when it describes the output's colours), the resolution (dpi), EXIF and XMP. The pipeline works on
the display-oriented photo, so the pixels are written display-oriented with orientation reset to 1;
EXIF keeps only what stays true of an edited copy (camera, dates, exposure, GPS, copyright), without
the maker notes (vendor offsets that break when moved) or the embedded thumbnail (the unedited photo).

Nothing touches the originals: a destination inside the originals' folder is refused, and the
originals are only read (their bytes checked against the ones ingest hashed). Every file is written
whole (temp file + os.replace); DEST/.oneedit-export.json records what each file was made from, so a
rerun skips the files that are done and writes the rest, and removes the files an earlier export of
this folder wrote that are no longer selected.
"""

from __future__ import annotations

import io
import logging
import os
import re
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, JpegImagePlugin, PngImagePlugin

from common.errors import InputError, first_line
from common.fingerprint import fingerprint
from common.progress import ProgressFn, quiet
from common.storage import atomic_path, read_json, remove_stale_temps, sha256_bytes, write_json
from common.workspace import Workspace
from edit_core.alphas import EDITED
from tasks.images import Rejected, open_original
from tasks.review import results_columns, reviewed

log = logging.getLogger(__name__)
EXPORT_VERSION = 1
FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "tiff": "TIFF"}  # --format (besides "same")
SAME_FORMAT = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "TIFF": "TIFF", "BMP": "BMP", "GIF": "GIF"}
EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "TIFF": ".tif"}
ONLY = ("edited", "landed", "accepted")
INDEX = ".oneedit-export.json"
# EXIF kept: IFD0 tags that describe the photo, not its encoding, plus the Exif and GPS sub-IFDs.
IFD0_KEPT = (0x010E, 0x010F, 0x0110, 0x011A, 0x011B, 0x0128, 0x0131, 0x0132, 0x013B, 0x8298)
MAKER_NOTE, EXIF_WIDTH, EXIF_HEIGHT = 0x927C, 0xA002, 0xA003
TIFF_COMPRESSIONS = frozenset({"raw", "tiff_lzw", "tiff_deflate", "tiff_adobe_deflate", "packbits", "jpeg"})
_XMP_ORIENTATION = re.compile(rb"(tiff:Orientation\s*=\s*[\"']|<tiff:Orientation>)\s*\d\s*")


@dataclass(frozen=True)
class ExportOptions:
    """How outputs are encoded: `format` (same, or one of FORMATS), jpeg_quality (0: the original's own
    quantization tables, 95 for other sources), webp_quality (lossy WebP; a lossless original stays
    lossless)."""

    format: str = "same"
    jpeg_quality: int = 0
    webp_quality: int = 90


@dataclass(frozen=True)
class ExportItem:
    """One photo to export: its id, original (and the sha256 ingest read), edited image and output path."""

    id: str
    source: Path
    sha256: str
    image: Path
    rel: str


def plan_export(ws: Workspace, name: str, only: str = "edited", fmt: str = "same") -> list[ExportItem]:
    """The photos of edit `name` to export, in results order: every one with an edited image (`edited`),
    those the verdict says reached the example's final state (`landed`, results column final_state) or
    those accepted in review (`accepted`); duplicates of an edited photo come along under their own
    paths. One-line errors before any work for an unknown choice or two photos that would share a file."""
    from tasks.manifest import source_root

    if only not in ONLY:
        raise InputError(f"--only {only!r}: choose one of {', '.join(ONLY)}")
    if fmt != "same" and fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: choose same or one of {', '.join(FORMATS)}")
    rows = results_columns(ws, name, ["id", "source_path", "status", "final_state"])
    if only == "landed" and "final_state" not in rows:
        raise InputError(f"edit {name!r}: its results have no per-photo verdict (final_state): run "
                         f"`oneedit rescale --name {name}` to measure it, or export with --only edited")
    keep = [s in EDITED for s in rows["status"]]
    if only == "landed":
        keep = [k and v == "landed" for k, v in zip(keep, rows["final_state"], strict=True)]
    elif only == "accepted":
        accepted = set(reviewed(ws, name, "accepted"))
        keep = [k and i in accepted for k, i in zip(keep, rows["id"], strict=True)]
    from tasks.manifest import accepted_rows

    chosen = [(i, p) for i, p, k in zip(rows["id"], rows["source_path"], keep, strict=True) if k]
    sha = dict(zip(*accepted_rows(ws, ["id", "sha256"], {i for i, _ in chosen}).values(), strict=True))
    if not chosen:
        why = {"edited": "it edited no photo", "landed": "no photo is marked landed",
               "accepted": "no photo is accepted yet (`oneedit review NAME --accept ...`)"}[only]
        raise InputError(f"edit {name!r}: nothing to export with --only {only}: {why}")
    root, edited = source_root(ws), ws.edit(name)
    items, seen = [], {}
    for i, path in chosen:
        rel = path if fmt == "same" else str(Path(path).with_suffix(EXTENSIONS[FORMATS[fmt]]))
        if rel.casefold() in seen:
            raise InputError(f"--format {fmt}: {seen[rel.casefold()]} and {path} would both be written as {rel}; "
                             "export with --format same")
        seen[rel.casefold()] = path
        items.append(ExportItem(i, root / path, sha[i], edited.image(i), rel))
    return items


def check_destination(ws: Workspace, dest: Path) -> None:
    """An export never writes among the originals (nor into the workspace): one line before any work."""
    from tasks.manifest import source_root

    target = Path(dest).resolve()
    for where, root in (("the originals' folder", source_root(ws).resolve()), ("the workspace", ws.root.resolve())):
        if target == root or root in target.parents:
            raise InputError(f"--to {dest}: inside {where} ({root}); export to a folder of its own")
    if target.exists() and not target.is_dir():
        raise InputError(f"--to {dest}: not a folder")


def _webp_lossless(data: bytes) -> bool:
    """Whether a WebP file holds a lossless (VP8L) image: its RIFF chunks are read, nothing decoded."""
    at = 12
    while at + 8 <= len(data):
        tag, size = data[at:at + 4], int.from_bytes(data[at + 4:at + 8], "little")
        if tag in (b"VP8L", b"VP8 "):
            return tag == b"VP8L"
        at += 8 + size + (size & 1)
    return False


def _exif(src: Image.Image, size: tuple[int, int]) -> Image.Exif | None:
    """The EXIF an edited, display-oriented copy can carry: IFD0's descriptive tags, the Exif sub-IFD
    (without maker notes; pixel dimensions set to the output's) and GPS, orientation 1; None without EXIF."""
    try:
        source = src.getexif()
        sub, gps = source.get_ifd(ExifTags.IFD.Exif), source.get_ifd(ExifTags.IFD.GPSInfo)
    except Exception:  # malformed EXIF: nothing of it is carried
        return None
    if src.format == "TIFF":  # a TIFF's "EXIF" is its own IFD: only the descriptive tags are photo metadata
        sub, gps = {}, {}
    exif = Image.Exif()
    for tag in IFD0_KEPT:
        if tag in source:
            exif[tag] = source[tag]
    if ExifTags.Base.Orientation in source:
        exif[ExifTags.Base.Orientation] = 1
    if sub:
        kept = exif.get_ifd(ExifTags.IFD.Exif)
        kept.update({k: v for k, v in sub.items() if k != MAKER_NOTE})
        if EXIF_WIDTH in kept or EXIF_HEIGHT in kept:
            kept[EXIF_WIDTH], kept[EXIF_HEIGHT] = size
    if gps:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(gps)
    return exif if len(exif) or sub or gps else None


def _xmp(src: Image.Image) -> bytes | None:
    """The original's XMP packet with any tiff:Orientation set to 1 (the pixels are written upright)."""
    xmp = src.info.get("xmp") or src.info.get("XML:com.adobe.xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    return _XMP_ORIENTATION.sub(rb"\g<1>1", xmp) if xmp else None


def _alpha(src: Image.Image) -> Image.Image | None:
    """The original's alpha channel, display-oriented as the edited pixels are; None when it has none."""
    if src.mode not in ("RGBA", "LA", "PA", "RGBa", "La") and not (src.mode == "P" and "transparency" in src.info):
        return None
    src.load()
    return ImageOps.exif_transpose(src).convert("RGBA").getchannel("A")


def _achromatic(rgb: Image.Image) -> bool:
    """Whether every pixel is grey (an edit of a greyscale original that stayed grey keeps its one channel)."""
    pixels = np.asarray(rgb)
    return not (pixels.max(axis=2) - pixels.min(axis=2)).any()


def _profile_space(icc: bytes | None) -> bytes:
    """The colour space an ICC profile describes (header bytes 16-20: b"RGB ", b"GRAY", b"CMYK", ...)."""
    return icc[16:20] if icc and len(icc) >= 20 else b""


def encode_photo(item: ExportItem, options: ExportOptions) -> tuple[bytes, str]:
    """The edited photo encoded as its export: (file bytes, format). Raises Rejected with the reason when
    the original is gone or changed since ingest, or the edited image is not the original's size."""
    try:
        data = item.source.read_bytes()
    except OSError as exc:
        raise Rejected(f"original unavailable: {exc.strerror or exc}") from exc
    if sha256_bytes(data) != item.sha256:
        raise Rejected("original changed since ingest: its format and metadata are not the edited photo's")
    try:
        return _encode(data, item, options)
    except Rejected:
        raise
    except Exception as exc:  # one photo's failure is that photo's, never the export's
        raise Rejected(f"cannot export: {type(exc).__name__}: {first_line(exc)}".rstrip(": ")) from exc


def _encode(data: bytes, item: ExportItem, options: ExportOptions) -> tuple[bytes, str]:
    with open_original(data) as src, Image.open(item.image) as edited:
        rgb = edited.convert("RGB")
        fmt = SAME_FORMAT[src.format] if options.format == "same" else FORMATS[options.format]
        grey = src.mode in ("1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "F")
        alpha = _alpha(src) if fmt != "JPEG" else None
        if alpha is not None and alpha.size != rgb.size:
            raise Rejected(f"edited image {rgb.size} is not the original's size {alpha.size}")
        out = rgb.convert("L") if grey and fmt != "WEBP" and _achromatic(rgb) else rgb
        if alpha is not None:
            out = out.copy()
            out.putalpha(alpha)
        icc = src.info.get("icc_profile")
        wanted = b"GRAY" if out.mode in ("L", "LA") else b"RGB "
        kw: dict = {}
        if icc and _profile_space(icc) == wanted:
            kw["icc_profile"] = icc
        if src.info.get("dpi") and fmt in ("JPEG", "PNG", "TIFF"):
            kw["dpi"] = src.info["dpi"]
        exif, xmp = _exif(src, out.size), _xmp(src)
        if fmt == "TIFF":
            kw["compression"] = src.info.get("compression") if src.info.get("compression") in TIFF_COMPRESSIONS \
                else "tiff_lzw"
            if exif is not None:
                kw["tiffinfo"] = {t: exif[t] for t in IFD0_KEPT if t in exif}
        elif exif is not None:
            kw["exif"] = exif
        if fmt == "JPEG":
            kw.update(_jpeg_options(src, options))
        elif fmt == "WEBP":
            kw.update({"lossless": True} if src.format == "WEBP" and _webp_lossless(data)
                      else {"quality": options.webp_quality})
        if xmp is not None and fmt in ("JPEG", "WEBP"):
            kw["xmp"] = xmp
        elif xmp is not None and fmt == "PNG":
            info = PngImagePlugin.PngInfo()
            info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8", "replace"))
            kw["pnginfo"] = info
        buf = io.BytesIO()
        out.save(buf, fmt, **kw)
    return buf.getvalue(), fmt


def _jpeg_options(src: Image.Image, options: ExportOptions) -> dict:
    """JPEG encoder settings: the original's own quantization tables and chroma subsampling (a JPEG
    source, jpeg_quality 0), else the quality asked for (95 for sources that were not JPEG)."""
    kw: dict = {"progressive": bool(src.info.get("progressive") or src.info.get("progression"))}
    if options.jpeg_quality or src.format not in ("JPEG", "MPO"):
        return kw | {"quality": options.jpeg_quality or 95}
    sampling = JpegImagePlugin.get_sampling(src)
    return kw | {"qtables": src.quantization, **({"subsampling": sampling} if sampling >= 0 else {})}


def _key(item: ExportItem, options: ExportOptions) -> str:
    """What an exported file was made from: the edited image (size, time), the original's bytes, the options."""
    st = item.image.stat()
    return fingerprint(EXPORT_VERSION, item.rel, item.sha256, st.st_size, st.st_mtime_ns, options.__dict__)


def _encoded(items: list[ExportItem], options: ExportOptions, workers: int) -> Iterator[
        tuple[ExportItem, tuple[bytes, str] | str]]:
    """(item, (bytes, format) or the reason it was skipped), in order, encoded by `workers` threads
    (Pillow releases the GIL while it decodes and encodes)."""

    def one(item: ExportItem) -> tuple[bytes, str] | str:
        try:
            return encode_photo(item, options)
        except Rejected as exc:
            return str(exc)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        yield from zip(items, pool.map(one, items), strict=True)


def _record(index_path: Path, done: dict[str, str]) -> None:
    """The index of the files written so far, once they are on disk (one sync for all, not one per file)."""
    os.sync()
    write_json(index_path, done)


def export_edit(ws: Workspace, name: str, dest: Path, only: str = "edited", options: ExportOptions = ExportOptions(),
                workers: int = 2, on_progress: ProgressFn = quiet) -> dict:
    """Write edit `name`'s photos into `dest`, mirroring the originals' tree (module docstring); resumes.

    Returns {"exported", "unchanged", "removed", "skipped": [(source path, reason)], "dest"}.
    """
    check_destination(ws, dest)
    items = plan_export(ws, name, only, options.format)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    index_path = dest / INDEX
    index: dict[str, str] = read_json(index_path) if index_path.is_file() else {}
    for folder in {(dest / it.rel).parent for it in items}:
        remove_stale_temps(folder)
    keys = {it.rel: _key(it, options) for it in items}
    todo = [it for it in items if index.get(it.rel) != keys[it.rel] or not (dest / it.rel).is_file()]
    done = {rel: key for rel, key in index.items() if rel in keys and key == keys[rel]}
    removed = 0
    for rel in set(index) - set(keys):  # written by an earlier export of this folder, not selected now
        (dest / rel).unlink(missing_ok=True)
        removed += 1
    skipped = []
    for n, (item, got) in enumerate(_encoded(todo, options, workers), 1):
        done.pop(item.rel, None)
        if isinstance(got, str):
            log.warning("export %s: %s skipped: %s", name, item.rel, got)
            skipped.append((item.rel, got))
        else:
            with atomic_path(dest / item.rel, durable=False) as tmp:  # made durable together, below
                tmp.write_bytes(got[0])
            done[item.rel] = keys[item.rel]
        if n % 256 == 0:
            _record(index_path, done)
        on_progress(n, len(todo))
    _record(index_path, done)
    log.info("export %s (--only %s, --format %s) to %s: %d written, %d already there, %d removed, %d skipped", name,
             only, options.format, dest, len(todo) - len(skipped), len(items) - len(todo), removed, len(skipped))
    return {"exported": len(todo) - len(skipped), "unchanged": len(items) - len(todo), "removed": removed,
            "skipped": skipped, "dest": dest}


def export_zip(ws: Workspace, name: str, target: Path, only: str = "edited", options: ExportOptions = ExportOptions(),
               workers: int = 2, on_progress: ProgressFn = quiet) -> dict:
    """The same export as one zip file at `target` (written whole): the Studio's download.
    Returns {"exported", "skipped": [(source path, reason)], "path"}."""
    items = plan_export(ws, name, only, options.format)
    skipped = []
    with atomic_path(target) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
        for n, (item, got) in enumerate(_encoded(items, options, workers), 1):
            if isinstance(got, str):
                skipped.append((item.rel, got))
            else:
                archive.writestr(item.rel, got[0])
            on_progress(n, len(items))
    return {"exported": len(items) - len(skipped), "skipped": skipped, "path": Path(target)}

