"""Builders of Service / EndpointSlice dicts for the kube-proxy tests."""

from __future__ import annotations

from typing import Any


def service(
    ns: str,
    name: str,
    cluster_ip: str,
    ports: list[dict[str, Any]] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    status = spec.pop("status", {})
    return {
        "metadata": {"namespace": ns, "name": name},
        "spec": {
            "clusterIP": cluster_ip,
            "ports": ports or [{"name": "p80", "port": 80, "protocol": "TCP"}],
            **spec,
        },
        "status": status,
    }


def endpoint(ip: str, ready: bool = True, node: str | None = None, **kw: Any) -> dict[str, Any]:
    e: dict[str, Any] = {
        "addresses": [ip],
        "conditions": {"ready": ready, **kw.pop("conditions", {})},
    }
    if node:
        e["nodeName"] = node
    e.update(kw)
    return e


def endpoint_slice(
    ns: str,
    service_name: str,
    endpoints: list[dict[str, Any]],
    ports: list[dict[str, Any]] | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": ns,
            "name": name or f"{service_name}-abc",
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": ports or [{"name": "p80", "port": 80, "protocol": "TCP"}],
    }


def cluster(n_services: int, n_endpoints: int = 10, not_ready_every: int = 3):
    """n Services (10.96.x.y) with n_endpoints each (10.x.y.z); every
    ``not_ready_every``-th endpoint is not ready, every 7th of those is terminating but
    serving. Returns (services, slices)."""
    services, slices = [], []
    for i in range(n_services):
        cip = f"10.96.{i // 250}.{i % 250 + 1}"
        services.append(
            service(
                "ns",
                f"svc{i}",
                cip,
                [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
            )
        )
        eps = []
        for j in range(n_endpoints):
            k = i * n_endpoints + j
            ip = f"10.{64 + k // 62500}.{(k // 250) % 250}.{k % 250 + 1}"
            ready = k % not_ready_every != 0
            cond = {} if ready or k % 7 else {"serving": True, "terminating": True}
            eps.append(endpoint(ip, ready=ready, node=f"node{k % 50}", conditions=cond))
        slices.append(
            endpoint_slice(
                "ns", f"svc{i}", eps, [{"name": "http", "port": 8080, "protocol": "TCP"}]
            )
        )
    return services, slices
