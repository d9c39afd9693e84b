"""nftables mode: chain names, structure and transaction diffs."""

from __future__ import annotations

from kubesim.components.kube_proxy.model import ProxyView, ServicePortName
from kubesim.components.kube_proxy.nftables import (
    NftConfig,
    build_ruleset,
    chain_base,
    diff,
    endpoint_chain_base,
)
from tests.components.kube_proxy.helpers import cluster, endpoint, endpoint_slice, service


def test_chain_names_match_kube_proxy():
    # Examples in kubernetes/kubernetes pkg/proxy/nftables/proxier.go comments.
    assert chain_base("ns1", "svc1", "TCP", "p80") == "ULMVA6XW-ns1/svc1/tcp/p80"
    view = ProxyView.build(
        [service("ns1", "svc1", "172.30.0.41")],
        [endpoint_slice("ns1", "svc1", [endpoint("10.180.0.1")])],
    )
    sp = view.port(ServicePortName("ns1", "svc1", "p80", "TCP"))
    assert (
        endpoint_chain_base(sp, view.endpoints_of(sp.name)[0])
        == "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
    )


def test_structure_and_counts():
    view = ProxyView.build(
        [service("ns", "s", "10.96.0.1"), service("ns", "empty", "10.96.0.2")],
        [
            endpoint_slice(
                "ns",
                "s",
                [endpoint(f"10.0.0.{i}") for i in range(1, 4)]
                + [endpoint("10.0.0.9", ready=False)],
            )
        ],
    )
    rs = build_ruleset(view, NftConfig())
    svc = "service-" + chain_base("ns", "s", "TCP", "p80")
    assert rs.chains[svc][-1].startswith("numgen random mod 3 vmap { 0 : goto endpoint-")
    assert len(rs.endpoints_of(svc)) == 3
    assert rs.sets["service-ips"] == {f"10.96.0.1 . tcp . 80 : goto {svc}"}
    assert rs.sets["no-endpoint-services"] == {"10.96.0.2 . tcp . 80 : goto reject-chain"}
    assert rs.sets["cluster-ips"] == {"10.96.0.1", "10.96.0.2"}
    assert len(rs.chains) == 4  # service chain + 3 endpoint chains


def test_diff_is_incremental():
    services, slices = cluster(1000)
    a = build_ruleset(ProxyView.build(services, slices), NftConfig())
    slices[5]["endpoints"][0]["conditions"] = {"ready": False}
    slices[5]["endpoints"][1]["conditions"] = {"ready": False}
    b = build_ruleset(ProxyView.build(services, slices), NftConfig())
    d = diff(a, b)
    assert d.chains_rewritten == 1 and d.elements_added == d.elements_deleted == 0
    assert d.changed < 30 < a.total
    assert diff(b, b).changed == 0
