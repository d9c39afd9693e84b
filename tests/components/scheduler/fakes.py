"""Test doubles for the scheduler actor: kubesim.testing's in-memory apiserver plus the
pods/binding subresource, and a client wrapper that adds a fixed latency to every call."""

from __future__ import annotations

from typing import Any

from kubesim.api import meta, status
from kubesim.components.client.api import APIClient, Obj
from kubesim.runtime.context import Context
from kubesim.testing.fake_apiserver import FakeAPIServer


class SchedulingFakeAPIServer(FakeAPIServer):
    """The fake with ``POST pods/<name>/binding`` as the pod registry's ``assignPod`` does it:
    409 if the pod is gone, being deleted or already bound; else nodeName and PodScheduled=True."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bindings: list[tuple[str, str]] = []

    async def create(self, resource: str, obj: Obj, namespace: str = "", subresource: str = "",
                     dry_run: bool = False) -> Obj:
        if resource == "pods" and subresource == "binding":
            return self._bind(obj, namespace)
        return await super().create(resource, obj, namespace, subresource, dry_run)

    def _bind(self, binding: Obj, namespace: str) -> Obj:
        md = binding.get("metadata") or {}
        name, ns = md.get("name", ""), namespace or md.get("namespace") or "default"
        pod = self.find("pods", ns, name)
        if pod is None:
            raise status.not_found("pods", name)
        if md.get("uid") and md["uid"] != pod["metadata"]["uid"]:
            raise status.conflict("pods/binding", name, f"Precondition failed: UID in precondition: "
                                  f"{md['uid']}, UID in object meta: {pod['metadata']['uid']}")
        if pod["metadata"].get("deletionTimestamp"):
            raise status.conflict("pods/binding", name, f"pod {name} is being deleted, cannot be assigned to a host")
        if pod["spec"].get("nodeName"):
            raise status.conflict("pods/binding", name,
                                  f'pod {name} is already assigned to node "{pod["spec"]["nodeName"]}"')
        target = binding["target"]["name"]

        def assign(p: Obj) -> None:
            p["spec"]["nodeName"] = target
            conds = [c for c in p["status"].get("conditions") or () if c.get("type") != "PodScheduled"]
            conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                          "lastTransitionTime": meta.timestamp(self.clock())})
            p["status"]["conditions"] = conds

        self.mutate("pods", ns, name, assign)
        self.bindings.append((f"{ns}/{name}", target))
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


class SlowClient:
    """Every call of ``client`` takes ``latency`` simulated seconds of the actor's time first."""

    def __init__(self, client: APIClient, ctx: Context, latency: float) -> None:
        self.client, self.ctx, self.latency = client, ctx, latency

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        async def slow(*args: Any, **kwargs: Any) -> Any:
            await self.ctx.sleep(self.latency)
            return await method(*args, **kwargs)

        return slow


class FlakyClient:
    """One replica's view of the apiserver: ``down`` makes every call fail with 503 (a
    partitioned replica); ``bound`` lists the pods this replica bound."""

    def __init__(self, client: APIClient) -> None:
        self.client = client
        self.down = False
        self.bound: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise status.service_unavailable("the apiserver is unreachable")
            result = await method(*args, **kwargs)
            subresource = kwargs.get("subresource", args[3] if len(args) > 3 else "")
            if name == "create" and subresource == "binding":
                self.bound.append(args[1]["metadata"]["name"])
            return result

        return call
