"""The kube-apiserver request path, as its handler chain orders it
(k8s.io/apiserver pkg/server/config.go DefaultBuildHandlerChain):
authentication -> flow control (API Priority and Fairness or max-in-flight) -> request
timeout -> the REST handler (decode -> admission -> storage / watch cache) -> encoding
(JSON, or a meta.k8s.io Table for `kubectl get`), with the request metrics around it.

A request is a plain dict, the same whether it arrived over HTTP (rest/app.py builds it
with rest/requestinfo.py) or as an actor message (the in-process fast path):

    {"verb", "path", "group", "version", "resource", "subresource", "namespace", "name",
     "resource_request": bool, "query": {name: value}, "token": bearer token or None,
     "accept": Accept header, "content_type": Content-Type header,
     "body": raw bytes, or "object": an already decoded JSON value (fast path),
     "client_cert": {"user", "groups"} (fast path only: see authn.py),
     "user_agent": the User-Agent header}

The answer is a `Response` (code, body: a JSON value or text, headers) or, for a watch,
a `WatchResponse` whose `next()` gives one WatchEvent dict at a time. Every failure is a
metav1.Status with the real code and message; nothing is stored on error.
Non-resource paths (discovery, /version, /openapi/v3, health, /metrics) are answered here
too, so every client sees one server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kubesim.api import kinds, status
from kubesim.components.apiserver.admission import UserInfo
from kubesim.components.apiserver.authn import TokenAuthenticator
from kubesim.components.apiserver.endpoints import Outcome, ResourceEndpoints, Served
from kubesim.components.apiserver.flowcontrol import FlowControl, RequestAttrs, Ticket
from kubesim.components.apiserver.flowcontrol import Outcome as FlowOutcome
from kubesim.components.apiserver.metrics import ApiserverMetrics
from kubesim.components.apiserver.rest import discovery, health, openapi, tables
from kubesim.components.apiserver.watchcache import CacheWatcher

if TYPE_CHECKING:
    from kubesim.runtime.context import Context, Timer

MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024  # server.Config MaxRequestBodyBytes
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
MUTATING_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


@dataclass
class Response:
    """A finished answer: `body` is a JSON value, or text for text/plain answers."""

    code: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {"code": self.code, "body": self.body, "headers": self.headers}


def error_response(err: status.APIError) -> Response:
    headers = {"Content-Type": JSON}
    retry = (err.status.get("details") or {}).get("retryAfterSeconds")
    if retry:
        headers["Retry-After"] = str(retry)
    return Response(err.code, err.status, headers)


def not_found_text() -> Response:
    """A path nothing serves: Go's http.NotFound."""
    return Response(404, "404 page not found\n", {"Content-Type": TEXT,
                                                  "X-Content-Type-Options": "nosniff"})


@dataclass(frozen=True)
class HandlerSettings:
    request_timeout: float = 60.0
    min_request_timeout: float = 1800.0
    max_request_body_bytes: int = MAX_REQUEST_BODY_BYTES
    epoch: float = 0.0  # the Unix time that the runtime's time 0 stands for
    server_address: str = "127.0.0.1:6443"


class HealthSource:
    """What the server knows about its own health (checks per endpoint) and metrics."""

    def checks(self, endpoint: str) -> Sequence[health.Check]:
        raise NotImplementedError

    def exposition(self) -> bytes:
        raise NotImplementedError


class WatchResponse:
    """One watch being served: `next()` gives WatchEvent dicts ({"type", "object"}),
    None once it is over (timeout, the cache closed it, or `stop()`)."""

    def __init__(self, handler: RequestHandler, info: Mapping[str, Any], served: Served,
                 watcher: CacheWatcher, timeout: float, table_version: str | None,
                 started: float) -> None:
        self._handler = handler
        self.info = info
        self.served = served
        self._watcher = watcher
        self._table_version = table_version
        self._include = tables.include_object(info["query"]) if table_version else "Metadata"
        self._first = True
        self._started = started
        self._done = False
        self._timer: Timer = handler.ctx.call_later(timeout, self.stop)
        kind = served.kind
        handler.metrics.longrunning_started(info)
        handler.metrics.watcher_registered(kind.group, kind.version, kind.kind, 1)

    async def next(self) -> dict[str, Any] | None:
        if self._done:
            return None
        event = await self._watcher.next()
        if event is None:
            self._finish()
            return None
        kind = self.served.kind
        self._handler.metrics.watch_event(kind.group, kind.version, kind.kind)
        if self._table_version and event["type"] in ("ADDED", "MODIFIED", "DELETED"):
            table = tables.to_table(kind.group, kind.kind, [event["object"]],
                                    {"resourceVersion": _rv(event["object"])},
                                    self._handler.wall_now(), self._table_version,
                                    self._include, headers=self._first)
            self._first = False
            return {"type": event["type"], "object": table}
        return event

    def stop(self) -> None:
        """End the watch (the client went away, or its timeout passed)."""
        if not self._done:
            self._watcher.stop()
            self._finish()

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        self._timer.cancel()
        kind = self.served.kind
        metrics = self._handler.metrics
        metrics.longrunning_ended(self.info)
        metrics.watcher_registered(kind.group, kind.version, kind.kind, -1)
        metrics.observe_request(self.info, 200, self._handler.ctx.now() - self._started)


def _rv(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


class RequestHandler:
    """Serves request dicts for one apiserver replica."""

    def __init__(self, ctx: Context, *, endpoints: ResourceEndpoints,
                 authn: TokenAuthenticator, flow: FlowControl, metrics: ApiserverMetrics,
                 health_source: HealthSource, settings: HandlerSettings) -> None:
        self.ctx = ctx
        self.endpoints = endpoints
        self.authn = authn
        self.flow = flow
        self.metrics = metrics
        self.health_source = health_source
        self.settings = settings
        self._queued: dict[int, asyncio.Future[Ticket]] = {}
        self._expiry: Timer | None = None
        self._expiry_at: float | None = None
        self._openapi = {gv: openapi.document(gv) for gv in openapi.group_versions()}

    def wall_now(self) -> float:
        """Unix time on this replica's clock."""
        return self.settings.epoch + self.ctx.now()

    # ------------------------------------------------------------------ entry
    async def serve(self, req: Mapping[str, Any]) -> Response | WatchResponse:
        try:
            user = self.authn.authenticate(req.get("token"), req.get("path", ""),
                                           req.get("client_cert"))
        except status.APIError as err:
            return error_response(err)
        if not req.get("resource_request"):
            return await self._with_flow_control(req, user, self._nonresource)
        return await self._resource(req, user)

    # ------------------------------------------------------------------ flow control
    def _attrs(self, req: Mapping[str, Any], user: UserInfo) -> RequestAttrs:
        if not req.get("resource_request"):
            return RequestAttrs(user=user.name, verb=req["verb"], groups=tuple(user.groups),
                                non_resource_url=req.get("path", ""))
        return RequestAttrs(
            user=user.name, verb=req["verb"], groups=tuple(user.groups),
            api_group=req["group"], resource=req["resource"], subresource=req["subresource"],
            namespace=req["namespace"], name=req["name"],
            is_long_running=req["verb"] == "watch")

    async def _admit(self, attrs: RequestAttrs) -> Ticket | None:
        """A seat to run in; raises the 429 Status when flow control rejects the request."""
        decision = self.flow.admit(attrs, self.ctx.now())
        if decision.outcome is FlowOutcome.REJECT:
            assert decision.rejection is not None
            raise status.too_many_requests(decision.rejection.message,
                                           decision.rejection.retry_after)
        if decision.outcome is FlowOutcome.EXECUTE:
            return decision.ticket
        assert decision.ticket is not None
        future: asyncio.Future[Ticket] = asyncio.get_running_loop().create_future()
        self._queued[decision.ticket.id] = future
        self._arm_expiry()
        return await future

    def _release(self, ticket: Ticket | None) -> None:
        if ticket is None:
            return
        self._dispatch(self.flow.finish(ticket, self.ctx.now()))

    def _dispatch(self, tickets: list[Ticket]) -> None:
        for ticket in tickets:
            future = self._queued.pop(ticket.id, None)
            if future is not None and not future.done():
                future.set_result(ticket)
            elif future is None or future.cancelled():  # its client gave up: free the seat
                self._dispatch(self.flow.finish(ticket, self.ctx.now()))

    def rebalance(self) -> None:
        """APF's periodic borrowing adjustment (the server calls it every 10 s)."""
        self._dispatch(self.flow.rebalance(self.ctx.now()))

    def _arm_expiry(self) -> None:
        due = self.flow.next_expiry()
        if due is None or (self._expiry_at is not None and self._expiry_at <= due):
            return
        if self._expiry is not None:
            self._expiry.cancel()
        self._expiry_at = due
        self._expiry = self.ctx.call_later(max(0.0, due - self.ctx.now()), self._expire)

    def _expire(self) -> None:
        self._expiry, self._expiry_at = None, None
        for rejection in self.flow.expire(self.ctx.now()):
            ticket = rejection.ticket
            future = self._queued.pop(ticket.id, None) if ticket is not None else None
            if future is not None and not future.done():
                future.set_exception(status.too_many_requests(rejection.message,
                                                              rejection.retry_after))
        if self._queued:
            self._arm_expiry()

    async def _with_flow_control(self, req: Mapping[str, Any], user: UserInfo,
                                 run: Callable[[Mapping[str, Any], UserInfo], Any]) -> Response:
        try:
            ticket = await self._admit(self._attrs(req, user))
        except status.APIError as err:
            return error_response(err)
        try:
            return await run(req, user)
        finally:
            self._release(ticket)

    # ------------------------------------------------------------------ resource requests
    async def _resource(self, req: Mapping[str, Any], user: UserInfo) -> Response | WatchResponse:
        started = self.ctx.now()
        if not self.endpoints.serves_version(req["group"], req["version"]):
            return not_found_text()
        try:
            ticket = await self._admit(self._attrs(req, user))
        except status.APIError as err:
            response = error_response(err)
            self.metrics.observe_request(req, response.code, self.ctx.now() - started)
            return response
        is_watch = req["verb"] == "watch"
        try:
            if is_watch:
                result: Response | WatchResponse = await self._execute(req, user, started)
            else:
                result = await self._with_timeout(self._execute(req, user, started))
        finally:
            self._release(ticket)  # a watch holds its seat only while it starts
        if isinstance(result, Response):
            self.metrics.observe_request(req, result.code, self.ctx.now() - started)
        return result

    async def _with_timeout(self, work: Any) -> Response:
        """The request-timeout filter: 504 when the handler has not answered in time."""
        task = self.ctx.spawn(work)
        timer = self.ctx.call_later(self.settings.request_timeout, task.cancel)
        try:
            return await task
        except asyncio.CancelledError:
            if task.cancelled() and not _current_task_cancelling():
                return error_response(status.timeout(
                    "request did not complete within requested timeout - context deadline "
                    "exceeded"))
            raise
        finally:
            timer.cancel()
            if not task.done():  # our caller went away: stop the work too
                task.cancel()

    async def _execute(self, req: Mapping[str, Any], user: UserInfo,
                       started: float) -> Response | WatchResponse:
        try:
            body = req.get("body")
            if body is not None and len(body) >= self.settings.max_request_body_bytes:
                raise status.request_entity_too_large(
                    f"limit is {self.settings.max_request_body_bytes}")
            await self._model_cost(req)
            table = tables.table_version(str(req.get("accept") or ""))
            if table:
                tables.include_object(req["query"])
            outcome = await self.endpoints.serve(req, user)
        except status.APIError as err:
            return error_response(err)
        if outcome.watcher is not None:
            assert outcome.served is not None
            return WatchResponse(self, req, outcome.served, outcome.watcher,
                                 self.endpoints.watch_timeout(req), table, started)
        return await self._encode(req, outcome, table)

    async def _model_cost(self, req: Mapping[str, Any]) -> None:
        """The modelled CPU time of the request path outside etcd (cost model
        apiserver.request, plus apiserver.admission for writes)."""
        cost = self.ctx.cost.sample("apiserver.request", self.ctx.random)
        if req["verb"] in MUTATING_VERBS:
            cost += self.ctx.cost.sample("apiserver.admission", self.ctx.random)
        await self.ctx.sleep(cost)

    async def _encode(self, req: Mapping[str, Any], outcome: Outcome,
                      table: str | None) -> Response:
        body = outcome.body
        items = body.get("items") if isinstance(body, dict) else None
        count = len(items) if isinstance(items, list) else 1
        await self.ctx.sleep(count * float(self.ctx.cost.value(
            "apiserver.serialize_per_object_seconds")))
        if table and outcome.served is not None and isinstance(body, dict) and \
                body.get("kind") not in ("Status", "Scale", None):
            kind = outcome.served.kind
            include = tables.include_object(req["query"])
            if isinstance(items, list):
                body = tables.to_table(kind.group, kind.kind, items, body.get("metadata") or {},
                                       self.wall_now(), table, include)
            else:
                body = tables.to_table(kind.group, kind.kind, [body],
                                       {"resourceVersion": _rv(body)}, self.wall_now(), table,
                                       include)
        headers = {"Content-Type": JSON}
        if outcome.warnings:
            headers["Warning"] = ", ".join(f'299 - "{w}"' for w in outcome.warnings)
        return Response(outcome.code, body, headers)

    # ------------------------------------------------------------------ non-resource paths
    async def _nonresource(self, req: Mapping[str, Any], user: UserInfo) -> Response:
        path = req.get("path", "").rstrip("/") or "/"
        if req["verb"] != "get":
            return error_response(status.APIError({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "the server does not allow this method on the requested resource",
                "reason": "MethodNotAllowed", "details": {}, "code": 405}))
        query = req.get("query", {})
        accept = str(req.get("accept") or "")
        parts = path.strip("/").split("/")
        if path == "/version":
            return Response(200, discovery.version_info(), {"Content-Type": JSON})
        if path in ("/api", "/apis"):
            if discovery.wants_aggregated(accept):
                body = discovery.aggregated(path == "/api")
                return Response(200, body, {"Content-Type": discovery.AGGREGATED_V2,
                                            "Vary": "Accept", "Etag": discovery.etag(body)})
            if path == "/api":
                return Response(200, kinds.api_versions(self.settings.server_address),
                                {"Content-Type": JSON})
            return Response(200, kinds.api_group_list(), {"Content-Type": JSON})
        if parts[0] in ("api", "apis"):
            return self._legacy_discovery(parts)
        if path == "/openapi/v3":
            return Response(200, openapi.index(self._openapi), {"Content-Type": JSON})
        if path.startswith("/openapi/v3/"):
            doc = self._openapi.get(path[len("/openapi/v3/"):])
            if doc is None:
                return not_found_text()
            return Response(200, doc, {"Content-Type": JSON,
                                       "Cache-Control": "public, immutable"})
        if parts[0] in health.ENDPOINTS:
            return self._health(parts, query)
        if path == "/metrics":
            return Response(200, self.health_source.exposition().decode(),
                            {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})
        return not_found_text()

    def _legacy_discovery(self, parts: list[str]) -> Response:
        if parts[0] == "api" and len(parts) == 2:
            body = kinds.api_resource_list("", parts[1])
        elif parts[0] == "apis" and len(parts) == 2:
            body = kinds.api_group(parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            body = kinds.api_resource_list(parts[1], parts[2])
        else:
            body = None
        if body is None:
            return not_found_text()
        return Response(200, body, {"Content-Type": JSON})

    def _health(self, parts: list[str], query: Mapping[str, Any]) -> Response:
        endpoint = parts[0]
        checks = self.health_source.checks(endpoint)
        if len(parts) > 1:
            answer = health.render_one(checks, "/".join(parts[1:]))
            if answer is None:
                return not_found_text()
        else:
            exclude = [e for e in str(query.get("exclude", "")).split(",") if e]
            answer = health.render(endpoint, checks, "verbose" in query, exclude)
        return Response(answer.code, answer.text, {"Content-Type": TEXT,
                                                   "X-Content-Type-Options": "nosniff"})


def _current_task_cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
