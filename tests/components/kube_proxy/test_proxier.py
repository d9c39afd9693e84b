"""The kube-proxy actor on the sim runtime against the in-memory apiserver: one shared
view per host group, rules programmed after the modelled time, minSyncPeriod batching,
network programming latency, routing through the programmed rules, owner hand-over,
metrics with their upstream names."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from kubesim.api.meta import timestamp
from kubesim.components.kube_proxy.config import KubeProxyConfig, KubeProxyConfigError
from kubesim.components.kube_proxy.iptables import IptablesConfig, count_rules
from kubesim.components.kube_proxy.model import TRIGGER_TIME_ANNOTATION
from kubesim.components.kube_proxy.proxier import KubeProxy, kube_proxy_spec
from kubesim.components.kube_proxy.shared_view import hub_of
from kubesim.runtime import Machine
from kubesim.runtime.sim import SimRuntime
from kubesim.testing.fake_apiserver import FakeAPIServer
from tests.components.kube_proxy.helpers import cluster, endpoint, endpoint_slice, service

EPOCH = 1_700_000_000.0
SLICES = "endpointslices.discovery.k8s.io"


class Cluster:
    """The sim runtime, the fake apiserver and kube-proxies; `watches` counts watch calls."""

    def __init__(self, seed: int = 1) -> None:
        self.rt = SimRuntime(seed=seed)
        self.api = FakeAPIServer(clock=lambda: EPOCH + self.rt.now(), rng=random.Random(seed))
        self.watches: list[str] = []
        api, watches = self.api, self.watches

        class Client:
            def __getattr__(self, verb: str) -> Any:
                return getattr(api, verb)

            async def watch(self, resource: str, *args: Any, **kwargs: Any) -> Any:
                watches.append(resource)
                return await api.watch(resource, *args, **kwargs)

        self.client = Client()

    def proxy(self, node: str, host: str = "host-0", **cfg: Any) -> str:
        self.rt.add_machine(Machine(node, zone="zone-a", role="worker"))
        config = KubeProxyConfig(node_name=node, epoch=EPOCH, **cfg)
        client = self.client
        self.rt.spawn(kube_proxy_spec(config, lambda ctx: client, host=host))
        return f"kube-proxy/{node}"

    def run(self, main: Callable[[], Any], limit: float = 3600.0) -> Any:
        return self.rt.run(lambda rt: main(), limit=limit)

    async def until(self, predicate: Callable[[], bool], timeout: float = 120.0) -> None:
        async def check() -> bool:
            return predicate()
        await self.rt.wait_until(check, timeout, poll=0.05)

    def actor(self, node: str) -> KubeProxy:
        actor = self.rt.actor(f"kube-proxy/{node}")
        assert isinstance(actor, KubeProxy)
        return actor

    def metric(self, name: str, **labels: str) -> float | None:
        return self.rt.metrics.registry.get_sample_value(name, labels)

    async def load(self, n: int, n_endpoints: int = 3) -> tuple[list, list]:
        await self.api.create("namespaces", {"metadata": {"name": "ns"}})
        services, slices = cluster(n, n_endpoints)
        for s in services:
            await self.api.create("services", s)
        for s in slices:
            await self.api.create(SLICES, s)
        return services, slices

    def close(self) -> None:
        self.rt.close()


def endpoint_ips(proxy: KubeProxy, name: str) -> set[str]:
    """The endpoint IPs of Service ns/name in the snapshot ``proxy`` has programmed."""
    ports = proxy.synced_view.endpoints.get(("ns", name), {})
    return {e.ip for eps in ports.values() for e in eps}


@pytest.fixture
def c():
    cluster_ = Cluster()
    yield cluster_
    cluster_.close()


def test_proxies_of_a_host_share_one_view_and_one_watch(c):
    nodes = [f"node{i}" for i in range(6)]
    for i, node in enumerate(nodes):
        c.proxy(node, mode=("iptables", "ipvs", "nftables")[i % 3])
    other = c.proxy("lonely", host="host-1")

    async def main():
        await c.load(20)
        await c.until(lambda: all(len(c.actor(n).synced_view.services) == 20 for n in nodes + ["lonely"]))

    c.run(main)
    views = {id(c.actor(n).synced_view) for n in nodes}
    assert len(views) == 1  # one immutable snapshot, not a copy per node
    assert c.actor("lonely").synced_view is not c.actor("node0").synced_view
    assert sorted(c.watches) == sorted(["services", SLICES] * 2)  # one pair per host group
    assert hub_of(c.rt.host.slots[other].ctx).members == 1


def test_rules_are_counted_as_kube_proxy_writes_them_and_metrics_are_exported(c):
    c.proxy("node0", mode="iptables")

    async def main():
        await c.load(50)
        await c.until(lambda: len(c.actor("node0").synced_view.services) == 50)

    c.run(main)
    proxy = c.actor("node0")
    counts = count_rules(proxy.synced_view, IptablesConfig(node_name="node0"))
    assert c.metric("kubeproxy_sync_proxy_rules_iptables_total", node="node0", table="nat") == counts.nat
    assert c.metric("kubeproxy_sync_proxy_rules_iptables_total", node="node0", table="filter") == counts.filter
    syncs = c.metric("kubeproxy_sync_proxy_rules_duration_seconds_count", node="node0")
    assert syncs == proxy.syncs >= 1
    assert c.metric("kubeproxy_sync_full_proxy_rules_duration_seconds_count", node="node0") == 1
    assert c.metric("kubeproxy_sync_proxy_rules_endpoint_changes_total", node="node0") == 50
    assert c.metric("kubeproxy_sync_proxy_rules_service_changes_total", node="node0") == 50
    last = c.metric("kubeproxy_sync_proxy_rules_last_timestamp_seconds", node="node0")
    assert EPOCH < last <= EPOCH + c.rt.now()
    # the modelled programming time, never the wall clock
    total = c.metric("kubeproxy_sync_proxy_rules_duration_seconds_sum", node="node0")
    cost = c.rt.host.cost
    assert total >= cost.iptables_sync_seconds(counts.total, counts.total)


def test_min_sync_period_batches_a_stream_of_changes(c):
    c.proxy("node0", mode="iptables")

    async def main():
        _, slices = await c.load(5)
        await c.until(lambda: c.actor("node0").syncs >= 1)
        await c.rt.sleep(5.0)
        before = c.actor("node0").syncs
        start = c.rt.now()
        for i in range(100):  # a change every 50 ms for 5 s
            c.api.mutate(SLICES, "ns", slices[0]["metadata"]["name"],
                         lambda s, i=i: s["endpoints"].append(endpoint(f"10.251.0.{i + 1}")))
            await c.rt.sleep(0.05)
        await c.rt.sleep(3.0)
        return c.actor("node0").syncs - before, c.rt.now() - start

    syncs, elapsed = c.run(main)
    # the burst of two, then at most one per minSyncPeriod (1 s), and one to catch up
    assert 4 <= syncs <= 2 + int(elapsed) + 1
    assert "10.251.0.100" in endpoint_ips(c.actor("node0"), "svc0")  # the last change is programmed


def test_network_programming_latency_from_the_trigger_time(c):
    c.proxy("node0", mode="nftables")

    async def main():
        _, slices = await c.load(3)
        await c.until(lambda: c.actor("node0").syncs >= 1)
        await c.rt.sleep(10.0)
        changed_at = EPOCH + c.rt.now()

        def add(s):
            s["endpoints"].append(endpoint("10.252.0.1"))
            s["metadata"].setdefault("annotations", {})[TRIGGER_TIME_ANNOTATION] = timestamp(changed_at)

        def garbled(s):
            s["endpoints"].append(endpoint("10.252.0.2"))
            s["metadata"].setdefault("annotations", {})[TRIGGER_TIME_ANNOTATION] = "yesterday"

        c.api.mutate(SLICES, "ns", slices[2]["metadata"]["name"], garbled)  # ignored, as upstream
        c.api.mutate(SLICES, "ns", slices[1]["metadata"]["name"], add)
        await c.until(lambda: "10.252.0.1" in endpoint_ips(c.actor("node0"), "svc1")
                      and "10.252.0.2" in endpoint_ips(c.actor("node0"), "svc2"))
        return changed_at

    c.run(main)
    n = c.metric("kubeproxy_network_programming_duration_seconds_count", node="node0")
    total = c.metric("kubeproxy_network_programming_duration_seconds_sum", node="node0")
    assert n == 1  # the initial list's trigger times predate this kube-proxy
    # whole seconds in the annotation; at least the nftables transaction time
    assert 0.0 < total < 2.0


def test_route_uses_only_what_is_programmed(c):
    c.proxy("node0", mode="ipvs", ipvs_scheduler="rr")

    async def main():
        await c.load(2, n_endpoints=4)
        await c.until(lambda: c.actor("node0").syncs >= 1 and len(c.actor("node0").synced_view.services) == 2)
        ready = [e for e in cluster(2, 4)[1][0]["endpoints"] if e["conditions"]["ready"]]
        picks = [await c.rt.ask("kube-proxy/node0", {"op": "route", "client": f"10.244.0.{i}",
                                                      "ip": "10.96.0.1", "port": 80}) for i in range(30)]
        assert sorted({tuple(p) for p in picks}) == sorted((e["addresses"][0], 8080) for e in ready)
        # a Service created now is not reachable before the next sync has programmed it
        await c.api.create("services", service("ns", "late", "10.96.5.5"))
        await c.api.create(SLICES, endpoint_slice("ns", "late", [endpoint("10.253.0.1")]))
        early = c.actor("node0").route("10.244.0.1", "10.96.5.5", 80)
        await c.until(lambda: c.actor("node0").route("10.244.0.1", "10.96.5.5", 80) is not None)
        return early

    assert c.run(main) is None
    assert c.actor("node0").route("10.244.0.1", "10.96.5.5", 80) == ("10.253.0.1", 80)


def test_the_view_survives_its_owner(c):
    for node in ("node0", "node1", "node2"):
        c.proxy(node, mode="iptables")

    async def main():
        await c.load(3)
        await c.until(lambda: all(c.actor(n).syncs >= 1 for n in ("node0", "node1", "node2")))
        await c.rt.crash_actor("kube-proxy/node0")  # node0 ran the informers
        await c.api.create("services", service("ns", "after", "10.96.7.7"))
        await c.api.create(SLICES, endpoint_slice("ns", "after", [endpoint("10.254.0.1")]))
        await c.api.delete("services", "ns", "svc2")
        await c.until(lambda: all(c.actor(n).route("10.244.0.1", "10.96.7.7", 80) == ("10.254.0.1", 80)
                                  for n in ("node1", "node2")))
        await c.rt.restart_actor("kube-proxy/node0")
        await c.until(lambda: c.actor("node0").route("10.244.0.1", "10.96.7.7", 80) is not None)

    c.run(main)
    for node in ("node0", "node1", "node2"):
        assert ("ns", "svc2") not in c.actor(node).synced_view.services
    assert c.watches.count("services") == 2  # node0, then node1 took over; node0 rejoined as a reader


def test_bad_configuration_is_rejected_with_the_field():
    with pytest.raises(KubeProxyConfigError, match=r"^mode: Unsupported value: 'userspace'"):
        KubeProxyConfig(node_name="n", mode="userspace")
    with pytest.raises(KubeProxyConfigError, match=r"^ipvs.scheduler"):
        KubeProxyConfig(node_name="n", mode="ipvs", ipvs_scheduler="mh")
    with pytest.raises(KubeProxyConfigError, match=r"^iptables.minSyncPeriod: .* less than or equal"):
        KubeProxyConfig(node_name="n", min_sync_period=60.0, sync_period=30.0)
    with pytest.raises(KubeProxyConfigError, match=r"^clusterCIDR"):
        KubeProxyConfig(node_name="n", cluster_cidr="10.0.0.0/99")
    with pytest.raises(KubeProxyConfigError, match=r"^colour: unknown field"):
        KubeProxyConfig.from_dict({"node_name": "n", "colour": "blue"})


def test_ipvs_schedulers_through_the_actor(c):
    c.proxy("rr", mode="ipvs", ipvs_scheduler="rr")
    c.proxy("sh", mode="ipvs", ipvs_scheduler="sh")

    async def main():
        await c.load(1, n_endpoints=6)
        await c.until(lambda: all(c.actor(n).syncs >= 1 and c.actor(n).synced_view.services for n in ("rr", "sh")))

        async def pick(node: str, client: str) -> tuple[str, int]:
            backend = await c.rt.ask(f"kube-proxy/{node}", {"op": "route", "client": client,
                                                              "ip": "10.96.0.1", "port": 80})
            return tuple(backend)

        rr = [await pick("rr", f"10.244.{i % 7}.{i % 200}") for i in range(400)]
        sh = {f"10.244.3.{i}": {await pick("sh", f"10.244.3.{i}") for _ in range(5)} for i in range(40)}
        return rr, sh

    rr, sh = c.run(main)
    counts = sorted(rr.count(b) for b in set(rr))
    assert len(counts) == 4 and counts == [100] * 4  # 4 of the 6 endpoints are ready; even
    assert all(len(backends) == 1 for backends in sh.values())  # sticky per client
    assert len({next(iter(b)) for b in sh.values()}) > 1  # and spread over clients


def test_sync_periods_per_mode(c):
    for mode in ("iptables", "ipvs", "nftables"):
        c.proxy(mode, mode=mode)

    async def main():
        await c.load(2)
        await c.until(lambda: all(c.actor(m).syncs >= 1 for m in ("iptables", "ipvs", "nftables")))
        before = {m: c.actor(m).syncs for m in ("iptables", "ipvs", "nftables")}
        await c.rt.sleep(95.0)  # nothing changes
        return {m: c.actor(m).syncs - before[m] for m in before}

    idle = c.run(main)
    periods = {m: (c.actor(m).runner.min_interval, c.actor(m).runner.max_interval) for m in idle}
    assert periods == {"iptables": (1.0, 3600.0), "ipvs": (0.0, 30.0), "nftables": (1.0, 30.0)}
    # IPVS and nftables resync every syncPeriod; iptables only hourly (its syncPeriod
    # drives the canary monitor)
    assert idle == {"iptables": 0, "ipvs": 3, "nftables": 3}


def test_a_seed_replays_exactly():
    def once() -> tuple[str, list]:
        cl = Cluster(seed=7)
        try:
            for node, mode in (("a", "iptables"), ("b", "ipvs"), ("c", "nftables")):
                cl.proxy(node, mode=mode)

            async def main():
                _, slices = await cl.load(10)
                await cl.until(lambda: all(cl.actor(n).syncs >= 1 for n in "abc"))
                for i in range(20):
                    cl.api.mutate(SLICES, "ns", slices[i % 10]["metadata"]["name"],
                                  lambda s, i=i: s["endpoints"].append(endpoint(f"10.249.0.{i + 1}")))
                    await cl.rt.sleep(0.3)
                await cl.rt.sleep(5.0)
                return [await cl.rt.ask(f"kube-proxy/{n}", {"op": "route", "client": f"10.244.0.{k}",
                                                             "ip": "10.96.0.1", "port": 80})
                        for n in "abc" for k in range(10)]

            routes = cl.run(main)
            return cl.rt.trace_hash(), routes + [cl.actor(n).syncs for n in "abc"]
        finally:
            cl.close()

    assert once() == once()
