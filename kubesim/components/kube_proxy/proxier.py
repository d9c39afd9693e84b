"""kube-proxy as an actor: the DaemonSet pod of one node (cmd/kube-proxy, pkg/proxy/*/proxier.go).

It reads Services and EndpointSlices from the view its host group shares
(`shared_view.ViewHub`), and syncs its node's rules in one of three modes through a
`BoundedFrequencyRunner`: a run is requested on every change that alters the rules and
on the periodic timer; until both informers have synced nothing is programmed. A sync

- takes what changed since the snapshot it last programmed (the hub's change log),
- chooses a full sync (the first, and every hour in iptables and nftables mode:
  proxyutil.FullSyncPeriod) or a partial one,
- counts the work with its node's ledger (`programming`), waits the programming time the
  cost model gives for it (the rules are not in place before), then
- switches its data plane (`dataplane`) to the new snapshot and records the metrics,
  among them kubeproxy_network_programming_duration_seconds for each EndpointSlice
  change that carried an ``endpoints.kubernetes.io/last-change-trigger-time`` later
  than this kube-proxy's start.

Spawning (the kubelet / DaemonSet side does it for each node)::

    rt.spawn(kube_proxy_spec(KubeProxyConfig(node_name=node, mode="ipvs", ...),
                             client_factory, host=<host group>))
    # = ActorSpec(Address("kube-proxy", node), KubeProxy, node, host=<host group>,
    #             kwargs={"config": ..., "client_factory": ...}, metric_labels={"node": node})

Every kube-proxy with the same ``host`` shares one view: spawn a host group's proxies
against the same cluster. Messages (``call``):

- ``{"op": "route", "client": ip, "ip": vip, "port": p, "protocol": "TCP"}`` -> the
  backend ``[ip, port]`` a new connection reaches through this node, or None;
- ``{"op": "close", "ip": vip, "port": p, "backend": [ip, port], "protocol": "TCP"}``
  ends a connection (IPVS connection counts);
- ``{"op": "status"}`` -> ``{"synced": bool, "syncs": n, "services": n}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from kubesim.api.meta import parse_timestamp
from kubesim.components.client.api import APIClient
from kubesim.components.kube_proxy import dataplane
from kubesim.components.kube_proxy.config import KubeProxyConfig
from kubesim.components.kube_proxy.iptables import IptablesConfig
from kubesim.components.kube_proxy.ipvs import IpvsConfig
from kubesim.components.kube_proxy.metrics import KubeProxyMetrics
from kubesim.components.kube_proxy.model import ProxyView
from kubesim.components.kube_proxy.nftables import NftConfig
from kubesim.components.kube_proxy.programming import (
    IptablesLedger,
    IpvsLedger,
    Ledger,
    NftablesLedger,
)
from kubesim.components.kube_proxy.runner import BoundedFrequencyRunner
from kubesim.components.kube_proxy.shared_view import ViewHub, hub_of
from kubesim.runtime.actor import Actor, ActorSpec
from kubesim.runtime.address import Address
from kubesim.runtime.context import Context, Timer

__all__ = ["FULL_SYNC_PERIOD", "IPTABLES_MAX_INTERVAL", "KubeProxy", "kube_proxy_spec"]

ClientFactory = Callable[[Context], APIClient]
#: proxyutil.FullSyncPeriod: iptables and nftables rewrite everything at least hourly.
FULL_SYNC_PERIOD = 3600.0
#: iptables mode's BoundedFrequencyRunner maxInterval ("time.Hour is arbitrary"); its
#: syncPeriod drives the canary-chain monitor, which finds nothing to repair here.
IPTABLES_MAX_INTERVAL = 3600.0


class KubeProxy(Actor):
    """One node's kube-proxy; see the module docstring."""

    def __init__(self, config: KubeProxyConfig | dict[str, Any], client_factory: ClientFactory) -> None:
        self.cfg = config if isinstance(config, KubeProxyConfig) else KubeProxyConfig.from_dict(config)
        self.client_factory = client_factory
        self.synced_seq = 0
        self.syncs = 0

    # -- lifecycle ------------------------------------------------------------------------

    def on_start(self) -> None:
        ctx, cfg = self.ctx, self.cfg
        self.client = self.client_factory(ctx)
        self.metrics = KubeProxyMetrics(ctx.metrics, cfg.mode)
        min_sync, sync = cfg.resolved_periods(float(ctx.cost.value("kube_proxy.min_sync_period")),
                                              float(ctx.cost.value("kube_proxy.sync_period")))
        max_interval = IPTABLES_MAX_INTERVAL if cfg.mode == "iptables" else sync
        self.runner = BoundedFrequencyRunner(min_sync, max_interval, now=ctx.now())
        self.ledger, self.dataplane = _mode(cfg)
        self.synced_view = ProxyView()
        self.started = cfg.epoch + ctx.now()  # the change trackers' start time
        self.initialized = False
        self._needs_full = True
        self._last_full = 0.0
        self._wake = asyncio.Event()
        self._timer: Timer | None = None
        self.hub: ViewHub = hub_of(ctx)
        self.synced_seq = self.hub.seq  # earlier changes are in the first (full) sync
        ctx.spawn(self._loop())
        self.hub.join(self)

    # -- what the hub calls ---------------------------------------------------------------

    def on_event(self, kind: str) -> None:
        """A Service or EndpointSlice event changed the proxy rules (the change trackers'
        counters; upstream also counts the events that change nothing)."""
        (self.metrics.service_changes if kind == "Service" else self.metrics.endpoint_changes).inc()
        if self.initialized:
            self.metrics.last_queued.set(self.cfg.epoch + self.ctx.now())
            self._wake.set()

    def on_synced(self) -> None:
        """Both informers have synced (OnServiceSynced / OnEndpointSlicesSynced)."""
        self.initialized = True
        self._wake.set()

    # -- the sync loop (BoundedFrequencyRunner.Loop) --------------------------------------

    async def _loop(self) -> None:
        self._arm()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.runner.try_run(self.ctx.now()):
                await self._sync()
                self.runner.ran(self.ctx.now())
            self._arm()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.ctx.call_later(max(0.0, self.runner.deadline - self.ctx.now()), self._wake.set)

    async def _sync(self) -> None:
        """syncProxyRules."""
        if not self.initialized:
            return
        ctx, hub = self.ctx, self.hub
        start = ctx.now()
        view = hub.view
        summary = hub.changes_since(self.synced_seq)
        self.synced_seq = hub.seq
        hub.trim()
        hourly = self.cfg.mode != "ipvs" and start - self._last_full >= FULL_SYNC_PERIOD
        full = self._needs_full or hourly
        work = self.ledger.sync(self.synced_view, view, None if full else summary.changed, hub.memo)
        seconds = work.seconds(ctx.cost)
        await ctx.sleep(seconds)
        self.dataplane.sync(view)
        self.synced_view = view
        if full:
            self._needs_full, self._last_full = False, start
        self.syncs += 1
        end = self.cfg.epoch + ctx.now()
        self.metrics.synced(seconds, None if self.cfg.mode == "ipvs" else full, end)
        if isinstance(self.ledger, IptablesLedger):
            self.metrics.iptables_rules(self.ledger.filter_rules, self.ledger.nat_rules,
                                        self.ledger.filter_rules, self.ledger.nat_written)
        for _, trigger in summary.trigger_times:
            try:
                when = parse_timestamp(trigger)
            except ValueError:
                continue  # getLastChangeTriggerTime: an unparsable annotation is ignored
            if when > self.started:
                self.metrics.programmed(max(0.0, end - when))

    # -- traffic ----------------------------------------------------------------------------

    def route(self, client_ip: str, ip: str, port: int, protocol: str = "TCP") -> tuple[str, int] | None:
        """The backend a new connection from ``client_ip`` to ``ip:port`` reaches through
        the rules this node has programmed, or None."""
        return dataplane.route(self.dataplane, client_ip, ip, port, protocol,
                               rng=self.ctx.random, now=self.ctx.now())

    def receive(self, sender: Address, message: Any) -> Any:
        op = message.get("op") if isinstance(message, dict) else None
        if op == "route":
            backend = self.route(message["client"], message["ip"], int(message["port"]),
                                 message.get("protocol", "TCP"))
            return list(backend) if backend is not None else None
        if op == "close":
            dataplane.close_connection(self.dataplane, message["ip"], int(message["port"]),
                                       tuple(message["backend"]), message.get("protocol", "TCP"))
            return None
        if op == "status":
            return {"synced": self.initialized and self.syncs > 0, "syncs": self.syncs,
                    "services": len(self.synced_view.services)}
        raise ValueError(f"kube-proxy {self.cfg.node_name}: unknown message {message!r}")


def _mode(cfg: KubeProxyConfig) -> tuple[Ledger, dataplane.ModeState]:
    """The ledger and data plane of the configured mode, for this node."""
    empty = ProxyView()
    if cfg.mode == "iptables":
        ipt = IptablesConfig(node_name=cfg.node_name, node_ip=cfg.node_ip, zone=cfg.zone,
                             cluster_cidr=cfg.cluster_cidr, masquerade_all=cfg.masquerade_all)
        return IptablesLedger(ipt), dataplane.IptablesState(empty, ipt)
    if cfg.mode == "ipvs":
        ipvs = IpvsConfig(node_name=cfg.node_name, node_ips=(cfg.node_ip,) if cfg.node_ip else (),
                          zone=cfg.zone, scheduler=cfg.ipvs_scheduler, cluster_cidr=cfg.cluster_cidr,
                          masquerade_all=cfg.masquerade_all)
        return IpvsLedger(ipvs), dataplane.IpvsState(empty, ipvs)
    nft = NftConfig(node_name=cfg.node_name, zone=cfg.zone, cluster_cidr=cfg.cluster_cidr,
                    masquerade_all=cfg.masquerade_all)
    return NftablesLedger(nft), dataplane.NftablesState(empty, nft)


def kube_proxy_spec(config: KubeProxyConfig, client_factory: ClientFactory, *,
                    machine: str | None = None, host: str | None = None) -> ActorSpec:
    """The actor spec of ``config``'s kube-proxy: address ``kube-proxy/<node>`` on the
    node's machine (default: a machine named after the node), in host group ``host``
    (whose kube-proxies share one view), every metric labelled ``node=<node>``."""
    name = config.node_name
    return ActorSpec(Address("kube-proxy", name), KubeProxy, machine or name,
                     kwargs={"config": config, "client_factory": client_factory},
                     host=host, metric_labels={"node": name})
