"""The kubelet actor on the sim runtime against the in-memory apiserver: node registration,
Lease renewal, node status reporting, pods run and reported through pods/status, graceful
deletion ending in the kubelet's own delete, static pods with mirror pods, metrics."""

from __future__ import annotations

from kubesim.api.meta import parse_timestamp
from kubesim.components.kubelet import behavior

from .harness import EPOCH, web_pod


def test_registers_its_node_renews_its_lease_and_reports_status(cluster):
    name = cluster.kubelet(1, taints=[{"key": "example.com/pool", "value": "a", "effect": "NoSchedule"}],
                           kube_reserved={"cpu": "100m", "memory": "256Mi"})

    async def main():
        await cluster.rt.sleep(0.5)
        node = cluster.get("nodes", "", name)
        assert node is not None
        assert (node["metadata"]["labels"]["kubernetes.io/hostname"],
                node["metadata"]["labels"]["topology.kubernetes.io/zone"],
                node["metadata"]["labels"]["node.kubernetes.io/instance-type"]) == (name, "zone-a", "m5.xlarge")
        assert node["spec"]["podCIDR"] == "10.244.1.0/24" and node["spec"]["podCIDRs"] == ["10.244.1.0/24"]
        assert node["spec"]["taints"] == [{"key": "example.com/pool", "value": "a", "effect": "NoSchedule"}]
        assert node["status"]["capacity"]["cpu"] == "4"
        assert node["status"]["allocatable"] == {
            "cpu": "3900m", "ephemeral-storage": "90Gi", "hugepages-1Gi": "0", "hugepages-2Mi": "0",
            "memory": "16028Mi", "pods": "110"}
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "False" and "PLEG is not healthy" in ready["message"]
        await cluster.rt.sleep(60.0)

    cluster.run(main)
    node = cluster.get("nodes", "", name)
    conditions = [(c["type"], c["status"], c["reason"]) for c in node["status"]["conditions"]]
    assert conditions == [("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                          ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                          ("PIDPressure", "False", "KubeletHasSufficientPID"),
                          ("Ready", "True", "KubeletReady")]
    assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.32.0"
    assert node["status"]["addresses"] == [{"type": "InternalIP", "address": "10.0.0.11"},
                                           {"type": "Hostname", "address": name}]
    lease = cluster.get("leases.coordination.k8s.io", "kube-node-lease", name)
    assert lease["spec"]["holderIdentity"] == name and lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]
    renew = parse_timestamp(lease["spec"]["renewTime"].split(".")[0] + "Z") - EPOCH
    assert 50 <= renew <= 60.5
    lease_updates = [t for t, verb, res, _ in cluster.log if verb == "update" and res.startswith("leases")]
    assert len(lease_updates) == 6 and all(b - a == 10.0 for a, b in zip(lease_updates, lease_updates[1:], strict=False))
    # Ready flipped once; an unchanged status is not posted again within 5 minutes
    assert cluster.calls[("patch", "nodes", "status")] == 1


def test_node_status_is_reported_every_five_minutes_when_unchanged(cluster):
    cluster.kubelet(1)
    cluster.run(lambda: cluster.rt.sleep(700.0))
    posts = [t for t, verb, res, sub in cluster.log if (verb, res, sub) == ("patch", "nodes", "status")]
    assert len(posts) == 3  # Ready at ~10 s, then heartbeats of the report frequency
    assert posts[1] - posts[0] >= 300.0 and posts[2] - posts[1] >= 300.0


def test_existing_node_is_adopted(cluster):
    async def main():
        await cluster.api.create("nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}})
        cluster.kubelet(1)
        await cluster.rt.sleep(1.0)

    cluster.run(main)
    node = cluster.get("nodes", "", "node-1")
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "node-1"
    assert cluster.calls[("update", "nodes", "")] == 1


def test_runs_a_pod_and_deletes_it_after_graceful_termination(cluster):
    cluster.kubelet(1)

    async def main():
        await cluster.rt.sleep(1.0)
        await cluster.api.create("pods", web_pod(**{behavior.SHUTDOWN_SECONDS: "3"}))
        await cluster.until(lambda: (cluster.get("pods", "default", "web") or {}).get("status", {}).get("phase") == "Running")
        pod = cluster.get("pods", "default", "web")
        assert pod["status"]["podIP"] == "10.244.1.2"
        assert next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")["status"] == "True"
        assert pod["status"]["containerStatuses"][0]["state"]["running"]
        await cluster.rt.sleep(5.0)
        deleted_at = cluster.rt.now()
        await cluster.api.delete("pods", "default", "web")
        await cluster.until(lambda: cluster.get("pods", "default", "web") is None, timeout=60)
        return cluster.rt.now() - deleted_at

    took = cluster.run(main)
    assert 3.0 <= took <= 6.0  # SIGTERM at the next relist, 3 s to exit, then status and delete
    deletes = [entry for entry in cluster.log if entry[1:] == ("delete", "pods", "")]
    assert len(deletes) == 1
    assert cluster.calls[("patch", "pods", "status")] >= 3  # Pending, Running, terminal
    assert cluster.metric("kubelet_running_pods", node="node-1") == 0
    assert cluster.metric("kubelet_node_name", node="node-1") == 1
    assert cluster.metric("kubelet_pod_start_sli_duration_seconds_count", node="node-1") == 1
    assert cluster.metric("kubelet_pleg_relist_duration_seconds_count", node="node-1") >= 3


def test_status_writes_are_skipped_when_nothing_changed(cluster):
    cluster.kubelet(1)

    async def main():
        await cluster.api.create("pods", web_pod())
        await cluster.rt.sleep(400.0)

    cluster.run(main)
    # Pending, then Running and Ready: periodic resyncs write nothing
    assert cluster.calls[("patch", "pods", "status")] == 2


def test_rejected_pod_is_failed(cluster):
    cluster.kubelet(1)
    big = web_pod("big")
    big["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "64"}}

    async def main():
        await cluster.rt.sleep(1.0)
        await cluster.api.create("pods", big)
        await cluster.until(lambda: (cluster.get("pods", "default", "big") or {}).get("status", {}).get("phase") == "Failed")

    cluster.run(main)
    status = cluster.get("pods", "default", "big")["status"]
    assert status["reason"] == "OutOfcpu" and status["message"].startswith("Pod was rejected: ")


def test_static_pods_run_with_mirror_pods(cluster):
    manifest = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "etcd", "namespace": "kube-system"},
                "spec": {"hostNetwork": True, "containers": [{"name": "etcd", "image": "example.com/small:1"}]}}
    name = cluster.kubelet(1, static_pods=[manifest])

    async def main():
        await cluster.until(lambda: ((cluster.get("pods", "kube-system", f"etcd-{name}") or {})
                                     .get("status", {}).get("phase")) == "Running", timeout=60)
        mirror = cluster.get("pods", "kube-system", f"etcd-{name}")
        annotations = mirror["metadata"]["annotations"]
        assert annotations["kubernetes.io/config.mirror"] == annotations["kubernetes.io/config.hash"]
        assert annotations["kubernetes.io/config.source"] == "file"
        owner = mirror["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("Node", name, True)
        assert mirror["status"]["podIP"] == "10.0.0.11"  # host network
        # a deleted mirror pod is created again
        await cluster.api.delete("pods", "kube-system", f"etcd-{name}", grace_period_seconds=0)
        await cluster.until(lambda: cluster.get("pods", "kube-system", f"etcd-{name}") is not None, timeout=60)
        # removing the manifest stops the pod and deletes its mirror
        await cluster.rt.tell(f"kubelet/{name}", {"op": "set_static_pods", "manifests": []})
        await cluster.until(lambda: cluster.get("pods", "kube-system", f"etcd-{name}") is None, timeout=60)
        kubelet = cluster.rt.actor(f"kubelet/{name}")
        await cluster.until(lambda: not kubelet.loop.workers, timeout=60)

    cluster.run(main)
    assert cluster.metric("kubelet_running_pods", node=name) == 0


def test_startup_sli_excludes_the_image_pull(cluster):
    """kubelet_pod_start_sli_duration_seconds: pod creation to all containers running as
    seen on the watch, minus the image pulls; kubelet_pod_start_duration_seconds keeps them."""
    cluster.kubelet(1)

    async def main():
        await cluster.rt.sleep(2.0)
        pod = web_pod("pulls")
        pod["spec"]["containers"][0]["image"] = "example.com/app:1"  # 1 s + 4 MB at 1 MB/s
        created = await cluster.api.create("pods", pod)
        await cluster.until(lambda: (cluster.get("pods", "default", "pulls") or {}).get("status", {})
                            .get("phase") == "Running")
        return parse_timestamp(created["metadata"]["creationTimestamp"]) - EPOCH, cluster.rt.now()

    created, running = cluster.run(main)
    sli = cluster.metric("kubelet_pod_start_sli_duration_seconds_sum", node="node-1")
    start = cluster.metric("kubelet_pod_start_duration_seconds_sum", node="node-1")
    assert cluster.metric("kubelet_pod_start_sli_duration_seconds_count", node="node-1") == 1
    assert start >= 5.0  # the pull took 5 s of it
    assert 0.0 < sli <= running - created - 5.0 + 1e-9
    assert sli < start - 4.0


def test_kube_api_qps_paces_pod_writes_but_not_the_heartbeat(cluster):
    """kubeAPIQPS / kubeAPIBurst throttle the kube client; the heartbeat client (Lease,
    node status) is unthrottled, as the kubelet builds it with QPS -1."""
    cluster.kubelet(1, kube_api_qps=1.0, kube_api_burst=1)

    async def main():
        await cluster.rt.sleep(1.0)
        for i in range(15):
            await cluster.api.create("pods", web_pod(f"web-{i}"))
        await cluster.until(lambda: all(p["status"].get("phase") == "Running"
                                        for p in cluster.api.objects("pods", "default")), timeout=300.0)
        await cluster.rt.sleep(30.0)

    cluster.run(main)
    throttled = [t for t, _, res, sub in cluster.log
                 if not res.startswith("leases") and (res, sub) != ("nodes", "status")]
    assert len(throttled) > 30
    gaps = [b - a for a, b in zip(throttled, throttled[1:], strict=False)]
    assert min(gaps) >= 1.0 - 1e-6  # one token a second, burst 1
    leases = [t for t, verb, res, _ in cluster.log if verb == "update" and res.startswith("leases")]
    assert all(b - a == 10.0 for a, b in zip(leases, leases[1:], strict=False))
