"""Atomic, deterministic file I/O for workspace outputs: HDF5, Parquet, JSON.

Every writer goes through `atomic_path`: the data lands in a hidden temp file next to the
target and is `os.replace`d over it only once complete and fsynced, so a crash or a full disk
never leaves a half-written output, and an existing file is never modified in place (DVC may
hardlink workspace files into its cache, so opening one in r+/a mode would corrupt the cache).
Outputs are byte-identical for identical inputs (no timestamps, no pandas index metadata).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.errors import OneEditError, OutputWriteError, UnreadableFile

if TYPE_CHECKING:  # imported where used: the CLI reads JSON through this module and must start at once
    import numpy as np
    import pandas as pd
    import pyarrow as pa

H5_LOCK = threading.RLock()
"""Serialises every h5py call of this process (HDF5 is not safe to call from several threads)."""


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable; some filesystems refuse to open directories, which is harmless."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _temp_name(final: Path) -> Path:
    return final.parent / f".{final.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"


_TEMP_RE = re.compile(r"^\..+\.tmp-(\d+)-[0-9a-f]{8}$")


def remove_stale_temps(directory: Path | str) -> list[Path]:
    """Delete temp files left by writers that died mid-write (SIGKILL, power loss); returns them.

    Only files whose writer pid no longer exists are removed, so a live writer is never disturbed.
    """
    removed = []
    directory = Path(directory)
    if not directory.is_dir():
        return removed
    for path in sorted(directory.iterdir()):
        found = _TEMP_RE.match(path.name)
        if found is None:
            continue
        try:
            os.kill(int(found.group(1)), 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
            removed.append(path)
        except PermissionError:
            pass  # alive, owned by someone else
    return removed


def _errno_in(message: str) -> str | None:
    """h5py puts the C errno inside its message ("... errno = 28, ..."): turn it into its text."""
    found = re.search(r"errno = (\d+)", message)
    return os.strerror(int(found.group(1))) if found else None


@contextmanager
def atomic_path(final: Path | str, durable: bool = True) -> Iterator[Path]:
    """Yield a hidden temp path next to `final`; on success fsync it and `os.replace` it over `final`.

    On any exception the temp file is removed and the error re-raised; OSErrors become one-line
    `OutputWriteError`s naming the target. `final` is untouched unless the whole write succeeded.
    `durable=False` skips the two fsyncs (10 ms each on a busy disk) for writers of many files that
    make them durable together (`os.sync()`) before they record them as done.
    """
    final = Path(final)
    tmp = _temp_name(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        open(tmp, "xb").close()  # surface permission errors here, with a plain errno, not from a library
        yield tmp
        if durable:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, OneEditError):
            reason = exc.strerror or _errno_in(str(exc)) or str(exc).splitlines()[0]
            raise OutputWriteError(f"cannot write {final}: {reason}") from exc
        raise
    if durable:
        _fsync_dir(final.parent)


def _to_h5_array(name: str, value: np.ndarray) -> np.ndarray:
    """Strings (numpy 'U' or object arrays) become utf-8 variable-length strings; other arrays pass."""
    import h5py
    import numpy as np

    arr = np.asarray(value)
    if arr.dtype.kind in ("U", "O", "T"):
        return np.array([str(v) for v in arr.ravel()], dtype=h5py.string_dtype("utf-8")).reshape(arr.shape)
    if arr.dtype.kind == "S":
        raise ValueError(f"dataset {name!r}: byte strings are not supported, pass str")
    return arr


def write_h5(path: Path | str, datasets: dict[str, np.ndarray], attrs: dict[str, Any] | None = None) -> None:
    """Write a new HDF5 file atomically: no timestamps (byte-identical outputs), images chunked per image + gzip."""
    import h5py
    import numpy as np

    with atomic_path(path) as tmp, H5_LOCK, h5py.File(tmp, "w") as f:
        for name, value in datasets.items():
            arr = _to_h5_array(name, value)
            kw: dict[str, Any] = {"track_times": False}
            if arr.dtype == np.uint8 and arr.ndim == 4:
                kw["compression"] = "gzip"
                kw["compression_opts"] = 4
                if arr.shape[0] > 0:
                    kw["chunks"] = (1, *arr.shape[1:])
            f.create_dataset(name, data=arr, **kw)
        for key, value in (attrs or {}).items():
            f.attrs[key] = value


def unreadable(path: Path | str, exc: BaseException) -> UnreadableFile:
    """The one error of every reader: names the file, the reason in one line, and how to recover."""
    from common.workspace import recovery_hint  # the workspace layout knows who writes which file

    if isinstance(exc, FileNotFoundError):
        reason = "missing"
    elif isinstance(exc, OSError) and exc.strerror:
        reason = exc.strerror
    else:
        text = str(exc).strip()
        reason = f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
    return UnreadableFile(path, reason, recovery_hint(Path(path)))


@contextmanager
def reading(path: Path | str) -> Iterator[None]:
    """Any failure inside becomes `unreadable(path, ...)` (a signal or an error already ours passes)."""
    try:
        yield
    except OneEditError:
        raise
    except Exception as exc:
        raise unreadable(path, exc) from exc


def read_h5(path: Path | str, keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Read datasets (all, or `keys`) into memory; utf-8 string datasets come back as numpy str arrays."""
    import h5py
    import numpy as np

    out: dict[str, np.ndarray] = {}
    with reading(path), H5_LOCK, h5py.File(path, "r") as f:
        names = list(f.keys()) if keys is None else list(keys)
        for name in names:
            if name not in f:
                raise KeyError(f"no dataset {name!r} (has {sorted(f.keys())})")
            ds = f[name]
            if h5py.check_string_dtype(ds.dtype) is not None:
                out[name] = np.asarray(ds.asstr()[()], dtype=str)
            else:
                out[name] = ds[()]
    return out


def read_h5_attrs(path: Path | str) -> dict[str, Any]:
    """The file-level attributes written by `write_h5`."""
    import h5py
    import numpy as np

    with reading(path), H5_LOCK, h5py.File(path, "r") as f:
        return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}


def write_parquet(path: Path | str, df: pd.DataFrame, schema: pa.Schema) -> None:
    """Write `df` atomically with an explicit schema; no pandas index or metadata, so output is deterministic."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    missing = [n for n in schema.names if n not in df.columns]
    extra = [c for c in df.columns if c not in schema.names]
    if missing or extra:
        raise ValueError(f"{path}: columns do not match the schema (missing {missing}, unexpected {extra})")
    table = pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False)
    table = table.replace_schema_metadata(schema.metadata)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_parquet(path: Path | str) -> pd.DataFrame:
    """Read a Parquet file written by `write_parquet`."""
    import pyarrow.parquet as pq

    with reading(path):
        return pq.read_table(path).to_pandas()


def sha256_file(path: Path | str, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks (bounded memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _json_default(obj: Any) -> Any:
    """numpy scalars/arrays and paths, which `json` cannot encode by itself."""
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_json(path: Path | str, obj: Any) -> None:
    """Write JSON atomically with sorted keys (stable diffs, byte-identical outputs)."""
    text = json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, default=_json_default) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def read_json(path: Path | str) -> Any:
    """Read a JSON file."""
    with reading(path):
        return json.loads(Path(path).read_text(encoding="utf-8"))


def read_torch(path: Path | str) -> Any:
    """A torch file of tensors (direction.pt, checkpoints) on the CPU, `weights_only`."""
    import torch

    with reading(path):
        return torch.load(Path(path), map_location="cpu", weights_only=True)
