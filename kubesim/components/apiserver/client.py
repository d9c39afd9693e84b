"""The in-cluster API client: `APIClient` (kubesim/components/client/api.py) over actor
messages to the apiserver replicas, the fast path the scheduler, controllers, kubelets,
kube-proxies and load generators use. It behaves as client-go's REST client does behind
the `kubernetes` Service or a load balancer (k8s.io/client-go rest, v1.32):

- One connection at a time, to one replica picked at random among the healthy ones, so
  clients spread over the replicas; every request and watch of the client rides it until
  it fails (HTTP/2 keeps one connection per host).
- The connection's health check is HTTP/2's (apimachinery util/net: ReadIdleTimeout 30 s,
  PingTimeout 15 s): once nothing has been heard from the replica for `read_idle_timeout`
  while requests or watches wait on it, a ping (`["watch_check", ids]`) must answer within
  `ping_timeout`, else the connection is lost. A request that gets no answer within
  `attempt_timeout` loses it too. A lost connection ends its watches (`next()` returns None,
  so informers re-watch from their last resourceVersion) and its replica is avoided for
  `quarantine` seconds (kube-apiserver's endpoint lease TTL, 15 s, after which the
  `kubernetes` Service stops sending there).
- Retries as `rest.Request` does (maxRetries 10): a read (get, list, watch) whose
  connection failed is sent again after 1 s on a new connection; a write whose connection
  failed may have been applied, so it is not resent and fails with 504 Timeout; any
  request answered 429, or 5xx with a Retry-After header, is sent again after that many
  seconds. When retries run out: 503 for reads, 504 for writes.
- Watch events come as `["watch_events", id, seq, events]` / `["watch_end", id, last_seq]`
  messages to the owning actor; the client takes them through `Context.route`, so the
  actor never forwards them. A gap in `seq` (a lost message) ends the stream and tells the
  replica to stop it: the caller re-watches from the last resourceVersion it saw.

Credentials: a bearer `token` (from a static token file), or the identity of the x509
client certificate in-cluster components present (`user`, `groups`; see authn.py).

    client = ApiserverClient(ctx, plane.apiservers, user_agent="kube-scheduler",
                             user="system:kube-scheduler")
    factory = client_factory(plane.apiservers, user="system:kube-scheduler")  # ClientFactory
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubesim.api import kinds, status
from kubesim.api.kinds import Kind
from kubesim.components.apiserver.rest.requestinfo import request_info
from kubesim.components.client.api import APIClient, Obj
from kubesim.runtime.address import Address
from kubesim.runtime.context import Context, Timer
from kubesim.runtime.errors import CallTimeout, RemoteError

JSON = "application/json"
READ_VERBS = frozenset({"get", "list", "watch"})
MAX_RETRIES = 10  # rest.Request maxRetries default
RETRY_WAIT = 1.0  # rest.withRetry: wait before resending after a retryable connection error
READ_IDLE_TIMEOUT = 30.0  # util/net readIdleTimeoutSeconds
PING_TIMEOUT = 15.0  # util/net pingTimeoutSeconds
QUARANTINE = 15.0  # reconcilers.DefaultEndpointReconcilerTTL: a dead replica leaves the Service
ATTEMPT_TIMEOUT = 70.0  # beyond the server's own 60 s request timeout (its 504 comes first)

_RESOURCES: dict[str, Kind] = {
    (f"{k.resource}.{k.group}" if k.group else k.resource): k for k in kinds.KINDS
}


def resolve(resource: str) -> Kind:
    """The Kind served under a resource name such as `pods` or `deployments.apps`; the
    404 client-go's discovery would give for one the server does not serve."""
    kind = _RESOURCES.get(resource)
    if kind is None:
        raise status.APIError({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "the server could not find the requested resource", "reason": "NotFound",
            "details": {"kind": resource}, "code": 404})
    return kind


def path_of(kind: Kind, namespace: str = "", name: str = "", subresource: str = "") -> str:
    """The REST path of a collection, an object or a subresource."""
    path = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
    if kind.namespaced and namespace:
        path += f"/namespaces/{namespace}"
    path += f"/{kind.resource}"
    if name:
        path += f"/{name}"
        if subresource:
            path += f"/{subresource}"
    return path


class _ConnectionLost(Exception):
    """The connection to a replica failed while a request waited on it."""


@dataclass(eq=False)
class _Connection:
    """The client's connection to one replica: what waits on it and when it last spoke."""

    replica: str
    last_heard: float
    lost: asyncio.Future[None]
    in_flight: int = 0
    streams: dict[int, ApiserverWatch] = field(default_factory=dict)
    pinging: bool = False


class _Demux:
    """Routes one actor's watch messages to the streams of all its clients, keyed by
    (replica, watch id); holds events that overtake the reply naming their watch."""

    _by_ctx: weakref.WeakKeyDictionary[Context, _Demux] = weakref.WeakKeyDictionary()

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.streams: dict[tuple[str, int], ApiserverWatch] = {}
        self.opening: dict[str, int] = {}  # replica -> watch calls awaiting their reply
        self.early: dict[tuple[str, int], list[list[Any]]] = {}
        ctx.route("watch_events", self.on_message)
        ctx.route("watch_end", self.on_message)

    @classmethod
    def of(cls, ctx: Context) -> _Demux:
        demux = cls._by_ctx.get(ctx)
        if demux is None:
            demux = cls._by_ctx[ctx] = cls(ctx)
        return demux

    def on_message(self, sender: Address, message: list[Any]) -> None:
        key = (str(sender), int(message[1]))
        stream = self.streams.get(key)
        if stream is not None:
            stream.on_message(message)
        elif self.opening.get(key[0]):
            self.early.setdefault(key, []).append(message)
        elif message[0] == "watch_events":  # nobody reads it (any more): close it
            self.ctx.send(key[0], ["watch_stop", key[1]])

    def opened(self, replica: str) -> None:
        self.opening[replica] = self.opening.get(replica, 0) + 1

    def settled(self, replica: str, key: tuple[str, int] | None, stream: ApiserverWatch | None) -> None:
        """A watch call to `replica` answered (`key`/`stream` when it started a watch)."""
        if key is not None and stream is not None:
            self.streams[key] = stream
            for message in self.early.pop(key, ()):
                stream.on_message(message)
        self.opening[replica] -= 1
        if not self.opening[replica]:
            del self.opening[replica]
            for stale in [k for k in self.early if k[0] == replica]:
                del self.early[stale]


class ApiserverWatch:
    """One watch stream (implements `WatchStream`)."""

    def __init__(self, client: ApiserverClient, conn: _Connection, watch_id: int) -> None:
        self._client = client
        self._conn = conn
        self.watch_id = watch_id
        self.seq = 0  # the last event message taken in
        self._queue: asyncio.Queue[Obj | None] = asyncio.Queue()
        self.ended = False

    def on_message(self, message: list[Any]) -> None:
        if self.ended:
            return
        self._conn.last_heard = self._client.ctx.now()
        if message[0] == "watch_end":
            self._end()
            return
        seq = int(message[2])
        if seq <= self.seq:
            return  # a duplicate
        if seq != self.seq + 1:
            self.abandon()  # a message was lost: the caller re-watches from what it saw
            return
        self.seq = seq
        for event in message[3]:
            self._queue.put_nowait(event)

    async def next(self) -> Obj | None:
        if self.ended and self._queue.empty():
            return None
        return await self._queue.get()

    async def stop(self) -> None:
        self.abandon()

    def abandon(self) -> None:
        """End the stream here and ask the replica to stop serving it."""
        if self.ended:
            return
        self._end()
        if not self._conn.lost.done():
            self._client.ctx.send(self._conn.replica, ["watch_stop", self.watch_id])

    def _end(self) -> None:
        if self.ended:
            return
        self.ended = True
        self._conn.streams.pop(self.watch_id, None)
        self._client.demux.streams.pop((self._conn.replica, self.watch_id), None)
        self._queue.put_nowait(None)


class ApiserverClient(APIClient):
    """An `APIClient` for the actor owning `ctx`, reaching the replicas at `replicas`."""

    def __init__(
        self,
        ctx: Context,
        replicas: Sequence[str],
        *,
        user_agent: str = "kubesim",
        token: str | None = None,
        user: str | None = None,
        groups: Sequence[str] = (),
        attempt_timeout: float = ATTEMPT_TIMEOUT,
        max_retries: int = MAX_RETRIES,
        read_idle_timeout: float = READ_IDLE_TIMEOUT,
        ping_timeout: float = PING_TIMEOUT,
        quarantine: float = QUARANTINE,
    ) -> None:
        if not replicas:
            raise ValueError("an apiserver client needs at least one replica")
        self.ctx = ctx
        self.replicas = [str(r) for r in replicas]
        self.user_agent = user_agent
        self.token = token
        self.client_cert = {"user": user, "groups": list(groups)} if user else None
        self.attempt_timeout = attempt_timeout
        self.max_retries = max_retries
        self.read_idle_timeout = read_idle_timeout
        self.ping_timeout = ping_timeout
        self.quarantine = quarantine
        self.demux = _Demux.of(ctx)
        self._conn: _Connection | None = None
        self._failed: dict[str, float] = {}  # replica -> when its connection was lost
        self._health: Timer | None = None

    # ------------------------------------------------------------------ connection
    @property
    def replica(self) -> str | None:
        """The replica the client is connected to now, if any."""
        return self._conn.replica if self._conn is not None else None

    def _connection(self) -> _Connection:
        conn = self._conn
        if conn is not None and not conn.lost.done():
            return conn
        now = self.ctx.now()
        healthy = [r for r in self.replicas
                   if r not in self._failed or now - self._failed[r] >= self.quarantine]
        if not healthy:  # all failed lately: try the one that failed longest ago
            healthy = [min(self.replicas, key=lambda r: self._failed[r])]
        replica = healthy[self.ctx.random.randrange(len(healthy))]
        loop = asyncio.get_running_loop()
        conn = self._conn = _Connection(replica, now, loop.create_future())
        if self._health is None:
            self._health = self.ctx.call_every(self.read_idle_timeout / 2, self._check_health)
        return conn

    def _lose(self, conn: _Connection) -> None:
        if conn.lost.done():
            return
        conn.lost.set_result(None)
        self._failed[conn.replica] = self.ctx.now()
        if self._conn is conn:
            self._conn = None
        for stream in list(conn.streams.values()):
            stream._end()

    def _check_health(self) -> None:
        conn = self._conn
        if conn is None or conn.pinging or not (conn.in_flight or conn.streams):
            return
        if self.ctx.now() - conn.last_heard >= self.read_idle_timeout:
            conn.pinging = True
            self.ctx.spawn(self._ping(conn))

    async def _ping(self, conn: _Connection) -> None:
        ids = list(conn.streams)
        try:
            sent = await self.ctx.call(conn.replica, ["watch_check", ids], timeout=self.ping_timeout)
        except (CallTimeout, RemoteError):
            self._lose(conn)
            return
        finally:
            conn.pinging = False
        conn.last_heard = self.ctx.now()
        for watch_id, count in zip(ids, sent, strict=True):
            stream = conn.streams.get(watch_id)
            # the reply left after every event counted in it, on the same ordered link
            if stream is not None and (count < 0 or count > stream.seq):
                stream.abandon()

    async def _attempt(self, replica: str, message: list[Any]) -> Any:
        """The call as a task of the actor's: its failure is the answer (a value), not an
        error of the task's, which the runtime would report as the actor's."""
        try:
            return await self.ctx.call(replica, message, timeout=self.attempt_timeout)
        except (CallTimeout, RemoteError) as err:
            return err

    async def _call(self, conn: _Connection, message: list[Any]) -> Any:
        """One attempt on `conn`; _ConnectionLost if it fails under the request."""
        conn.in_flight += 1
        call = self.ctx.spawn(self._attempt(conn.replica, message))
        try:
            await asyncio.wait((call, conn.lost), return_when=asyncio.FIRST_COMPLETED)
            if not call.done():
                call.cancel()
                raise _ConnectionLost(f"connection to {conn.replica} lost")
            reply = call.result()
            if isinstance(reply, CallTimeout):
                self._lose(conn)
                raise _ConnectionLost(str(reply))
            if isinstance(reply, RemoteError):
                raise reply
            conn.last_heard = self.ctx.now()
            return reply
        finally:
            conn.in_flight -= 1
            if not call.done():  # our caller was cancelled
                call.cancel()

    # ------------------------------------------------------------------ requests
    def _request(self, method: str, path: str, query: dict[str, str] | None = None,
                 obj: Any = None, content_type: str = JSON) -> dict[str, Any]:
        req = request_info(method, path, query or {})
        req.update(token=self.token, accept=JSON, content_type=content_type,
                   user_agent=self.user_agent)
        if self.client_cert is not None:
            req["client_cert"] = self.client_cert
        if obj is not None:
            req["object"] = obj
        return req

    async def _send(self, req: dict[str, Any], on_watch: Callable[[_Connection, dict[str, Any]], Any]
                    | None = None) -> Any:
        """Send `req` with client-go's retries; the response dict (or what `on_watch`
        makes of a watch's reply). Raises the APIError of a failed response."""
        read = req["verb"] in READ_VERBS
        retries = 0
        while True:
            conn = self._connection()
            try:
                if on_watch is None:
                    reply = await self._call(conn, ["request", req])
                else:
                    reply = await self._open_watch(conn, req, on_watch)
            except (_ConnectionLost, RemoteError) as err:
                if not read:
                    if isinstance(err, RemoteError):
                        raise status.internal(f"{conn.replica}: {err}") from None
                    raise status.timeout(
                        f"no answer from {conn.replica}; the {req['verb']} may or may not have "
                        "been applied") from None
                if retries >= self.max_retries:
                    raise status.service_unavailable(f"no apiserver replica answered: {err}") from None
                retries += 1
                await self.ctx.sleep(RETRY_WAIT)
                continue
            code = int(reply["code"])
            if code < 400:
                return reply if on_watch is None else reply["stream"]
            retry_after = _retry_after(reply) if code == 429 or code >= 500 else None
            if retry_after is not None and retries < self.max_retries:
                retries += 1
                await self.ctx.sleep(retry_after)
                continue
            raise _error(code, reply.get("body"))

    async def _open_watch(self, conn: _Connection, req: dict[str, Any],
                          on_watch: Callable[[_Connection, dict[str, Any]], Any]) -> dict[str, Any]:
        self.demux.opened(conn.replica)
        key = stream = None
        try:
            reply = await self._call(conn, ["request", req])
            if int(reply["code"]) < 400 and "watch_id" in reply:
                stream = on_watch(conn, reply)
                key = (conn.replica, stream.watch_id)
                reply = dict(reply, stream=stream)
            return reply
        finally:
            self.demux.settled(conn.replica, key, stream)

    async def _do(self, method: str, path: str, query: dict[str, str] | None = None,
                  obj: Any = None, content_type: str = JSON) -> Obj:
        reply = await self._send(self._request(method, path, query, obj, content_type))
        return reply["body"]

    # ------------------------------------------------------------------ APIClient
    async def get(self, resource: str, namespace: str, name: str, subresource: str = "") -> Obj:
        return await self._do("GET", path_of(resolve(resource), namespace, name, subresource))

    async def list(self, resource: str, namespace: str = "", *, label_selector: str = "",
                   field_selector: str = "", resource_version: str = "",
                   resource_version_match: str = "", limit: int = 0,
                   continue_token: str = "") -> Obj:
        query = _query(labelSelector=label_selector, fieldSelector=field_selector,
                       resourceVersion=resource_version,
                       resourceVersionMatch=resource_version_match,
                       limit=str(limit) if limit else "", **{"continue": continue_token})
        return await self._do("GET", path_of(resolve(resource), namespace), query)

    async def watch(self, resource: str, namespace: str = "", *, label_selector: str = "",
                    field_selector: str = "", resource_version: str = "",
                    allow_watch_bookmarks: bool = True,
                    timeout_seconds: int | None = None) -> ApiserverWatch:
        query = _query(watch="true", labelSelector=label_selector, fieldSelector=field_selector,
                       resourceVersion=resource_version,
                       allowWatchBookmarks="true" if allow_watch_bookmarks else "",
                       timeoutSeconds=str(timeout_seconds) if timeout_seconds is not None else "")
        req = self._request("GET", path_of(resolve(resource), namespace), query)

        def started(conn: _Connection, reply: dict[str, Any]) -> ApiserverWatch:
            stream = ApiserverWatch(self, conn, int(reply["watch_id"]))
            conn.streams[stream.watch_id] = stream
            return stream

        stream: ApiserverWatch = await self._send(req, started)
        return stream

    async def create(self, resource: str, obj: Obj, namespace: str = "", subresource: str = "",
                     dry_run: bool = False) -> Obj:
        kind = resolve(resource)
        meta = obj.get("metadata") or {}
        namespace = namespace or meta.get("namespace", "")
        name = meta.get("name", "") if subresource else ""
        query = {"dryRun": "All"} if dry_run else None
        return await self._do("POST", path_of(kind, namespace, name, subresource), query, obj)

    async def update(self, resource: str, obj: Obj, subresource: str = "") -> Obj:
        meta = obj.get("metadata") or {}
        path = path_of(resolve(resource), meta.get("namespace", ""), meta.get("name", ""),
                       subresource)
        return await self._do("PUT", path, None, obj)

    async def patch(self, resource: str, namespace: str, name: str, body: Any,
                    patch_type: str = "application/strategic-merge-patch+json",
                    subresource: str = "") -> Obj:
        path = path_of(resolve(resource), namespace, name, subresource)
        return await self._do("PATCH", path, None, body, content_type=patch_type)

    async def delete(self, resource: str, namespace: str, name: str, *,
                     grace_period_seconds: int | None = None,
                     propagation_policy: str | None = None,
                     preconditions: Obj | None = None) -> Obj:
        options: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if propagation_policy is not None:
            options["propagationPolicy"] = propagation_policy
        if preconditions is not None:
            options["preconditions"] = preconditions
        return await self._do("DELETE", path_of(resolve(resource), namespace, name), None, options)


@dataclass(frozen=True)
class ClientFactory:
    """`factory(ctx)` builds an ApiserverClient for the actor owning `ctx` (what the
    scheduler, controller manager and kubelet take as their client factory)."""

    replicas: tuple[str, ...]
    options: tuple[tuple[str, Any], ...] = ()

    def __call__(self, ctx: Context) -> ApiserverClient:
        return ApiserverClient(ctx, self.replicas, **dict(self.options))


def client_factory(replicas: Sequence[str], **options: Any) -> ClientFactory:
    """A ClientFactory for `replicas`; `options` are ApiserverClient's keyword arguments."""
    return ClientFactory(tuple(str(r) for r in replicas), tuple(sorted(options.items())))


def _query(**params: str) -> dict[str, str]:
    return {k: v for k, v in params.items() if v}


def _retry_after(reply: dict[str, Any]) -> float | None:
    """rest.checkWait: the Retry-After seconds of a 429 or 5xx answer, if it names some."""
    value = (reply.get("headers") or {}).get("Retry-After")
    try:
        return float(int(value)) if value is not None else None
    except ValueError:
        return None


def _error(code: int, body: Any) -> status.APIError:
    """The APIError of a failed answer: its Status, or one made from a non-Status body
    as client-go's newUnstructuredResponseError does."""
    if isinstance(body, dict) and body.get("kind") == "Status":
        return status.APIError(body)
    reasons = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
               405: "MethodNotAllowed", 409: "Conflict", 410: "Expired", 415: "UnsupportedMediaType",
               422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
               503: "ServiceUnavailable", 504: "Timeout"}
    message = "the server could not find the requested resource" if code == 404 else \
        f"an error on the server ({str(body).strip()}) has prevented the request from succeeding"
    return status.APIError({"kind": "Status", "apiVersion": "v1", "metadata": {},
                            "status": "Failure", "message": message,
                            "reason": reasons.get(code, "Unknown"), "code": code})
