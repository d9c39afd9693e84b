"""kube-controller-manager against a real etcd member and a real apiserver replica on the
sim runtime, through the in-cluster ApiserverClient: a Deployment converges (a stand-in
kubelet binds pods and reports them ready), is rolled and scaled, and the
ResourceQuota controller's status.hard makes the apiserver's quota admission enforce."""

from __future__ import annotations

from typing import Any

import pytest

from kubesim.api.status import APIError
from kubesim.components.apiserver.client import client_factory
from kubesim.components.controllers.manager import KubeControllerManager
from kubesim.runtime.actor import ActorSpec
from kubesim.runtime.address import Address, Machine
from tests.components.apiserver.rest.clusters import TOKEN, sim_control_plane
from tests.components.apiserver.test_client import holder
from tests.components.controllers.harness import EPOCH, template

LABELS = {"app": "web"}
MERGE = "application/merge-patch+json"


def deployment(replicas: int, image: str = "nginx:1.25") -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": LABELS}, "template": template(LABELS, image)}}


@pytest.fixture(scope="module")
def plane():
    rt, plane = sim_control_plane(seed=21)
    rt.add_machine(Machine("cp-kcm", "zone-a", "control-plane"))
    rt.spawn(ActorSpec(Address("kube-controller-manager", "kcm-0"), KubeControllerManager, "cp-kcm", kwargs={
        "client": client_factory(plane.apiservers, token=TOKEN, user_agent="kube-controller-manager"),
        "controllers": ("deployment", "replicaset", "job", "resourcequota", "garbagecollector"),
        "epoch": EPOCH}))
    client = holder(rt, "test-driver", plane.apiservers, token=TOKEN, user_agent="test-driver")

    async def node(rt: Any) -> None:
        await client.create("nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-0"},
                                      "status": {"capacity": {"cpu": "64", "memory": "256Gi", "pods": "110"}}})
    rt.run(node)
    yield rt, client
    rt.close()


async def kubelet_pass(client: Any) -> None:
    """A stand-in scheduler and kubelet: bind pending pods, report bound ones Running and
    Ready, and finish the graceful deletion of pods being deleted."""
    pods = (await client.list("pods", "default"))["items"]
    for pod in pods:
        md = pod["metadata"]
        if md.get("deletionTimestamp"):
            try:
                await client.delete("pods", "default", md["name"], grace_period_seconds=0)
            except APIError as err:
                if err.code != 404:
                    raise
            continue
        if not pod["spec"].get("nodeName"):
            try:
                await client.create("pods", {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": md["name"]},
                                             "target": {"kind": "Node", "name": "node-0"}}, "default", "binding")
            except APIError as err:
                if err.code not in (404, 409):  # deleted since the list
                    raise
        elif (pod.get("status") or {}).get("phase", "Pending") == "Pending":
            stamp = "2023-11-14T22:13:20Z"
            pod["status"] = {"phase": "Running", "podIP": "10.244.0.5", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": stamp},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp}]}
            try:
                await client.update("pods", pod, "status")
            except APIError as err:
                if err.code not in (404, 409):
                    raise


def converge(rt: Any, client: Any, done: Any, timeout: float = 120.0) -> None:
    async def go(rt: Any) -> None:
        async def check() -> bool:
            await kubelet_pass(client)
            return bool(await done())
        await rt.wait_until(check, timeout, poll=0.5)
    rt.run(go)


def test_deployment_converges_through_a_real_apiserver(plane):
    rt, client = plane

    async def create(rt: Any) -> None:
        await client.create("deployments.apps", deployment(4))
    rt.run(create)

    def complete(replicas: int, image: str) -> Any:
        async def done() -> bool:
            d = await client.get("deployments.apps", "default", "web")
            st = d.get("status") or {}
            pods = (await client.list("pods", "default", label_selector="app=web"))["items"]
            return (st.get("observedGeneration") == d["metadata"]["generation"]
                    and st.get("updatedReplicas") == replicas and st.get("availableReplicas") == replicas
                    and st.get("replicas") == replicas and len(pods) == replicas
                    and all(p["spec"]["containers"][0]["image"] == image for p in pods))
        return done

    converge(rt, client, complete(4, "nginx:1.25"))

    async def roll(rt: Any) -> None:
        await client.patch("deployments.apps", "default", "web", {"spec": {"replicas": 6, "template": {"spec": {
            "containers": [{"name": "app", "image": "nginx:1.26"}]}}}})
    rt.run(roll)
    converge(rt, client, complete(6, "nginx:1.26"))

    async def owners(rt: Any) -> tuple[int, set[str]]:
        rss = (await client.list("replicasets.apps", "default"))["items"]
        pods = (await client.list("pods", "default", label_selector="app=web"))["items"]
        return len(rss), {p["metadata"]["ownerReferences"][0]["name"] for p in pods}
    count, pod_owners = rt.run(owners)
    assert count == 2 and len(pod_owners) == 1

    async def delete(rt: Any) -> None:
        await client.delete("deployments.apps", "default", "web")

        async def gone() -> bool:
            await kubelet_pass(client)
            rss = (await client.list("replicasets.apps", "default"))["items"]
            pods = (await client.list("pods", "default", label_selector="app=web"))["items"]
            return not rss and not pods
        await rt.wait_until(gone, 60.0, poll=0.5)
    rt.run(delete)


@pytest.mark.parametrize("mode", ["NonIndexed", "Indexed"])
def test_job_completes_and_releases_its_finalizers(plane, mode):
    """The tracking finalizer comes off through the real strategic merge patch
    ($deleteFromPrimitiveList) and the pods' deletion is not blocked by it; an Indexed
    Job's pods (downward-API env var, hostname) pass the real validation."""
    rt, client = plane

    async def go(rt: Any) -> dict[str, Any]:
        tpl = template({"app": "pi"})
        tpl["spec"]["restartPolicy"] = "Never"
        await client.create("jobs.batch", {"apiVersion": "batch/v1", "kind": "Job",
                                           "metadata": {"name": "pi", "namespace": "default"},
                                           "spec": {"completions": 3, "parallelism": 2, "template": tpl,
                                                    "completionMode": mode}})

        async def finish_running() -> bool:
            await kubelet_pass(client)
            for pod in (await client.list("pods", "default", label_selector="job-name=pi"))["items"]:
                if (pod.get("status") or {}).get("phase") == "Running":
                    pod["status"]["phase"] = "Succeeded"
                    pod["status"]["conditions"][0]["status"] = "False"
                    try:
                        await client.update("pods", pod, "status")
                    except APIError as err:
                        if err.code != 409:
                            raise
            job = await client.get("jobs.batch", "default", "pi")
            return any(c["type"] == "Complete" for c in (job.get("status") or {}).get("conditions") or [])
        await rt.wait_until(finish_running, 120.0, poll=0.5)
        job = await client.get("jobs.batch", "default", "pi")
        pods = (await client.list("pods", "default", label_selector="job-name=pi"))["items"]
        await client.delete("jobs.batch", "default", "pi", propagation_policy="Background")

        async def collected() -> bool:
            await kubelet_pass(client)
            return not (await client.list("pods", "default", label_selector="job-name=pi"))["items"]
        await rt.wait_until(collected, 60.0, poll=0.5)
        return {"status": job["status"], "finalizers": [p["metadata"].get("finalizers") for p in pods],
                "hostnames": sorted(p["spec"].get("hostname", "") for p in pods),
                "phases": sorted((p.get("status") or {}).get("phase", "") for p in pods)}

    out = rt.run(go)
    assert out["status"]["succeeded"] == 3 and "failed" not in out["status"]
    assert all(not f for f in out["finalizers"]), out["finalizers"]
    assert out["phases"] == ["Succeeded"] * 3
    if mode == "Indexed":
        assert out["status"]["completedIndexes"] == "0-2"
        assert out["hostnames"] == ["pi-0", "pi-1", "pi-2"]


def test_quota_controller_makes_admission_enforce(plane):
    rt, client = plane

    async def go(rt: Any) -> dict[str, Any]:
        await client.create("resourcequotas", {"apiVersion": "v1", "kind": "ResourceQuota",
                                               "metadata": {"name": "pods", "namespace": "default"},
                                               "spec": {"hard": {"pods": "3"}}})

        async def computed() -> bool:
            q = await client.get("resourcequotas", "default", "pods")
            return (q.get("status") or {}).get("hard") == {"pods": "3"}
        await rt.wait_until(computed, 30.0)
        await client.create("replicasets.apps", {
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "capped", "namespace": "default"},
            "spec": {"replicas": 5, "selector": {"matchLabels": {"app": "capped"}},
                     "template": template({"app": "capped"})}})

        async def failed() -> bool:
            rs = await client.get("replicasets.apps", "default", "capped")
            return any(c["type"] == "ReplicaFailure" for c in (rs.get("status") or {}).get("conditions") or [])
        await rt.wait_until(failed, 60.0, poll=0.5)
        rs = await client.get("replicasets.apps", "default", "capped")
        pods = (await client.list("pods", "default", label_selector="app=capped"))["items"]
        quota = await client.get("resourcequotas", "default", "pods")
        return {"rs": rs, "pods": len(pods), "used": quota["status"]["used"]}

    out = rt.run(go)
    assert out["pods"] == 3
    assert out["used"] == {"pods": "3"}
    cond = next(c for c in out["rs"]["status"]["conditions"] if c["type"] == "ReplicaFailure")
    assert cond["reason"] == "FailedCreate"
    assert "exceeded quota: pods, requested: pods=1, used: pods=3, limited: pods=3" in cond["message"]
