"""The in-memory apiserver of ``fake_apiserver`` plus the ``pods/binding`` subresource, for
running kube-scheduler without kube-apiserver and etcd (scheduler tests, the scheduler
benchmark, end-to-end tests of components downstream of scheduling)."""

from __future__ import annotations

from typing import Any

from kubesim.api import meta, status
from kubesim.components.client.api import Obj
from kubesim.testing.fake_apiserver import FakeAPIServer


class SchedulingFakeAPIServer(FakeAPIServer):
    """The fake with ``POST pods/<name>/binding`` as the pod registry's ``assignPod`` does it:
    404 if the pod is gone, 409 if its UID differs or it is being deleted or already bound;
    else nodeName and PodScheduled=True."""

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
