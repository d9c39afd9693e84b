"""The Ray Jobs API client `kubesim submit` talks to (the only Ray import on that path)."""

from __future__ import annotations

from ray.job_submission import JobSubmissionClient


def job_client(address: str) -> JobSubmissionClient:
    """A client of the Ray job server at `address` (http://HEAD:8265)."""
    return JobSubmissionClient(address)
