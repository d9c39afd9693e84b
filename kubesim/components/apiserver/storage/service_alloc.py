"""The Service registry's ClusterIP and NodePort allocation, shared by every replica via etcd.

After k8s.io/kubernetes pkg/registry/core/service/storage/alloc.go (allocateCreate,
allocateUpdate, patchAllocatedValues, releaseAllocatedResources) over the etcd-backed
allocators of ipallocator/storage and portallocator/storage: each range is one
``RangeAllocation`` object (``/registry/ranges/serviceips``,
``/registry/ranges/servicenodeports``) changed by a compare-and-swap on its mod revision,
so replicas never hand out the same IP or port. Allocations are made before the Service is
written and given back when that write fails; releases wait until it succeeded.

Not modelled: the repair controllers (ipallocator/controller/repairip.go, portallocator
controller) that rebuild the bitmaps from the stored Services every 3 minutes, dual-stack,
and the MultiCIDRServiceAllocator (ServiceCIDR/IPAddress objects).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubesim.api import status
from kubesim.api.field import ErrorList, invalid, new_path
from kubesim.components.apiserver.storage.etcd_ops import EtcdOps
from kubesim.components.apiserver.storage.ranges import RangeError, ServiceRange

Obj = dict[str, Any]

SERVICE_IPS_KEY = b"/registry/ranges/serviceips"
NODE_PORTS_KEY = b"/registry/ranges/servicenodeports"
# kube-apiserver's own default is 10.0.0.0/24; kubeadm (and so most clusters) sets this
DEFAULT_SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/12"
DEFAULT_SERVICE_NODE_PORT_RANGE = "30000-32767"  # --service-node-port-range
NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


@dataclass
class Allocation:
    """What one create or update took and what it gives back once the write is stored."""

    ips: list[str] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    release_ips: list[str] = field(default_factory=list)
    release_ports: list[int] = field(default_factory=list)


class _Range:
    """One RangeAllocation in etcd: allocate, allocate-next and release by CAS."""

    def __init__(self, spec: ServiceRange, key: bytes, ops: EtcdOps, rng: random.Random) -> None:
        self.spec = spec
        self.key = key
        self.ops = ops
        self.rng = rng

    async def change(self, step: Callable[[int], int], dry_run: bool) -> None:
        """Apply ``step`` to the stored bitmap (retried on a concurrent write)."""
        def update(stored: Obj | None) -> Obj:
            return self.spec.store(stored, step(self.spec.bitmap(stored)))

        await self.ops.guaranteed_update(self.key, update, ignore_not_found=True,
                                         dry_run=dry_run)

    async def allocate(self, value: str | int, dry_run: bool) -> None:
        await self.change(lambda bits: self.spec.allocate(bits, value), dry_run)

    async def allocate_next(self, dry_run: bool) -> str:
        taken: list[str] = []

        def step(bits: int) -> int:
            bits, value = self.spec.allocate_next(bits, self.rng)
            taken[:] = [value]
            return bits

        await self.change(step, dry_run)
        return taken[0]

    async def release(self, values: list[str] | list[int]) -> None:
        if not values:
            return

        def step(bits: int) -> int:
            for value in values:
                bits = self.spec.release(bits, value)
            return bits

        await self.change(step, False)


class ServiceAllocator:
    """The allocation hooks of the Service store (``begin_create``, ``begin_update``,
    ``finish``, ``release``), over ``ops``; ``rng`` draws the random scan starts."""

    def __init__(self, ops: EtcdOps, rng: random.Random,
                 cluster_ip_range: str = DEFAULT_SERVICE_CLUSTER_IP_RANGE,
                 node_port_range: str = DEFAULT_SERVICE_NODE_PORT_RANGE) -> None:
        self.ips = _Range(ServiceRange.cidr(cluster_ip_range), SERVICE_IPS_KEY, ops, rng)
        self.ports = _Range(ServiceRange.ports(node_port_range), NODE_PORTS_KEY, ops, rng)

    # ----------------------------------------------------------------- create
    async def begin_create(self, svc: Obj, dry_run: bool) -> Allocation:
        """``allocateCreate``: fill spec.clusterIP(s) and nodePorts, allocating them."""
        txn = Allocation()
        try:
            await self._alloc_cluster_ip(svc, txn, dry_run)
            if _spec(svc).get("type") in NODE_PORT_TYPES:
                await self._alloc_node_ports(svc, set(), txn, dry_run)
        except BaseException:
            await self.finish(txn, False, dry_run)
            raise
        return txn

    async def _alloc_cluster_ip(self, svc: Obj, txn: Allocation, dry_run: bool) -> None:
        spec = _spec(svc)
        if spec.get("type") == "ExternalName":
            return
        ips = list(spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else []))
        if ips and ips[0] == "None":
            spec["clusterIP"], spec["clusterIPs"] = "None", ["None"]
            return
        if ips:
            try:
                await self.ips.allocate(ips[0], dry_run)
            except RangeError as err:
                raise _invalid(svc, [invalid(new_path("spec", "clusterIPs"), ips,
                                             f"failed to allocate IP {ips[0]}: {err}")]) from None
            ip = ips[0]
        else:
            try:
                ip = await self.ips.allocate_next(dry_run)
            except RangeError as err:
                raise status.internal(f"failed to allocate a serviceIP: {err}") from None
        txn.ips.append(ip)
        spec["clusterIP"], spec["clusterIPs"] = ip, [ip]

    async def _alloc_node_ports(self, svc: Obj, held: set[int], txn: Allocation,
                                dry_run: bool) -> None:
        """``initNodePorts`` / ``updateNodePorts``: requested ports taken unless ``held`` (the
        old object's), missing ones allocated; ports sharing a port number share a nodePort."""
        spec = _spec(svc)
        ports = spec.get("ports") or []
        by_port: dict[int, int] = {}
        allocate_missing = _should_allocate_node_ports(svc)
        for i, port in enumerate(ports):
            requested = int(port.get("nodePort") or 0)
            if not requested and not allocate_missing:
                continue
            if not requested and port.get("port") in by_port:
                port["nodePort"] = by_port[port["port"]]
                continue
            if requested:
                if requested not in held and requested not in txn.ports:
                    try:
                        await self.ports.allocate(requested, dry_run)
                    except RangeError as err:
                        raise _invalid(svc, [invalid(
                            new_path("spec", "ports").index(i).child("nodePort"), requested,
                            str(err))]) from None
                    txn.ports.append(requested)
            else:
                try:
                    requested = int(await self.ports.allocate_next(dry_run))
                except RangeError as err:
                    raise status.internal(f"failed to allocate a nodePort: {err}") from None
                txn.ports.append(requested)
                port["nodePort"] = requested
            by_port.setdefault(port.get("port"), requested)
        if _needs_health_check(svc):
            hc = int(spec.get("healthCheckNodePort") or 0)
            if hc and hc not in held and hc not in txn.ports:
                try:
                    await self.ports.allocate(hc, dry_run)
                except RangeError as err:
                    raise status.internal(
                        f"failed to allocate requested HealthCheck NodePort {hc}: {err}") from None
                txn.ports.append(hc)
            elif not hc:
                hc = int(await self.ports.allocate_next(dry_run))
                txn.ports.append(hc)
                spec["healthCheckNodePort"] = hc

    # ----------------------------------------------------------------- update
    async def begin_update(self, svc: Obj, old: Obj, dry_run: bool) -> Allocation:
        """``patchAllocatedValues`` + ``allocateUpdate``: keep what ``old`` holds, allocate
        what the new type needs, and note what it no longer needs."""
        _drop_type_dependent_fields(svc, old)
        _patch_allocated_values(svc, old)
        spec, old_spec = _spec(svc), _spec(old)
        txn = Allocation()
        try:
            if old_spec.get("type") == "ExternalName" and spec.get("type") != "ExternalName":
                await self._alloc_cluster_ip(svc, txn, dry_run)
            elif spec.get("type") == "ExternalName" and (old_spec.get("clusterIP") or "None") != "None":
                txn.release_ips.append(old_spec["clusterIP"])
            held = set(_node_ports(old))
            if spec.get("type") in NODE_PORT_TYPES:
                await self._alloc_node_ports(svc, held, txn, dry_run)
            kept = set(_node_ports(svc))
            txn.release_ports.extend(p for p in held if p not in kept)
        except BaseException:
            await self.finish(txn, False, dry_run)
            raise
        return txn

    # ----------------------------------------------------------------- finish / delete
    async def finish(self, txn: Allocation, stored: bool, dry_run: bool) -> None:
        """After the write: give back what it no longer holds (``stored``) or what it took."""
        if dry_run:
            return
        if stored:
            await self.ips.release(txn.release_ips)
            await self.ports.release(txn.release_ports)
        else:
            await self.ips.release(txn.ips)
            await self.ports.release(txn.ports)

    async def release(self, svc: Obj) -> None:
        """``releaseAllocatedResources``: a deleted Service's IPs and node ports."""
        ips = [ip for ip in _spec(svc).get("clusterIPs") or
               ([_spec(svc)["clusterIP"]] if _spec(svc).get("clusterIP") else []) if ip != "None"]
        await self.ips.release(ips)
        await self.ports.release(_node_ports(svc))


def _spec(svc: Obj) -> Obj:
    return svc.setdefault("spec", {})


def _invalid(svc: Obj, errs: ErrorList) -> status.APIError:
    return status.invalid("Service", (svc.get("metadata") or {}).get("name", ""), errs)


def _should_allocate_node_ports(svc: Obj) -> bool:
    spec = _spec(svc)
    if spec.get("type") == "NodePort":
        return True
    if spec.get("type") == "LoadBalancer":
        return spec.get("allocateLoadBalancerNodePorts", True) is not False
    return False


def _needs_health_check(svc: Obj) -> bool:
    """``apiservice.NeedsHealthCheck``: a LoadBalancer with externalTrafficPolicy Local."""
    spec = _spec(svc)
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def _node_ports(svc: Obj) -> list[int]:
    """``collectServiceNodePorts`` plus the health check node port."""
    spec = _spec(svc)
    out: list[int] = []
    for port in spec.get("ports") or []:
        if port.get("nodePort") and int(port["nodePort"]) not in out:
            out.append(int(port["nodePort"]))
    if _needs_health_check(svc) and spec.get("healthCheckNodePort"):
        out.append(int(spec["healthCheckNodePort"]))
    return out


def _drop_type_dependent_fields(svc: Obj, old: Obj) -> None:
    """``dropTypeDependentFields`` (Service PrepareForUpdate): on a type change, what the new
    type does not use and the update left as it was goes (``kubectl edit`` of the type)."""
    spec, old_spec = _spec(svc), _spec(old)
    if spec.get("type") == old_spec.get("type"):
        return
    if old_spec.get("type") != "ExternalName" and spec.get("type") == "ExternalName":
        if spec.get("clusterIPs") == old_spec.get("clusterIPs") and \
                spec.get("clusterIP") == old_spec.get("clusterIP"):
            for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                spec.pop(key, None)
    if old_spec.get("type") in NODE_PORT_TYPES and spec.get("type") not in NODE_PORT_TYPES:
        if [p.get("nodePort") for p in spec.get("ports") or []] == \
                [p.get("nodePort") for p in old_spec.get("ports") or []]:
            for port in spec.get("ports") or []:
                port.pop("nodePort", None)
        if spec.get("externalTrafficPolicy") == old_spec.get("externalTrafficPolicy"):
            spec.pop("externalTrafficPolicy", None)
    if _needs_health_check(old) and not _needs_health_check(svc) and \
            spec.get("healthCheckNodePort") == old_spec.get("healthCheckNodePort"):
        spec.pop("healthCheckNodePort", None)


def _patch_allocated_values(svc: Obj, old: Obj) -> None:
    """``patchAllocatedValues``: an update that leaves out clusterIP(s), nodePorts or the
    health check node port keeps the old ones (PUT and apply do not have to repeat them)."""
    spec, old_spec = _spec(svc), _spec(old)
    if spec.get("type") != "ExternalName" and old_spec.get("type") != "ExternalName":
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not spec.get("clusterIPs") and old_spec.get("clusterIPs") and \
                spec.get("clusterIP") == old_spec["clusterIPs"][0]:
            spec["clusterIPs"] = list(old_spec["clusterIPs"])
    if spec.get("type") in NODE_PORT_TYPES and old_spec.get("type") in NODE_PORT_TYPES:
        # by port name, unless another port of the new object already uses the number
        used = set(_node_ports(old)) & set(_node_ports(svc))
        by_name = {p.get("name") or "": p.get("nodePort") for p in old_spec.get("ports") or []}
        for port in spec.get("ports") or []:
            kept = by_name.get(port.get("name") or "")
            if not port.get("nodePort") and kept and kept not in used:
                port["nodePort"] = kept
    if _needs_health_check(svc) and _needs_health_check(old) and \
            not spec.get("healthCheckNodePort") and old_spec.get("healthCheckNodePort"):
        spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]
