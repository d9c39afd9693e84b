"""The cloud node controllers of cloud-controller-manager (k8s.io/cloud-provider
controllers/node and controllers/nodelifecycle, v1.32).

`CloudNodeController` initializes nodes a kubelet registered with
`--cloud-provider=external`, which carry the `node.cloudprovider.kubernetes.io/uninitialized`
NoSchedule taint: it sets `spec.providerID`, the instance-type, zone and region labels
(stable and beta names) and the node's addresses from the cloud's InstanceMetadata, then
removes the taint so pods can schedule there. A node whose instance the cloud does not
know is retried with backoff.

`CloudNodeLifecycleController` checks every `--node-monitor-period` (5 s) each node that
is not Ready: if its instance no longer exists the Node is deleted (event DeletingNode);
if the instance is shut down the node gets the `node.cloudprovider.kubernetes.io/shutdown`
NoSchedule taint, which goes again once the node is Ready.
"""

from __future__ import annotations

from collections.abc import Callable

from kubesim.api.copying import deep_copy
from kubesim.api.status import APIError
from kubesim.components.client.events import EventHandler
from kubesim.components.client.recorder import EventRecorder
from kubesim.components.client.store import Obj
from kubesim.components.client.workqueue import ItemExponentialFailureRateLimiter
from kubesim.components.cloud.provider import CloudProvider, CloudProviderError
from kubesim.components.controllers.base import (
    Controller,
    ControllerContext,
    PeriodicController,
    Requeue,
    object_key,
)
from kubesim.components.controllers.pods import condition

UNINITIALIZED_TAINT = "node.cloudprovider.kubernetes.io/uninitialized"
SHUTDOWN_TAINT = "node.cloudprovider.kubernetes.io/shutdown"
INSTANCE_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")
NODE_MONITOR_PERIOD = 5.0


def has_taint(node: Obj, key: str) -> bool:
    return any(t.get("key") == key for t in (node.get("spec") or {}).get("taints") or [])


def without_taint(node: Obj, key: str) -> list[Obj]:
    return [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("key") != key]


class CloudNodeController(Controller):
    name = "cloud-node"

    def __init__(self, cc: ControllerContext, cloud: CloudProvider, workers: int = 1) -> None:
        super().__init__(cc, workers, ItemExponentialFailureRateLimiter(1.0, 300.0))
        self.cloud = cloud
        self.node_informer = cc.informers.informer("nodes")
        self.node_informer.add_event_handler(EventHandler(
            on_add=self._maybe_enqueue, on_update=lambda old, cur: self._maybe_enqueue(cur)))

    def _maybe_enqueue(self, node: Obj) -> None:
        if has_taint(node, UNINITIALIZED_TAINT):
            self.enqueue(object_key(node))

    async def sync(self, key: str) -> None:
        cached = self.node_informer.indexer.get_by_key(key)
        if cached is None or not has_taint(cached, UNINITIALIZED_TAINT):
            return
        node = deep_copy(cached)
        try:
            metadata = await self.cloud.instance_metadata(node)
        except CloudProviderError as err:
            raise Requeue(str(err)) from err
        if metadata is None:
            raise Requeue(f"node {key}: no instance in the cloud provider")
        spec = node.setdefault("spec", {})
        spec.setdefault("providerID", metadata["providerID"])
        labels = node["metadata"].setdefault("labels", {})
        for names, value in ((INSTANCE_TYPE_LABELS, metadata["instanceType"]), (ZONE_LABELS, metadata["zone"]),
                             (REGION_LABELS, metadata["region"])):
            for name in names:
                labels[name] = value
        taints = without_taint(node, UNINITIALIZED_TAINT)
        if taints:
            spec["taints"] = taints
        else:
            spec.pop("taints", None)
        updated = await self.client.update("nodes", node)
        if (updated.get("status") or {}).get("addresses") != metadata["nodeAddresses"]:
            updated["status"] = {**(updated.get("status") or {}), "addresses": metadata["nodeAddresses"]}
            try:
                await self.client.update("nodes", updated, "status")
            except APIError as err:
                if err.code != 409:
                    raise  # a kubelet status write in between: its next sync carries them


class CloudNodeLifecycleController(PeriodicController):
    """wait.Until(MonitorNodes, nodeMonitorPeriod)."""

    name = "cloud-node-lifecycle"

    def __init__(self, cc: ControllerContext, cloud: CloudProvider,
                 monitor_period: float = NODE_MONITOR_PERIOD) -> None:
        super().__init__(cc, monitor_period)
        self.cloud = cloud
        self.recorder = EventRecorder(cc.client, cc.ctx, "cloud-node-lifecycle-controller", cc.now)
        self.node_informer = cc.informers.informer("nodes")

    async def tick(self) -> None:
        await self.monitor_nodes()

    async def monitor_nodes(self) -> None:
        for node in self.node_informer.indexer.list():
            try:
                await self._check(node)
            except (APIError, CloudProviderError):
                continue  # the next round tries again

    async def _check(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        ready = condition(node, "Ready")
        if ready is not None and ready.get("status") == "True":
            if has_taint(node, SHUTDOWN_TAINT):
                await self._set_taints(name, lambda n: without_taint(n, SHUTDOWN_TAINT))
            return
        if not await self.cloud.instance_exists(node):
            self.recorder.event(node, "Normal", "DeletingNode",
                                f"Deleting node {name} because it does not exist in the cloud provider")
            try:
                await self.client.delete("nodes", "", name)
            except APIError as err:
                if err.code != 404:
                    raise
            return
        if await self.cloud.instance_shutdown(node) and not has_taint(node, SHUTDOWN_TAINT):
            await self._set_taints(name, lambda n: [*without_taint(n, SHUTDOWN_TAINT),
                                                    {"key": SHUTDOWN_TAINT, "effect": "NoSchedule"}])

    async def _set_taints(self, name: str, taints: Callable[[Obj], list[Obj]]) -> None:
        fresh = await self.client.get("nodes", "", name)
        new = taints(fresh)
        spec = fresh.setdefault("spec", {})
        if new:
            spec["taints"] = new
        else:
            spec.pop("taints", None)
        await self.client.update("nodes", fresh)
