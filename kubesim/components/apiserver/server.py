"""The kube-apiserver actor: one replica of the control plane's API server.

It holds an `EtcdClient` to the etcd members, a `ResourceStore` and a `WatchCache` per
served kind, the admission chain, flow control, and the `RequestHandler`. Other actors
reach it with messages (the in-process fast path); on a real clock (the ray runtime) it
also serves HTTP on 127.0.0.1 so kubectl and client libraries can talk to it.

Messages (all msgpack-encodable):
    ["request", req] -> a Response dict {"code", "body", "headers"} (see handler.py for
        `req`); a watch answers {"code": 200, "watch_id": id, "headers"} and then sends
        ["watch_events", id, seq, [event, ...]] messages to the caller, ending with
        ["watch_end", id, last seq]
    ["watch_stop", id]    the caller no longer wants watch `id`
    ["watch_check", [id, ...]] -> for each id, how many event messages the watch has sent,
        or -1 if this replica does not serve it (ended, or served by an earlier
        incarnation): the client's connection health check (an HTTP/2 PING in client-go),
        which also reveals a lost message. Watch ids are unique across incarnations.
    ["port"]              the HTTP port (None when not serving HTTP)
    ["ready"]             whether /readyz passes

Around the request path it runs what kube-apiserver runs beside it: etcd compaction
every --etcd-compaction-interval (storage/etcd3/compact.go), the stored-object count
behind apiserver_storage_objects every --etcd-count-metric-poll-period, the APF
borrowing adjustment every 10 s, an etcd health probe for /healthz and /readyz, and
the `default/kubernetes` Service with its master lease, Endpoints and EndpointSlice every
10 s (kubernetes_service.py). Services get ClusterIPs and NodePorts from ranges held in
etcd (storage/service_alloc.py).
Readiness fails until etcd answers and every watch cache has synced.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from kubesim.api import kinds, status
from kubesim.components.apiserver.admission import new_chain
from kubesim.components.apiserver.authn import TokenAuthenticator
from kubesim.components.apiserver.endpoints import ResourceEndpoints, Served
from kubesim.components.apiserver.flowcontrol import BORROWING_ADJUSTMENT_PERIOD, new_flow_control
from kubesim.components.apiserver.handler import (
    HandlerSettings,
    HealthSource,
    RequestHandler,
    Response,
    WatchResponse,
)
from kubesim.components.apiserver.kubernetes_service import ENDPOINT_INTERVAL, KubernetesService
from kubesim.components.apiserver.metrics import ApiserverMetrics, InstrumentedBackend
from kubesim.components.apiserver.rest.health import Check
from kubesim.components.apiserver.storage import ListOptions, ResourceStore, keys
from kubesim.components.apiserver.storage.etcd_ops import EtcdOps
from kubesim.components.apiserver.storage.ranges import ServiceRange
from kubesim.components.apiserver.storage.service_alloc import (
    DEFAULT_SERVICE_CLUSTER_IP_RANGE,
    DEFAULT_SERVICE_NODE_PORT_RANGE,
    ServiceAllocator,
)
from kubesim.components.apiserver.watchcache import CacheSettings, WatchCache
from kubesim.components.etcd.client import APISERVER_KEEPALIVE_TIMEOUT, EtcdClient
from kubesim.components.etcd.errors import EtcdError
from kubesim.runtime.actor import Actor
from kubesim.runtime.address import Address
from kubesim.runtime.costmodel import CostModel
from kubesim.runtime.errors import CallTimeout, RemoteError

COMPACT_REV_KEY = b"compact_rev_key"  # storage/etcd3/compact.go compactRevKey
# pkg/controlplane/controller/systemnamespaces: created at start, checked every minute
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "default")
SYSTEM_NAMESPACES_INTERVAL = 60.0
FLOW_METRICS_PERIOD = 1.0  # seconds between exports of the flow-control metrics
# pkg/apis/scheduling SystemPriorityClasses (poststarthook scheduling/bootstrap-system-priority-classes)
SYSTEM_PRIORITY_CLASSES = (
    ("system-node-critical", 2000001000,
     "Used for system critical pods that must not be moved from their current node."),
    ("system-cluster-critical", 2000000000,
     "Used for system critical pods that must run in the cluster, but can be moved to another "
     "node if necessary."),
)
# the post-start hooks a 1.32 apiserver lists in its health checks, for the parts we run
POST_START_HOOKS = ("start-apiserver-admission-initializer", "generic-apiserver-start-informers",
                    "priority-and-fairness-config-consumer", "storage-object-count-tracker-hook")


@dataclass(frozen=True)
class ApiServerSettings:
    """kube-apiserver flags the simulator honours."""

    etcd_servers: tuple[str, ...] = ()  # --etcd-servers (actor addresses of the members)
    port: int | None = None  # --secure-port on 127.0.0.1 (0: any free port; real clock only)
    tls_cert: str | None = None  # --tls-cert-file, as PEM (None: a self-signed one is made)
    tls_key: str | None = None  # --tls-private-key-file, as PEM
    tokens: tuple[dict[str, Any], ...] = ()  # --token-auth-file entries
    # the Unix time runtime time 0 stands for (timestamps, ages); sim runs default to
    # 2025-01-01T00:00:00Z, `kubesim up` passes the wall clock
    epoch: float = 1_735_689_600.0
    enable_priority_and_fairness: bool = True  # --enable-priority-and-fairness
    max_requests_inflight: int = 400
    max_mutating_requests_inflight: int = 200
    request_timeout: float = 60.0
    min_request_timeout: float = 1800.0
    default_watch_cache_size: int = 100  # the cache window's lower bound
    watch_cache_upper_bound: int = 100 * 1024  # cacher defaultUpperBoundCapacity (not a flag)
    etcd_compaction_interval: float = 300.0
    etcd_count_metric_poll_period: float = 60.0
    etcd_healthcheck_interval: float = 1.0
    enable_admission_plugins: tuple[str, ...] | None = None  # None: the default set
    advertise_address: str = "127.0.0.1:6443"  # --advertise-address and --secure-port
    # --service-cluster-ip-range: kubeadm's default (the binary's own is 10.0.0.0/24)
    service_cluster_ip_range: str = DEFAULT_SERVICE_CLUSTER_IP_RANGE
    service_node_port_range: str = DEFAULT_SERVICE_NODE_PORT_RANGE  # --service-node-port-range

    @classmethod
    def from_cost(cls, cost: CostModel, **overrides: Any) -> ApiServerSettings:
        base = cls(
            max_requests_inflight=int(cost.value("apiserver.max_requests_inflight")),
            max_mutating_requests_inflight=int(cost.value("apiserver.max_mutating_requests_inflight")),
            request_timeout=float(cost.value("apiserver.request_timeout")),
            min_request_timeout=float(cost.value("apiserver.min_request_timeout")),
            default_watch_cache_size=int(cost.value("apiserver.watch_cache_size")),
            etcd_compaction_interval=float(cost.value("etcd.compaction_interval")),
        )
        for key in ("etcd_servers", "tokens", "enable_admission_plugins"):
            if overrides.get(key) is not None:
                overrides[key] = tuple(overrides[key])
        return replace(base, **overrides)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Lister:
    """Admission's reads, from the watch caches (`live`: from etcd)."""

    def __init__(self, by_group_resource: dict[str, Served]) -> None:
        self._served = by_group_resource

    async def get(self, resource: str, namespace: str, name: str, *,
                  live: bool = False) -> dict[str, Any] | None:
        served = self._served[resource]
        try:
            if live:
                return await served.store.get(namespace, name)
            return await served.cache.get(namespace, name, "0")
        except status.APIError as err:
            if err.code == 404:
                return None
            raise

    async def list(self, resource: str, namespace: str, *,
                   live: bool = False) -> list[dict[str, Any]]:
        served = self._served[resource]
        if live:
            return (await served.store.list(namespace, ListOptions()))["items"]
        return (await served.cache.list(namespace, ListOptions(resource_version="0")))["items"]


class _Health(HealthSource):
    def __init__(self, server: ApiServer) -> None:
        self.server = server

    def checks(self, endpoint: str) -> Sequence[Check]:
        server = self.server
        out = [Check("ping", True), Check("log", True), Check("etcd", server.etcd_ok)]
        if endpoint == "readyz":
            out.append(Check("etcd-readiness", server.etcd_ok))
            out.append(Check("informer-sync", server.caches_ready()))
        out.extend(Check(f"poststarthook/{hook}", server.started) for hook in POST_START_HOOKS)
        if endpoint == "readyz":
            out.append(Check("shutdown", True))
        return out

    def exposition(self) -> bytes:
        handler = self.server.handler
        self.server.metrics.export_flow_control(handler.flow.metrics(),
                                                handler.flow.drain_wait_observations())
        return self.server.ctx.metrics.exposition()


class ApiServer(Actor):
    """One kube-apiserver replica; `settings` overrides ApiServerSettings fields."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings_overrides = dict(settings or {})
        self.etcd_ok = False
        self.started = False
        self.http_port: int | None = None
        self._watches: dict[int, WatchResponse] = {}
        self._watch_sent: dict[int, int] = {}  # watch id -> event messages sent

    # ------------------------------------------------------------------ start
    def on_start(self) -> Any:
        ctx = self.ctx
        s = self.settings = ApiServerSettings.from_cost(ctx.cost, **self.settings_overrides)
        self._watch_ids = itertools.count((ctx.incarnation << 32) + 1)
        if not s.etcd_servers:
            raise ValueError("an apiserver needs --etcd-servers")
        self.metrics = ApiserverMetrics(ctx.metrics)
        self.etcd = EtcdClient(ctx, list(s.etcd_servers),
                               keepalive_timeout=APISERVER_KEEPALIVE_TIMEOUT)
        backend = InstrumentedBackend(self.etcd, self.metrics, ctx.now, _resource_of_key())
        self.served: dict[tuple[str, str, str], Served] = {}
        cache_settings = CacheSettings(lower_bound_capacity=s.default_watch_cache_size,
                                       upper_bound_capacity=s.watch_cache_upper_bound)
        allocator = ServiceAllocator(EtcdOps(backend), ctx.random, s.service_cluster_ip_range,
                                     s.service_node_port_range)
        for kind in kinds.KINDS:
            if kind.resource == "bindings":
                continue
            store = ResourceStore(kind, backend, now=self.wall_now, rng=ctx.random,
                                  allocator=allocator if kind.group_resource == "services" else None)
            cache = WatchCache(store, clock=ctx, settings=cache_settings)
            store.cached = cache.cached_state  # updates start from the cache's object
            self.served[(kind.group, kind.version, kind.resource)] = Served(kind, store, cache)
        by_gr = {sv.kind.group_resource: sv for sv in self.served.values()}
        quotas = self.served[("", "v1", "resourcequotas")].store

        async def update_quota_status(quota: dict[str, Any]) -> dict[str, Any]:
            meta = quota["metadata"]
            stored, _ = await quotas.update(meta["namespace"], meta["name"], quota,
                                            subresource="status")
            return stored

        plugins = {} if s.enable_admission_plugins is None else \
            {"plugins": s.enable_admission_plugins}
        chain = new_chain(_Lister(by_gr), update_quota_status, ctx, **plugins)
        flow = new_flow_control(ctx.now(), s.enable_priority_and_fairness,
                                s.max_requests_inflight, s.max_mutating_requests_inflight,
                                s.request_timeout)
        endpoints = ResourceEndpoints(self.served, chain, self.wall_now, ctx.random.random,
                                      s.min_request_timeout)
        self.handler = RequestHandler(
            ctx, endpoints=endpoints, authn=TokenAuthenticator.from_settings(s.tokens),
            flow=flow, metrics=self.metrics, health_source=_Health(self),
            settings=HandlerSettings(request_timeout=s.request_timeout,
                                     min_request_timeout=s.min_request_timeout, epoch=s.epoch,
                                     server_address=s.advertise_address))
        ctx.call_every(BORROWING_ADJUSTMENT_PERIOD, self.handler.rebalance)
        # APF and in-flight metrics into the registry the host serves, kept current as
        # kube-apiserver's are (the replica's own /metrics exports them on every scrape too)
        ctx.call_every(FLOW_METRICS_PERIOD, self._export_flow_metrics)
        ctx.call_every(s.etcd_healthcheck_interval, lambda: ctx.spawn(self._probe_etcd()),
                       first=0.0)
        ctx.call_every(s.etcd_count_metric_poll_period, lambda: ctx.spawn(self._count_objects()))
        self._compaction = (0, 0)  # (compact_rev_key version seen, revision to compact next)
        ctx.call_every(s.etcd_compaction_interval, lambda: ctx.spawn(self._compact()),
                       first=0.0)
        return self._start()

    async def _start(self) -> None:
        s = self.settings
        if s.port is not None:
            from kubesim.components.apiserver import certs
            from kubesim.components.apiserver.rest.app import serve

            if s.tls_cert and s.tls_key:
                pair = certs.KeyPair(s.tls_cert, s.tls_key)
            else:  # as kube-apiserver without --tls-cert-file: self-signed, in memory
                ca = certs.new_ca(self.wall_now(), f"localhost-ca@{int(self.wall_now())}")
                pair = certs.new_serving_cert(ca, self.wall_now())
            runner, port = await serve(self.handler, s.port, pair)
            self.ctx.spawn(self._hold_http(runner, port))
        await self.ctx.gather(*(sv.cache.start() for sv in self.served.values()))
        await self._bootstrap_priority_classes()
        await self._ensure_system_namespaces()
        self.ctx.spawn(self._count_objects())  # JitterUntil runs the count once at once
        self.ctx.call_every(SYSTEM_NAMESPACES_INTERVAL,
                            lambda: self.ctx.spawn(self._ensure_system_namespaces()))
        self.kubernetes_service = KubernetesService(
            self.etcd, self.served[("", "v1", "services")].store,
            self.served[("", "v1", "endpoints")].store,
            self.served[("discovery.k8s.io", "v1", "endpointslices")].store,
            ServiceRange.cidr(s.service_cluster_ip_range).first(), s.advertise_address)
        self.ctx.call_every(ENDPOINT_INTERVAL,
                            lambda: self.ctx.spawn(self._reconcile_kubernetes_service()), first=0.0)
        self.started = True

    async def _reconcile_kubernetes_service(self) -> None:
        try:
            await self.kubernetes_service.reconcile()
        except (status.APIError, EtcdError, CallTimeout, RemoteError):
            return  # etcd is not there or a write lost a race: next interval

    async def _create_if_missing(self, served: Served, obj: dict[str, Any]) -> None:
        try:
            await served.cache.get("", obj["metadata"]["name"], "0")
            return
        except status.APIError as err:
            if err.code != 404:
                return
        try:
            await served.store.create("", obj)
        except status.APIError:
            return  # another replica made it first, or etcd is not there: try next time
        except (EtcdError, CallTimeout, RemoteError):
            return

    async def _ensure_system_namespaces(self) -> None:
        served = self.served[("", "v1", "namespaces")]
        for name in SYSTEM_NAMESPACES:
            await self._create_if_missing(served, {"apiVersion": "v1", "kind": "Namespace",
                                                   "metadata": {"name": name}})

    async def _bootstrap_priority_classes(self) -> None:
        served = self.served[("scheduling.k8s.io", "v1", "priorityclasses")]
        for name, value, description in SYSTEM_PRIORITY_CLASSES:
            await self._create_if_missing(served, {
                "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": name}, "value": value, "description": description})

    async def _hold_http(self, runner: Any, port: int) -> None:
        """Own the HTTP server for this incarnation: a stop or crash cancels this task,
        which closes the listener and every open connection."""
        self.http_port = port
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            self.http_port = None
            await runner.cleanup()

    def wall_now(self) -> float:
        return self.settings.epoch + self.ctx.now()

    def caches_ready(self) -> bool:
        return all(sv.cache.ready for sv in self.served.values())

    def ready(self) -> bool:
        return self.etcd_ok and self.started and self.caches_ready()

    # ------------------------------------------------------------------ background work
    async def _probe_etcd(self) -> None:
        """The etcd health check: a quorum read must answer (storagebackend/factory)."""
        try:
            await self.etcd.range({"key": b"health"})
            self.etcd_ok = True
        except (EtcdError, CallTimeout, RemoteError):
            self.etcd_ok = False

    def _export_flow_metrics(self) -> None:
        self.metrics.export_flow_control(self.handler.flow.metrics(), self.handler.flow.drain_wait_observations())

    async def _count_objects(self) -> None:
        """apiserver_storage_objects: a count-only range per resource prefix."""
        for served in self.served.values():
            prefix = keys.resource_prefix(served.kind).encode()
            label = served.kind.group_resource
            try:
                resp = await self.etcd.range({"key": prefix, "range_end": keys.prefix_end(prefix),
                                              "count_only": True})
                self.metrics.storage_objects.labels(label).set(int(resp.get("count", 0)))
            except (EtcdError, CallTimeout, RemoteError):
                self.metrics.storage_objects.labels(label).set(-1)

    async def _compact(self) -> None:
        """storage/etcd3/compact.go: compact to the revision seen one interval ago, once
        per interval across all replicas (the compact_rev_key version is the ticket)."""
        seen_version, revision = self._compaction
        try:
            resp = await self.etcd.txn({
                "compare": [{"key": COMPACT_REV_KEY, "target": "VERSION", "result": "EQUAL",
                             "version": seen_version}],
                "success": [{"request_put": {"key": COMPACT_REV_KEY,
                                             "value": str(revision).encode()}}],
                "failure": [{"request_range": {"key": COMPACT_REV_KEY}}],
            })
            current = int(resp["header"]["revision"])
            if not resp.get("succeeded"):
                kvs = resp["responses"][0]["response_range"]["kvs"]
                self._compaction = (int(kvs[0]["version"]) if kvs else 0, current)
                return
            self._compaction = (seen_version + 1, current)
            if revision:
                await self.etcd.compact({"revision": revision})
        except (EtcdError, CallTimeout, RemoteError):
            return

    # ------------------------------------------------------------------ messages
    def receive(self, sender: Address, message: Any) -> Any:
        kind = message[0]
        if kind == "request":
            return self._request(str(sender), message[1])
        if kind == "watch_stop":
            watch = self._watches.pop(int(message[1]), None)
            if watch is not None:
                watch.stop()
            return None
        if kind == "watch_check":
            return [self._watch_sent.get(int(i), -1) for i in message[1]]
        if kind == "port":
            return self.http_port
        if kind == "ready":
            return self.ready()
        if self.etcd.handles(message):
            self.etcd.deliver(str(sender), message)
            return None
        raise ValueError(f"apiserver: unknown message {kind!r}")

    async def _request(self, sender: str, req: dict[str, Any]) -> dict[str, Any]:
        result = await self.handler.serve(req)
        if isinstance(result, Response):
            return result.to_wire()
        watch_id = next(self._watch_ids)
        self._watches[watch_id] = result
        self.ctx.spawn(self._pump(sender, watch_id, result))
        return {"code": 200, "watch_id": watch_id, "headers": {"Content-Type": "application/json"}}

    async def _pump(self, to: str, watch_id: int, watch: WatchResponse) -> None:
        seq = 0
        self._watch_sent[watch_id] = 0
        try:
            while (event := await watch.next()) is not None:
                seq += 1
                self._watch_sent[watch_id] = seq
                self.ctx.send(to, ["watch_events", watch_id, seq, [event]])
        finally:
            self._watches.pop(watch_id, None)
            self._watch_sent.pop(watch_id, None)
            self.ctx.send(to, ["watch_end", watch_id, seq])

    def on_stop(self) -> None:
        for watch in list(self._watches.values()):
            watch.stop()


def _resource_of_key() -> Callable[[bytes], str]:
    """Maps an etcd key to the group-resource stored under it (longest prefix wins)."""
    prefixes = sorted(((keys.resource_prefix(k).encode(), k.group_resource)
                       for k in kinds.KINDS if k.resource != "bindings" and k.storage_group is None),
                      key=lambda p: -len(p[0]))

    def resource_of(key: bytes) -> str:
        return next((gr for prefix, gr in prefixes if key.startswith(prefix)), "")

    return resource_of

