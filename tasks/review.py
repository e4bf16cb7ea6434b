"""Per-photo review of an applied edit: accept or reject each edited photo (`oneedit review`, the Studio).

Decisions live in WS/edits/NAME/review.json ({"decisions": {id: "accepted" | "rejected"}}), written
whole (temp file + os.replace) under the caller's workspace lock, so they travel with the edit into
its versions (tasks/versions.py). A photo that is edited again (a re-run of the rejected or short
ones) loses its decision: the image it was made on is gone. `export --only accepted` and
`rescale --only rejected` read them.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from common.errors import InputError
from common.storage import read_json, write_json
from common.workspace import Workspace
from edit_core.alphas import EDITED

log = logging.getLogger(__name__)
DECISIONS = ("accepted", "rejected")
_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?(e[-+]?\d+)?")


def results_columns(ws: Workspace, name: str, columns: list[str]) -> dict[str, list]:
    """`columns` of edit `name`'s results.parquet (those it has), one list per column; a one-line error when the
    edit was never applied."""
    import pyarrow.parquet as pq

    from common.storage import reading

    path = ws.edit(name).results
    ws.require(path, hint=f"apply the edit first: `oneedit edit --name {name} ...` or `oneedit rescale --name {name}`")
    with reading(path):
        have = set(pq.read_schema(path).names)
        return pq.read_table(path, columns=[c for c in columns if c in have]).to_pydict()


def review_path(ws: Workspace, name: str) -> Path:
    return ws.edit(name).root / "review.json"


def decisions(ws: Workspace, name: str) -> dict[str, str]:
    """id -> accepted / rejected of every photo reviewed so far (empty when none was)."""
    path = review_path(ws, name)
    return dict(read_json(path).get("decisions", {})) if path.exists() else {}


def reviewed(ws: Workspace, name: str, decision: str) -> list[str]:
    """The ids of the photos given `decision`, sorted."""
    return sorted(i for i, d in decisions(ws, name).items() if d == decision)


def set_decisions(ws: Workspace, name: str, changes: dict[str, str | None]) -> None:
    """Record each photo's decision (id -> accepted / rejected; None forgets it) for edit `name`, which must
    have results; only photos with an edited image can be accepted or rejected (one line otherwise, and
    nothing recorded)."""
    bad = {d for d in changes.values() if d is not None and d not in DECISIONS}
    if bad:
        raise ValueError(f"decisions must be one of {DECISIONS} or None, got {sorted(bad)}")
    rows = results_columns(ws, name, ["id", "source_path", "status"])
    status = dict(zip(rows["id"], rows["status"], strict=True))
    files = dict(zip(rows["id"], rows["source_path"], strict=True))
    unedited = [i for i, d in changes.items() if d is not None and status.get(i) not in EDITED]
    if unedited:
        shown = ", ".join(f"{files.get(i, i)} ({status.get(i, 'not in the results')})" for i in unedited[:5])
        raise InputError(f"edit {name!r}: {len(unedited)} photo(s) have no edited image to review: {shown}")
    current = decisions(ws, name)
    for i, decision in changes.items():
        if decision is None:
            current.pop(i, None)
        else:
            current[i] = decision
    write_json(review_path(ws, name), {"decisions": dict(sorted(current.items()))})
    log.info("review %s: %s", name, ", ".join(f"{i} {d or 'cleared'}" for i, d in changes.items()))


def summary(ws: Workspace, name: str) -> dict[str, int]:
    """How far the review of edit `name` got: accepted, rejected and unreviewed edited photos."""
    edited = {i for i, s in zip(*results_columns(ws, name, ["id", "status"]).values(), strict=True) if s in EDITED}
    made = {i: d for i, d in decisions(ws, name).items() if i in edited}
    counts = {d: sum(v == d for v in made.values()) for d in DECISIONS}
    return {**counts, "unreviewed": len(edited) - len(made)}


def common_reason(reasons: Iterable[str]) -> str:
    """The commonest of these reasons, numbers aside ("start 2.31 along n outside ..." and "start 1.07 ..."
    are one reason), as one of its own texts; "" when none is given."""
    texts = [r for r in reasons if r]
    if not texts:
        return ""
    groups = Counter(_NUMBER.sub("#", r) for r in texts)
    top = groups.most_common(1)[0][0]
    return next(r for r in texts if _NUMBER.sub("#", r) == top)


def outcome(ws: Workspace, name: str) -> dict:
    """What an applied edit made of the catalog: counts per status, how many photos have an edited image,
    the commonest reason of those that were not edited, and (file, status, reason) of every photo that is
    not plainly edited (flagged, clamped, skipped, rejected), in results order."""
    rows = results_columns(ws, name, ["source_path", "status", "reason"])
    counts = Counter(rows["status"])
    notes = [(f, s, r) for f, s, r in zip(rows["source_path"], rows["status"], rows["reason"], strict=True)
             if s != "edited"]
    return {"status": dict(counts), "edited": sum(counts[s] for s in EDITED), "photos": len(rows["status"]),
            "common_reason": common_reason(r for _, s, r in notes if s not in EDITED), "notes": notes}


def forget(ws: Workspace, name: str, ids: Iterable[str]) -> None:
    """Drop the decisions of `ids` (photos edited again)."""
    current = decisions(ws, name)
    ids = set(ids) & set(current)
    if ids:
        write_json(review_path(ws, name), {"decisions": {i: d for i, d in sorted(current.items()) if i not in ids}})
