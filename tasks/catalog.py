"""Write the demo catalog to disk: original photos (PNG) plus their ground-truth attributes.

Layout (`out` is any folder):
    out/photos/00000.png ...      original photos, named by row index (ingest this folder)
    out/attributes.parquet        file, every attribute, every nuisance variable, seed
`file` is the photo's path relative to `out/photos`, i.e. the ingest manifest's `source_path`.
Every file is written atomically (temp + os.replace); the Parquet file is written last, so its
presence means the catalog is complete. `out/demo-catalog.json` marks the folder as a demo
catalog's and lists every photo name it wrote there (recorded before the first photo is written):
only those are ever overwritten or removed; a non-empty photos folder without it is refused (it may
be the user's own photos).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from common.errors import InputError
from common.progress import ProgressFn, quiet
from common.storage import read_json, read_parquet, remove_stale_temps, write_json, write_parquet
from edit_core.demo_catalog import ATTRIBUTES, NUISANCE, render, sample_attributes
from tasks.images import write_png

PHOTOS = "photos"
ATTRIBUTES_FILE = "attributes.parquet"
MARKER = "demo-catalog.json"


def catalog_schema(resolution: int) -> pa.Schema:
    """Explicit schema of attributes.parquet; the photo resolution rides along as metadata."""
    fields = [pa.field("file", pa.string())]
    fields += [pa.field(k, pa.float64()) for k in (*ATTRIBUTES, *NUISANCE)]
    fields.append(pa.field("seed", pa.int64()))
    return pa.schema(fields, metadata={"oneedit.resolution": str(resolution)})


def photo_name(index: int, n: int) -> str:
    """File name of row `index` in a catalog of `n` rows (zero-padded, at least 5 digits)."""
    return f"{index:0{max(5, len(str(max(n - 1, 0))))}d}.png"


def check_catalog_folder(out: Path | str) -> None:
    """Before writing: `out/photos` is new, empty, or a demo catalog's (it may be the user's own photos)."""
    out = Path(out)
    photos = out / PHOTOS
    if photos.is_dir() and any(photos.iterdir()) and not ((out / MARKER).is_file() or (out / ATTRIBUTES_FILE).is_file()):
        raise InputError(f"{photos} already holds files that no demo catalog wrote: give demo-catalog a new "
                         "or empty folder (it writes and removes index-named PNGs there)")


def _written(out: Path) -> set[str]:
    """The photo names earlier demo catalogs wrote into `out/photos` (the marker's list, or the catalog's)."""
    if (out / MARKER).is_file():
        return set(read_json(out / MARKER).get("files", []))
    if (out / ATTRIBUTES_FILE).is_file():
        return set(read_parquet(out / ATTRIBUTES_FILE)["file"])
    return set()


def write_demo_catalog(out: Path | str, n: int, seed: int = 0, resolution: int = 512, chunk: int = 32,
                       on_progress: ProgressFn = quiet) -> Path:
    """Render `n` demo photos at `resolution` px into `out/photos` and write `out/attributes.parquet`
    (`on_progress(photos written so far, n)` after each chunk).

    Deterministic in (n, seed, resolution). Index-named PNGs left in `out/photos` by an earlier,
    larger catalog are removed so that ingesting the folder sees exactly this catalog; a non-empty
    `out/photos` that no demo catalog wrote is refused before anything is written."""
    if n < 1 or resolution < 8:
        raise InputError(f"demo catalog needs n >= 1 and resolution >= 8 (got n={n}, resolution={resolution})")
    out = Path(out)
    photos = out / PHOTOS
    check_catalog_folder(out)
    attrs = sample_attributes(n, seed)
    files = [photo_name(i, n) for i in range(n)]
    written = _written(out) | set(files)
    write_json(out / MARKER, {"format": "oneedit-demo-catalog", "files": sorted(written)})  # before any photo
    photos.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(photos)
    remove_stale_temps(out)
    for s in range(0, n, chunk):
        images = render({k: v[s : s + chunk] for k, v in attrs.items()}, resolution)
        for i, image in enumerate(images, start=s):
            write_png(photos / files[i], image)
        on_progress(s + len(images), n)
    for stale in sorted(written - set(files)):
        (photos / stale).unlink(missing_ok=True)
    write_json(out / MARKER, {"format": "oneedit-demo-catalog", "files": files})
    df = pd.DataFrame({"file": files, **attrs, "seed": np.full(n, seed, np.int64)})
    path = out / ATTRIBUTES_FILE
    write_parquet(path, df, catalog_schema(resolution))
    return path


def read_demo_catalog(out: Path | str) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """attributes.parquet as a DataFrame, plus its rows as the renderer's attribute dict."""
    path = Path(out) / ATTRIBUTES_FILE
    if not path.is_file():
        raise InputError(f"no demo catalog at {out} (missing {ATTRIBUTES_FILE})")
    df = read_parquet(path)
    return df, {k: df[k].to_numpy(np.float64) for k in (*ATTRIBUTES, *NUISANCE)}
