"""kube-proxy's nftables mode (pkg/proxy/nftables, IPv4): the `ip kube-proxy` table of
one node as chains of rules plus sets and verdict maps, and the diff between two syncs.

Per service port: a `service-<HASH>-ns/name/proto/port` chain (masquerade check, one
affinity check per endpoint with ClientIP affinity, then `numgen random mod N vmap`
over the endpoints), a `local-` chain for Local traffic policy, an `external-` chain
when reachable from outside, a `firewall-` chain for loadBalancerSourceRanges and one
`endpoint-<HASH>-...__ip/port` chain per endpoint (masquerade hairpin, DNAT). Chain
names carry the first 8 base32 characters of sha256 of the readable part, as
kube-proxy's hashAndTruncate. Dispatch is by map elements, not by per-service rules:
`service-ips` (ip . proto . port : goto chain), `service-nodeports`, `firewall-ips`,
`no-endpoint-services` / `no-endpoint-nodeports` (reject or drop) and the `cluster-ips`
set; each ClientIP-affinity endpoint has its own `affinity-` set.

The fixed base chains and rules (hooks, masquerading, endpoint checks) are a constant
set independent of the number of Services; they are listed by name and counted, not
reproduced verbatim. A sync (kube-proxy writes one transaction) costs the rules of the
chains it creates or rewrites plus the map/set elements it adds or removes: `diff`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from kubesim.components.kube_proxy.model import Endpoint, ProxyView, ServicePort, categorize

__all__ = [
    "NftConfig",
    "NftRuleset",
    "NftDiff",
    "chain_base",
    "endpoint_chain_base",
    "service_parts",
    "build_ruleset",
    "diff",
]

# The base chains and their fixed rules (setupNFTables), by chain: rule count.
BASE_CHAINS: Mapping[str, int] = {
    "filter-prerouting": 1,  # ct state new jump firewall-check
    "filter-input": 3,  # ct state new jump nodeport-endpoints-check / service-endpoints-check / firewall-check
    "filter-forward": 2,  # ct state new jump service-endpoints-check / cluster-ips-check
    "filter-output": 2,  # ct state new jump service-endpoints-check / firewall-check
    "filter-output-post-dnat": 1,  # ct state new jump cluster-ips-check
    "nat-prerouting": 1,  # jump services
    "nat-output": 1,  # jump services
    "nat-postrouting": 1,  # jump masquerading
    "masquerading": 3,  # mark test return; mark xor; masquerade fully-random
    "mark-for-masquerade": 1,  # mark set mark or 0x4000
    "reject-chain": 1,  # reject
    "firewall-check": 1,  # ip daddr . meta l4proto . th dport vmap @firewall-ips
    "service-endpoints-check": 1,  # ip daddr . meta l4proto . th dport vmap @no-endpoint-services
    "nodeport-endpoints-check": 1,  # fib daddr type local ... vmap @no-endpoint-nodeports
    "cluster-ips-check": 2,  # ip daddr @cluster-ips reject; ip daddr <service CIDR> drop
    "services": 2,  # ip daddr . proto . port vmap @service-ips; fib local ... vmap @service-nodeports
    "nodeports": 0,
}
MAPS = (
    "cluster-ips",
    "nodeport-ips",
    "service-ips",
    "service-nodeports",
    "no-endpoint-services",
    "no-endpoint-nodeports",
    "firewall-ips",
)


@dataclass(frozen=True)
class NftConfig:
    """The node and kube-proxy settings nftables mode depends on."""

    node_name: str = ""
    zone: str = ""
    cluster_cidr: str | None = "10.244.0.0/16"
    masquerade_all: bool = False


def _hash_and_truncate(name: str) -> str:
    digest = base64.b32encode(hashlib.sha256(name.encode()).digest()).decode()
    name = digest[:8] + "-" + name
    return name if len(name) <= 256 else name[:253] + "..."


@lru_cache(maxsize=65536)
def chain_base(namespace: str, name: str, protocol: str, port: str) -> str:
    """servicePortChainNameBase, e.g. "ULMVA6XW-ns1/svc1/tcp/p80"."""
    return _hash_and_truncate(f"{namespace}/{name}/{protocol.lower()}/{port}")


def endpoint_chain_base(sp: ServicePort, ep: Endpoint) -> str:
    """servicePortEndpointChainNameBase, e.g. "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"."""
    n = sp.name
    ip = ep.ip.replace(":", ".")
    return _hash_and_truncate(
        f"{n.namespace}/{n.name}/{n.protocol.lower()}/{n.port}__{ip}/{ep.port}"
    )


@dataclass(frozen=True)
class NftRuleset:
    """The service-dependent part of a node's table: chains (name -> rules) and the
    elements of the sets and maps (name -> elements)."""

    chains: Mapping[str, tuple[str, ...]]
    sets: Mapping[str, frozenset[str]]

    @property
    def rule_count(self) -> int:
        return sum(BASE_CHAINS.values()) + sum(len(r) for r in self.chains.values())

    @property
    def element_count(self) -> int:
        return sum(len(e) for e in self.sets.values())

    @property
    def total(self) -> int:
        """Rules plus set/map elements: the size of the ruleset."""
        return self.rule_count + self.element_count

    def endpoints_of(self, chain: str) -> tuple[str, ...]:
        """The endpoint chains a service/local chain's numgen vmap dispatches to."""
        for rule in self.chains.get(chain, ()):
            if rule.startswith("numgen random"):
                return tuple(part.split("goto ")[1] for part in rule.split("{")[1].split(","))
        return ()


def service_parts(
    sp: ServicePort, eps: tuple[Endpoint, ...], cfg: NftConfig
) -> tuple[dict[str, tuple[str, ...]], list[tuple[str, str]]]:
    """(chains, [(set name, element)]) of one service port (syncProxyRules' loop)."""
    n = sp.name
    proto = sp.protocol.lower()
    base = chain_base(n.namespace, n.name, proto, n.port)
    svc_chain, local_chain = "service-" + base, "local-" + base
    ext_chain, fw_chain = "external-" + base, "firewall-" + base
    cat = categorize(eps, sp, cfg.node_name, cfg.zone)
    has_eps = cat.has_any
    has_internal = has_eps and (not sp.internal_policy_local or bool(cat.local))
    has_external = has_eps and (not sp.external_policy_local or bool(cat.local))
    internal_chain = local_chain if sp.internal_policy_local else svc_chain
    external_policy = local_chain if sp.external_policy_local else svc_chain
    chains: dict[str, tuple[str, ...]] = {}
    elems: list[tuple[str, str]] = [("cluster-ips", sp.cluster_ip)]
    key = f"{sp.cluster_ip} . {proto} . {sp.port}"
    if has_internal:
        elems.append(("service-ips", f"{key} : goto {internal_chain}"))
    else:
        verdict = "goto reject-chain" if not has_eps else "drop"
        elems.append(("no-endpoint-services", f"{key} : {verdict}"))
    ext_target = ext_chain
    uses_fw = has_eps and bool(sp.load_balancer_ips) and bool(sp.load_balancer_source_ranges)
    for ip in sp.external_ips + sp.load_balancer_ips:
        k = f"{ip} . {proto} . {sp.port}"
        if has_eps:
            elems.append(("service-ips", f"{k} : goto {ext_target}"))
        if not has_external:
            elems.append(
                ("no-endpoint-services", f"{k} : {'goto reject-chain' if not has_eps else 'drop'}")
            )
        if uses_fw and ip in sp.load_balancer_ips:
            elems.append(("firewall-ips", f"{k} : goto {fw_chain}"))
    if sp.node_port:
        k = f"{proto} . {sp.node_port}"
        if has_eps:
            elems.append(("service-nodeports", f"{k} : goto {ext_chain}"))
        if not has_external:
            elems.append(
                ("no-endpoint-nodeports", f"{k} : {'goto reject-chain' if not has_eps else 'drop'}")
            )
    masq: tuple[str, ...] = ()
    if has_internal and (cfg.masquerade_all or cfg.cluster_cidr):
        src = "" if cfg.masquerade_all else f" ip saddr != {cfg.cluster_cidr}"
        masq = (f"ip daddr {sp.cluster_ip} {proto} dport {sp.port}{src} jump mark-for-masquerade",)
    if has_eps and sp.externally_accessible:
        rules: list[str] = []
        if not sp.external_policy_local:
            rules.append("jump mark-for-masquerade")
        else:
            if cfg.cluster_cidr:
                rules.append(f"ip saddr {cfg.cluster_cidr} goto {svc_chain}")
            rules.append("fib saddr type local jump mark-for-masquerade")
            rules.append(f"fib saddr type local goto {svc_chain}")
        if has_external:
            rules.append(f"goto {external_policy}")
        chains[ext_chain] = tuple(rules)
    if uses_fw:
        ranges = ", ".join(sp.load_balancer_source_ranges)
        chains[fw_chain] = (f"ip saddr != {{ {ranges} }} drop",)
    for chain, used, members in (
        (svc_chain, sp.uses_cluster_endpoints, cat.cluster),
        (local_chain, sp.uses_local_endpoints, cat.local),
    ):
        if not (used and members):
            continue
        rules = list(masq) if chain == internal_chain else []
        ep_chains = ["endpoint-" + endpoint_chain_base(sp, ep) for ep in members]
        if sp.affinity_seconds:
            for ep, epc in zip(members, ep_chains, strict=True):
                aff = "affinity-" + endpoint_chain_base(sp, ep)
                rules.append(f"ip saddr @{aff} goto {epc}")
        vmap = ", ".join(f"{i} : goto {c}" for i, c in enumerate(ep_chains))
        rules.append(f"numgen random mod {len(ep_chains)} vmap {{ {vmap} }}")
        chains[chain] = tuple(rules)
    for ep in cat.reachable:
        epb = endpoint_chain_base(sp, ep)
        rules = [f"ip saddr {ep.ip} jump mark-for-masquerade"]
        if sp.affinity_seconds:
            rules.append(f"update @affinity-{epb} {{ ip saddr }}")
            elems.append(("affinity-sets", f"affinity-{epb} timeout {sp.affinity_seconds}s"))
        rules.append(f"meta l4proto {proto} dnat to {ep}")
        chains["endpoint-" + epb] = tuple(rules)
    return chains, elems


def build_ruleset(view: ProxyView, cfg: NftConfig) -> NftRuleset:
    """The service-dependent nftables state of the node ``cfg`` describes. (The
    `affinity-sets` entry lists the per-endpoint affinity sets, one element each.)"""
    chains: dict[str, tuple[str, ...]] = {}
    sets: dict[str, set[str]] = {name: set() for name in MAPS}
    for sp in view.service_ports():
        c, elems = service_parts(sp, view.endpoints_of(sp.name), cfg)
        chains.update(c)
        for name, elem in elems:
            sets.setdefault(name, set()).add(elem)
    return NftRuleset(chains, {k: frozenset(v) for k, v in sets.items()})


@dataclass(frozen=True)
class NftDiff:
    """One transaction from one ruleset to the next."""

    chains_added: int = 0
    chains_deleted: int = 0
    chains_rewritten: int = 0  # flushed and refilled
    rules_written: int = 0
    elements_added: int = 0
    elements_deleted: int = 0

    @property
    def changed(self) -> int:
        """Rules written plus elements added/removed plus chains created/deleted."""
        return (
            self.rules_written
            + self.elements_added
            + self.elements_deleted
            + self.chains_added
            + self.chains_deleted
        )


def diff(old: NftRuleset, new: NftRuleset) -> NftDiff:
    """The transaction kube-proxy sends to go from ``old`` to ``new``."""
    added = deleted = rewritten = written = 0
    for name, rules in new.chains.items():
        prev = old.chains.get(name)
        if prev is None:
            added += 1
            written += len(rules)
        elif prev != rules:
            rewritten += 1
            written += len(rules)
    deleted = sum(1 for name in old.chains if name not in new.chains)
    ea = ed = 0
    for name in new.sets.keys() | old.sets.keys():
        a, b = old.sets.get(name, frozenset()), new.sets.get(name, frozenset())
        if a != b:
            ea += len(b - a)
            ed += len(a - b)
    return NftDiff(added, deleted, rewritten, written, ea, ed)
