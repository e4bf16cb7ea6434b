"""Skip marker for tests that need permission bits enforced (they are not for root)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest


def _permissions_enforced() -> bool:
    """False as root (CAP_DAC_OVERRIDE): chmod 000 files and read-only folders stay accessible."""
    with tempfile.TemporaryDirectory() as d:
        probe = Path(d, "probe")
        probe.write_bytes(b"")
        probe.chmod(0)
        try:
            probe.open("rb").close()
        except PermissionError:
            return True
        return False


needs_permissions = pytest.mark.skipif(
    not _permissions_enforced(), reason="running as root: permission bits are not enforced"
)
