"""The rule set kube-proxy 1.32's iptables mode writes on one node.

Mirrors pkg/proxy/iptables/proxier.go syncProxyRules (IPv4): the filter and nat tables'
KUBE-* chains with the real chain names (KUBE-SVC-/SVL-/EXT-/FW- + the first 16
characters of base32(sha256(servicePortName + protocol)), KUBE-SEP- + the same of
servicePortName + protocol + "ip:port"), the `-m statistic --mode random --probability`
chain (1/n, 1/(n-1), ... with 10 decimals), `-m recent` session affinity, the
no-endpoints REJECT / no-local-endpoints DROP filter rules, and comments dropped in
"large cluster mode" (more than 1,000 endpoints).

Services are written in ServicePortName order (kube-proxy walks a Go map, so its order
is random; the rules are the same). `render` gives the iptables-restore input of a full
sync, or of a partial sync (KEP-3453: only the changed Services' chains). The counts are
what kubeproxy_sync_proxy_rules_iptables_total{table} reports: the "-A" lines of the
table, chain declarations not included.

Each `Rule` also carries the few matches a packet walk needs (`dataplane` uses them).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from kubesim.components.kube_proxy.model import (
    Endpoint,
    NamespacedName,
    ProxyView,
    ServicePort,
    categorize,
)

__all__ = [
    "IptablesConfig",
    "Rule",
    "ServiceRules",
    "IptablesRuleSet",
    "RuleCounts",
    "service_chain_name",
    "endpoint_chain_name",
    "service_rules",
    "service_rule_counts",
    "build_ruleset",
    "count_rules",
    "render",
    "probability",
    "fixed_rules",
    "in_cidr",
    "ip_to_int",
]

KUBE_SERVICES = "KUBE-SERVICES"
KUBE_EXTERNAL_SERVICES = "KUBE-EXTERNAL-SERVICES"
KUBE_NODEPORTS = "KUBE-NODEPORTS"
KUBE_POSTROUTING = "KUBE-POSTROUTING"
KUBE_MARK_MASQ = "KUBE-MARK-MASQ"
KUBE_FORWARD = "KUBE-FORWARD"
KUBE_PROXY_FIREWALL = "KUBE-PROXY-FIREWALL"
KUBE_FIREWALL = "KUBE-FIREWALL"
LARGE_CLUSTER_ENDPOINTS = 1000  # largeClusterEndpointsThreshold
LOCALHOST_NODEPORT_COUNTER = "localhost_nps_accepted_pkts"
INVALID_DROPPED_COUNTER = "ct_state_invalid_dropped_pkts"


@dataclass(frozen=True)
class IptablesConfig:
    """The node and kube-proxy settings the rule set depends on.

    ``cluster_cidr`` feeds the ClusterCIDR local-traffic detector (None: no detector,
    so no "! -s <cidr> -j KUBE-MARK-MASQ" rule per service); the default is the
    kubeadm/flannel pod CIDR. ``nfacct`` is whether the nfacct counters exist (they add
    `-m nfacct` matches and a localhost NodePort rule).
    """

    node_name: str = ""
    node_ip: str = ""
    zone: str = ""
    cluster_cidr: str | None = "10.244.0.0/16"
    masquerade_all: bool = False
    masquerade_bit: int = 14
    localhost_node_ports: bool = True
    nfacct: bool = True
    random_fully: bool = True
    conntrack_tcp_liberal: bool = False

    @property
    def masquerade_mark(self) -> str:
        """Go's fmt.Sprintf("%#08x", 1<<bit): the width counts digits, so 0x00004000."""
        return "0x" + format(1 << self.masquerade_bit, "08x")


@dataclass(frozen=True, slots=True)
class Rule:
    """One "-A" line: ``text`` is the whole line; the other fields are the matches and
    targets a packet walk evaluates (dst/dport/proto are only set where they decide)."""

    chain: str
    text: str
    target: str = ""  # jump target chain, "DNAT", "KUBE-MARK-MASQ", "" (none), ...
    src: str = ""  # -s ip or cidr
    src_negated: bool = False
    src_local: bool = False  # -m addrtype --src-type LOCAL
    dst: str = ""  # -d ip or cidr
    dport: int = 0
    probability: float = 0.0  # -m statistic --mode random; 0 = none
    recent_check: tuple[str, int] | None = None  # (list name, seconds)
    recent_set: str = ""  # -m recent --name X --set
    dnat: tuple[str, int] | None = None


def _hash16(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


@lru_cache(maxsize=65536)
def _port_proto_hash(spn: str, protocol: str) -> str:
    return _hash16(spn + protocol.lower())


def service_chain_name(prefix: str, spn: str, protocol: str) -> str:
    """KUBE-SVC-/SVL-/EXT-/FW- chain name of a service port ("ns/name:port")."""
    return f"KUBE-{prefix}-{_port_proto_hash(spn, protocol)}"


def endpoint_chain_name(spn: str, protocol: str, endpoint: str) -> str:
    """KUBE-SEP- chain name of one endpoint ("ip:port") of a service port."""
    return "KUBE-SEP-" + _hash16(spn + protocol.lower() + endpoint)


@lru_cache(maxsize=4096)
def probability(n: int) -> str:
    """kube-proxy's computeProbability: 1/n with 10 decimals."""
    return f"{1.0 / n:0.10f}"


def _q(comment: str) -> str:
    return f'"{comment}"'


@dataclass(frozen=True, slots=True)
class ServiceRules:
    """Everything one service port writes. ``filter`` and ``nat_top`` (its
    KUBE-SERVICES / KUBE-NODEPORTS rules) are written on every sync; ``chains`` and
    ``nat`` (its own SVC/SVL/EXT/FW/SEP chains) only when it changed or on a full sync."""

    service: NamespacedName
    filter: tuple[Rule, ...]
    nat_top: tuple[Rule, ...]
    chains: tuple[str, ...]
    nat: tuple[Rule, ...]


def service_rules(
    sp: ServicePort,
    endpoints: tuple[Endpoint, ...],
    cfg: IptablesConfig,
    large_cluster: bool = False,
) -> ServiceRules:
    """The rules kube-proxy writes for one service port on the node ``cfg`` describes."""
    spn = str(sp.name)
    proto = sp.protocol.lower()
    pm = f"-m {proto} -p {proto}"
    svc_chain = service_chain_name("SVC", spn, proto)
    svl_chain = service_chain_name("SVL", spn, proto)
    ext_chain = service_chain_name("EXT", spn, proto)
    fw_chain = service_chain_name("FW", spn, proto)
    cat = categorize(endpoints, sp, cfg.node_name, cfg.zone)
    uses_svc = bool(cat.cluster) and sp.uses_cluster_endpoints
    uses_svl = bool(cat.local) and sp.uses_local_endpoints
    has_eps = cat.has_any
    internal_chain, has_internal = svc_chain, has_eps
    if sp.internal_policy_local:
        internal_chain, has_internal = svl_chain, has_eps and bool(cat.local)
    external_policy_chain, has_external = svc_chain, has_eps
    if sp.external_policy_local:
        external_policy_chain, has_external = svl_chain, has_eps and bool(cat.local)
    uses_ext = has_eps and sp.externally_accessible
    uses_fw = has_eps and bool(sp.load_balancer_ips) and bool(sp.load_balancer_source_ranges)
    lb_chain = fw_chain if uses_fw else ext_chain
    if not has_eps:
        int_target = ext_target = "REJECT"
        int_comment = ext_comment = _q(f"{spn} has no endpoints")
    else:
        int_target = ext_target = "DROP"
        int_comment = ext_comment = _q(f"{spn} has no local endpoints")

    filt: list[Rule] = []
    top: list[Rule] = []
    dport = f"--dport {sp.port}"
    # Capture the clusterIP.
    if has_internal:
        text = f"-A {KUBE_SERVICES} -m comment --comment {_q(spn + ' cluster IP')} {pm} -d {sp.cluster_ip} {dport} -j {internal_chain}"
        top.append(Rule(KUBE_SERVICES, text, internal_chain, dst=sp.cluster_ip, dport=sp.port))
    else:
        text = f"-A {KUBE_SERVICES} -m comment --comment {int_comment} {pm} -d {sp.cluster_ip} {dport} -j {int_target}"
        filt.append(Rule(KUBE_SERVICES, text, int_target, dst=sp.cluster_ip, dport=sp.port))
    # Capture externalIPs.
    for ip in sp.external_ips:
        if has_eps:
            text = f"-A {KUBE_SERVICES} -m comment --comment {_q(spn + ' external IP')} {pm} -d {ip} {dport} -j {ext_chain}"
            top.append(Rule(KUBE_SERVICES, text, ext_chain, dst=ip, dport=sp.port))
        if not has_external:
            text = f"-A {KUBE_EXTERNAL_SERVICES} -m comment --comment {ext_comment} {pm} -d {ip} {dport} -j {ext_target}"
            filt.append(Rule(KUBE_EXTERNAL_SERVICES, text, ext_target, dst=ip, dport=sp.port))
    # Capture load-balancer ingress.
    for ip in sp.load_balancer_ips:
        if has_eps:
            text = f"-A {KUBE_SERVICES} -m comment --comment {_q(spn + ' loadbalancer IP')} {pm} -d {ip} {dport} -j {lb_chain}"
            top.append(Rule(KUBE_SERVICES, text, lb_chain, dst=ip, dport=sp.port))
        if uses_fw:
            text = f"-A {KUBE_PROXY_FIREWALL} -m comment --comment {_q(f'{spn} traffic not accepted by {fw_chain}')} {pm} -d {ip} {dport} -j DROP"
            filt.append(Rule(KUBE_PROXY_FIREWALL, text, "DROP", dst=ip, dport=sp.port))
    if not has_external:
        for ip in sp.load_balancer_ips:
            text = f"-A {KUBE_EXTERNAL_SERVICES} -m comment --comment {ext_comment} {pm} -d {ip} {dport} -j {ext_target}"
            filt.append(Rule(KUBE_EXTERNAL_SERVICES, text, ext_target, dst=ip, dport=sp.port))
    # Capture nodeports.
    if sp.node_port:
        np = sp.node_port
        if has_eps:
            if cfg.localhost_node_ports and cfg.nfacct:
                text = f"-A {KUBE_NODEPORTS} -m comment --comment {spn} {pm} -d 127.0.0.0/8 --dport {np} -m nfacct --nfacct-name {LOCALHOST_NODEPORT_COUNTER} -j {ext_chain}"
                top.append(Rule(KUBE_NODEPORTS, text, ext_chain, dst="127.0.0.0/8", dport=np))
            text = (
                f"-A {KUBE_NODEPORTS} -m comment --comment {spn} {pm} --dport {np} -j {ext_chain}"
            )
            top.append(Rule(KUBE_NODEPORTS, text, ext_chain, dport=np))
        if not has_external:
            text = f"-A {KUBE_EXTERNAL_SERVICES} -m comment --comment {ext_comment} -m addrtype --dst-type LOCAL {pm} --dport {np} -j {ext_target}"
            filt.append(Rule(KUBE_EXTERNAL_SERVICES, text, ext_target, dport=np))
    # Capture healthCheckNodePorts.
    if sp.health_check_node_port:
        text = f"-A {KUBE_NODEPORTS} -m comment --comment {_q(spn + ' health check node port')} -m tcp -p tcp --dport {sp.health_check_node_port} -j ACCEPT"
        filt.append(Rule(KUBE_NODEPORTS, text, "ACCEPT", dport=sp.health_check_node_port))

    chains: list[str] = []
    nat: list[Rule] = []
    # Internal traffic masquerade.
    if has_internal:
        args = f"-m comment --comment {_q(spn + ' cluster IP')} {pm} -d {sp.cluster_ip} {dport}"
        if cfg.masquerade_all:
            nat.append(
                Rule(
                    internal_chain,
                    f"-A {internal_chain} {args} -j {KUBE_MARK_MASQ}",
                    KUBE_MARK_MASQ,
                )
            )
        elif cfg.cluster_cidr:
            text = f"-A {internal_chain} {args} ! -s {cfg.cluster_cidr} -j {KUBE_MARK_MASQ}"
            nat.append(
                Rule(internal_chain, text, KUBE_MARK_MASQ, src=cfg.cluster_cidr, src_negated=True)
            )
    # External traffic chain.
    if uses_ext:
        chains.append(ext_chain)
        if not sp.external_policy_local:
            text = f"-A {ext_chain} -m comment --comment {_q(f'masquerade traffic for {spn} external destinations')} -j {KUBE_MARK_MASQ}"
            nat.append(Rule(ext_chain, text, KUBE_MARK_MASQ))
        else:
            if cfg.cluster_cidr:
                text = f"-A {ext_chain} -m comment --comment {_q(f'pod traffic for {spn} external destinations')} -s {cfg.cluster_cidr} -j {svc_chain}"
                nat.append(Rule(ext_chain, text, svc_chain, src=cfg.cluster_cidr))
            text = f"-A {ext_chain} -m comment --comment {_q(f'masquerade LOCAL traffic for {spn} external destinations')} -m addrtype --src-type LOCAL -j {KUBE_MARK_MASQ}"
            nat.append(Rule(ext_chain, text, KUBE_MARK_MASQ, src_local=True))
            text = f"-A {ext_chain} -m comment --comment {_q(f'route LOCAL traffic for {spn} external destinations')} -m addrtype --src-type LOCAL -j {svc_chain}"
            nat.append(Rule(ext_chain, text, svc_chain, src_local=True))
        if has_external:
            text = f"-A {ext_chain} -j {external_policy_chain}"
            nat.append(Rule(ext_chain, text, external_policy_chain))
    # Firewall chain (loadBalancerSourceRanges).
    if uses_fw:
        chains.append(fw_chain)
        args = f"-A {fw_chain} -m comment --comment {_q(spn + ' loadbalancer IP')}"
        allow_node = False
        for cidr in sp.load_balancer_source_ranges:
            nat.append(Rule(fw_chain, f"{args} -s {cidr} -j {ext_chain}", ext_chain, src=cidr))
            allow_node = allow_node or (bool(cfg.node_ip) and in_cidr(cfg.node_ip, cidr))
        if allow_node:
            for ip in sp.load_balancer_ips:
                nat.append(Rule(fw_chain, f"{args} -s {ip} -j {ext_chain}", ext_chain, src=ip))
        text = f"-A {fw_chain} -m comment --comment {_q(f'other traffic to {spn} will be dropped by {KUBE_PROXY_FIREWALL}')}"
        nat.append(Rule(fw_chain, text))
    if uses_svc:
        chains.append(svc_chain)
        nat.extend(_to_endpoints(sp, spn, proto, svc_chain, cat.cluster, large_cluster))
    if uses_svl:
        chains.append(svl_chain)
        nat.extend(_to_endpoints(sp, spn, proto, svl_chain, cat.local, large_cluster))
    # Per-endpoint chains.
    comment = "" if large_cluster else f" -m comment --comment {spn}"
    for ep in cat.reachable:
        sep = endpoint_chain_name(spn, proto, str(ep))
        chains.append(sep)
        nat.append(
            Rule(
                sep, f"-A {sep}{comment} -s {ep.ip} -j {KUBE_MARK_MASQ}", KUBE_MARK_MASQ, src=ep.ip
            )
        )
        recent = f" -m recent --name {sep} --set" if sp.affinity_seconds else ""
        text = f"-A {sep}{comment}{recent} {pm} -j DNAT --to-destination {ep}"
        nat.append(Rule(sep, text, "DNAT", recent_set=sep if recent else "", dnat=(ep.ip, ep.port)))
    return ServiceRules(sp.name.service, tuple(filt), tuple(top), tuple(chains), tuple(nat))


def _to_endpoints(
    sp: ServicePort,
    spn: str,
    proto: str,
    chain: str,
    endpoints: tuple[Endpoint, ...],
    large_cluster: bool,
) -> Iterator[Rule]:
    """writeServiceToEndpointRules: affinity checks, then the probability chain."""

    def comment(ep: Endpoint) -> str:
        return "" if large_cluster else f" -m comment --comment {_q(f'{spn} -> {ep}')}"

    if sp.affinity_seconds:
        for ep in endpoints:
            sep = endpoint_chain_name(spn, proto, str(ep))
            text = f"-A {chain}{comment(ep)} -m recent --name {sep} --rcheck --seconds {sp.affinity_seconds} --reap -j {sep}"
            yield Rule(chain, text, sep, recent_check=(sep, sp.affinity_seconds))
    n = len(endpoints)
    for i, ep in enumerate(endpoints):
        sep = endpoint_chain_name(spn, proto, str(ep))
        if i < n - 1:
            p = probability(n - i)
            text = f"-A {chain}{comment(ep)} -m statistic --mode random --probability {p} -j {sep}"
            yield Rule(chain, text, sep, probability=float(p))
        else:
            yield Rule(chain, f"-A {chain}{comment(ep)} -j {sep}", sep)


@lru_cache(maxsize=4096)
def _cidr(cidr: str) -> tuple[int, int]:
    ip, _, bits = cidr.partition("/")
    prefix = int(bits) if bits else 32
    mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
    return ip_to_int(ip) & mask, mask


def ip_to_int(ip: str) -> int:
    a, b, c, d = (int(x) for x in ip.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def in_cidr(ip: str, cidr: str) -> bool:
    """Whether IPv4 ``ip`` is inside ``cidr`` (a bare address is a /32)."""
    net, mask = _cidr(cidr)
    return (ip_to_int(ip) & mask) == net


# -- the whole node --------------------------------------------------------------------


def fixed_rules(cfg: IptablesConfig) -> tuple[tuple[Rule, ...], ...]:
    """(filter head, filter tail, nat head, nat tail): the rules every sync writes."""
    mark = cfg.masquerade_mark
    masq = f'-A {KUBE_POSTROUTING} -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE'
    nat_head = (
        Rule(
            KUBE_POSTROUTING,
            f"-A {KUBE_POSTROUTING} -m mark ! --mark {mark}/{mark} -j RETURN",
            "RETURN",
        ),
        Rule(KUBE_POSTROUTING, f"-A {KUBE_POSTROUTING} -j MARK --xor-mark {mark}", "MARK"),
        Rule(
            KUBE_POSTROUTING, masq + (" --random-fully" if cfg.random_fully else ""), "MASQUERADE"
        ),
        Rule(KUBE_MARK_MASQ, f"-A {KUBE_MARK_MASQ} -j MARK --or-mark {mark}", "MARK"),
    )
    local_dst = "" if cfg.localhost_node_ports else " ! -d 127.0.0.0/8"
    nat_tail = (
        Rule(
            KUBE_SERVICES,
            f'-A {KUBE_SERVICES} -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL{local_dst} -j {KUBE_NODEPORTS}',
            KUBE_NODEPORTS,
        ),
    )
    filter_head: tuple[Rule, ...] = ()
    if cfg.localhost_node_ports:
        filter_head = (
            Rule(
                KUBE_FIREWALL,
                f'-A {KUBE_FIREWALL} -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
                "DROP",
            ),
        )
    tail: list[Rule] = []
    if not cfg.conntrack_tcp_liberal:
        acct = f" -m nfacct --nfacct-name {INVALID_DROPPED_COUNTER}" if cfg.nfacct else ""
        tail.append(
            Rule(
                KUBE_FORWARD,
                f"-A {KUBE_FORWARD} -m conntrack --ctstate INVALID{acct} -j DROP",
                "DROP",
            )
        )
    tail.append(
        Rule(
            KUBE_FORWARD,
            f'-A {KUBE_FORWARD} -m comment --comment "kubernetes forwarding rules" -m mark --mark {mark}/{mark} -j ACCEPT',
            "ACCEPT",
        )
    )
    tail.append(
        Rule(
            KUBE_FORWARD,
            f'-A {KUBE_FORWARD} -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
            "ACCEPT",
        )
    )
    return filter_head, tuple(tail), nat_head, nat_tail


@dataclass(frozen=True)
class RuleCounts:
    """kubeproxy_sync_proxy_rules_iptables_total: "-A" lines per table."""

    filter: int
    nat: int

    @property
    def total(self) -> int:
        return self.filter + self.nat


@dataclass(frozen=True)
class IptablesRuleSet:
    """Every rule one node's kube-proxy owns, services in ServicePortName order."""

    config: IptablesConfig
    services: tuple[ServiceRules, ...]
    large_cluster: bool
    filter_head: tuple[Rule, ...] = field(repr=False, default=())
    filter_tail: tuple[Rule, ...] = field(repr=False, default=())
    nat_head: tuple[Rule, ...] = field(repr=False, default=())
    nat_tail: tuple[Rule, ...] = field(repr=False, default=())

    def counts(self) -> RuleCounts:
        filt = len(self.filter_head) + len(self.filter_tail)
        nat = len(self.nat_head) + len(self.nat_tail)
        for s in self.services:
            filt += len(s.filter)
            nat += len(s.nat_top) + len(s.nat)
        return RuleCounts(filt, nat)

    def nat_chains(self) -> set[str]:
        """The service chains (SVC/SVL/EXT/FW/SEP) this rule set uses."""
        return {c for s in self.services for c in s.chains}


def _large_cluster(view: ProxyView) -> bool:
    total = sum(len(view.endpoints_of(sp.name)) for sp in view.service_ports())
    return total > LARGE_CLUSTER_ENDPOINTS


def build_ruleset(view: ProxyView, cfg: IptablesConfig) -> IptablesRuleSet:
    """The full rule set of one node."""
    large = _large_cluster(view)
    ports = sorted(view.service_ports(), key=lambda sp: sp.name)
    services = tuple(service_rules(sp, view.endpoints_of(sp.name), cfg, large) for sp in ports)
    fh, ft, nh, nt = fixed_rules(cfg)
    return IptablesRuleSet(cfg, services, large, fh, ft, nh, nt)


def render(
    ruleset: IptablesRuleSet,
    changed: Iterable[NamespacedName] | None = None,
    stale_chains: Iterable[str] = (),
) -> str:
    """The iptables-restore input (used with --noflush). ``changed`` None is a full sync;
    otherwise only those Services' own chains are written (a partial sync). Each of
    ``stale_chains`` is flushed and deleted ("-X")."""
    only = None if changed is None else set(changed)
    fh, ft, nh, nt = ruleset.filter_head, ruleset.filter_tail, ruleset.nat_head, ruleset.nat_tail
    filter_chains = [
        KUBE_SERVICES,
        KUBE_EXTERNAL_SERVICES,
        KUBE_FORWARD,
        KUBE_NODEPORTS,
        KUBE_PROXY_FIREWALL,
    ]
    if ruleset.config.localhost_node_ports:
        filter_chains.append(KUBE_FIREWALL)
    nat_chains = [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ]
    filter_rules = [r.text for r in fh]
    nat_rules = [r.text for r in nh]
    for s in ruleset.services:
        filter_rules.extend(r.text for r in s.filter)
        nat_rules.extend(r.text for r in s.nat_top)
        if only is None or s.service in only:
            nat_chains.extend(s.chains)
            nat_rules.extend(r.text for r in s.nat)
    for chain in sorted(stale_chains):
        nat_chains.append(chain)
        nat_rules.append(f"-X {chain}")
    nat_rules.extend(r.text for r in nt)
    filter_rules.extend(r.text for r in ft)
    lines = ["*filter", *(f":{c} - [0:0]" for c in filter_chains), *filter_rules, "COMMIT"]
    lines += ["*nat", *(f":{c} - [0:0]" for c in nat_chains), *nat_rules, "COMMIT"]
    return "\n".join(lines) + "\n"


# -- counting without building -----------------------------------------------------------


def service_rule_counts(
    sp: ServicePort, endpoints: tuple[Endpoint, ...], cfg: IptablesConfig
) -> tuple[int, int, int]:
    """(filter, nat always written, nat in the service's own chains) for one service
    port: the closed form of `service_rules`, without building any text."""
    cat = categorize(endpoints, sp, cfg.node_name, cfg.zone)
    has_eps = cat.has_any
    has_internal = has_eps and (not sp.internal_policy_local or bool(cat.local))
    has_external = has_eps and (not sp.external_policy_local or bool(cat.local))
    n_ext, n_lb = len(sp.external_ips), len(sp.load_balancer_ips)
    uses_fw = has_eps and n_lb > 0 and bool(sp.load_balancer_source_ranges)
    filt = (0 if has_internal else 1) + (0 if has_external else n_ext + n_lb)
    filt += n_lb if uses_fw else 0
    filt += (0 if has_external else 1) if sp.node_port else 0
    filt += 1 if sp.health_check_node_port else 0
    top = (1 if has_internal else 0) + ((n_ext + n_lb) if has_eps else 0)
    if sp.node_port and has_eps:
        top += 2 if cfg.localhost_node_ports and cfg.nfacct else 1
    nat = 1 if has_internal and (cfg.masquerade_all or cfg.cluster_cidr) else 0
    if has_eps and sp.externally_accessible:
        if sp.external_policy_local:
            nat += 3 if cfg.cluster_cidr else 2
        else:
            nat += 1
        nat += 1 if has_external else 0
    if uses_fw:
        nat += len(sp.load_balancer_source_ranges) + 1
        if cfg.node_ip and any(in_cidr(cfg.node_ip, c) for c in sp.load_balancer_source_ranges):
            nat += n_lb
    per_ep = 2 if sp.affinity_seconds else 1
    if cat.cluster and sp.uses_cluster_endpoints:
        nat += per_ep * len(cat.cluster)
    if cat.local and sp.uses_local_endpoints:
        nat += per_ep * len(cat.local)
    nat += 2 * len(cat.reachable)
    return filt, top, nat


def count_rules(view: ProxyView, cfg: IptablesConfig) -> RuleCounts:
    """kubeproxy_sync_proxy_rules_iptables_total for the node, without building rules."""
    fh, ft, nh, nt = fixed_rules(cfg)
    filt, nat = len(fh) + len(ft), len(nh) + len(nt)
    for sp in view.service_ports():
        f, top, own = service_rule_counts(sp, view.endpoints_of(sp.name), cfg)
        filt += f
        nat += top + own
    return RuleCounts(filt, nat)
