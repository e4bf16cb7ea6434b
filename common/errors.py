"""User-facing errors: one clear line each, so the CLI can print `str(err)` and exit non-zero."""

from __future__ import annotations


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
