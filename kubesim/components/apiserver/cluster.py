"""Placing a control plane on a runtime: an etcd cluster, N apiserver replicas on their
own control-plane machines, and (on a real clock) the load balancer in front of them; and
the kubeconfig a client uses to reach it.

Runtime-agnostic: `place_control_plane` spawns the actors before the run, and
`wait_ready` (a driver coroutine) waits until every replica passes /readyz and, with a
load balancer, until it routes to them.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from kubesim.components.apiserver.lb import LoadBalancer
from kubesim.components.apiserver.server import ApiServer
from kubesim.components.etcd.cluster import ZONES, place_etcd
from kubesim.runtime.actor import ActorSpec
from kubesim.runtime.address import Address, Machine
from kubesim.runtime.base import Runtime

ADMIN_USER = "kubernetes-admin"
ADMIN_GROUPS = ("kubeadm:cluster-admins",)  # kubeadm's admin.conf identity since 1.29
LB_ADDRESS = Address("apiserver-lb", "lb")


def apiserver_address(index: int) -> Address:
    return Address("apiserver", f"apiserver-{index}")


@dataclass(frozen=True)
class ControlPlane:
    """What was placed: actor addresses of etcd members, replicas and the balancer."""

    etcd: list[str]
    apiservers: list[str]
    load_balancer: str | None


def admin_token_entry(token: str) -> dict[str, Any]:
    """The static-token entry of the cluster admin."""
    return {"token": token, "user": ADMIN_USER, "uid": ADMIN_USER, "groups": list(ADMIN_GROUPS)}


def place_control_plane(runtime: Runtime, *, apiservers: int, etcd_members: int,
                        settings: dict[str, Any], load_balancer_port: int | None = None,
                        zones: Sequence[str] = ZONES) -> ControlPlane:
    """Spawn etcd, `apiservers` replicas (each with `settings`) and, when
    `load_balancer_port` is given, the load balancer (HTTP: real clock only)."""
    if apiservers < 1:
        raise ValueError("a control plane needs at least one apiserver")
    etcd = place_etcd(runtime, etcd_members, zones=zones)
    replicas = []
    for i in range(apiservers):
        address = apiserver_address(i)
        runtime.add_machine(Machine(address.name, zones[i % len(zones)], "control-plane"))
        runtime.spawn(ActorSpec(
            address=address, factory=ApiServer, machine=address.name,
            kwargs={"settings": {**settings, "etcd_servers": etcd}},
            metric_labels={"instance": address.name, "job": "apiserver"}))
        replicas.append(str(address))
    lb = None
    if load_balancer_port is not None:
        runtime.add_machine(Machine(LB_ADDRESS.name, zones[0], "load-balancer"))
        runtime.spawn(ActorSpec(address=LB_ADDRESS, factory=LoadBalancer, machine=LB_ADDRESS.name,
                                kwargs={"backends": replicas, "port": load_balancer_port},
                                metric_labels={"instance": LB_ADDRESS.name, "job": "lb"}))
        lb = str(LB_ADDRESS)
    return ControlPlane(etcd, replicas, lb)


async def wait_ready(runtime: Runtime, plane: ControlPlane, timeout: float = 120.0) -> str:
    """Wait until every replica is ready (and the balancer routes to all of them); the
    URL clients should use (the balancer's, else the first replica's)."""

    async def ready() -> bool:
        answers = await asyncio.gather(*(runtime.ask(a, ["ready"], timeout=10.0)
                                         for a in plane.apiservers), return_exceptions=True)
        if not all(a is True for a in answers):
            return False
        if plane.load_balancer is None:
            return True
        healthy = await runtime.ask(plane.load_balancer, ["healthy"], timeout=10.0)
        return len(healthy) == len(plane.apiservers)

    await runtime.wait_until(ready, timeout, poll=0.2)
    target = plane.load_balancer or plane.apiservers[0]
    port = await runtime.ask(target, ["port"], timeout=10.0)
    if not port:
        raise RuntimeError(f"{target} serves no HTTP (is the runtime on a real clock?)")
    return f"https://127.0.0.1:{port}"


def kubeconfig(server: str, token: str, ca_pem: str, name: str = "kubesim") -> str:
    """A kubeconfig for `server` (https) trusting the cluster CA, with the admin's bearer
    token (client-go sends a token only over TLS)."""
    ca_data = base64.b64encode(ca_pem.encode()).decode()
    return yaml.safe_dump({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server,
                                                 "certificate-authority-data": ca_data}}],
        "users": [{"name": ADMIN_USER, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": ADMIN_USER,
                                                "namespace": "default"}}],
        "current-context": name,
        "preferences": {},
    }, sort_keys=False)
