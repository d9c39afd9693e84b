"""route(): only ever ready endpoints of the right Service, in every mode and at scale."""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest

from kubesim.components.kube_proxy.dataplane import (
    IptablesState,
    IpvsState,
    NftablesState,
    close_connection,
    route,
)
from kubesim.components.kube_proxy.iptables import IptablesConfig
from kubesim.components.kube_proxy.ipvs import IpvsConfig
from kubesim.components.kube_proxy.model import ProxyView
from kubesim.components.kube_proxy.nftables import NftConfig
from tests.components.kube_proxy.helpers import cluster, endpoint, endpoint_slice, service

_VIEWS: dict[int, ProxyView] = {}


def view_of(n: int) -> ProxyView:
    if n not in _VIEWS:
        _VIEWS[n] = ProxyView.build(*cluster(n))
    return _VIEWS[n]


def states(view: ProxyView):
    yield IptablesState(view, IptablesConfig(node_name="node1"))
    for sched in ("rr", "lc", "sh"):
        yield IpvsState(view, IpvsConfig(node_name="node1", scheduler=sched))
    yield NftablesState(view, NftConfig(node_name="node1"))


@pytest.mark.parametrize("n", [10, 1_000, 10_000])
def test_route_only_returns_ready_endpoints_of_the_right_service(n, capsys):
    view = view_of(n)
    rng = random.Random(n)
    expected = {}
    for sp in view.service_ports():
        eps = view.endpoints_of(sp.name)
        expected[sp.cluster_ip] = {(e.ip, e.port) for e in eps if e.ready}
    assert all(expected.values())  # the fixture leaves every Service a ready endpoint
    probes = sorted(expected)[:: max(1, n // 500)]
    for state in states(view):
        t0 = time.perf_counter()
        for vip in probes:
            for _ in range(4):
                client = f"10.200.{rng.randrange(250)}.{rng.randrange(250)}"
                backend = route(state, client, vip, 80, rng=rng)
                assert backend in expected[vip], (type(state).__name__, vip, backend)
                close_connection(state, vip, 80, backend)
        with capsys.disabled():
            print(
                f"\n{n} services, {type(state).__name__}: {len(probes) * 4} routes in {time.perf_counter() - t0:.2f} s"
            )
    assert route(IptablesState(view), "10.1.1.1", "10.95.0.1", 80, rng=rng) is None


def _one_service(ready: list[bool], **spec):
    eps = [
        endpoint(f"10.0.0.{i + 1}", ready=r, conditions={"serving": True, "terminating": not r})
        for i, r in enumerate(ready)
    ]
    return ProxyView.build(
        [service("ns", "s", "10.96.0.1", **spec)], [endpoint_slice("ns", "s", eps)]
    )


def test_iptables_probability_chain_is_uniform():
    view = _one_service([True] * 4 + [False])
    state, rng = IptablesState(view), random.Random(7)
    counts = Counter(route(state, "10.244.0.5", "10.96.0.1", 80, rng=rng) for _ in range(40_000))
    assert set(counts) == {(f"10.0.0.{i}", 80) for i in range(1, 5)}
    assert all(abs(c - 10_000) < 400 for c in counts.values())


def test_serving_terminating_fallback_when_none_ready():
    view = _one_service([False, False])
    rng = random.Random(1)
    for state in states(view):
        assert route(state, "10.244.0.5", "10.96.0.1", 80, rng=rng) in {
            ("10.0.0.1", 80),
            ("10.0.0.2", 80),
        }


def test_client_ip_affinity_in_iptables_and_nftables():
    view = _one_service(
        [True] * 5,
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 30}},
    )
    rng = random.Random(5)
    for state in (IptablesState(view), NftablesState(view)):
        first = route(state, "10.244.1.1", "10.96.0.1", 80, rng=rng, now=0)
        assert all(
            route(state, "10.244.1.1", "10.96.0.1", 80, rng=rng, now=t) == first
            for t in range(1, 100, 10)
        )
        later = {
            route(state, "10.244.1.1", "10.96.0.1", 80, rng=rng, now=1000 + 100 * i)
            for i in range(30)
        }
        assert len(later) > 1  # expired after 30 s idle: re-balanced


def test_ipvs_rr_even_and_sync_follows_the_view():
    view = _one_service([True] * 3)
    state = IpvsState(view, IpvsConfig(scheduler="rr"))
    rng = random.Random(0)
    assert not state.kernel.services  # nothing in the kernel model before traffic
    counts = Counter(
        route(state, f"10.244.0.{i % 200}", "10.96.0.1", 80, rng=rng) for i in range(3000)
    )
    assert sorted(counts.values()) == [1000, 1000, 1000]
    state.sync(_one_service([True, True, False]))  # 10.0.0.3 drains: its connections stay open
    assert state.kernel.connections(("10.96.0.1", 80, "TCP"))[("10.0.0.3", 80)] == 1000
    after = {route(state, f"10.244.1.{i}", "10.96.0.1", 80, rng=rng) for i in range(20)}
    assert after == {("10.0.0.1", 80), ("10.0.0.2", 80)}
    state.sync(ProxyView())
    assert route(state, "10.244.0.1", "10.96.0.1", 80, rng=rng) is None


def test_external_traffic_policy_local_routes_to_local_endpoints():
    eps = [endpoint("10.0.0.1", node="node1"), endpoint("10.0.0.2", node="node2")]
    svc = service(
        "ns", "s", "10.96.0.1", [{"name": "p80", "port": 80, "protocol": "TCP", "nodePort": 30080}],
        type="LoadBalancer", externalTrafficPolicy="Local", status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}},
    )  # fmt: skip
    view = ProxyView.build([svc], [endpoint_slice("ns", "s", eps)])
    rng = random.Random(2)
    for state in (IptablesState(view, IptablesConfig(node_name="node1")), NftablesState(view, NftConfig(node_name="node1")),
                  IpvsState(view, IpvsConfig(node_name="node1"))):  # fmt: skip
        outside = {route(state, "203.0.113.9", "1.2.3.4", 80, rng=rng) for _ in range(30)}
        assert outside == {("10.0.0.1", 80)}, type(state).__name__
        inside = {route(state, "10.244.3.3", "10.96.0.1", 80, rng=rng) for _ in range(60)}
        assert inside == {("10.0.0.1", 80), ("10.0.0.2", 80)}
