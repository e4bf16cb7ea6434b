"""Flow tests share the session's Prefect test server."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _prefect(prefect_server: str) -> str:
    return prefect_server
