"""The scheduler actor against the real control plane on sim: an etcd member, an apiserver
replica and the actor-message client (kubesim/components/apiserver/client.py). Two replicas
elect a leader through a Lease stored in etcd; the leader binds pods through pods/binding,
records events and reports the pod it cannot place; killed, it is replaced by the standby
within the lease duration and no pod is bound twice. A pod with a malformed affinity never
gets that far: the apiserver answers 422."""

from __future__ import annotations

from typing import Any

import pytest

from kubesim.api.status import APIError
from kubesim.components.apiserver.client import client_factory
from kubesim.components.scheduler.actor import SchedulerActor
from kubesim.runtime.actor import Actor, ActorSpec
from kubesim.runtime.address import Address, Machine
from tests.components.apiserver.rest.clusters import TOKEN, sim_control_plane

from .helpers import node, pod

EPOCH = 1_700_000_000.0


class Admin(Actor):
    """Holds an admin client for the test's writes and reads."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory

    def on_start(self) -> None:
        self.client = self.factory(self.ctx)

    def receive(self, sender: Address, message: Any) -> Any:
        raise AssertionError(f"unexpected message {message!r}")


def api_pod(name: str, **kwargs: Any) -> dict[str, Any]:
    p = pod(name, **kwargs)
    del p["metadata"]["uid"], p["status"]
    return p


def test_leader_binds_through_the_real_apiserver():
    rt, plane = sim_control_plane(seed=21)
    try:
        rt.add_machine(Machine("admin", "zone-a", "client"))
        rt.spawn(ActorSpec(Address("admin", "a"), Admin, "admin",
                           kwargs={"factory": client_factory(plane.apiservers, token=TOKEN)}))
        for name in ("s0", "s1"):
            rt.add_machine(Machine(f"cp-{name}", "zone-a", "control-plane"))
            factory = client_factory(plane.apiservers, user="system:kube-scheduler",
                                     user_agent="kube-scheduler/v1.32.0")
            rt.spawn(ActorSpec(Address("scheduler", name), SchedulerActor, f"cp-{name}",
                               kwargs={"client_factory": factory, "epoch": EPOCH}))

        async def main(rt: Any) -> dict[str, Any]:
            api = rt.actor("admin/a").client
            for i in range(3):
                n = node(f"n{i}", cpu="2", memory="4Gi")
                del n["status"]["images"]
                await api.create("nodes", n)
            anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}]}}
            for i in range(3):
                await api.create("pods", api_pod(f"db{i}", cpu="500m", labels={"app": "db"}, affinity=anti))
            for i in range(3):
                await api.create("pods", api_pod(f"web{i}", cpu="500m"))
            await api.create("pods", api_pod("huge", cpu="8"))
            bad = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": ""}]}}
            with pytest.raises(APIError) as rejected:
                await api.create("pods", api_pod("bad", affinity=bad))
            assert rejected.value.code == 422
            assert [c["field"] for c in rejected.value.status["details"]["causes"]] == [
                "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey"] * 3

            async def placed() -> bool:
                pods = (await api.list("pods", "default"))["items"]
                return sum(1 for p in pods if p["spec"].get("nodeName")) == 6 and any(
                    c["type"] == "PodScheduled" and c["status"] == "False"
                    for p in pods if p["metadata"]["name"] == "huge" for c in p["status"].get("conditions") or ())

            await rt.wait_until(placed, 120.0, poll=0.5)
            out = {"pods": (await api.list("pods", "default"))["items"],
                   "events": (await api.list("events", "default"))["items"],
                   "lease": await api.get("leases.coordination.k8s.io", "kube-system", "kube-scheduler"),
                   "status": [await rt.ask(f"scheduler/{n}", ["status"]) for n in ("s0", "s1")]}
            leader = next(n for n, s in zip(("s0", "s1"), out["status"], strict=True) if s["leading"])
            await rt.crash_actor(f"scheduler/{leader}")
            crashed = rt.now()
            for i in range(3):
                await api.create("pods", api_pod(f"late{i}", cpu="100m"))

            async def late_placed() -> bool:
                pods = (await api.list("pods", "default"))["items"]
                return sum(1 for p in pods if p["metadata"]["name"].startswith("late") and p["spec"].get("nodeName")) == 3

            await rt.wait_until(late_placed, 60.0, poll=0.1)
            out["takeover"] = rt.now() - crashed
            out["after"] = await api.get("leases.coordination.k8s.io", "kube-system", "kube-scheduler")
            out["all_events"] = (await api.list("events", "default"))["items"]
            return out

        out = rt.run(main)
    finally:
        rt.close()

    placed = {p["metadata"]["name"]: p["spec"].get("nodeName") for p in out["pods"]}
    assert not placed["huge"]
    db_nodes = [placed[f"db{i}"] for i in range(3)]
    assert sorted(db_nodes) == ["n0", "n1", "n2"]  # one per node: anti-affinity
    assert all(placed[f"web{i}"] in ("n0", "n1", "n2") for i in range(3))
    by_name = {p["metadata"]["name"]: p for p in out["pods"]}
    scheduled = next(c for c in by_name["web0"]["status"]["conditions"] if c["type"] == "PodScheduled")
    assert scheduled["status"] == "True"
    huge = next(c for c in by_name["huge"]["status"]["conditions"] if c["type"] == "PodScheduled")
    assert huge["reason"] == "Unschedulable" and huge["message"].startswith("0/3 nodes are available: 3 Insufficient cpu.")
    reasons = sorted(e["reason"] for e in out["events"])
    assert reasons.count("Scheduled") == 6 and "FailedScheduling" in reasons
    leaders = [s for s in out["status"] if s["leading"]]
    assert len(leaders) == 1 and out["lease"]["spec"]["holderIdentity"] == leaders[0]["identity"]
    # The standby takes over within the lease (15 s) counted from when it last saw the record
    # change (up to one jittered retry period, 2 s x (1 + 1.2), after the leader's last renew,
    # which precedes the crash), plus one more jittered retry period until its next attempt,
    # plus scheduling: client-go's acquire loop is wait.JitterUntil(retryPeriod, 1.2).
    assert out["takeover"] <= 15.0 + 2 * (2.0 * 2.2) + 1.0
    assert out["after"]["spec"]["holderIdentity"] != leaders[0]["identity"]
    assert out["after"]["spec"]["leaseTransitions"] == out["lease"]["spec"].get("leaseTransitions", 0) + 1
    scheduled = [e for e in out["all_events"] if e["reason"] == "Scheduled"]
    assert len({e["involvedObject"]["name"] for e in scheduled}) == len(scheduled) == 9
    assert all(e["count"] == 1 for e in scheduled)
