"""The iptables rule set against kube-proxy 1.32's own expectations."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kubesim.components.kube_proxy.iptables import (
    IptablesConfig,
    build_ruleset,
    count_rules,
    endpoint_chain_name,
    probability,
    render,
    service_chain_name,
    service_rule_counts,
    service_rules,
)
from kubesim.components.kube_proxy.model import Endpoint, ProxyView, ServicePort, ServicePortName
from tests.components.kube_proxy.helpers import endpoint, endpoint_slice, service


def test_chain_names_match_kube_proxy():
    # Hashes from kubernetes/kubernetes pkg/proxy/iptables/proxier_test.go.
    assert service_chain_name("SVC", "ns1/svc1:p80", "TCP") == "KUBE-SVC-XPGD46QRK7WJZT7O"
    assert service_chain_name("EXT", "ns2/svc2:p80", "tcp") == "KUBE-EXT-GNZBNJ2PO5MGZ6GT"
    assert service_chain_name("FW", "ns5/svc5:p80", "tcp") == "KUBE-FW-NUKIZ6OKUXPJNT4C"
    assert (
        endpoint_chain_name("ns1/svc1:p80", "tcp", "10.180.0.1:80") == "KUBE-SEP-SXIVWICOYRO3J4NJ"
    )
    assert (
        endpoint_chain_name("ns1/svc1:p80", "tcp", "10.180.2.1:80") == "KUBE-SEP-ZX7GRIZKSNUQ3LAJ"
    )
    assert (
        endpoint_chain_name("ns4/svc4:p80", "tcp", "10.180.0.5:80") == "KUBE-SEP-C6EBXVWJJZMIWKLZ"
    )


def test_probabilities_have_ten_decimals():
    assert [probability(n) for n in (4, 3, 2)] == ["0.2500000000", "0.3333333333", "0.5000000000"]


WORKED = """\
*filter
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
:KUBE-FIREWALL - [0:0]
-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-SVC-CDGGSHYLG3RE2FKL - [0:0]
:KUBE-SEP-AFGSLHOD2HFNCBX4 - [0:0]
:KUBE-SEP-2RIJ5GIYXEFH6G4D - [0:0]
:KUBE-SEP-RBX5X5TOEG5GD3RO - [0:0]
-A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000
-A KUBE-SERVICES -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.10 --dport 80 -j KUBE-SVC-CDGGSHYLG3RE2FKL
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.10 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.1.5:8080" -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-AFGSLHOD2HFNCBX4
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.2.7:8080" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-2RIJ5GIYXEFH6G4D
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.3.9:8080" -j KUBE-SEP-RBX5X5TOEG5GD3RO
-A KUBE-SEP-AFGSLHOD2HFNCBX4 -m comment --comment default/web:http -s 10.244.1.5 -j KUBE-MARK-MASQ
-A KUBE-SEP-AFGSLHOD2HFNCBX4 -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.244.1.5:8080
-A KUBE-SEP-2RIJ5GIYXEFH6G4D -m comment --comment default/web:http -s 10.244.2.7 -j KUBE-MARK-MASQ
-A KUBE-SEP-2RIJ5GIYXEFH6G4D -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.244.2.7:8080
-A KUBE-SEP-RBX5X5TOEG5GD3RO -m comment --comment default/web:http -s 10.244.3.9 -j KUBE-MARK-MASQ
-A KUBE-SEP-RBX5X5TOEG5GD3RO -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.244.3.9:8080
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
COMMIT
"""


def test_worked_example_clusterip_with_three_ready_endpoints():
    """A ClusterIP Service with 3 ready endpoints (and one not ready, which gets no
    rule) writes exactly this on a node with the default kube-proxy 1.32 settings
    (clusterCIDR 10.244.0.0/16, masquerade bit 14, localhost NodePorts, nfacct)."""
    svc = service(
        "default", "web", "10.96.0.10",
        [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
    )  # fmt: skip
    eps = [endpoint(ip) for ip in ("10.244.3.9", "10.244.1.5", "10.244.2.7")]
    eps.append(endpoint("10.244.4.4", ready=False))
    sl = endpoint_slice("default", "web", eps, [{"name": "http", "port": 8080, "protocol": "TCP"}])
    view = ProxyView.build([svc], [sl])
    ruleset = build_ruleset(view, IptablesConfig(node_name="node-a"))
    assert render(ruleset) == WORKED
    # 4 fixed nat rules + 1 (KUBE-SERVICES) + 1 (masq) + 3 (SVC -> SEP) + 2 x 3 (SEP)
    # + the final KUBE-NODEPORTS jump; filter: KUBE-FIREWALL + 3 x KUBE-FORWARD.
    assert (ruleset.counts().nat, ruleset.counts().filter) == (16, 4)
    assert count_rules(view, IptablesConfig(node_name="node-a")) == ruleset.counts()


# kubernetes/kubernetes pkg/proxy/iptables/proxier_test.go TestOverallIPTablesRules
# (which compares sorted rules; its fake proxier uses the literal mark 0x4000 and an
# iptables without --random-fully).
OVERALL_FILTER = """\
-A KUBE-NODEPORTS -m comment --comment "ns2/svc2:p80 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT
-A KUBE-SERVICES -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.46 --dport 80 -j REJECT
-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j DROP
-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP
-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j DROP
-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-PROXY-FIREWALL -m comment --comment "ns5/svc5:p80 traffic not accepted by KUBE-FW-NUKIZ6OKUXPJNT4C" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j DROP
"""

OVERALL_NAT = """\
-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3001 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-NODEPORTS -m comment --comment ns3/svc3:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3003 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-X27LE4BHSL4DOUIK
-A KUBE-NODEPORTS -m comment --comment ns3/svc3:p80 -m tcp -p tcp --dport 3003 -j KUBE-EXT-X27LE4BHSL4DOUIK
-A KUBE-NODEPORTS -m comment --comment ns5/svc5:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3002 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-NUKIZ6OKUXPJNT4C
-A KUBE-NODEPORTS -m comment --comment ns5/svc5:p80 -m tcp -p tcp --dport 3002 -j KUBE-EXT-NUKIZ6OKUXPJNT4C
-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 external IP" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-SERVICES -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 -j KUBE-SVC-X27LE4BHSL4DOUIK
-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 -j KUBE-SVC-4SW47YFZTEDKD3PK
-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 external IP" -m tcp -p tcp -d 192.168.99.33 --dport 80 -j KUBE-EXT-4SW47YFZTEDKD3PK
-A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 cluster IP" -m tcp -p tcp -d 172.30.0.45 --dport 80 -j KUBE-SVC-NUKIZ6OKUXPJNT4C
-A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 loadbalancer IP" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j KUBE-FW-NUKIZ6OKUXPJNT4C
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-EXT-4SW47YFZTEDKD3PK -m comment --comment "masquerade traffic for ns4/svc4:p80 external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-4SW47YFZTEDKD3PK -j KUBE-SVC-4SW47YFZTEDKD3PK
-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "pod traffic for ns2/svc2:p80 external destinations" -s 10.0.0.0/8 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "masquerade LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "route LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
-A KUBE-EXT-NUKIZ6OKUXPJNT4C -m comment --comment "masquerade traffic for ns5/svc5:p80 external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-NUKIZ6OKUXPJNT4C -j KUBE-SVC-NUKIZ6OKUXPJNT4C
-A KUBE-EXT-X27LE4BHSL4DOUIK -m comment --comment "masquerade traffic for ns3/svc3:p80 external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-X27LE4BHSL4DOUIK -j KUBE-SVC-X27LE4BHSL4DOUIK
-A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 loadbalancer IP" -s 203.0.113.0/25 -j KUBE-EXT-NUKIZ6OKUXPJNT4C
-A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment "other traffic to ns5/svc5:p80 will be dropped by KUBE-PROXY-FIREWALL"
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
-A KUBE-SEP-C6EBXVWJJZMIWKLZ -m comment --comment ns4/svc4:p80 -s 10.180.0.5 -j KUBE-MARK-MASQ
-A KUBE-SEP-C6EBXVWJJZMIWKLZ -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.5:80
-A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ
-A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80
-A KUBE-SEP-OYPFS5VJICHGATKP -m comment --comment ns3/svc3:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ
-A KUBE-SEP-OYPFS5VJICHGATKP -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80
-A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -s 10.180.0.2 -j KUBE-MARK-MASQ
-A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80
-A KUBE-SEP-UKSFD7AGPMPPLUHC -m comment --comment ns4/svc4:p80 -s 10.180.0.4 -j KUBE-MARK-MASQ
-A KUBE-SEP-UKSFD7AGPMPPLUHC -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.4:80
-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.4:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-UKSFD7AGPMPPLUHC
-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.5:80" -j KUBE-SEP-C6EBXVWJJZMIWKLZ
-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 -> 10.180.0.2:80" -j KUBE-SEP-RS4RBKLTHTF2IUXJ
-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 cluster IP" -m tcp -p tcp -d 172.30.0.45 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --rcheck --seconds 10800 --reap -j KUBE-SEP-I77PXRDZVX7PMWMN
-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -j KUBE-SEP-I77PXRDZVX7PMWMN
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.180.0.3:80" -j KUBE-SEP-OYPFS5VJICHGATKP
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ
"""


def _overall_view() -> ProxyView:
    services = [
        service("ns1", "svc1", "172.30.0.41"),
        service(
            "ns2", "svc2", "172.30.0.42",
            [{"name": "p80", "port": 80, "protocol": "TCP", "nodePort": 3001}],
            type="LoadBalancer", externalTrafficPolicy="Local",
            externalIPs=["192.168.99.22"], healthCheckNodePort=30000,
            status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}},
        ),
        service(
            "ns3", "svc3", "172.30.0.43",
            [{"name": "p80", "port": 80, "protocol": "TCP", "nodePort": 3003}], type="NodePort",
        ),
        service("ns4", "svc4", "172.30.0.44", type="NodePort", externalIPs=["192.168.99.33"]),
        service(
            "ns5", "svc5", "172.30.0.45",
            [{"name": "p80", "port": 80, "protocol": "TCP", "nodePort": 3002}],
            type="LoadBalancer", externalTrafficPolicy="Cluster", healthCheckNodePort=30000,
            loadBalancerSourceRanges=[" 203.0.113.0/25"], sessionAffinity="ClientIP",
            sessionAffinityConfig={"clientIP": {"timeoutSeconds": 10800}},
            status={"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}]}},
        ),
        service("ns6", "svc6", "172.30.0.46"),
    ]  # fmt: skip
    slices = [
        endpoint_slice("ns1", "svc1", [endpoint("10.180.0.1")]),
        endpoint_slice("ns2", "svc2", [endpoint("10.180.0.2")]),
        endpoint_slice("ns3", "svc3", [endpoint("10.180.0.3")]),
        endpoint_slice(
            "ns4", "svc4", [endpoint("10.180.0.4"), endpoint("10.180.0.5", node="test-node")]
        ),
        endpoint_slice("ns5", "svc5", [endpoint("10.180.0.3")]),
    ]
    return ProxyView.build(services, slices)


def _tables(text: str) -> dict[str, list[str]]:
    tables: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("*"):
            current = line[1:]
        elif line.startswith("-A"):
            tables.setdefault(current, []).append(line.replace("0x00004000", "0x4000"))
    return tables


def test_overall_rules_match_kube_proxy_unit_test():
    cfg = IptablesConfig(
        node_name="test-node", node_ip="192.168.0.2", cluster_cidr="10.0.0.0/8", random_fully=False
    )
    view = _overall_view()
    ruleset = build_ruleset(view, cfg)
    tables = _tables(render(ruleset))
    assert sorted(tables["filter"]) == sorted(OVERALL_FILTER.splitlines())
    assert sorted(tables["nat"]) == sorted(OVERALL_NAT.splitlines())
    counts = ruleset.counts()
    assert (counts.filter, counts.nat) == (len(tables["filter"]), len(tables["nat"]))
    assert count_rules(view, cfg) == counts


def test_rule_count_formula_for_clusterip():
    """Per service with n ready endpoints: 2 + 3n nat rules (KUBE-SERVICES jump, masq,
    n probability jumps, 2 per KUBE-SEP chain); with ClientIP affinity 2 + 4n; with no
    usable endpoint one filter REJECT and no nat rule."""
    sp = ServicePort(ServicePortName("ns", "s", "", "TCP"), "ClusterIP", "10.96.0.1", 80)
    cfg = IptablesConfig()
    for n in range(0, 12):
        eps = tuple(Endpoint(f"10.1.0.{i + 1}", 80) for i in range(n))
        f, top, own = service_rule_counts(sp, eps, cfg)
        assert (f, top + own) == ((1, 0) if n == 0 else (0, 2 + 3 * n))
        sticky = ServicePort(sp.name, "ClusterIP", "10.96.0.1", 80, affinity_seconds=60)
        f, top, own = service_rule_counts(sticky, eps, cfg)
        assert top + own == (0 if n == 0 else 2 + 4 * n)


def test_terminating_fallback_and_not_ready():
    sp = ServicePort(ServicePortName("ns", "s", "", "TCP"), "ClusterIP", "10.96.0.1", 80)
    eps = (
        Endpoint("10.1.0.1", 80, ready=False, serving=True, terminating=True),
        Endpoint("10.1.0.2", 80, ready=False, serving=False, terminating=True),
        Endpoint("10.1.0.3", 80, ready=False),
    )
    rules = service_rules(sp, eps, IptablesConfig())
    dnats = [r.dnat for r in rules.nat if r.dnat]
    assert dnats == [("10.1.0.1", 80)]  # only serving-terminating, as no endpoint is ready
    ready = eps + (Endpoint("10.1.0.4", 80),)
    assert [r.dnat for r in service_rules(sp, ready, IptablesConfig()).nat if r.dnat] == [
        ("10.1.0.4", 80)
    ]


def test_large_cluster_mode_drops_endpoint_comments():
    services = [service("ns", f"s{i}", f"10.96.0.{i + 1}") for i in range(101)]
    slices = [
        endpoint_slice("ns", f"s{i}", [endpoint(f"10.1.{i}.{j + 1}") for j in range(10)])
        for i in range(101)
    ]
    ruleset = build_ruleset(ProxyView.build(services, slices), IptablesConfig())
    assert ruleset.large_cluster
    text = render(ruleset)
    assert " -> 10.1." not in text and "-m comment --comment ns/s0 " not in text
    assert '"ns/s0:p80 cluster IP"' in text  # KUBE-SERVICES comments stay


def test_partial_sync_writes_only_changed_chains():
    view = _overall_view()
    ruleset = build_ruleset(view, IptablesConfig(node_name="test-node"))
    emptied = build_ruleset(
        _overall_view().apply("EndpointSlice", "DELETED", endpoint_slice("ns1", "svc1", []))[0],
        IptablesConfig(node_name="test-node"),
    )
    assert ruleset.nat_chains() - emptied.nat_chains() == {
        "KUBE-SVC-XPGD46QRK7WJZT7O",
        "KUBE-SEP-SXIVWICOYRO3J4NJ",
    }
    partial = render(ruleset, changed={("ns1", "svc1")}, stale_chains=["KUBE-SEP-OLD"])
    assert ":KUBE-SVC-XPGD46QRK7WJZT7O" in partial and ":KUBE-SVC-4SW47YFZTEDKD3PK" not in partial
    assert "-X KUBE-SEP-OLD" in partial
    assert "-d 172.30.0.44 --dport 80 -j KUBE-SVC-4SW47YFZTEDKD3PK" in partial  # top rules stay


_policy = st.sampled_from(["Cluster", "Local"])


@settings(max_examples=150, deadline=None)
@given(
    n_eps=st.integers(0, 6),
    ready=st.lists(st.booleans(), min_size=6, max_size=6),
    terminating=st.lists(st.booleans(), min_size=6, max_size=6),
    local=st.lists(st.booleans(), min_size=6, max_size=6),
    svc_type=st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"]),
    etp=_policy,
    itp=_policy,
    affinity=st.booleans(),
    ranges=st.sampled_from([[], ["192.168.0.0/16"], ["203.0.113.0/25", "10.0.0.0/8"]]),
    ext_ips=st.sampled_from([[], ["192.168.99.1"]]),
    cidr=st.sampled_from([None, "10.0.0.0/8"]),
    nfacct=st.booleans(),
)
def test_count_formula_matches_generated_rules(
    n_eps, ready, terminating, local, svc_type, etp, itp, affinity, ranges, ext_ips, cidr, nfacct
):
    port = {"name": "p", "port": 80, "protocol": "TCP"}
    extra: dict = {"type": svc_type, "externalTrafficPolicy": etp, "internalTrafficPolicy": itp}
    if svc_type != "ClusterIP":
        port["nodePort"] = 30080
    if svc_type == "LoadBalancer":
        extra["status"] = {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"ip": "5.6.7.8"}]}}
        extra["loadBalancerSourceRanges"] = ranges
        if etp == "Local":
            extra["healthCheckNodePort"] = 31000
    if affinity:
        extra["sessionAffinity"] = "ClientIP"
    svc = service("ns", "s", "10.96.0.1", [port], externalIPs=ext_ips, **extra)
    eps = [
        endpoint(
            f"10.1.0.{i + 1}", ready=ready[i], node="me" if local[i] else "other",
            conditions={"serving": True, "terminating": terminating[i]},
        )
        for i in range(n_eps)
    ]  # fmt: skip
    view = ProxyView.build([svc], [endpoint_slice("ns", "s", eps, [{"name": "p", "port": 80}])])
    cfg = IptablesConfig(node_name="me", node_ip="192.168.1.1", cluster_cidr=cidr, nfacct=nfacct)
    assert count_rules(view, cfg) == build_ruleset(view, cfg).counts()


def test_rules_only_for_usable_endpoints_at_scale():
    from tests.components.kube_proxy.helpers import cluster

    services, slices = cluster(100)
    view = ProxyView.build(services, slices)
    for sr in build_ruleset(view, IptablesConfig(node_name="node1")).services:
        spn = next(sp.name for sp in view.services[sr.service])
        eps = view.endpoints_of(spn)
        usable = {(e.ip, e.port) for e in eps if e.ready} or {
            (e.ip, e.port) for e in eps if e.serving and e.terminating
        }
        assert {r.dnat for r in sr.nat if r.dnat} == usable
