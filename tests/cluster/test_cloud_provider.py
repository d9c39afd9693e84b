"""`cloudProvider: external` on sim: kubelets register tainted uninitialized, the leading
cloud-controller-manager (one per control-plane machine) initializes every node from the
fake cloud (providerID, zone), the taint goes, and the spec's workload runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubesim.cluster.addons import api
from kubesim.cluster.build import admin_token
from kubesim.cluster.run import make_runtime, run_cluster
from kubesim.components.cloud.node import UNINITIALIZED_TAINT
from kubesim.specs import parse_spec

SPEC: dict[str, Any] = {
    "kind": "Cluster", "name": "cloudy", "zones": ["zone-a", "zone-b"], "cloudProvider": "external",
    "controlPlane": {"machines": 3}, "nodePools": [{"name": "pool", "count": 2}],
    "workloads": [{"name": "web", "replicas": 4}], "duration": "30s",
    "probe": {"writesPerSecond": 2, "readsPerSecond": 2}, "runtime": {"seed": 5},
}


def test_the_cloud_controller_manager_initializes_every_node(tmp_path: Path) -> None:
    spec = parse_spec(SPEC, "cloudy.yaml")
    rt = make_runtime(spec, tmp_path / "state")
    try:
        report = run_cluster(spec, tmp_path / "run", runtime=rt)
        token = admin_token(spec.runtime.seed)
        apiservers = [f"apiserver/apiserver-{i}" for i in range(3)]

        async def read(r: Any) -> tuple[dict[str, Any], dict[str, Any]]:
            nodes = await api(r, apiservers, token, "GET", "/api/v1/nodes")
            pods = await api(r, apiservers, token, "GET", "/api/v1/namespaces/default/pods")
            return nodes["body"], pods["body"]

        nodes, pods = rt.run(read)
    finally:
        rt.close()
    assert len(nodes["items"]) == 5  # 3 control-plane machines and 2 workers
    for node in nodes["items"]:
        name = node["metadata"]["name"]
        zone = node["metadata"]["labels"]["topology.kubernetes.io/zone"]
        assert node["spec"]["providerID"] == f"fake://{zone}/{name}"
        assert not [t for t in node["spec"].get("taints") or [] if t["key"] == UNINITIALIZED_TAINT]
    web = [p for p in pods["items"] if p["metadata"]["labels"].get("app") == "web"]
    assert len(web) == 4 and all(p["status"]["phase"] == "Running" for p in web)
    holders = [leader for _, leader in report["leaders"]["cloud-controller-manager"]]
    assert holders and holders[-1] is not None and holders[-1].startswith("cloud-controller-manager/")
    assert report["actor_errors"] == []


def test_kubelets_register_uninitialized_only_with_an_external_cloud() -> None:
    from kubesim.cluster.agents import kubelet_config
    from kubesim.cluster.topology import plan

    node = plan(parse_spec(SPEC, "cloudy.yaml")).nodes[-1]
    tainted = kubelet_config(0, node, "10.244.0.0/16", 0.0, external_cloud=True)
    assert {"key": UNINITIALIZED_TAINT, "value": "true", "effect": "NoSchedule"} in tainted.taints
    assert not kubelet_config(0, node, "10.244.0.0/16", 0.0).taints
