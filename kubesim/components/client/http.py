"""`APIClient` over HTTP for any cluster a kubeconfig reaches (a real one, or `kubesim up`):
what the load generator uses outside the runtime.

The kubeconfig's current context gives the server, the CA (`certificate-authority-data`
or `certificate-authority`, or `insecure-skip-tls-verify`) and the credentials (a bearer
`token` / `tokenFile`, or `client-certificate` + `client-key` files). Requests are JSON
over one aiohttp session; a non-2xx answer becomes an `APIError` carrying the server's
metav1.Status (or one built from the HTTP status when the body is not a Status). A 429
or a 5xx with Retry-After is sent again after that many seconds, up to 10 times, as
client-go's rest.Request does. A watch is a chunked stream of JSON lines, each
`{"type", "object"}`; `next()` returns None when the server ends it. `metric_samples`
scrapes the apiserver's `/metrics`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from kubesim.api import status
from kubesim.components.apiserver.client import path_of, resolve
from kubesim.components.client.api import APIClient, Obj

MAX_RETRIES = 10  # rest.Request maxRetries
JSON = "application/json"


class KubeconfigError(ValueError):
    """A kubeconfig that names no usable cluster or user."""


def _error(code: int, body: bytes) -> status.APIError:
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("kind") == "Status":
        parsed.setdefault("code", code)
        return status.APIError(parsed)
    return status.APIError({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": body.decode(errors="replace")[:500] or f"HTTP {code}",
                            "reason": "InternalError" if code >= 500 else "BadRequest", "code": code})


class HTTPWatch:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next(self) -> Obj | None:
        while True:
            try:
                line = await self.response.content.readline()
            except (TimeoutError, aiohttp.ClientError):
                return None
            if not line:
                return None
            if line.strip():
                return json.loads(line)

    async def stop(self) -> None:
        self.response.close()


class HTTPClient(APIClient):
    def __init__(self, server: str, *, token: str | None = None, ssl_context: ssl.SSLContext | bool = True,
                 user_agent: str = "kubesim-load") -> None:
        self.server = server.rstrip("/")
        self.headers = {"Accept": JSON, "User-Agent": user_agent}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_kubeconfig(cls, path: str | Path, context: str | None = None) -> HTTPClient:
        p = Path(path).expanduser()
        try:
            config = yaml.safe_load(p.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise KubeconfigError(f"{p}: cannot read the kubeconfig: {exc}") from None
        if not isinstance(config, dict):
            raise KubeconfigError(f"{p}: not a kubeconfig")
        name = context or config.get("current-context")
        ctx = next((c.get("context") or {} for c in config.get("contexts") or [] if c.get("name") == name), None)
        if ctx is None:
            raise KubeconfigError(f"{p}: context {name!r} not found")
        cluster = next((c.get("cluster") or {} for c in config.get("clusters") or []
                        if c.get("name") == ctx.get("cluster")), None)
        user = next((u.get("user") or {} for u in config.get("users") or [] if u.get("name") == ctx.get("user")), {})
        if cluster is None or not cluster.get("server"):
            raise KubeconfigError(f"{p}: cluster {ctx.get('cluster')!r} of context {name!r} has no server")
        base = p.parent
        ssl_context: ssl.SSLContext | bool = True
        if cluster.get("insecure-skip-tls-verify"):
            ssl_context = False
        elif cluster.get("certificate-authority-data") or cluster.get("certificate-authority"):
            ssl_context = ssl.create_default_context()
            if cluster.get("certificate-authority-data"):
                ssl_context.load_verify_locations(
                    cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
            else:
                ssl_context.load_verify_locations(cafile=str(base / cluster["certificate-authority"]))
        token = user.get("token")
        if not token and user.get("tokenFile"):
            token = (base / user["tokenFile"]).read_text().strip()
        if user.get("client-certificate") and user.get("client-key"):
            if not isinstance(ssl_context, ssl.SSLContext):
                ssl_context = ssl.create_default_context()
                if cluster.get("insecure-skip-tls-verify"):
                    ssl_context.check_hostname = False
                    ssl_context.verify_mode = ssl.CERT_NONE
            ssl_context.load_cert_chain(str(base / user["client-certificate"]), str(base / user["client-key"]))
        return cls(cluster["server"], token=token, ssl_context=ssl_context)

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self.headers, connector=aiohttp.TCPConnector(ssl=self.ssl, limit=100),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _request(self, method: str, path: str, query: dict[str, str] | None = None, body: Any = None,
                       content_type: str = JSON) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type} if data is not None else {}
        for _attempt in range(MAX_RETRIES + 1):
            try:
                async with self.session().request(method, self.server + path, params=query or None, data=data,
                                                  headers=headers, timeout=aiohttp.ClientTimeout(total=70)) as resp:
                    payload = await resp.read()
                    retry = resp.headers.get("Retry-After")
                    if resp.status == 429 or (resp.status >= 500 and retry):
                        await asyncio.sleep(float(retry or 1))
                        continue
                    if resp.status >= 300:
                        raise _error(resp.status, payload)
                    return json.loads(payload) if payload else {}
            except (TimeoutError, aiohttp.ClientError) as exc:
                code = 503 if method == "GET" else 504
                raise _error(code, f"{method} {path}: {exc!r}".encode()) from None
        raise _error(429, b"too many requests: retries exhausted")

    async def raw(self, path: str) -> str:
        """A non-resource GET (e.g. /metrics) as text."""
        async with self.session().get(self.server + path, headers={"Accept": "text/plain"}) as resp:
            text = await resp.text()
            if resp.status >= 300:
                raise _error(resp.status, text.encode())
            return text

    async def metric_samples(self, names: Any) -> list[tuple[str, dict[str, str], float]]:
        """Samples of the named families on the apiserver's /metrics."""
        from prometheus_client.parser import text_string_to_metric_families

        wanted = set(names)
        text = await self.raw("/metrics")
        return [(s.name, dict(s.labels), float(s.value)) for family in text_string_to_metric_families(text)
                if family.name in wanted for s in family.samples]

    async def get(self, resource: str, namespace: str, name: str, subresource: str = "") -> Obj:
        return await self._request("GET", path_of(resolve(resource), namespace, name, subresource))

    async def list(self, resource: str, namespace: str = "", *, label_selector: str = "", field_selector: str = "",
                   resource_version: str = "", resource_version_match: str = "", limit: int = 0,
                   continue_token: str = "") -> Obj:
        query = {k: v for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector),
                                   ("resourceVersion", resource_version),
                                   ("resourceVersionMatch", resource_version_match),
                                   ("limit", str(limit) if limit else ""), ("continue", continue_token)) if v}
        return await self._request("GET", path_of(resolve(resource), namespace), query)

    async def watch(self, resource: str, namespace: str = "", *, label_selector: str = "", field_selector: str = "",
                    resource_version: str = "", allow_watch_bookmarks: bool = True,
                    timeout_seconds: int | None = None) -> HTTPWatch:
        query = {k: v for k, v in (("watch", "true"), ("labelSelector", label_selector),
                                   ("fieldSelector", field_selector), ("resourceVersion", resource_version),
                                   ("allowWatchBookmarks", "true" if allow_watch_bookmarks else ""),
                                   ("timeoutSeconds", str(timeout_seconds) if timeout_seconds else "")) if v}
        try:
            resp = await self.session().get(self.server + path_of(resolve(resource), namespace), params=query)
        except aiohttp.ClientError as exc:
            raise _error(503, f"watch {resource}: {exc!r}".encode()) from None
        if resp.status >= 300:
            body = await resp.read()
            resp.close()
            raise _error(resp.status, body)
        return HTTPWatch(resp)

    async def create(self, resource: str, obj: Obj, namespace: str = "", subresource: str = "",
                     dry_run: bool = False) -> Obj:
        kind = resolve(resource)
        ns = namespace or (obj.get("metadata") or {}).get("namespace", "")
        name = (obj.get("metadata") or {}).get("name", "") if subresource else ""
        query = {"dryRun": "All"} if dry_run else None
        return await self._request("POST", path_of(kind, ns, name, subresource), query, obj)

    async def update(self, resource: str, obj: Obj, subresource: str = "") -> Obj:
        m = obj.get("metadata") or {}
        return await self._request("PUT", path_of(resolve(resource), m.get("namespace", ""), m["name"], subresource),
                                   None, obj)

    async def patch(self, resource: str, namespace: str, name: str, body: Any,
                    patch_type: str = "application/strategic-merge-patch+json", subresource: str = "") -> Obj:
        return await self._request("PATCH", path_of(resolve(resource), namespace, name, subresource), None, body,
                                   patch_type)

    async def delete(self, resource: str, namespace: str, name: str, *, grace_period_seconds: int | None = None,
                     propagation_policy: str | None = None, preconditions: Obj | None = None) -> Obj:
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if preconditions:
            options["preconditions"] = preconditions
        return await self._request("DELETE", path_of(resolve(resource), namespace, name), None, options)
