"""The Ray job entrypoint: run a kubesim spec on the Ray cluster the job runs in.

    python ray_cluster/entrypoint.py SPEC [--report PATH] [kubesim run options]

Inside a Ray job RAY_ADDRESS names the cluster, so the run's host actors are placed on
its nodes (spread over them). The report is written into the run directory, to `--report`
when given (a mounted volume, say), and printed as one `KUBESIM-REPORT <json>` line, which
`kubesim submit` picks out of the job's log. `kubesim submit` runs the same command as
`python -m kubesim.cli run spec.yaml --runtime ray --emit-report`; this script is what the
KubeRay RayJob (kuberay-rayjob.yaml) runs, from the image built by the Dockerfile here.
"""

from __future__ import annotations

import sys

from kubesim.cli import main

if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: entrypoint.py SPEC [--report PATH] [kubesim run options]", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(["run", sys.argv[1], "--runtime", "ray", "--emit-report", *sys.argv[2:]]))
