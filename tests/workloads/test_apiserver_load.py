"""The apiserver load workload on sim against real etcd and two apiserver replicas: every
verb phase makes progress without errors and every watch event reaches every watcher."""

from __future__ import annotations

from kubesim.runtime.actor import ActorSpec
from kubesim.runtime.address import Address, Machine
from kubesim.workloads.apiserver_load import VERBS, ApiLoad, percentile
from tests.components.apiserver.rest.clusters import TOKEN, sim_control_plane

LOAD = Address("apiload", "load")


def test_percentile_is_nearest_rank():
    assert percentile([3.0, 1.0, 2.0, 4.0], 0.5) == 3.0
    assert percentile(list(range(100)), 0.99) == 99


def test_phases_and_watch_delivery_on_sim():
    rt, plane = sim_control_plane(seed=5, apiservers=2)
    try:
        rt.add_machine(Machine("load", "zone-a", "client"))
        rt.spawn(ActorSpec(LOAD, ApiLoad, "load", kwargs={
            "replicas": plane.apiservers, "clients": 4, "workers_per_client": 2,
            "list_objects": 20, "client_options": {"token": TOKEN}}))

        async def go(rt):
            phases = {verb: await rt.ask(LOAD, ["phase", verb, 0.25], timeout=600) for verb in VERBS}
            watch = await rt.ask(LOAD, ["watch", 3, 25, 60.0], timeout=600)
            return phases, watch, await rt.ask(LOAD, ["replicas"])

        phases, watch, replicas = rt.run(go)
    finally:
        rt.close()
    for verb, figures in phases.items():
        assert figures["requests"] > 0 and figures["errors"] == 0, (verb, figures)
        assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    assert phases["delete"]["requests"] <= phases["create"]["requests"]
    assert watch["complete"] and watch["events_delivered"] == 3 * 25 and watch["p99_ms"] > 0
    assert set(replicas) <= set(plane.apiservers)
