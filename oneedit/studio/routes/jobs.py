"""Jobs: a job polled by id, cancelled at its next progress tick, and the catalog run in progress."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from oneedit.studio.state import Studio


def router(studio: Studio) -> APIRouter:
    """/api/jobs/... and /api/run on `studio`."""
    api = APIRouter()

    @api.get("/api/jobs/{job_id}")
    def job(job_id: str) -> dict:
        if job_id not in studio.jobs:
            raise HTTPException(404, f"no job {job_id!r}")
        return studio.jobs[job_id].to_dict()

    @api.post("/api/jobs/{job_id}/cancel")
    def cancel_job(job_id: str) -> dict:
        """Ask a job to stop at its next progress tick; a cancelled Apply or re-run leaves the edit as it was."""
        if job_id not in studio.jobs:
            raise HTTPException(404, f"no job {job_id!r}")
        job = studio.jobs[job_id]
        if job.live:
            job.cancel.set()
        return job.to_dict()

    @api.get("/api/run")
    def current_run() -> dict:
        return {"run": studio.run.to_dict() if studio.run is not None else None}

    return api
