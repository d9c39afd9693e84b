"""`kubesim submit SPEC --address http://HEAD:8265`: run a spec on a Ray cluster as a Ray
job, stream its logs, and write its report where the user asks.

The spec is checked here first (a bad one never reaches the cluster). The job ships the
spec file alone as its working directory and runs `python -m kubesim.cli run spec.yaml
--runtime ray --emit-report` on the head, so kubesim must be installed in the cluster's
Python (the KubeRay manifests in ray_cluster/ use an image with it). The job prints its
report as one `KUBESIM-REPORT <json>` line; this client picks it out of the log stream,
so the report arrives whether or not the cluster shares a disk with the submitter.
Ctrl-C stops the job (Ray sends its driver SIGTERM, and the run stops every actor it
started).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

REPORT_PREFIX = "KUBESIM-REPORT "
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


def emit_report(report: dict[str, Any]) -> None:
    """What a job run prints for `submit` to pick up."""
    print(REPORT_PREFIX + json.dumps(report, separators=(",", ":")), flush=True)


def submit(spec_path: str, name: str, address: str, report_path: Path | None, console: Console,
           python: str = "python") -> int:
    from kubesim.runtime.ray.jobs import job_client

    client = job_client(address)
    workdir = Path(tempfile.mkdtemp(prefix="kubesim-job-"))
    shutil.copy(spec_path, workdir / "spec.yaml")
    submission_id = f"kubesim-{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        client.submit_job(entrypoint=f"{python} -m kubesim.cli run spec.yaml --runtime ray --emit-report",
                          runtime_env={"working_dir": str(workdir)}, submission_id=submission_id)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    console.print(f"submitted job [bold]{submission_id}[/bold] to {address}")
    try:
        report = asyncio.run(_follow(client, submission_id))
    except KeyboardInterrupt:
        console.print(f"stopping job {submission_id}")
        client.stop_job(submission_id)
        _wait_terminal(client, submission_id, 60.0)
        return 130
    status = str(_wait_terminal(client, submission_id, 60.0))
    if report is not None and report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps(report, indent=2) + "\n")
        console.print(f"report written to {report_path}")
    if status != "SUCCEEDED" or report is None:
        console.print(f"job {submission_id} ended {status}" + ("" if report else " without a report"))
        return 1
    return 0


async def _follow(client: Any, submission_id: str) -> dict[str, Any] | None:
    """Print the job's log lines as they come; the report line, parsed."""
    report = None
    async for chunk in client.tail_job_logs(submission_id):
        for line in chunk.splitlines():
            if line.startswith(REPORT_PREFIX):
                report = json.loads(line[len(REPORT_PREFIX):])
            else:
                sys.stdout.write(line + "\n")
        sys.stdout.flush()
    return report


def _wait_terminal(client: Any, submission_id: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    status = client.get_job_status(submission_id)
    while str(status) not in TERMINAL and time.monotonic() < deadline:
        time.sleep(0.5)
        status = client.get_job_status(submission_id)
    return status
