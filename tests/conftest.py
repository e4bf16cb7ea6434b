"""Test session set-up: offline Prefect in a temporary home, one shared Prefect test server.

Engine and task unit tests call `task.fn(...)` and never start a server; tests that run flows
use the session-scoped `prefect_server` (autouse in tests/flows/).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.workspaces import Workspaces

_HOME = tempfile.mkdtemp(prefix="oneedit-prefect-home-")
for _key, _value in {
    "PREFECT_HOME": _HOME,
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DVC_NO_ANALYTICS": "1",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}.items():
    os.environ[_key] = _value


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """One temporary Prefect server for the whole session; yields its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


@pytest.fixture(scope="session")
def workspaces(tmp_path_factory: pytest.TempPathFactory, prefect_server: str) -> Workspaces:
    """The one factory of the test modules' starting workspaces (tests/workspaces.py)."""
    from tests.workspaces import Workspaces

    return Workspaces(tmp_path_factory.mktemp("workspaces").resolve())
