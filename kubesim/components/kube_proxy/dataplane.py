"""Backend selection as each mode's data plane does it, for traffic probes.

`route(state, client_ip, vip, port, protocol, rng=...)` returns the (ip, port) a new
connection is DNATed to, or None (no such Service, or it has no usable endpoint here):

- iptables: walks the node's rules for that Service (KUBE-SERVICES -> KUBE-SVC/SVL/EXT/
  FW -> KUBE-SEP), drawing `rng.random()` for each `-m statistic --probability` rule and
  honouring `-m recent` affinity lists (``now`` in seconds);
- IPVS: the kernel's scheduler with per-real-server connection counts; `route` opens a
  connection, `close_connection` ends it (lc/wlc/sed/nq depend on these);
- nftables: `numgen random mod N` as `rng.randrange(N)`, with per-endpoint affinity sets.

Each state holds one node's view; `sync(view)` moves it to a newer `ProxyView`. The
per-Service rules and kernel state are built on first use only, so thousands of nodes
can share one view. Randomness comes only from the ``rng`` passed in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from kubesim.components.kube_proxy import ipvs as ipvs_mode
from kubesim.components.kube_proxy import nftables as nft_mode
from kubesim.components.kube_proxy.iptables import (
    KUBE_MARK_MASQ,
    KUBE_SERVICES,
    IptablesConfig,
    Rule,
    ServiceRules,
    in_cidr,
    service_rules,
)
from kubesim.components.kube_proxy.model import (
    Endpoint,
    ProxyView,
    ServicePort,
    ServicePortName,
    categorize,
)

__all__ = ["IptablesState", "IpvsState", "NftablesState", "ModeState", "route", "close_connection"]

Backend = tuple[str, int]


@dataclass
class IptablesState:
    """One node's iptables data plane: rules compiled per Service on first use."""

    view: ProxyView
    config: IptablesConfig = field(default_factory=IptablesConfig)
    _compiled: dict[ServicePortName, tuple[ServicePort, tuple[Endpoint, ...], ServiceRules]] = (
        field(default_factory=dict, repr=False)
    )
    _recent: dict[str, dict[str, float]] = field(default_factory=dict, repr=False)

    def sync(self, view: ProxyView) -> None:
        self.view = view

    def _rules(self, spn: ServicePortName) -> ServiceRules | None:
        sp, eps = self.view.port(spn), self.view.endpoints_of(spn)
        if sp is None:
            return None
        hit = self._compiled.get(spn)
        if hit is None or hit[0] is not sp or hit[1] is not eps:
            hit = (sp, eps, service_rules(sp, eps, self.config))
            self._compiled[spn] = hit
        return hit[2]

    def route(
        self, client_ip: str, vip: str, port: int, protocol: str, rng: random.Random, now: float
    ) -> Backend | None:
        spn = self.view.lookup(vip, port, protocol)
        rules = self._rules(spn) if spn else None
        if rules is None:
            return None
        chains: dict[str, list[Rule]] = {}
        for r in rules.nat:
            chains.setdefault(r.chain, []).append(r)
        entry = next(
            (
                r
                for r in rules.nat_top
                if r.chain == KUBE_SERVICES and r.dst == vip and r.dport == port
            ),
            None,
        )  # no nat rule: the filter table REJECTs or DROPs
        return self._walk(entry.target, chains, client_ip, rng, now) if entry else None

    def _matches(self, r: Rule, client: str, rng: random.Random, now: float) -> bool:
        if r.src and in_cidr(client, r.src) == r.src_negated:
            return False
        if r.src_local and client != self.config.node_ip:
            return False
        if r.recent_check is not None:
            name, seconds = r.recent_check
            seen = self._recent.get(name, {}).get(client)
            if seen is None or now - seen > seconds:
                return False
        return not r.probability or rng.random() < r.probability

    def _walk(
        self, chain: str, chains: dict[str, list[Rule]], client: str, rng: random.Random, now: float
    ) -> Backend | None:
        for r in chains.get(chain, ()):
            if not self._matches(r, client, rng, now) or r.target in (KUBE_MARK_MASQ, ""):
                continue
            if r.dnat is not None:
                if r.recent_set:
                    self._recent.setdefault(r.recent_set, {})[client] = now
                return r.dnat
            if r.target in chains:
                found = self._walk(r.target, chains, client, rng, now)
                if found is not None:
                    return found
        return None


@dataclass
class IpvsState:
    """One node's IPVS data plane. A virtual server enters the kernel model the first
    time a connection reaches it and follows every synced view from then on, so a node
    keeps kernel state only for the Services its traffic reaches (the desired state of
    the others is in the shared view)."""

    view: ProxyView
    config: ipvs_mode.IpvsConfig = field(default_factory=ipvs_mode.IpvsConfig)
    kernel: ipvs_mode.IpvsKernel = field(default_factory=ipvs_mode.IpvsKernel, repr=False)

    def sync(self, view: ProxyView) -> None:
        """Program ``view`` into the virtual servers the kernel model holds."""
        self.view = view
        for key in sorted(self.kernel.services):
            self.kernel.apply_one(key, *self._desired(key))

    def _desired(self, key: ipvs_mode.VsKey) -> tuple[ipvs_mode.VirtualServer | None, frozenset[Backend]]:
        ip, port, protocol = key
        if ip in self.config.node_ips:
            names = self.view.node_ports.get((port, protocol), ())
        else:
            names = self.view.vips.get(key, ())
        for spn in names:
            sp = self.view.port(spn)
            if sp is None:
                continue
            for vs, rs in ipvs_mode.service_entries(sp, self.view.endpoints_of(spn), self.config):
                if (vs.address, vs.port, vs.protocol) == key:
                    return vs, rs
        return None, frozenset()

    def route(
        self, client_ip: str, vip: str, port: int, protocol: str, rng: random.Random, now: float
    ) -> Backend | None:
        key = (vip, port, protocol)
        if key not in self.kernel.services:
            vs, rs = self._desired(key)
            if vs is None:
                return None
            self.kernel.apply_one(key, vs, rs)
        return self.kernel.schedule(key, client_ip, now)


@dataclass
class NftablesState:
    """One node's nftables data plane."""

    view: ProxyView
    config: nft_mode.NftConfig = field(default_factory=nft_mode.NftConfig)
    _affinity: dict[tuple[ServicePortName, Backend], dict[str, float]] = field(
        default_factory=dict, repr=False
    )

    def sync(self, view: ProxyView) -> None:
        self.view = view

    def route(
        self, client_ip: str, vip: str, port: int, protocol: str, rng: random.Random, now: float
    ) -> Backend | None:
        spn = self.view.lookup(vip, port, protocol)
        sp = self.view.port(spn) if spn else None
        if sp is None:
            return None
        cat = categorize(self.view.endpoints_of(spn), sp, self.config.node_name, self.config.zone)
        external = vip != sp.cluster_ip
        local = sp.external_policy_local if external else sp.internal_policy_local
        if external and local:
            cidr = self.config.cluster_cidr
            if (cidr and in_cidr(client_ip, cidr)) or not cat.local:
                local = False  # pod traffic short-circuits to the cluster chain
        members: tuple[Endpoint, ...] = cat.local if local else cat.cluster
        if not members:
            return None
        if sp.affinity_seconds:
            for ep in members:
                expiry = self._affinity.get((spn, (ep.ip, ep.port)), {}).get(client_ip)
                if expiry is not None and expiry > now:
                    return self._pick(spn, ep, client_ip, now, sp.affinity_seconds)
        ep = members[rng.randrange(len(members))]  # numgen random mod N
        return self._pick(spn, ep, client_ip, now, sp.affinity_seconds)

    def _pick(
        self, spn: ServicePortName, ep: Endpoint, client: str, now: float, seconds: int
    ) -> Backend:
        backend = (ep.ip, ep.port)
        if seconds:  # update @affinity-... { ip saddr } (timeout refreshed)
            self._affinity.setdefault((spn, backend), {})[client] = now + seconds
        return backend


ModeState = IptablesState | IpvsState | NftablesState


def route(
    state: ModeState,
    client_ip: str,
    cluster_ip: str,
    port: int,
    protocol: str = "TCP",
    *,
    rng: random.Random,
    now: float = 0.0,
) -> Backend | None:
    """The backend (ip, port) a new connection from ``client_ip`` to
    ``cluster_ip:port/protocol`` reaches through this node's data plane, or None."""
    return state.route(client_ip, cluster_ip, port, protocol, rng, now)


def close_connection(
    state: ModeState, cluster_ip: str, port: int, backend: Backend, protocol: str = "TCP"
) -> None:
    """End a connection `route` opened (only IPVS keeps connection counts)."""
    if isinstance(state, IpvsState):
        state.kernel.close((cluster_ip, port, protocol), backend)
