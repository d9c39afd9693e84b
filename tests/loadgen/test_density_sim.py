"""Acceptance: `kubesim load loadgen/configs/density.yaml` on a simulated cluster finishes
with a result whose numbers come from the run, checked here against the metrics they were
made from (the samples the driver read, recomputed with this file's own arithmetic), the
objects the run created, and the pod timestamps the watch recorded; the HTML report holds
its plots. The fast test runs a 5-node cluster; the slow one the config's own 100 nodes.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from kubesim.cli import main
from kubesim.loadgen.targets import RuntimeTarget

ROOT = Path(__file__).resolve().parents[2]
DENSITY = ROOT / "loadgen" / "configs" / "density.yaml"
SMALL_CLUSTER = """\
kind: Cluster
name: small
controlPlane: {topology: stacked, machines: 1}
controllerManager: {kube-api-qps: 100, kube-api-burst: 100}
nodePools:
- {name: pool, count: 5, machine: {cpu: "8", memory: 32Gi}}
runtime: {type: sim, seed: 3}
"""


def _quantile(q: float, buckets: list[list[Any]]) -> float:
    """Prometheus histogram_quantile, written out again: linear inside the bucket holding
    rank q*total, from 0 below the first bound, the last finite bound for +Inf."""
    bounds = [(math.inf if le is None else float(le), float(c)) for le, c in buckets]
    total = bounds[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for le, count in bounds:
        if count >= rank:
            if le == math.inf:
                return lower_bound
            return lower_bound + (le - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = le, count
    raise AssertionError("rank beyond the last bucket")


def _cl2_percentile(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(len(ordered) * p / 100) - 1]


def _run(out: Path, args: list[str]) -> tuple[int, dict[str, Any], list[Any]]:
    """`kubesim load density.yaml ARGS`, recording every metric read of the driver."""
    reads: list[tuple[float, list[str], list[Any]]] = []
    original = RuntimeTarget.samples

    async def recording(self: RuntimeTarget, names: Any) -> Any:
        samples = await original(self, names)
        reads.append((self.now(), list(names), samples))
        return samples

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RuntimeTarget, "samples", recording)
        code = main(["load", str(DENSITY), "--out", str(out), *args])
    return code, json.loads((out / "result.json").read_text()), reads


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], list[Any], Path]:
    """density.yaml on a 5-node cluster, 10 pods per node."""
    tmp = tmp_path_factory.mktemp("density")
    cluster = tmp / "cluster.yaml"
    cluster.write_text(SMALL_CLUSTER)
    code, result, reads = _run(tmp / "out", ["--cluster", str(cluster), "--param", "PODS_PER_NODE=10"])
    return code, result, reads, tmp / "out"


def _measurement(result: dict[str, Any], identifier: str) -> dict[str, Any]:
    return next(m for m in result["measurements"] if m["identifier"] == identifier)


def _post_deployments(samples: list[Any]) -> float:
    return sum(v for name, labels, v in samples if name == "apiserver_request_duration_seconds_count"
               and labels.get("verb") == "POST" and labels.get("resource") == "deployments")


def check_density(result: dict[str, Any], reads: list[Any], nodes: int, pods_per_node: int) -> None:
    total_pods = nodes * pods_per_node
    created = [c for c in result["calls"]["rows"] if c[2] == "create"]
    deployments_created = sum(1 for c in created if c[3] == "deployments.apps" and c[4] == 201)
    latency_pods = min(nodes, 100)
    assert deployments_created == 1 + latency_pods
    assert result["operations"]["failed"] == 0

    # API responsiveness: each call's percentiles follow from its own bucket increases, and
    # the POST deployments count is the increase the driver read at the window's edges
    api = _measurement(result, "APIResponsivenessPrometheus")
    calls = api["summary"]["calls"]
    for call in calls:
        assert call["count"] == call["buckets"][-1][1]
        for q, key in ((0.5, "perc50"), (0.9, "perc90"), (0.99, "perc99")):
            assert call[key] == pytest.approx(_quantile(q, call["buckets"]), rel=1e-9, abs=1e-12)
        assert call["pass"] == (call["perc99"] <= call["threshold"])
    post = next(c for c in calls if c["verb"] == "POST" and c["resource"] == "deployments")
    assert post["count"] == deployments_created
    start, end = api["window"]
    at_start = [s for t, names, s in reads if t == start and names == ["apiserver_request_duration_seconds"]]
    at_end = [s for t, names, s in reads if t == end and names == ["apiserver_request_duration_seconds"]]
    assert at_start and at_end
    assert _post_deployments(at_end[-1]) - _post_deployments(at_start[-1]) == post["count"]
    pods_posted = next(c for c in calls if c["verb"] == "POST" and c["resource"] == "pods")["count"]
    assert pods_posted >= total_pods + latency_pods  # the ReplicaSet controller made them

    # pod startup: every latency pod measured; the percentiles follow from its samples
    psl = _measurement(result, "PodStartupLatency")
    samples = psl["samples"]
    assert psl["pods_measured"] == latency_pods == len(samples)
    for _key, created_at, scheduled, run, watched in samples:
        assert created_at <= scheduled <= run and run - 1.0 < watched  # API stamps are whole seconds
    startup = [s[4] - s[1] for s in samples]
    for p in (50, 90, 99):
        assert psl["summary"]["pod_startup"][f"perc{p}"] == pytest.approx(_cl2_percentile(startup, p))
    slo = psl["slos"][0]
    assert slo["pass"] == (slo["value"] <= 5.0)

    # scheduling throughput: the saturation pods, counted by the watch, interval by interval
    st = _measurement(result, "SchedulingThroughput")["summary"]
    assert st["pods_scheduled"] == total_pods
    assert st["max"] >= st["perc90"] >= st["perc50"] >= 0
    assert st["max"] * st["interval_seconds"] <= total_pods

    etcd = _measurement(result, "EtcdMetrics")["summary"]
    assert etcd["etcd_disk_wal_fsync_duration_seconds"]["count"] > 0 and etcd["db_size_bytes"] > 0
    assert etcd["leader_changes"] == 0

    # the SLO table is the measurements' SLOs, and the verdict follows from it
    assert len(result["slos"]) == len(calls) + 1
    assert result["passed"] == all(s["pass"] for s in result["slos"])


PLOTS = ("latency-over-time", "percentiles-per-verb", "pod-startup", "api-throughput", "scheduling-throughput",
         "client-throughput")


def test_density_on_a_small_sim_cluster(small_run: tuple[int, dict[str, Any], list[Any], Path]) -> None:
    code, result, reads, _out = small_run
    check_density(result, reads, nodes=5, pods_per_node=10)
    assert result["passed"] and code == 0


def test_the_report_renders_in_headless_chromium(small_run: tuple[int, dict[str, Any], list[Any], Path],
                                                 tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (make system-deps installs Debian's chromium as root)")
    report = small_run[3] / "report.html"
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*args, "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    plots = _plots_in(dom)
    assert set(PLOTS) <= set(plots), sorted(plots)
    for plot in PLOTS:
        assert plots[plot] > 0, f"plot {plot} has no marks"
    assert 'id="verdict"' in dom
    shot = tmp_path / "report.png"
    subprocess.run([*args, "--window-size=1000,4000", f"--screenshot={shot}", report.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 20_000  # a page of charts, not a blank one


class _PlotCounter(HTMLParser):
    """Marks (lines, bars, points) inside each `<svg data-plot=...>` of a DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.current: str | None = None
        self.marks: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg" and a.get("data-plot"):
            self.current = a["data-plot"]
            self.marks.setdefault(self.current, 0)
        elif self.current and a.get("class") in ("series", "bar", "point"):
            self.marks[self.current] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.current = None


def _plots_in(dom: str) -> dict[str, int]:
    counter = _PlotCounter()
    counter.feed(dom)
    return counter.marks


@pytest.mark.slow
def test_density_on_100_nodes(tmp_path: Path) -> None:
    code, result, reads = _run(tmp_path / "out", [])
    assert result["target"]["nodes"] == 100
    check_density(result, reads, nodes=100, pods_per_node=30)
    assert code == (0 if result["passed"] else 1)
