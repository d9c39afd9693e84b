"""kubeadm's control-plane static pods (sim): each control-plane machine's kubelet runs
them and shows them in kube-system as mirror pods owned by its Node; etcd only in the
stacked topology; a crashed control-plane machine's Node goes NotReady and its mirror
pods with it, as any node's pods."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubesim.cluster import static_pods
from kubesim.cluster.addons import api
from kubesim.cluster.bootstrap import Bootstrap
from kubesim.cluster.build import Placed, place
from kubesim.cluster.executor import FaultExecutor
from kubesim.cluster.run import make_runtime
from kubesim.cluster.spec import ClusterSpec
from kubesim.cluster.topology import plan
from kubesim.runtime.base import Runtime
from kubesim.specs import parse_spec

ZONES = ["zone-a", "zone-b", "zone-c"]
COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
GRACE = 20.0  # --node-monitor-grace-period of these clusters


def spec_of(topology: str, machines: int, faults: list[dict[str, Any]] | None = None) -> ClusterSpec:
    return parse_spec({"kind": "Cluster", "name": "t", "zones": ZONES,
                       "controlPlane": {"topology": topology, "machines": machines},
                       "controllerManager": {"node-monitor-grace-period": f"{GRACE:g}s"},
                       "faults": faults or [], "duration": "60s", "runtime": {"seed": 5}})


async def kube_system_pods(rt: Runtime, placed: Placed) -> dict[str, dict[str, Any]]:
    reply = await api(rt, placed.apiservers, placed.token, "GET", "/api/v1/namespaces/kube-system/pods")
    assert reply["code"] == 200, reply
    return {p["metadata"]["name"]: p for p in reply["body"]["items"]}


def running(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running"


def ready(pod: dict[str, Any]) -> str:
    return next((c["status"] for c in (pod.get("status") or {}).get("conditions") or () if c["type"] == "Ready"), "")


async def until(rt: Runtime, check: Any, timeout: float = 120.0) -> Any:
    """Poll `check()` every simulated second until it returns something truthy."""
    deadline = rt.now() + timeout
    while not (result := await check()):
        assert rt.now() < deadline, "timed out"
        await rt.sleep(1.0)
    return result


def run(spec: ClusterSpec, tmp_path: Path, drive: Any) -> Any:
    cluster = plan(spec)
    rt = make_runtime(spec, tmp_path)
    try:
        placed = place(rt, spec, cluster)
        return rt.run(lambda r: drive(r, cluster, placed))
    finally:
        rt.close()


def stage(boot: dict[str, Any], name: str) -> int:
    """How many the bootstrap stage `name` counted when it finished."""
    [found] = [s for s in boot["stages"] if s["stage"] == name]
    assert found["simulated_seconds"] is not None
    return found["count"]


def mirrors(names: list[str]) -> Any:
    """A check: the kube-system pods once every pod of `names` is Running and Ready."""
    async def check(rt: Runtime, placed: Placed) -> dict[str, dict[str, Any]] | None:
        pods = await kube_system_pods(rt, placed)
        return pods if all(n in pods and running(pods[n]) and ready(pods[n]) == "True" for n in names) else None
    return check


def test_stacked_control_plane_runs_as_mirror_pods_and_a_crashed_machine_goes_not_ready(tmp_path):
    spec = spec_of("stacked", 3, [{"name": "crash", "type": "crashMachine", "machines": ["cp-2"], "at": "1s"}])
    machines = ["cp-0", "cp-1", "cp-2"]
    expected = [f"{c}-{m}" for m in machines for c in ("etcd", *COMPONENTS)]

    async def drive(rt: Runtime, cluster: Any, placed: Placed) -> Any:
        boot = await Bootstrap(rt, spec, placed, None).run()
        assert stage(boot, "control-plane pods Running") == len(expected)
        pods = await until(rt, lambda: mirrors(expected)(rt, placed))
        nodes = (await api(rt, placed.apiservers, placed.token, "GET", "/api/v1/nodes"))["body"]["items"]
        executor = FaultExecutor(rt, spec.faults, placed, cluster, rt.now(), "sim")
        executor.start()

        async def not_ready() -> tuple[dict[str, dict[str, Any]], dict[str, Any]] | None:
            node = (await api(rt, placed.apiservers, placed.token, "GET", "/api/v1/nodes/cp-2"))["body"]
            if next(c for c in node["status"]["conditions"] if c["type"] == "Ready")["status"] == "True":
                return None
            now = await kube_system_pods(rt, placed)
            gone = [now[f"{c}-cp-2"] for c in ("etcd", *COMPONENTS)]
            return (now, node) if all(ready(p) == "False" for p in gone) else None
        after, node = await until(rt, not_ready, timeout=GRACE + 60.0)
        await executor.stop()
        return pods, nodes, after, node

    pods, nodes, after, crashed = run(spec, tmp_path, drive)
    uids = {n["metadata"]["name"]: n["metadata"]["uid"] for n in nodes}
    for machine in machines:
        for component in ("etcd", *COMPONENTS):
            pod = pods[f"{component}-{machine}"]
            meta, pod_spec = pod["metadata"], pod["spec"]
            assert meta["annotations"]["kubernetes.io/config.mirror"] == meta["annotations"]["kubernetes.io/config.hash"]
            assert meta["annotations"]["kubernetes.io/config.source"] == "file"
            assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": machine,
                                                "uid": uids[machine], "controller": True}]
            assert meta["labels"] == {"component": component, "tier": "control-plane"}
            assert pod_spec["nodeName"] == machine and pod_spec["hostNetwork"] is True
            assert pod_spec["priorityClassName"] == "system-node-critical" and pod_spec["priority"] == 2000001000
            [container] = pod_spec["containers"]
            assert container["image"] == (static_pods.ETCD_IMAGE if component == "etcd"
                                          else f"registry.k8s.io/{component}:v1.32.0")
            assert container["command"][0] == component
            # host network: the pod's IP is its node's
            node = next(n for n in nodes if n["metadata"]["name"] == machine)
            assert pod["status"]["podIP"] == node["status"]["addresses"][0]["address"]
    etcd = pods["etcd-cp-0"]["spec"]["containers"][0]["command"]
    ips = [pods[f"etcd-{m}"]["status"]["podIP"] for m in machines]
    assert "--initial-cluster=" + ",".join(f"{m}=https://{ip}:2380" for m, ip in zip(machines, ips, strict=True)) in etcd
    apiserver = pods["kube-apiserver-cp-1"]["spec"]["containers"][0]["command"]
    assert "--etcd-servers=https://127.0.0.1:2379" in apiserver and f"--advertise-address={ips[1]}" in apiserver
    # the crashed machine's Node is NotReady (its kubelet stopped posting), its mirror pods
    # stay in the API, marked not ready by the node lifecycle controller; the others keep running
    condition = next(c for c in crashed["status"]["conditions"] if c["type"] == "Ready")
    assert condition["status"] == "Unknown" and condition["reason"] == "NodeStatusUnknown"
    assert all(ready(after[f"{c}-cp-0"]) == "True" for c in ("etcd", *COMPONENTS))


def test_external_etcd_has_no_etcd_static_pods(tmp_path):
    spec = spec_of("external", 1)
    expected = [f"{c}-cp-0" for c in COMPONENTS]

    async def drive(rt: Runtime, cluster: Any, placed: Placed) -> Any:
        boot = await Bootstrap(rt, spec, placed, None).run()
        assert stage(boot, "control-plane pods Running") == len(expected)
        return await until(rt, lambda: mirrors(expected)(rt, placed))

    pods = run(spec, tmp_path, drive)
    control_plane = sorted(n for n, p in pods.items() if p["metadata"]["labels"].get("tier") == "control-plane")
    assert control_plane == sorted(expected)
    assert not any(name.startswith("etcd-") for name in pods)
    apiserver = pods["kube-apiserver-cp-0"]["spec"]["containers"][0]["command"]
    assert "--etcd-servers=https://etcd-0:2379,https://etcd-1:2379,https://etcd-2:2379" in apiserver


@pytest.mark.parametrize("topology", ["stacked", "external"])
def test_manifests_follow_the_plan(topology):
    spec = parse_spec({"kind": "Cluster", "name": "t", "zones": ZONES,
                       "controlPlane": {"topology": topology, "machines": 3, "schedulers": 2},
                       "nodePools": [{"name": "pool", "count": 2}]})
    manifests = static_pods.control_plane_manifests(spec, plan(spec), "10.244.0.0/16")
    assert sorted(manifests) == ["cp-0", "cp-1", "cp-2"]  # worker nodes run none
    names = {node: sorted(m["metadata"]["name"] for m in pods) for node, pods in manifests.items()}
    etcd = ["etcd"] if topology == "stacked" else []
    assert names["cp-0"] == sorted([*etcd, *COMPONENTS])
    assert names["cp-2"] == sorted([*etcd, "kube-apiserver", "kube-controller-manager"])  # 2 schedulers
