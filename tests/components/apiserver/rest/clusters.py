"""Test support: a control plane on the sim runtime driven through the apiserver's
message fast path, and request dicts built the way the HTTP facade builds them."""

from __future__ import annotations

import json
from typing import Any

from kubesim.components.apiserver.cluster import (
    ControlPlane,
    admin_token_entry,
    place_control_plane,
)
from kubesim.components.apiserver.rest.requestinfo import request_info
from kubesim.runtime.actor import Actor, ActorSpec
from kubesim.runtime.address import Address, Machine
from kubesim.runtime.sim import SimRuntime

TOKEN = "test-admin-token"
TABLE_ACCEPT = ("application/json;as=Table;v=v1;g=meta.k8s.io,"
                "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")
CLIENT = Address("test-client", "c0")


class WatchClient(Actor):
    """Calls the apiserver and collects the watch events it streams back."""

    def __init__(self) -> None:
        self.events: dict[int, list[dict[str, Any]]] = {}
        self.ended: set[int] = set()

    def receive(self, sender: Address, message: Any) -> Any:
        if message[0] == "watch_events":
            self.events.setdefault(message[1], []).extend(message[3])
        elif message[0] == "watch_end":
            self.ended.add(message[1])
        return None


def sim_control_plane(seed: int = 1, apiservers: int = 1,
                      settings: dict[str, Any] | None = None) -> tuple[SimRuntime, ControlPlane]:
    """One etcd member and `apiservers` replicas that know TOKEN, plus a WatchClient."""
    rt = SimRuntime(seed=seed)
    plane = place_control_plane(rt, apiservers=apiservers, etcd_members=1,
                                settings={"tokens": [admin_token_entry(TOKEN)], **(settings or {})})
    rt.add_machine(Machine(CLIENT.name, "zone-a", "client"))
    rt.spawn(ActorSpec(CLIENT, WatchClient, CLIENT.name))

    async def ready(rt: SimRuntime) -> None:
        async def all_ready() -> bool:
            return all([await rt.ask(a, ["ready"]) for a in plane.apiservers])

        await rt.wait_until(all_ready, 60.0)

    rt.run(ready)
    return rt, plane


def request(method: str, path: str, body: Any = None, *, query: dict[str, str] | None = None,
            token: str | None = TOKEN, content_type: str = "application/json",
            accept: str = "application/json", raw: bytes | None = None) -> dict[str, Any]:
    """The request dict rest/app.py would build for this HTTP request."""
    req = request_info(method, path, query or {})
    req.update(token=token, accept=accept, content_type=content_type)
    if raw is not None:
        req["body"] = raw
    elif body is not None:
        req["body"] = json.dumps(body).encode()
    return req


def call(rt: SimRuntime, api: str, method: str, path: str, body: Any = None,
         **kwargs: Any) -> dict[str, Any]:
    """Run one request to completion on the sim runtime; the response dict."""
    async def go(rt: SimRuntime) -> dict[str, Any]:
        return await rt.ask(api, ["request", request(method, path, body, **kwargs)])

    return rt.run(go)


def client(rt: SimRuntime) -> WatchClient:
    actor = rt.actor(CLIENT)
    assert isinstance(actor, WatchClient)
    return actor


def configmap(name: str, namespace: str = "default", **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace}, "data": dict(data)}


def deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": "nginx"}]}}}}


def pod(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]}}
