"""The page's words: the CLI's one-line messages without its flags or the Studio's temp paths, what a
request sent echoed a few dozen characters at most, and a schema error as one line (the value not echoed)."""

from __future__ import annotations

import re
import reprlib
from pathlib import Path

from fastapi.exceptions import RequestValidationError

shown = reprlib.Repr()  # what a request sent, echoed in a message: a few dozen characters at most
shown.maxstring = 40
# the CLI's option words in the page's words (`page_words`); a `oneedit ...` command in backticks is kept
PAGE_PHRASES = (("pass --replace to replace it, or choose another --name", "confirm replacing it, or choose another name"),
                ("--constraints mask", "the brush mask"), ("--constraints", "the brush strokes"),
                ("--after", "the edited photo"), ("--example", "the example"), ("--offset", "the sliders' offset"),
                ("--strength", "strength"), ("--only", "the photos chosen"), ("--name", "name"),
                ("--format", "the format"))


def page_words(message: str, drafts_root: Path) -> str:
    """A CLI line as the page says it: the studio's own folders (drafts, uploads, under `drafts_root`) out, each
    option named for what the page calls it; a `oneedit ...` command in backticks (to run in a terminal) kept
    as it is."""
    root = re.escape(str(drafts_root))
    message = re.sub(rf"\s?{root}[^\s:;,)']*", "", message)
    parts = message.split("`")
    for k in range(0, len(parts), 2):  # outside backticks
        text = re.sub(r"--set:?\s*", "", parts[k])
        for flag, words in PAGE_PHRASES:
            text = text.replace(flag, words)
        parts[k] = text
    return "`".join(parts)


def validation_line(exc: RequestValidationError) -> str:
    """A request that does not fit the route's schema as one line naming the field (the value not echoed)."""
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
    return f"{where}: {first.get('msg', 'invalid request')}"
