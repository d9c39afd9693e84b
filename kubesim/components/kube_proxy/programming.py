"""The work units of one kube-proxy sync, which the actor turns into programming time
with the cost model (`SyncWork.seconds`), kept incrementally per node.

- iptables: the kernel replaces the whole table on every iptables-restore (the
  ``total_rules`` term), while kube-proxy 1.32 writes only part of it on a partial sync
  (KEP-3453, MinimizeIPTablesRestore, GA): every KUBE-SERVICES / KUBE-NODEPORTS /
  filter rule, plus the SVC/SVL/EXT/FW/SEP chains of the Services that changed; a full
  sync (first sync, and every hour) writes everything. That input size is
  ``changed_rules``.
- IPVS: the virtual- and real-server operations of the incremental diff (ipset entry
  changes ride along with the virtual-server operations).
- nftables: the rules of the chains created or rewritten plus the map/set elements
  added or removed in the one transaction, and the ruleset size.

A ledger per node keeps the running totals, so a sync costs O(what changed): it compares
the changed Services between the view last programmed and the new one. A full sync sums
over every Service; the Services whose rules cannot depend on the node (no Local traffic
policy, no topology hints, no loadBalancerSourceRanges) are summed once per view for all
the nodes of a host through ``memo`` (see `Memo`), the rest per node.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Hashable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from kubesim.components.kube_proxy.iptables import IptablesConfig, fixed_rules, service_rule_counts
from kubesim.components.kube_proxy.ipvs import (
    IpvsConfig,
    RsKey,
    VirtualServer,
    VsKey,
    service_entries,
)
from kubesim.components.kube_proxy.model import Endpoint, NamespacedName, ProxyView, ServicePort
from kubesim.components.kube_proxy.nftables import BASE_CHAINS, NftConfig, service_parts

if TYPE_CHECKING:
    from kubesim.runtime.costmodel import CostModel

__all__ = [
    "SyncWork",
    "Memo",
    "no_memo",
    "node_independent",
    "iptables_work",
    "IptablesLedger",
    "IpvsLedger",
    "NftablesLedger",
    "Ledger",
]

T = TypeVar("T")
#: ``memo(key, compute)``: compute's value, shared by every caller passing an equal key
#: for the same view (the caller's key already names the view).
Memo = Callable[[Hashable, Callable[[], Any]], Any]


def no_memo(key: Hashable, compute: Callable[[], T]) -> T:
    """A `Memo` that shares nothing."""
    return compute()


@dataclass(frozen=True)
class SyncWork:
    """What one sync programs, in the units the cost model takes."""

    mode: str
    total_rules: int = 0
    changed_rules: int = 0
    changed_virtual_servers: int = 0
    changed_real_servers: int = 0
    full: bool = False

    def seconds(self, cost: CostModel) -> float:
        """Programming time of this sync under ``cost``."""
        if self.mode == "iptables":
            return cost.iptables_sync_seconds(self.total_rules, self.changed_rules)
        if self.mode == "ipvs":
            return cost.ipvs_sync_seconds(self.changed_virtual_servers, self.changed_real_servers)
        return cost.nftables_sync_seconds(self.total_rules, self.changed_rules)


def node_independent(sp: ServicePort, eps: tuple[Endpoint, ...]) -> bool:
    """Whether the rules of ``sp`` are the same on every node: no Local traffic policy,
    no loadBalancerSourceRanges (the node's own IP may be allowed) and no zone hints."""
    if sp.uses_local_endpoints or sp.load_balancer_source_ranges:
        return False
    return not any(e.zone_hints for e in eps)


def _ports(view: ProxyView, nn: NamespacedName) -> Iterator[tuple[ServicePort, tuple[Endpoint, ...]]]:
    for sp in view.services.get(nn, ()):
        yield sp, view.endpoints_of(sp.name)


def _split_sum(view: ProxyView, cfg: Any, anonymous: Any, memo: Memo,
               per_port: Callable[[ServicePort, tuple[Endpoint, ...], Any], tuple[int, ...]],
               tag: str, width: int) -> tuple[int, ...]:
    """Sum ``per_port`` (``width`` counts) over every service port: node-independent
    ports once per view and anonymous config (through ``memo``, which also keeps the list
    of the other ports), the others with this node's ``cfg``."""

    def partition() -> tuple[list[int], list[tuple[ServicePort, tuple[Endpoint, ...]]]]:
        acc, dependent = [0] * width, []
        for sp in view.service_ports():
            eps = view.endpoints_of(sp.name)
            if node_independent(sp, eps):
                acc = _add(acc, per_port(sp, eps, anonymous))
            else:
                dependent.append((sp, eps))
        return acc, dependent

    shared, dependent = memo((tag, id(view), anonymous), partition)
    total = list(shared)
    for sp, eps in dependent:
        total = _add(total, per_port(sp, eps, cfg))
    return tuple(total)


def _add(acc: list[int], v: tuple[int, ...], sign: int = 1) -> list[int]:
    return [a + sign * b for a, b in zip(acc, v, strict=True)]


# -- iptables ---------------------------------------------------------------------------


def iptables_work(
    view: ProxyView, cfg: IptablesConfig, changed: Collection[NamespacedName] | None
) -> SyncWork:
    """An iptables sync of ``view`` computed from scratch: ``changed`` None is a full
    sync, else the Services whose chains are rewritten (a `ChangeSummary.changed`)."""
    fh, ft, nh, nt = fixed_rules(cfg)
    total = written = len(fh) + len(ft) + len(nh) + len(nt)
    for sp in view.service_ports():
        f, top, own = service_rule_counts(sp, view.endpoints_of(sp.name), cfg)
        total += f + top + own
        written += f + top + (own if changed is None or sp.name.service in changed else 0)
    return SyncWork("iptables", total_rules=total, changed_rules=written, full=changed is None)


class IptablesLedger:
    """One node's iptables rule totals: filter, KUBE-SERVICES/NODEPORTS (written every
    sync) and the Services' own chains (written when they change)."""

    mode = "iptables"
    _width = 3

    def __init__(self, cfg: IptablesConfig) -> None:
        self.cfg = cfg
        self._anonymous = dataclasses.replace(cfg, node_name="", node_ip="", zone="")
        fh, ft, nh, nt = fixed_rules(cfg)
        self.fixed_filter, self.fixed_nat = len(fh) + len(ft), len(nh) + len(nt)
        self.filter = self.top = self.own = self.nat_written = 0

    @staticmethod
    def _counts(sp: ServicePort, eps: tuple[Endpoint, ...], cfg: Any) -> tuple[int, ...]:
        return service_rule_counts(sp, eps, cfg)

    @property
    def filter_rules(self) -> int:
        """kubeproxy_sync_proxy_rules_iptables_total{table="filter"}"""
        return self.fixed_filter + self.filter

    @property
    def nat_rules(self) -> int:
        """kubeproxy_sync_proxy_rules_iptables_total{table="nat"}"""
        return self.fixed_nat + self.top + self.own

    def sync(self, old: ProxyView, new: ProxyView, changed: Collection[NamespacedName] | None,
             memo: Memo = no_memo) -> SyncWork:
        """Move the totals from ``old`` to ``new``; ``changed`` None is a full sync."""
        if changed is None:
            self.filter, self.top, self.own = _split_sum(
                new, self.cfg, self._anonymous, memo, self._counts, self.mode, self._width)
            own_written = self.own
        else:
            acc = [self.filter, self.top, self.own]
            own_written = 0
            for nn in changed:
                for sp, eps in _ports(old, nn):
                    acc = _add(acc, self._counts(sp, eps, self.cfg), -1)
                for sp, eps in _ports(new, nn):
                    counts = self._counts(sp, eps, self.cfg)
                    acc = _add(acc, counts)
                    own_written += counts[2]
            self.filter, self.top, self.own = acc
        total = self.filter_rules + self.nat_rules
        #: nat rules the last sync wrote (every filter rule is written every sync)
        self.nat_written = self.fixed_nat + self.top + own_written
        written = self.filter_rules + self.nat_written
        return SyncWork(self.mode, total_rules=total, changed_rules=written, full=changed is None)


# -- IPVS -------------------------------------------------------------------------------


def _ipvs_entries(ports: Iterator[tuple[ServicePort, tuple[Endpoint, ...]]], cfg: IpvsConfig
                  ) -> dict[VsKey, tuple[VirtualServer, frozenset[RsKey]]]:
    out: dict[VsKey, tuple[VirtualServer, frozenset[RsKey]]] = {}
    for sp, eps in ports:
        for vs, rs in service_entries(sp, eps, cfg):
            out[(vs.address, vs.port, vs.protocol)] = (vs, rs)
    return out


class IpvsLedger:
    """One node's IPVS operation counts: virtual and real servers touched per sync (the
    kernel keeps the tables, so there is no total to keep)."""

    mode = "ipvs"
    _width = 2

    def __init__(self, cfg: IpvsConfig) -> None:
        self.cfg = cfg
        self._anonymous = dataclasses.replace(
            cfg, node_name="", zone="", node_ips=tuple(f"0.0.0.{i}" for i in range(len(cfg.node_ips))))

    @staticmethod
    def _counts(sp: ServicePort, eps: tuple[Endpoint, ...], cfg: Any) -> tuple[int, ...]:
        entries = list(service_entries(sp, eps, cfg))
        return len(entries), sum(len(rs) for _, rs in entries)

    def sync(self, old: ProxyView, new: ProxyView, changed: Collection[NamespacedName] | None,
             memo: Memo = no_memo) -> SyncWork:
        """The netlink operations from ``old`` to ``new`` (``changed`` None: from nothing)."""
        if changed is None:
            vs_ops, rs_ops = _split_sum(
                new, self.cfg, self._anonymous, memo, self._counts, self.mode, self._width)
            return SyncWork(self.mode, changed_virtual_servers=vs_ops, changed_real_servers=rs_ops,
                            full=True)
        vs_ops = rs_ops = 0
        for nn in changed:
            before = _ipvs_entries(_ports(old, nn), self.cfg)
            after = _ipvs_entries(_ports(new, nn), self.cfg)
            for key, (vs, rs) in after.items():
                prev = before.get(key)
                if prev is None:
                    vs_ops += 1
                    rs_ops += len(rs)
                else:
                    vs_ops += prev[0] != vs
                    rs_ops += len(rs ^ prev[1])
            for key, (_, rs) in before.items():
                if key not in after:
                    vs_ops += 1
                    rs_ops += len(rs)
        return SyncWork(self.mode, changed_virtual_servers=vs_ops, changed_real_servers=rs_ops)


# -- nftables ---------------------------------------------------------------------------


def _nft_parts(ports: Iterator[tuple[ServicePort, tuple[Endpoint, ...]]], cfg: NftConfig
               ) -> tuple[dict[str, tuple[str, ...]], set[tuple[str, str]]]:
    chains: dict[str, tuple[str, ...]] = {}
    elements: set[tuple[str, str]] = set()
    for sp, eps in ports:
        c, elems = service_parts(sp, eps, cfg)
        chains.update(c)
        elements.update(elems)
    return chains, elements


class NftablesLedger:
    """One node's nftables size (rules plus set/map elements) and transaction sizes."""

    mode = "nftables"
    _width = 3

    def __init__(self, cfg: NftConfig) -> None:
        self.cfg = cfg
        self._anonymous = dataclasses.replace(cfg, node_name="", zone="")
        self.base_rules = sum(BASE_CHAINS.values())
        self.chains = self.rules = self.elements = 0

    @staticmethod
    def _counts(sp: ServicePort, eps: tuple[Endpoint, ...], cfg: Any) -> tuple[int, ...]:
        chains, elements = service_parts(sp, eps, cfg)
        return len(chains), sum(len(r) for r in chains.values()), len(set(elements))

    @property
    def total(self) -> int:
        return self.base_rules + self.rules + self.elements

    def sync(self, old: ProxyView, new: ProxyView, changed: Collection[NamespacedName] | None,
             memo: Memo = no_memo) -> SyncWork:
        """The transaction from ``old`` to ``new`` (``changed`` None: a full sync, which
        writes every chain and element)."""
        if changed is None:
            self.chains, self.rules, self.elements = _split_sum(
                new, self.cfg, self._anonymous, memo, self._counts, self.mode, self._width)
            written = self.chains + self.rules + self.elements
            return SyncWork(self.mode, total_rules=self.total, changed_rules=written, full=True)
        written = 0
        for nn in changed:
            old_chains, old_elems = _nft_parts(_ports(old, nn), self.cfg)
            new_chains, new_elems = _nft_parts(_ports(new, nn), self.cfg)
            for name, rules in new_chains.items():
                prev = old_chains.get(name)
                if prev != rules:
                    written += len(rules) + (prev is None)
            written += sum(1 for name in old_chains if name not in new_chains)
            written += len(old_elems ^ new_elems)
            self.chains += len(new_chains) - len(old_chains)
            self.rules += sum(map(len, new_chains.values())) - sum(map(len, old_chains.values()))
            self.elements += len(new_elems) - len(old_elems)
        return SyncWork(self.mode, total_rules=self.total, changed_rules=written)


Ledger = IptablesLedger | IpvsLedger | NftablesLedger
