"""The one view of Services and EndpointSlices that the kube-proxies of a host share.

A real kube-proxy lists and watches Services and EndpointSlices itself. Thousands of
simulated kube-proxies packed on one host would hold thousands of equal copies; instead
the kube-proxies of a host group (`Context.host_shared`) share one `ViewHub`: one pair of
informers, one immutable `ProxyView` that moves forward by structure-sharing updates, and
a log of what each event changed. Each kube-proxy keeps a reference to the snapshot it
last programmed and takes the merged changes since then when it syncs; nothing is copied
per node.

The informers run as tasks of one member kube-proxy (the owner), through its API client.
When the owner stops or crashes its tasks end; the next member then lists from scratch,
and the view is rebuilt and compared with the previous one, as a relist would find.
Trigger times of changes made while no informer was watching are not known.

Members: objects with ``ctx`` (their Context), ``client`` (their APIClient),
``synced_seq`` (the hub's `seq` when they last took the changes), and two callbacks:
``on_event(kind)`` (a Service or EndpointSlice event changed the proxy rules; events that
change nothing, such as the informers' resyncs, are not passed on) and ``on_synced()``
(the view is complete, or was rebuilt with changes after a hand-over).
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Callable, Hashable
from typing import Any, Protocol, TypeVar

from kubesim.components.client.api import APIClient, Obj
from kubesim.components.client.events import EventHandler
from kubesim.components.client.informers import SharedInformerFactory
from kubesim.components.client.store import DeletedFinalStateUnknown
from kubesim.components.kube_proxy.model import ChangeSummary, ProxyView, changes_between
from kubesim.runtime.context import Context

__all__ = ["SERVICES", "ENDPOINT_SLICES", "PROXY_LABEL_SELECTOR", "Member", "ViewHub", "hub_of"]

SERVICES = "services"
ENDPOINT_SLICES = "endpointslices.discovery.k8s.io"
#: cmd/kube-proxy/app/server.go: objects for another service proxy
#: (service.kubernetes.io/service-proxy-name) and headless Services are not watched.
PROXY_LABEL_SELECTOR = "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless"
#: KubeProxyConfiguration configSyncPeriod default (15m): the informers' resync period.
CONFIG_SYNC_PERIOD = 900.0
_KINDS = {SERVICES: "Service", ENDPOINT_SLICES: "EndpointSlice"}
T = TypeVar("T")
_TRIM_AT = 256


class Member(Protocol):
    """What the hub needs of a kube-proxy."""

    ctx: Context
    client: APIClient

    #: the hub's seq when the member last took the changes
    synced_seq: int

    def on_event(self, kind: str) -> None: ...

    def on_synced(self) -> None: ...


class ViewHub:
    """One host group's shared informers, view and change log; see the module docstring."""

    def __init__(self, config_sync_period: float = CONFIG_SYNC_PERIOD) -> None:
        self.config_sync_period = config_sync_period
        self.view = ProxyView()
        #: changes applied so far; a member remembers the seq it last synced at
        self.seq = 0
        self.synced = False
        self._log_seqs: list[int] = []
        self._log: list[ChangeSummary] = []
        self._members: dict[str, Member] = {}
        self._owner: str | None = None
        self._factory: SharedInformerFactory | None = None
        self._live = False
        self._memo: dict[Hashable, Any] = {}

    # -- membership ------------------------------------------------------------------------

    def join(self, member: Member) -> None:
        """Add a kube-proxy (from its on_start); it leaves when its tasks end."""
        name = str(member.ctx.address)
        self._members[name] = member
        member.ctx.spawn(self._membership(name, member))
        if self._owner is None:
            self._start(name, member)
        elif self.synced:
            member.on_synced()

    async def _membership(self, name: str, member: Member) -> None:
        try:
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:  # the member stopped or crashed
            self._leave(name, member)
            raise

    def _leave(self, name: str, member: Member) -> None:
        if self._members.get(name) is member:
            del self._members[name]
        if self._owner != name:
            return
        self._owner, self._factory, self._live = None, None, False
        # elect once every member that went down with this one has left too
        asyncio.get_running_loop().call_soon(self._elect)

    def _elect(self) -> None:
        if self._owner is None and self._members:
            successor = next(iter(self._members))
            self._start(successor, self._members[successor])

    @property
    def members(self) -> int:
        return len(self._members)

    # -- informers ---------------------------------------------------------------------------

    def _start(self, name: str, member: Member) -> None:
        factory = SharedInformerFactory(member.client, member.ctx,
                                        resync_period=self.config_sync_period)
        for resource in (SERVICES, ENDPOINT_SLICES):
            kind = _KINDS[resource]
            factory.informer(resource, label_selector=PROXY_LABEL_SELECTOR).add_event_handler(
                EventHandler(
                    on_add=lambda obj, k=kind: self._event(k, "ADDED", obj),
                    on_update=lambda old, new, k=kind: self._event(k, "MODIFIED", new),
                    on_delete=lambda obj, k=kind: self._event(k, "DELETED", obj),
                ))
        self._owner, self._factory = name, factory
        factory.start()
        member.ctx.spawn(self._rebuild_when_synced(factory))

    async def _rebuild_when_synced(self, factory: SharedInformerFactory) -> None:
        """After a (re)start: build the view from the informers' caches, publish the
        difference, and apply events one by one from then on."""
        await factory.wait_for_cache_sync()
        if factory is not self._factory:
            return
        services = factory.lister(SERVICES, label_selector=PROXY_LABEL_SELECTOR).list()
        slices = factory.lister(ENDPOINT_SLICES, label_selector=PROXY_LABEL_SELECTOR).list()
        view = ProxyView.build(services, slices)
        summary = changes_between(self.view, view)
        self._publish(view, summary)
        self._live = True
        if summary or not self.synced:
            self.synced = True
            for member in list(self._members.values()):
                member.on_synced()

    def _event(self, kind: str, event: str, obj: Obj | DeletedFinalStateUnknown) -> None:
        if not self._live:
            return  # the rebuild reads the caches once both have synced
        if isinstance(obj, DeletedFinalStateUnknown):
            obj = obj.obj
        view, summary = self.view.apply(kind, event, obj)
        if not summary:
            return  # a resync or an irrelevant edit: not worth a call per simulated node
        self._publish(view, summary)
        for member in list(self._members.values()):
            member.on_event(kind)

    def _publish(self, view: ProxyView, summary: ChangeSummary) -> None:
        self.view = view
        self._memo.clear()
        if summary:
            self.seq += 1
            self._log_seqs.append(self.seq)
            self._log.append(summary)

    # -- what members read -------------------------------------------------------------------

    def changes_since(self, seq: int) -> ChangeSummary:
        """Everything applied after ``seq`` (merged)."""
        total = ChangeSummary()
        for summary in self._log[bisect.bisect_right(self._log_seqs, seq):]:
            total = total | summary
        return total

    def trim(self) -> None:
        """Drop the log entries every member has synced past (when the log is long)."""
        if len(self._log) <= _TRIM_AT + len(self._members):
            return
        low = min((m.synced_seq for m in self._members.values()), default=self.seq)
        cut = bisect.bisect_right(self._log_seqs, low)
        del self._log_seqs[:cut], self._log[:cut]

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """A value computed once per view for every member (`programming.Memo`)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[no-any-return]


def hub_of(ctx: Context) -> ViewHub:
    """The hub of the calling actor's host group."""
    return ctx.host_shared("kube-proxy-view", ViewHub)
