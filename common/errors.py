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
