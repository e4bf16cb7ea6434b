"""OneEdit Studio: make the example edit in the browser, preview it on a sample, apply it to the catalog.

`oneedit studio --workspace WS` serves one page (oneedit/static/, plain HTML + JavaScript) and a JSON
API on 127.0.0.1. The page picks the example from the catalog (or uploads a photo from outside it,
projected as the catalog is: tasks.example.project_example), makes the edit (colour / sketch brush
strokes, an edited "after" upload, or sliders along principal directions of W), previews it on a
sample of the catalog with the real transfer, and applies it. Every input the page makes becomes the
same files `oneedit edit` takes (strokes.json + mask PNGs, an after image, an offset .npy; an
uploaded example is a photo file, as `--example PATH` takes it) in a draft folder, checked by the CLI's
own checks; Apply runs
the CLI's flows (edit_flow, then report_flow) under the workspace lock, so `rescale`, `report`,
`retrain` and `dvc repro` see an ordinary edit.

Everything slow (brush optimization, Δ* fit, transfers, the catalog run) runs in a job thread and is
polled (GET /api/jobs/ID); a run belongs to the server, not to a tab: a second tab sees it, a closed
tab does not stop it; a job can be cancelled (`common.cancel.scope`: the job polls its own flag at every
progress tick), and a cancelled Apply or re-run leaves the edit as it was (`tasks.versions.undone_if_cancelled`).
Applied edits are reviewed in the page through the same modules as the CLI: results.parquet's status, reason
and final state per photo, accept / reject (tasks/review.py), re-runs of the rejected or short photos
(flows/rerun.py), versions (tasks/versions.py), a zip download (tasks/export.py). Errors are the CLI's one-line
messages in the page's words (`Studio.page_words`: no CLI flags, no server temp paths), as {"error": "..."}.

Security (docs/RELIABILITY.md, "The Studio's security model"): only loopback Host names (and the
--host it is bound to) are served, a request with an Origin must come from the page's own origin, and
every /api route needs the session's token (`X-OneEdit-Token`, or `?token=` on a GET for the page's
images); the page gets it inside index.html, which no other origin can read. Reports are served under
a per-edit key (`report_url`). Examples are catalog ids or uploads, never server paths; drafts and
uploads are capped and removed with the studio.

- app.py: `create_app` (the guard, one-line errors, the page, the routers) and `serve`;
- state.py: `Studio`, the state behind the page (drafts, uploads, jobs, cached models) and what routes do;
- routes/: one APIRouter per resource (photos, sliders, drafts, uploads, jobs, edits, reports);
- models.py: the request bodies; jobs.py: the job system (cancel scopes); security.py: Host / Origin /
  token checks and the caps; words.py: messages in the page's words;
- images.py: PNG responses and canvas masks; strokes.py: brush strokes as `--constraints` files;
  sliders.py: the PCA of W and the sliders' names; cache.py: workspace reads cached per file version.
"""

from oneedit.studio.app import create_app, serve
from oneedit.studio.security import MIN_TOKEN, TOKEN_HEADER, is_loopback
from oneedit.studio.sliders import CHANGES, describe_change
from oneedit.studio.state import Studio

__all__ = ["CHANGES", "MIN_TOKEN", "TOKEN_HEADER", "Studio", "create_app", "describe_change", "is_loopback", "serve"]
