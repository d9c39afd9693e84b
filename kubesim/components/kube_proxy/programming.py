"""The work units of one kube-proxy sync, which the actor turns into programming time
with the cost model (`SyncWork.seconds`).

- iptables: the kernel replaces the whole table on every iptables-restore (the
  ``total_rules`` term), while kube-proxy 1.32 writes only part of it on a partial sync
  (KEP-3453, MinimizeIPTablesRestore, GA): every KUBE-SERVICES / KUBE-NODEPORTS /
  filter rule, plus the SVC/SVL/EXT/FW/SEP chains of the Services that changed; a full
  sync (first sync, after a failure, and every hour) writes everything. That input size
  is ``changed_rules``.
- IPVS: the virtual- and real-server operations of the incremental diff (ipset entry
  changes ride along with the virtual-server operations).
- nftables: the rules written plus the map/set elements added or removed in the one
  transaction, and the ruleset size.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubesim.components.kube_proxy.iptables import IptablesConfig, fixed_rules, service_rule_counts
from kubesim.components.kube_proxy.ipvs import IpvsDiff
from kubesim.components.kube_proxy.model import NamespacedName, ProxyView
from kubesim.components.kube_proxy.nftables import NftDiff, NftRuleset

if TYPE_CHECKING:
    from kubesim.runtime.costmodel import CostModel

__all__ = ["SyncWork", "iptables_work", "ipvs_work", "nftables_work"]


@dataclass(frozen=True)
class SyncWork:
    """What one sync programs, in the units the cost model takes."""

    mode: str
    total_rules: int = 0
    changed_rules: int = 0
    changed_virtual_servers: int = 0
    changed_real_servers: int = 0

    def seconds(self, cost: CostModel) -> float:
        """Programming time of this sync under ``cost``."""
        if self.mode == "iptables":
            return cost.iptables_sync_seconds(self.total_rules, self.changed_rules)
        if self.mode == "ipvs":
            return cost.ipvs_sync_seconds(self.changed_virtual_servers, self.changed_real_servers)
        return cost.nftables_sync_seconds(self.total_rules, self.changed_rules)


def iptables_work(
    view: ProxyView, cfg: IptablesConfig, changed: Iterable[NamespacedName] | None
) -> SyncWork:
    """An iptables sync of ``view``: ``changed`` None is a full sync, else the Services
    whose chains are rewritten (a `ChangeSummary.changed`)."""
    only = None if changed is None else set(changed)
    fh, ft, nh, nt = fixed_rules(cfg)
    total = written = len(fh) + len(ft) + len(nh) + len(nt)
    for sp in view.service_ports():
        f, top, own = service_rule_counts(sp, view.endpoints_of(sp.name), cfg)
        total += f + top + own
        written += f + top + (own if only is None or sp.name.service in only else 0)
    return SyncWork("iptables", total_rules=total, changed_rules=written)


def ipvs_work(ops: IpvsDiff) -> SyncWork:
    """An IPVS sync that performed ``ops``."""
    return SyncWork(
        "ipvs",
        changed_virtual_servers=ops.virtual_server_ops,
        changed_real_servers=ops.real_server_ops,
    )


def nftables_work(ruleset: NftRuleset, ops: NftDiff) -> SyncWork:
    """An nftables transaction ``ops`` leaving ``ruleset`` programmed."""
    return SyncWork("nftables", total_rules=ruleset.total, changed_rules=ops.changed)
