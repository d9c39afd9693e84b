"""ProxyView: parsing, incremental updates equal a rebuild, per-node categorization."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubesim.components.kube_proxy.model import (
    Endpoint,
    ProxyView,
    ServicePort,
    ServicePortName,
    categorize,
    parse_service,
)
from tests.components.kube_proxy.helpers import cluster, endpoint, endpoint_slice, service


def test_parse_service_skips_headless_and_external_name():
    assert parse_service(service("ns", "h", "None")) == ()
    assert parse_service(service("ns", "x", "", type="ExternalName")) == ()
    (sp,) = parse_service(
        service("ns", "s", "10.96.0.1", sessionAffinity="ClientIP", type="NodePort",
                externalTrafficPolicy="Local", internalTrafficPolicy="Local")
    )  # fmt: skip
    assert str(sp.name) == "ns/s:p80" and sp.affinity_seconds == 10800
    assert sp.external_policy_local and sp.internal_policy_local


def test_slices_merge_dedup_and_sort():
    s1 = endpoint_slice(
        "ns",
        "s",
        [endpoint("10.0.0.9"), endpoint("10.0.0.2", conditions={"terminating": True})],
        name="a",
    )
    s2 = endpoint_slice("ns", "s", [endpoint("10.0.0.2")], name="b")
    view = ProxyView.build([service("ns", "s", "10.96.0.1")], [s1, s2])
    eps = view.endpoints_of(ServicePortName("ns", "s", "p80", "TCP"))
    assert [str(e) for e in eps] == ["10.0.0.2:80", "10.0.0.9:80"]
    assert not eps[0].terminating  # the non-terminating copy wins


def test_change_summary():
    view = ProxyView()
    view, ch = view.apply("Service", "ADDED", service("ns", "s", "10.96.0.1"))
    assert ch.services == {("ns", "s")} and ch.service_events == 1
    sl = endpoint_slice("ns", "s", [endpoint("10.0.0.1")])
    sl["metadata"]["annotations"] = {"endpoints.kubernetes.io/last-change-trigger-time": "T1"}
    view, ch = view.apply("EndpointSlice", "ADDED", sl)
    assert ch.endpoints == {("ns", "s")} and ch.trigger_times == ((("ns", "s"), "T1"),)
    same, ch = view.apply("EndpointSlice", "MODIFIED", sl)
    assert not ch and same is view
    view, ch = view.apply("Service", "DELETED", service("ns", "s", "10.96.0.1"))
    assert ch.changed == {("ns", "s")} and view.lookup("10.96.0.1", 80) is None


_ip = st.integers(1, 6).map(lambda i: f"10.0.0.{i}")
_ep = st.builds(
    lambda ip, ready, term, node: endpoint(ip, ready=ready, node=node, conditions={"terminating": term}),
    _ip, st.booleans(), st.booleans(), st.sampled_from([None, "n1", "n2"]),
)  # fmt: skip
_svc_name = st.sampled_from(["a", "b", "c"])
_event = st.one_of(
    st.tuples(
        st.just("Service"), st.sampled_from(["ADDED", "MODIFIED", "DELETED"]), _svc_name,
        st.sampled_from([80, 443]), st.sampled_from(["ClusterIP", "NodePort"]), st.just(None),
    ),
    st.tuples(
        st.just("EndpointSlice"), st.sampled_from(["ADDED", "MODIFIED", "DELETED"]), _svc_name,
        st.sampled_from(["x", "y"]), st.lists(_ep, max_size=4), st.sampled_from([80, 8080]),
    ),
)  # fmt: skip


def _obj(ev):
    kind, _, name, a, b, c = ev
    if kind == "Service":
        ip = {"a": "10.96.0.1", "b": "10.96.0.2", "c": "10.96.0.3"}[name]
        port = {"name": "p80", "port": a, "protocol": "TCP"}
        if b == "NodePort":
            port["nodePort"] = 30000 + ord(name)
        return service("ns", name, ip, [port], type=b)
    return endpoint_slice(
        "ns", name, b, [{"name": "p80", "port": c, "protocol": "TCP"}], name=f"{name}-{a}"
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(_event, max_size=30))
def test_incremental_equals_full_rebuild(events):
    view = ProxyView()
    live_services, live_slices = {}, {}
    for ev in events:
        kind, op, *_ = ev
        obj = _obj(ev)
        view, _ = view.apply(kind, op, obj)
        store = live_services if kind == "Service" else live_slices
        key = obj["metadata"]["name"]
        if op == "DELETED":
            store.pop(key, None)
        else:
            store[key] = obj
    rebuilt = ProxyView.build(live_services.values(), live_slices.values())
    assert view.services == rebuilt.services
    assert view.endpoints == rebuilt.endpoints
    assert view.vips == rebuilt.vips
    assert view.node_ports == rebuilt.node_ports


def test_categorize_local_and_zone_hints():
    name = ServicePortName("ns", "s", "", "TCP")
    local_sp = ServicePort(name, "ClusterIP", "10.96.0.1", 80, internal_policy_local=True)
    eps = (Endpoint("10.0.0.1", 80, node_name="n1"), Endpoint("10.0.0.2", 80, node_name="n2"))
    assert categorize(eps, local_sp, "n1").reachable == eps[:1]
    assert (
        categorize(eps, local_sp, "n3").reachable == () and categorize(eps, local_sp, "n3").has_any
    )
    sp = ServicePort(name, "ClusterIP", "10.96.0.1", 80)
    hinted = (
        Endpoint("10.0.0.1", 80, zone_hints=frozenset({"a"})),
        Endpoint("10.0.0.2", 80, zone_hints=frozenset({"b"})),
    )
    assert categorize(hinted, sp, "n", zone="a").cluster == hinted[:1]
    assert categorize(hinted, sp, "n", zone="c").cluster == hinted  # no hint for zone c


@pytest.mark.slow
def test_ten_thousand_services_build_and_incremental(capsys):
    services, slices = cluster(10_000)
    t0 = time.perf_counter()
    full = ProxyView.build(services, slices)
    t1 = time.perf_counter()
    view = ProxyView()
    for s in services:
        view, _ = view.apply("Service", "ADDED", s)
    for s in slices:
        view, _ = view.apply("EndpointSlice", "ADDED", s)
    t2 = time.perf_counter()
    assert len(full) == len(view) == 10_000
    assert view.endpoints == full.endpoints
    with capsys.disabled():
        print(
            f"\n10k services x 10 endpoints: build {t1 - t0:.2f} s, 20k incremental events {t2 - t1:.2f} s"
        )
