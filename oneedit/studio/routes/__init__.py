"""The Studio's API, one router per resource (each `router(studio)` returns its APIRouter):

- photos.py: the page's state and the catalog's photos;
- sliders.py: the sliders' directions and the render of an offset;
- drafts.py: edits being made, their preview, Apply;
- uploads.py: example photos from outside the catalog;
- jobs.py: polling and cancelling jobs, the catalog run in progress;
- edits.py: applied edits: results, review, re-runs, versions, the zip download;
- reports.py: the reports, under their keys.
"""
