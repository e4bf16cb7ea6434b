"""User-facing errors: one clear line each, so the CLI can print `str(err)` and exit non-zero."""

from __future__ import annotations

import errno


class OneEditError(Exception):
    """Base of every error meant for the user (the CLI prints its one-line message, no traceback)."""


class OutputWriteError(OneEditError, OSError):
    """An output file could not be written (read-only directory, disk full, ...); earlier outputs stay intact."""


class InputError(OneEditError, ValueError):
    """The inputs of a command are unusable as a whole (missing source folder, bad parameters, ...)."""


class WorkspaceLocked(OneEditError, RuntimeError):
    """Another process holds the workspace lock."""


class UnreadableFile(OneEditError):
    """A file the pipeline reads is missing, truncated or not what it should be; the message names it,
    says why and how to recover (`common.workspace.recovery_hint`)."""

    def __init__(self, path: object, reason: str, hint: str = "") -> None:
        self.path = path
        super().__init__(f"{path}: unreadable ({reason})" + (f"; {hint}" if hint else ""))


def first_line(error: BaseException | str, default: str = "") -> str:
    """The first non-empty line of an error's message, stripped (`default` when it has none): what a
    one-line message shows of an error whose text runs over several lines (a library's dump, a traceback)."""
    return next((s.strip() for s in str(error).splitlines() if s.strip()), default)


def os_error_line(exc: OSError) -> str:
    """A raw OSError as one line: the file, the reason and what to do (never a bare `[Errno 30] ...`)."""
    where = f"{exc.filename}: " if exc.filename else ""
    reason = exc.strerror or first_line(exc, type(exc).__name__)
    fix = {errno.EROFS: "the folder is read-only: use a writable --workspace (or mount it read-write)",
           errno.EACCES: "permission denied: check the folder's permissions, or use another --workspace",
           errno.EPERM: "permission denied: check the folder's permissions, or use another --workspace",
           errno.ENOSPC: "free some space, then run the same command again (finished work is kept)",
           errno.EDQUOT: "free some space, then run the same command again (finished work is kept)",
           errno.ENOENT: "it is missing: check the path, or run the command that makes it first",
           }.get(exc.errno or 0, "run the same command again once the file is usable (finished work is kept)")
    return f"{where}{reason}; {fix}"
