"""Acceptance: the same write burst on the same simulated cluster, once with the default cost
model and once with etcd's fsync ten times slower (`disk.fsync` median and p99 x10, as a
cluster's `costModel.overrides`): the first holds the mutating-call SLO, the second breaks
it (POST configmaps p99 > 1 s), the report says so and `kubesim load` exits non-zero.

The control plane is a small one (three stacked machines, kube-apiserver with
--max-requests-inflight=50 --max-mutating-requests-inflight=25), so the burst queues in API
Priority and Fairness, where the wait counts in the request's latency: slower etcd
writes hold the seats longer and the queue waits grow past a second.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from kubesim.cli import main
from kubesim.runtime.costmodel import CostModel

CONFIGS = Path(__file__).resolve().parents[2] / "loadgen" / "configs"
BURST = """\
name: write-burst
namespace: {number: 10, prefix: burst}
tuningSets:
- {name: Burst, qpsLoad: {qps: 1500}}
steps:
- name: Start
  measurements:
  - {Identifier: API, Method: APIResponsivenessPrometheus, Params: {action: start}}
  - {Identifier: Etcd, Method: EtcdMetrics, Params: {action: start}}
- name: Burst of ConfigMaps
  phases:
  - namespaceRange: {min: 1, max: 10}
    replicasPerNamespace: 200
    tuningSet: Burst
    objectBundle:
    - {basename: cm, objectTemplatePath: configmap.yaml, templateFillMap: {Group: burst}}
- name: Gather
  measurements:
  - {Identifier: API, Method: APIResponsivenessPrometheus, Params: {action: gather}}
  - {Identifier: Etcd, Method: EtcdMetrics, Params: {action: gather}}
"""


def _run(tmp_path: Path, name: str, overrides: dict[str, float]) -> tuple[int, dict[str, Any], str]:
    config = yaml.safe_load(BURST)
    config["cluster"] = {"name": "burst", "controlPlane": {"topology": "stacked", "machines": 3},
                         "apiserver": {"max-requests-inflight": 50, "max-mutating-requests-inflight": 25},
                         "nodePools": [{"name": "pool", "count": 1}], "runtime": {"type": "sim", "seed": 2},
                         "costModel": {"overrides": overrides}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    shutil.copy(CONFIGS / "configmap.yaml", tmp_path / "configmap.yaml")
    out = tmp_path / name
    code = main(["load", str(path), "--out", str(out)])
    return code, json.loads((out / "result.json").read_text()), (out / "report.html").read_text()


def _post_configmaps(result: dict[str, Any]) -> dict[str, Any]:
    api = next(m for m in result["measurements"] if m["identifier"] == "API")
    return next(c for c in api["summary"]["calls"] if c["verb"] == "POST" and c["resource"] == "configmaps")


def test_tenfold_fsync_breaks_the_mutating_slo(tmp_path: Path) -> None:
    fsync = CostModel.load().latency("disk.fsync")
    code, base, _html = _run(tmp_path, "base", {})
    slow_code, slow, html = _run(tmp_path, "slow", {"disk.fsync.median": fsync.median * 10,
                                                    "disk.fsync.p99": fsync.p99 * 10})
    assert code == 0 and base["passed"]
    assert _post_configmaps(base)["perc99"] <= 1.0
    call = _post_configmaps(slow)
    assert call["count"] >= 2000 and call["perc99"] > 1.0 and not call["pass"]
    assert slow_code == 1 and not slow["passed"]
    assert any(s["name"].startswith("POST configmaps") and not s["pass"] for s in slow["slos"])
    # the slowdown is etcd's: its WAL fsyncs took about ten times longer
    fsyncs = [r["measurements"][1]["summary"]["etcd_disk_wal_fsync_duration_seconds"]["perc50"] for r in (base, slow)]
    assert fsyncs[1] > 5 * fsyncs[0]
    assert "SLOs violated" in html and "POST configmaps (resource) p99" in html
