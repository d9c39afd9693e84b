"""kube-controller-manager as a whole: leader election among replicas (a standby takes
over within the lease duration when the leader dies, and the work is not done twice),
the workqueue metrics under each controller's name, and the --controllers flag."""

from __future__ import annotations

import random
from typing import Any

import pytest

from kubesim.components.controllers.manager import KubeControllerManager
from kubesim.components.controllers.registry import enabled
from kubesim.runtime import ActorSpec, Address, Machine
from kubesim.runtime.sim import SimRuntime
from kubesim.testing.fake_apiserver import FakeAPIServer
from tests.components.controllers.harness import EPOCH, template

LABELS = {"app": "web"}


def deployment(replicas: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": LABELS}, "template": template(LABELS)}}


class Replicas:
    """Three kcm replicas on three machines, one FakeAPIServer."""

    def __init__(self, seed: int) -> None:
        self.rt = SimRuntime(seed=seed)
        self.api = FakeAPIServer(clock=lambda: EPOCH + self.rt.now(), rng=random.Random(seed))
        self.addresses = []
        api = self.api
        for i in range(3):
            self.rt.add_machine(Machine(f"cp-{i}", zone="zone-a", role="control-plane"))
            address = Address("kube-controller-manager", f"kcm-{i}")
            self.addresses.append(address)
            self.rt.spawn(ActorSpec(address, KubeControllerManager, f"cp-{i}", kwargs={
                "client": lambda ctx: api, "controllers": ("deployment", "replicaset"), "epoch": EPOCH}))

    def leaders(self) -> list[Address]:
        return [a for a in self.addresses
                if not self.rt.machine_is_down(f"cp-{a.name[-1]}") and self.rt.actor(a).controllers]

    def run_until(self, predicate: Any, timeout: float, step: float = 0.1) -> None:
        waited = 0.0
        while not predicate():
            assert waited < timeout, f"condition not reached within {timeout}s of virtual time"
            self.rt.run_for(step)
            waited += step

    def create(self, resource: str, obj: dict[str, Any]) -> None:
        async def main(_rt: Any) -> Any:
            return await self.api.create(resource, obj, "default")
        self.rt.run(main)

    def samples(self, name: str) -> dict[tuple[str, str], float]:
        """{(sample name, name label): value} of the kcm-0.. handles' samples."""
        out: dict[tuple[str, str], float] = {}
        for sample, labels, value in self.rt.metrics.samples([name]):
            if labels.get("name"):
                key = (sample, labels["name"])
                out[key] = out.get(key, 0.0) + value
        return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_killing_the_leader_a_standby_takes_over_within_the_lease_duration(seed):
    r = Replicas(seed)
    try:
        r.run_until(lambda: len(r.leaders()) == 1, timeout=30)
        leader = r.leaders()[0]
        lease = r.api.find("leases.coordination.k8s.io", "kube-system", "kube-controller-manager")
        assert lease["spec"]["leaseDurationSeconds"] == 15
        transitions = lease["spec"].get("leaseTransitions", 0)
        r.create("deployments.apps", deployment(5))
        r.run_until(lambda: len(r.api.objects("pods", "default")) == 5, timeout=30)
        r.rt.crash_machine(f"cp-{leader.name[-1]}")
        crashed = r.rt.now()
        r.run_until(lambda: len(r.leaders()) == 1, timeout=30)
        took = r.rt.now() - crashed
        # the standby waits one lease duration from the last renewal it observed, which it
        # saw at most one jittered retry period (2 s * 2.2) after it happened
        assert took <= 15.0 + 2.0 * 2.2, took
        new_lease = r.api.find("leases.coordination.k8s.io", "kube-system", "kube-controller-manager")
        assert new_lease["spec"]["leaseTransitions"] == transitions + 1
        assert new_lease["spec"]["holderIdentity"] != lease["spec"]["holderIdentity"]
        # the new leader carries on from the cluster's state: nothing is created twice
        r.rt.run_for(20)
        assert len(r.api.objects("pods", "default")) == 5
        assert len(r.api.objects("replicasets.apps", "default")) == 1
        masters = {labels["name"]: v for s, labels, v in r.rt.metrics.samples(["leader_election_master_status"])
                   if labels.get("instance") == r.leaders()[0].name}
        assert masters == {"kube-controller-manager": 1.0}
        standbys = [v for s, labels, v in r.rt.metrics.samples(["leader_election_master_status"])
                    if labels.get("instance") not in (r.leaders()[0].name, leader.name)]
        assert standbys == [0.0]
    finally:
        r.rt.close()


def test_workqueue_metrics_carry_the_controller_name():
    r = Replicas(4)
    try:
        r.run_until(lambda: len(r.leaders()) == 1, timeout=30)
        r.create("deployments.apps", deployment(3))
        r.run_until(lambda: len(r.api.objects("pods", "default")) == 3, timeout=30)
        r.rt.run_for(5)
        adds = r.samples("workqueue_adds_total")
        assert adds[("workqueue_adds_total", "deployment")] >= 1
        assert adds[("workqueue_adds_total", "replicaset")] >= 1
        depth = r.samples("workqueue_depth")
        assert depth[("workqueue_depth", "deployment")] == 0.0
        for family in ("workqueue_queue_duration_seconds", "workqueue_work_duration_seconds"):
            counts = r.samples(family)
            assert counts[(f"{family}_count", "deployment")] == adds[("workqueue_adds_total", "deployment")]
            assert counts[(f"{family}_count", "replicaset")] >= 1
    finally:
        r.rt.close()


def test_controllers_flag():
    assert "job" in enabled(("*",)) and "resourcequota" in enabled(("*",))
    assert "job" not in enabled(("*", "-job"))
    assert enabled(("job", "daemonset")) == ["daemonset", "job"]
    with pytest.raises(ValueError, match="unknown controllers"):
        enabled(("*", "cronjob-typo"))
