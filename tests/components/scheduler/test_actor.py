"""The scheduler actor on the sim runtime against the in-memory apiserver: binding through
pods/binding with events and conditions, concurrent binding cycles, preemption, Permit,
profiles and out-of-tree plugins, leader election among replicas, unknown schedulers."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from kubesim.components.scheduler.actor import SchedulerActor
from kubesim.components.scheduler.interfaces import CycleState, PermitPlugin
from kubesim.components.scheduler.nodeinfo import PodInfo
from kubesim.components.scheduler.registry import Registry
from kubesim.components.scheduler.status import Status
from kubesim.runtime import ActorSpec, Address, Machine
from kubesim.runtime.sim import SimRuntime

from .fakes import FlakyClient, SchedulingFakeAPIServer, SlowClient
from .helpers import node, pod


class Cluster:
    """A sim runtime, the fake apiserver, and scheduler replicas on control-plane machines."""

    def __init__(self, seed: int = 1) -> None:
        self.rt = SimRuntime(seed=seed)
        self.api = SchedulingFakeAPIServer(clock=self.rt.now, rng=random.Random(seed))
        self.commits: list[tuple[str, str, dict[str, Any]]] = []
        self.api.observers.append(lambda ev, res, obj: self.commits.append((ev, res, obj)))

    def scheduler(self, name: str, client: Callable[..., Any] | None = None, **kwargs: Any) -> str:
        machine = f"cp-{name}"
        self.rt.add_machine(Machine(machine, zone="z1", role="control-plane"))
        factory = client or (lambda ctx: self.api)
        self.rt.spawn(ActorSpec(Address("scheduler", name), SchedulerActor, machine,
                                kwargs={"client_factory": factory, **kwargs}))
        return f"scheduler/{name}"

    def run(self, main: Callable[[], Any], limit: float = 600.0) -> Any:
        return self.rt.run(lambda rt: main(), limit=limit)

    async def until(self, predicate: Callable[[], bool], timeout: float = 120.0) -> None:
        async def check() -> bool:
            return predicate()
        await self.rt.wait_until(check, timeout)

    def pod(self, name: str, namespace: str = "default") -> dict[str, Any]:
        found = self.api.find("pods", namespace, name)
        assert found is not None, name
        return found

    def events(self, reason: str) -> list[dict[str, Any]]:
        return [e for e in self.api.objects("events") if e["reason"] == reason]

    def metric(self, name: str, **labels: str) -> float | None:
        return self.rt.metrics.registry.get_sample_value(name, labels)

    def close(self) -> None:
        self.rt.close()


@pytest.fixture
def cluster():
    c = Cluster()
    yield c
    c.close()


def bound_pods(api: SchedulingFakeAPIServer) -> dict[str, str]:
    return {p["metadata"]["name"]: p["spec"]["nodeName"] for p in api.objects("pods") if p["spec"].get("nodeName")}


def test_binds_pods_and_reports_the_unschedulable(cluster):
    cluster.scheduler("s0")
    api = cluster.api

    async def main():
        for i in range(3):
            await api.create("nodes", node(f"n{i}", cpu="2"))
        for i in range(5):
            await api.create("pods", pod(f"p{i}", cpu="500m"))
        await api.create("pods", pod("huge", cpu="16"))
        await cluster.until(lambda: len(bound_pods(api)) == 5)
        await cluster.rt.sleep(1.0)

    cluster.run(main)
    assert set(bound_pods(api)) == {f"p{i}" for i in range(5)}
    scheduled = sorted(e["message"] for e in cluster.events("Scheduled"))
    assert scheduled == sorted(f"Successfully assigned default/{p} to {n}" for p, n in bound_pods(api).items())
    huge = cluster.pod("huge")
    cond = next(c for c in huge["status"]["conditions"] if c["type"] == "PodScheduled")
    message = ("0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
               "3 No preemption victims found for incoming pod..")
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", message)
    failed = cluster.events("FailedScheduling")
    assert len(failed) == 1 and failed[0]["message"] == message
    assert failed[0]["source"] == {"component": "default-scheduler"}
    labels = {"instance": "s0", "profile": "default-scheduler"}
    assert cluster.metric("scheduler_schedule_attempts_total", result="scheduled", **labels) == 5
    assert cluster.metric("scheduler_schedule_attempts_total", result="unschedulable", **labels) >= 1
    assert cluster.metric("scheduler_pending_pods", instance="s0", queue="unschedulable") == 1
    assert cluster.metric("scheduler_scheduling_attempt_duration_seconds_count", result="scheduled", **labels) == 5
    assert cluster.metric("scheduler_pod_scheduling_sli_duration_seconds_count", instance="s0", attempts="1") == 5
    assert cluster.metric("scheduler_framework_extension_point_duration_seconds_count", instance="s0",
                          extension_point="Filter", status="Success", profile="default-scheduler") >= 6
    # Durations are modelled time: 3 nodes filtered at 1 us each, never the wall clock.
    assert cluster.metric("scheduler_framework_extension_point_duration_seconds_sum", instance="s0",
                          extension_point="Filter", status="Success", profile="default-scheduler") < 1e-3


def test_binding_cycles_overlap_with_scheduling(cluster):
    in_flight = {"now": 0, "max": 0}

    class CountingClient(SlowClient):
        async def create(self, resource, obj, namespace="", subresource="", dry_run=False):
            if subresource != "binding":
                return await self.client.create(resource, obj, namespace, subresource, dry_run)
            in_flight["now"] += 1
            in_flight["max"] = max(in_flight["max"], in_flight["now"])
            try:
                await self.ctx.sleep(self.latency)
                return await self.client.create(resource, obj, namespace, subresource, dry_run)
            finally:
                in_flight["now"] -= 1

    cluster.scheduler("s0", client=lambda ctx: CountingClient(cluster.api, ctx, 0.2))
    api = cluster.api
    took: dict[str, float] = {}

    async def main():
        for i in range(4):
            await api.create("nodes", node(f"n{i}"))
        await cluster.rt.sleep(5.0)
        start = cluster.rt.now()
        for i in range(40):
            await api.create("pods", pod(f"p{i}", cpu="100m"))
        await cluster.until(lambda: len(bound_pods(api)) == 40)
        took["seconds"] = cluster.rt.now() - start

    cluster.run(main)
    # 40 bindings of 0.2 s each one after the other would take 8 s.
    assert in_flight["max"] >= 10
    assert took["seconds"] < 2.0
    assert len(api.bindings) == 40


def test_binding_conflict_when_someone_else_bound_the_pod_first(cluster):
    """The pod is bound by someone else while our Binding is on its way: the apiserver
    answers 409, the scheduler forgets its assumption, reports the failure, and the pod,
    bound meanwhile, does not come back to the queue."""

    class SlowBinding(SlowClient):
        async def create(self, resource, obj, namespace="", subresource="", dry_run=False):
            if subresource == "binding":
                await self.ctx.sleep(self.latency)
            return await self.client.create(resource, obj, namespace, subresource, dry_run)

    address = cluster.scheduler("s0", client=lambda ctx: SlowBinding(cluster.api, ctx, 1.0))
    api = cluster.api

    async def main():
        await api.create("nodes", node("n1"))
        await api.create("nodes", node("n2"))
        await cluster.rt.sleep(5.0)
        await api.create("pods", pod("p", cpu="100m"))
        await cluster.rt.sleep(0.5)  # the scheduler's Binding is in flight (1 s)
        uid = cluster.pod("p")["metadata"]["uid"]
        await api.create("pods", {"apiVersion": "v1", "kind": "Binding",
                                  "metadata": {"name": "p", "namespace": "default", "uid": uid},
                                  "target": {"kind": "Node", "name": "n2"}}, subresource="binding")
        await cluster.rt.sleep(15.0)
        return await cluster.rt.ask(address, ["status"])

    status = cluster.run(main)
    assert api.bindings == [("default/p", "n2")]
    assert cluster.pod("p")["spec"]["nodeName"] == "n2"
    assert status["assumed"] == 0 and status["binding"] == 0
    assert all(v == 0 for v in status["pending"].values())
    [failed] = cluster.events("FailedScheduling")
    assert failed["message"] == ('running Bind plugin "DefaultBinder": Operation cannot be fulfilled on '
                                 'pods/binding "p": pod p is already assigned to node "n2"')
    assert cluster.events("Scheduled") == []


class PairUp(PermitPlugin):
    """Coscheduling in miniature: a pod waits (10 s at most) until a second pod of its group
    waits too, then both may bind."""

    name = "PairUp"

    def permit(self, state: CycleState, pi: PodInfo, node_name: str) -> tuple[Status, float]:
        group = pi.labels.get("group")
        if group is None:
            return Status(), 0.0
        fwk = self.handle.framework
        partners = [w for w in fwk.iterate_over_waiting_pods() if w.pi.labels.get("group") == group]
        if partners:
            for w in partners:
                w.allow(self.name)
            return Status(), 0.0
        return Status.wait(), 10.0


def test_permit_waits_allows_and_times_out(cluster):
    config = {"profiles": [{"schedulerName": "default-scheduler",
                            "plugins": {"multiPoint": {"enabled": [{"name": "PairUp"}]}}}]}
    cluster.scheduler("s0", config=config, registry=Registry({PairUp.name: PairUp}))
    api = cluster.api
    times: dict[str, float] = {}

    async def main():
        await api.create("nodes", node("n1"))
        await cluster.rt.sleep(1.0)
        await api.create("pods", pod("a1", labels={"group": "a"}))
        await cluster.rt.sleep(3.0)
        assert bound_pods(api) == {}
        await api.create("pods", pod("a2", labels={"group": "a"}))
        await cluster.until(lambda: len(bound_pods(api)) == 2)
        times["pair"] = cluster.rt.now()
        await api.create("pods", pod("lonely", labels={"group": "b"}))
        start = cluster.rt.now()
        await cluster.until(lambda: bool(cluster.events("FailedScheduling")))
        times["timeout"] = cluster.rt.now() - start

    cluster.run(main)
    assert times["pair"] < 5.0
    assert 10.0 <= times["timeout"] < 10.5
    assert cluster.events("FailedScheduling")[0]["message"] == (
        "0/1 nodes are available: 1 rejected due to timeout after waiting 10s at plugin PairUp.")


def test_preemption_deletes_victims_and_nominates(cluster):
    cluster.scheduler("s0")
    api = cluster.api
    disrupted: list[str] = []

    def watch(event: str, resource: str, obj: dict[str, Any]) -> None:
        conds = (obj.get("status") or {}).get("conditions") or []
        if resource == "pods" and event == "MODIFIED" and any(
                c["type"] == "DisruptionTarget" and c.get("reason") == "PreemptionByScheduler" for c in conds):
            disrupted.append(obj["metadata"]["name"])

    api.observers.append(watch)
    nominated: list[str] = []
    api.observers.append(lambda ev, res, obj: res == "pods" and obj["metadata"]["name"] == "vip"
                         and obj["status"].get("nominatedNodeName") and nominated.append(obj["status"]["nominatedNodeName"]))

    async def main():
        await api.create("nodes", node("n1", cpu="2"))
        for i, prio in enumerate((1, 2, 3)):
            await api.create("pods", pod(f"low{i}", cpu="600m", priority=prio))
        await cluster.until(lambda: len(bound_pods(api)) == 3)
        await api.create("pods", pod("vip", cpu="1", priority=1000))
        await cluster.until(lambda: bound_pods(api).get("vip") == "n1", timeout=30)

    cluster.run(main)
    # 1800m used of 2: freeing 1 cpu takes the two lowest-priority pods.
    assert sorted(disrupted) == ["low0", "low1"]
    assert set(bound_pods(api)) == {"low2", "vip"}
    assert nominated and set(nominated) == {"n1"}
    preempted = sorted(e["involvedObject"]["name"] for e in cluster.events("Preempted"))
    assert preempted == ["low0", "low1"]
    vip_uid = cluster.pod("vip")["metadata"]["uid"]
    assert cluster.events("Preempted")[0]["message"] == f"Preempted by pod {vip_uid} on node n1"
    assert cluster.metric("scheduler_preemption_attempts_total", instance="s0") == 1


def test_unknown_scheduler_name_stays_pending_with_one_warning_event(cluster):
    cluster.scheduler("s0", known_schedulers=["their-scheduler"])
    cluster.scheduler("s1", known_schedulers=["their-scheduler"])
    api = cluster.api

    async def main():
        await api.create("pods", pod("early", schedulerName="my-custom-scheduler"))
        await api.create("nodes", node("n1"))
        await api.create("pods", pod("mine"))
        await api.create("pods", pod("theirs", schedulerName="their-scheduler"))
        await cluster.until(lambda: "mine" in bound_pods(api))
        await api.create("pods", pod("late", schedulerName="my-custom-scheduler"))
        await cluster.rt.sleep(30.0)

    cluster.run(main)
    for name in ("early", "late", "theirs"):
        p = cluster.pod(name)
        assert not p["spec"].get("nodeName") and "conditions" not in p["status"], name
    warnings = cluster.events("UnknownScheduler")
    # Only the leader reports, once per pod; a scheduler that is known elsewhere is not reported.
    assert sorted(e["involvedObject"]["name"] for e in warnings) == ["early", "late"]
    assert all(e["count"] == 1 and e["type"] == "Warning" for e in warnings)
    assert warnings[0]["source"] == {"component": "default-scheduler"}
    assert warnings[0]["message"] == (
        'no scheduler serves schedulerName "my-custom-scheduler" (this kube-scheduler\'s profiles: '
        "default-scheduler); the pod stays Pending until one does")
    assert {e["reason"] for e in api.objects("events")} == {"UnknownScheduler", "Scheduled"}


def test_unknown_scheduler_silent_as_upstream_when_reporting_is_off(cluster):
    cluster.scheduler("s0", known_schedulers=None)
    api = cluster.api

    async def main():
        await api.create("nodes", node("n1"))
        await api.create("pods", pod("theirs", schedulerName="my-custom-scheduler"))
        await api.create("pods", pod("mine"))
        await cluster.until(lambda: "mine" in bound_pods(api))
        await cluster.rt.sleep(30.0)

    cluster.run(main)
    assert not cluster.pod("theirs")["spec"].get("nodeName")
    assert [e["involvedObject"]["name"] for e in api.objects("events")] == ["mine"]


def test_two_profiles_in_one_process(cluster):
    config = {"profiles": [
        {"schedulerName": "default-scheduler"},
        {"schedulerName": "bin-packer", "pluginConfig": [
            {"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "MostAllocated"}}}],
         "plugins": {"score": {"disabled": [{"name": "NodeResourcesBalancedAllocation"},
                                            {"name": "PodTopologySpread"}]}}},
    ]}
    cluster.scheduler("s0", config=config)
    api = cluster.api

    async def main():
        for i in range(4):
            await api.create("nodes", node(f"n{i}"))
        for i in range(6):
            await api.create("pods", pod(f"packed{i}", cpu="200m", schedulerName="bin-packer"))
            await cluster.until(lambda i=i: f"packed{i}" in bound_pods(api))
        for i in range(4):
            await api.create("pods", pod(f"spread{i}", cpu="200m"))
        await cluster.until(lambda: len(bound_pods(api)) == 10)

    cluster.run(main)
    placed = bound_pods(api)
    assert len({placed[f"packed{i}"] for i in range(6)}) == 1
    packed_node = placed["packed0"]
    assert all(placed[f"spread{i}"] != packed_node for i in range(4))
    sources = {e["source"]["component"] for e in cluster.events("Scheduled")}
    assert sources == {"default-scheduler", "bin-packer"}


def test_two_scheduler_deployments_each_with_its_own_lease(cluster):
    """A second kube-scheduler (another deployment, as users run custom schedulers) with its
    own schedulerName and Lease: both lead at once, each binds only the pods naming it, and
    neither reports the other's pods as asking for an unknown scheduler."""
    cluster.scheduler("default", known_schedulers=["gpu-scheduler"])
    gpu_config = {"profiles": [{"schedulerName": "gpu-scheduler"}],
                  "leaderElection": {"resourceName": "gpu-scheduler"}}
    cluster.scheduler("gpu", config=gpu_config, known_schedulers=["default-scheduler"])
    api = cluster.api

    async def main():
        for i in range(3):
            await api.create("nodes", node(f"n{i}"))
        for i in range(4):
            await api.create("pods", pod(f"plain{i}", cpu="100m"))
            await api.create("pods", pod(f"gpu{i}", cpu="100m", schedulerName="gpu-scheduler"))
        await cluster.until(lambda: len(bound_pods(api)) == 8)
        statuses = [await cluster.rt.ask(f"scheduler/{n}", ["status"]) for n in ("default", "gpu")]
        assert all(s["leading"] for s in statuses)

    cluster.run(main)
    sources = {e["involvedObject"]["name"]: e["source"]["component"] for e in cluster.events("Scheduled")}
    assert sources == {**{f"plain{i}": "default-scheduler" for i in range(4)},
                       **{f"gpu{i}": "gpu-scheduler" for i in range(4)}}
    leases = {le["metadata"]["name"] for le in api.objects("leases.coordination.k8s.io")}
    assert leases == {"kube-scheduler", "gpu-scheduler"}
    assert cluster.events("UnknownScheduler") == []


def test_standby_takes_over_within_the_lease_and_nothing_binds_twice(cluster):
    a = cluster.scheduler("s0")
    b = cluster.scheduler("s1")
    api = cluster.api
    seen: dict[str, float] = {}

    async def main():
        rt = cluster.rt
        for i in range(3):
            await api.create("nodes", node(f"n{i}"))
        for i in range(10):
            await api.create("pods", pod(f"before{i}", cpu="100m"))
        await cluster.until(lambda: len(bound_pods(api)) == 10)
        status_a, status_b = await rt.ask(a, ["status"]), await rt.ask(b, ["status"])
        assert status_a["leading"] != status_b["leading"]
        leader, standby = (a, b) if status_a["leading"] else (b, a)
        lease = api.find("leases.coordination.k8s.io", "kube-system", "kube-scheduler")
        assert lease["spec"]["holderIdentity"] == (status_a if status_a["leading"] else status_b)["identity"]
        assert lease["spec"]["leaseDurationSeconds"] == 15
        await rt.crash_actor(leader)
        crashed = rt.now()
        for i in range(10):
            await api.create("pods", pod(f"after{i}", cpu="100m"))
        await cluster.until(lambda: len(bound_pods(api)) == 20, timeout=60)
        seen["takeover"] = rt.now() - crashed
        assert (await rt.ask(standby, ["status"]))["leading"]
        lease = api.find("leases.coordination.k8s.io", "kube-system", "kube-scheduler")
        assert lease["spec"]["leaseTransitions"] == 1

    cluster.run(main)
    # Lease 15 s (+ a retry period of 2 s with jitter) after the leader's last renewal.
    assert seen["takeover"] <= 15.0 + 2.0 * 2.2 + 0.5
    keys = [k for k, _ in cluster.api.bindings]
    assert len(keys) == len(set(keys)) == 20


def test_partitioned_leader_steps_down_before_the_standby_takes_over(cluster):
    clients = {name: FlakyClient(cluster.api) for name in ("s0", "s1")}
    addresses = {name: cluster.scheduler(name, client=lambda ctx, n=name: clients[n]) for name in clients}
    api = cluster.api
    seen: dict[str, Any] = {}

    async def main():
        rt = cluster.rt
        await api.create("nodes", node("n1"))
        await rt.sleep(5.0)
        leading = [n for n in clients if (await rt.ask(addresses[n], ["status"]))["leading"]]
        assert len(leading) == 1
        leader, standby = leading[0], next(n for n in clients if n != leading[0])
        clients[leader].down = True
        cut = rt.now()
        stepped_down = None
        while stepped_down is None or not (await rt.ask(addresses[standby], ["status"]))["leading"]:
            await rt.sleep(0.1)
            if stepped_down is None and not (await rt.ask(addresses[leader], ["status"]))["leading"]:
                stepped_down = rt.now() - cut
            assert rt.now() - cut < 30
        seen.update(leader=leader, standby=standby, stepped_down=stepped_down, took_over=rt.now() - cut)
        for i in range(5):
            await api.create("pods", pod(f"p{i}", cpu="100m"))
        await cluster.until(lambda: len(bound_pods(api)) == 5)
        clients[leader].down = False
        await rt.sleep(30.0)
        seen["old_leader_leads"] = (await rt.ask(addresses[leader], ["status"]))["leading"]

    cluster.run(main)
    # The leader's first failed renewal comes at most a retry period (2 s) after the cut and it
    # gives up a renew deadline (10 s) later; the standby acquires only once the lease (15 s)
    # has expired in its own eyes, counted from when it saw the last renewal: never two leaders.
    assert seen["stepped_down"] <= 2.0 + 10.0 + 0.1
    assert seen["stepped_down"] < seen["took_over"] <= 15.0 + 2.0 * 2.2 + 0.2
    assert sorted(clients[seen["standby"]].bound) == [f"p{i}" for i in range(5)]
    assert clients[seen["leader"]].bound == [] and not seen["old_leader_leads"]


def test_same_seed_same_placements():
    def placements(seed: int) -> list[tuple[str, str]]:
        c = Cluster(seed)
        c.scheduler("s0")

        async def main():
            rng = random.Random(3)
            for i in range(20):
                await c.api.create("nodes", node(f"n{i:02}", cpu=rng.choice(["2", "4", "8"])))
            for i in range(200):
                await c.api.create("pods", pod(f"p{i:03}", cpu=rng.choice(["100m", "300m", "700m"]),
                                               priority=rng.choice([0, 10])))
            await c.until(lambda: len(c.api.bindings) == 200)

        try:
            c.run(main)
        finally:
            c.close()
        return list(c.api.bindings)

    first = placements(5)
    assert first == placements(5)
    assert first != placements(6)
