"""One fingerprint for every resumable output: the sha256 of its inputs, written as sorted-key JSON.

A shard, a model or an edited-photo part records the fingerprint of what it was made from (file
hashes, params sections, a code version); a rerun whose inputs give the same fingerprint skips it.
We keep our own key rather than Prefect's cache policies because the outputs live in the workspace
(DVC-tracked files), not in Prefect's result store: the key must be checkable from the files alone.
"""

from __future__ import annotations

import hashlib
import json


def fingerprint(*parts: object) -> str:
    """Hex sha256 of `parts` as JSON (sorted keys; non-JSON values such as paths by their str)."""
    return hashlib.sha256(json.dumps(list(parts), sort_keys=True, default=str).encode()).hexdigest()
