"""One kube-proxy's settings: the parts of KubeProxyConfiguration (kubeproxy.config.k8s.io,
v1.32) the simulated proxier reads, and the node it runs on.

Sync periods left unset take the upstream defaults: iptables and nftables minSyncPeriod
1 s (the profile's ``kube_proxy.min_sync_period``), ipvs minSyncPeriod 0 (no default
upstream), syncPeriod 30 s in every mode (``kube_proxy.sync_period``). Validation follows
pkg/proxy/apis/config/validation: syncPeriod > 0, minSyncPeriod >= 0 and, for iptables and
ipvs, minSyncPeriod <= syncPeriod; errors name the field path.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, fields
from typing import Any

from kubesim.components.kube_proxy.ipvs import SCHEDULERS

__all__ = ["MODES", "KubeProxyConfig", "KubeProxyConfigError"]

MODES = ("iptables", "ipvs", "nftables")


class KubeProxyConfigError(ValueError):
    """An invalid setting; the message starts with the field path."""


@dataclass(frozen=True)
class KubeProxyConfig:
    """``node_name``: the Node (hostnameOverride); ``node_ip``: its InternalIP (NodePort
    virtual servers in IPVS mode); ``epoch``: the Unix time sim time 0 stands for
    (trigger-time annotations and the last-sync timestamp are Unix times)."""

    node_name: str
    mode: str = "iptables"
    node_ip: str = ""
    zone: str = ""
    cluster_cidr: str | None = "10.244.0.0/16"
    masquerade_all: bool = False
    ipvs_scheduler: str = "rr"
    min_sync_period: float | None = None
    sync_period: float | None = None
    epoch: float = 0.0

    def __post_init__(self) -> None:
        if not self.node_name:
            raise KubeProxyConfigError("hostnameOverride: Required value: the node name")
        if self.mode not in MODES:
            raise KubeProxyConfigError(
                f"mode: Unsupported value: {self.mode!r}: supported values: {', '.join(MODES)}")
        if self.ipvs_scheduler not in SCHEDULERS:
            raise KubeProxyConfigError(
                f"ipvs.scheduler: Invalid value: {self.ipvs_scheduler!r}: must be one of "
                f"{', '.join(SCHEDULERS)}")
        if self.cluster_cidr:
            try:
                ipaddress.ip_network(self.cluster_cidr, strict=False)
            except ValueError as err:
                raise KubeProxyConfigError(f"clusterCIDR: Invalid value: {self.cluster_cidr!r}: {err}") from None
        if self.node_ip:
            try:
                ipaddress.ip_address(self.node_ip)
            except ValueError as err:
                raise KubeProxyConfigError(f"nodeIP: Invalid value: {self.node_ip!r}: {err}") from None
        section = self.mode
        if self.sync_period is not None and self.sync_period <= 0:
            raise KubeProxyConfigError(f"{section}.syncPeriod: Invalid value: {self.sync_period}: must be greater than 0")
        if self.min_sync_period is not None and self.min_sync_period < 0:
            raise KubeProxyConfigError(
                f"{section}.minSyncPeriod: Invalid value: {self.min_sync_period}: must be greater than or equal to 0")
        if (self.mode != "nftables" and self.min_sync_period is not None and self.sync_period is not None
                and self.min_sync_period > self.sync_period):
            raise KubeProxyConfigError(
                f"{section}.minSyncPeriod: Invalid value: {self.min_sync_period}: must be less than or "
                f"equal to {section}.syncPeriod")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KubeProxyConfig:
        """From msgpack-friendly keyword data (an ActorSpec's kwargs on Ray)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise KubeProxyConfigError(f"{unknown[0]}: unknown field")
        return cls(**data)

    def resolved_periods(self, profile_min: float, profile_sync: float) -> tuple[float, float]:
        """(minSyncPeriod, syncPeriod) with the defaults filled in."""
        default_min = 0.0 if self.mode == "ipvs" else profile_min
        min_sync = default_min if self.min_sync_period is None else self.min_sync_period
        sync = profile_sync if self.sync_period is None else self.sync_period
        if self.mode != "nftables" and min_sync > sync:
            raise KubeProxyConfigError(
                f"{self.mode}.minSyncPeriod: Invalid value: {min_sync}: must be less than or equal "
                f"to {self.mode}.syncPeriod")
        return min_sync, sync
