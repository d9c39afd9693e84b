"""kube-proxy: the programming-time curve of the three modes, and what a kube-proxy costs
on a host when thousands share one view.

Curve: for 1, 1,000, 5,000, 10,000 and 20,000 Services (one port, `ENDPOINTS` ready
endpoints each) an iptables, an IPVS and an nftables kube-proxy run on one host of the
`sim` runtime against the in-memory apiserver. Once they have programmed every Service, one
more Service is created with an EndpointSlice carrying a last-change-trigger-time; the
figures are what each kube-proxy's own metrics say: the full sync that programmed the
cluster (kubeproxy_sync_full_proxy_rules_duration_seconds, or the first sync in IPVS
mode), the sync that added the Service (kubeproxy_sync_proxy_rules_duration_seconds) and
its network programming latency (kubeproxy_network_programming_duration_seconds: the
minSyncPeriod wait plus the sync), with the iptables rule count
(kubeproxy_sync_proxy_rules_iptables_total). All times are modelled (the cost profile),
so the curve is the profile's calibration made visible; it is drawn into
`bench/kube_proxy_programming.svg`.

Memory: 1,000 and 5,000 kube-proxies on one host share one view of `MEMORY_SERVICES`
Services; tracemalloc's growth from spawning them until all have synced, per kube-proxy,
against the size of the view each would otherwise hold.

    python -m bench.kube_proxy_bench
"""

from __future__ import annotations

import gc
import json
import math
import random
import time
import tracemalloc
from pathlib import Path
from typing import Any

from kubesim.api.meta import micro_timestamp
from kubesim.components.kube_proxy.config import KubeProxyConfig
from kubesim.components.kube_proxy.model import SERVICE_NAME_LABEL, TRIGGER_TIME_ANNOTATION
from kubesim.components.kube_proxy.proxier import KubeProxy, kube_proxy_spec
from kubesim.components.kube_proxy.shared_view import hub_of
from kubesim.runtime import Machine
from kubesim.runtime.sim import SimRuntime
from kubesim.testing.fake_apiserver import FakeAPIServer

EPOCH = 1_700_000_000.0
SIZES = (1, 1000, 5000, 10000, 20000)
MODES = ("iptables", "ipvs", "nftables")
ENDPOINTS = 5
MEMORY_SIZES = (1000, 5000)
MEMORY_SERVICES = 100
SLICES = "endpointslices.discovery.k8s.io"
PLOT = Path(__file__).with_name("kube_proxy_programming.svg")


def service(i: int) -> dict[str, Any]:
    return {"metadata": {"namespace": "bench", "name": f"svc{i}"},
            "spec": {"clusterIP": f"10.{96 + i // 62500}.{(i // 250) % 250}.{i % 250 + 1}",
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}


def endpoint_slice(i: int, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    base = i * ENDPOINTS
    endpoints = [{"addresses": [f"10.{64 + (base + j) // 62500}.{((base + j) // 250) % 250}."
                                f"{(base + j) % 250 + 1}"],
                  "conditions": {"ready": True}, "nodeName": f"node{j}"} for j in range(ENDPOINTS)]
    meta: dict[str, Any] = {"namespace": "bench", "name": f"svc{i}-x",
                            "labels": {SERVICE_NAME_LABEL: f"svc{i}"}}
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta, "addressType": "IPv4", "endpoints": endpoints,
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}


class Bench:
    """A sim runtime, the fake apiserver and kube-proxies on host group ``h``."""

    def __init__(self, seed: int = 1) -> None:
        self.rt = SimRuntime(seed=seed)
        self.api = FakeAPIServer(clock=lambda: EPOCH + self.rt.now(), rng=random.Random(seed))

    def proxy(self, node: str, mode: str) -> None:
        self.rt.add_machine(Machine(node, zone="zone-a", role="worker"))
        api = self.api
        self.rt.spawn(kube_proxy_spec(KubeProxyConfig(node_name=node, mode=mode, epoch=EPOCH),
                                      lambda ctx: api, host="h"))

    def actor(self, node: str) -> KubeProxy:
        actor = self.rt.actor(f"kube-proxy/{node}")
        assert isinstance(actor, KubeProxy)
        return actor

    def metric(self, name: str, node: str, **labels: str) -> float:
        return self.rt.metrics.registry.get_sample_value(name, {"node": node, **labels}) or 0.0

    async def populate(self, services: int) -> None:
        await self.api.create("namespaces", {"metadata": {"name": "bench"}})
        for i in range(services):
            await self.api.create("services", service(i))
            await self.api.create(SLICES, endpoint_slice(i))

    async def until(self, predicate: Any, timeout: float) -> None:
        async def check() -> bool:
            return bool(predicate())
        await self.rt.wait_until(check, timeout, poll=0.1)


def curve_point(services: int) -> dict[str, Any]:
    """The three modes at one cluster size (one sim run)."""
    b = Bench()

    async def populate() -> None:
        await b.populate(services)

    b.rt.run(lambda rt: populate(), limit=None)
    for mode in MODES:
        b.proxy(mode, mode)

    async def main() -> dict[str, Any]:
        await b.until(lambda: all(len(b.actor(m).synced_view.services) == services for m in MODES), 7200.0)
        await b.rt.sleep(5.0)
        before = {m: (b.metric("kubeproxy_sync_proxy_rules_duration_seconds_sum", m),
                      b.metric("kubeproxy_sync_proxy_rules_duration_seconds_count", m)) for m in MODES}
        # the first sync programmed every Service (IPVS has no full/partial split)
        full = {m: b.metric("kubeproxy_sync_proxy_rules_duration_seconds_sum", m) for m in MODES}
        assert all(b.metric("kubeproxy_sync_proxy_rules_duration_seconds_count", m) == 1 for m in MODES)
        new = services
        await b.api.create("services", service(new))
        await b.api.create(SLICES, endpoint_slice(new, {TRIGGER_TIME_ANNOTATION: micro_timestamp(EPOCH + b.rt.now())}))
        vip = service(new)["spec"]["clusterIP"]
        await b.until(lambda: all(b.actor(m).route("10.244.0.1", vip, 80) for m in MODES), 3600.0)
        out: dict[str, Any] = {}
        for m in MODES:
            total, count = (b.metric("kubeproxy_sync_proxy_rules_duration_seconds_sum", m),
                            b.metric("kubeproxy_sync_proxy_rules_duration_seconds_count", m))
            out[m] = {
                "full_sync_seconds": full[m],
                "add_service_sync_seconds": (total - before[m][0]) / max(1.0, count - before[m][1]),
                "add_service_syncs": count - before[m][1],
                "network_programming_seconds": b.metric(
                    "kubeproxy_network_programming_duration_seconds_sum", m),
            }
        out["iptables"]["rules"] = sum(
            b.metric("kubeproxy_sync_proxy_rules_iptables_total", "iptables", table=t) for t in ("filter", "nat"))
        return out

    try:
        return b.rt.run(lambda rt: main(), limit=None)
    finally:
        b.rt.close()


def memory(proxies: int) -> dict[str, Any]:
    """``proxies`` kube-proxies (iptables) on one host sharing a view of MEMORY_SERVICES."""
    b = Bench()

    async def populate() -> None:
        await b.populate(MEMORY_SERVICES)

    b.rt.run(lambda rt: populate(), limit=None)
    nodes = [f"node{i}" for i in range(proxies)]
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    for node in nodes:
        b.proxy(node, "iptables")

    async def main() -> None:
        await b.until(lambda: all(b.actor(n).syncs >= 1 for n in nodes), 3600.0)

    b.rt.run(lambda rt: main(), limit=None)
    wall = time.perf_counter() - started
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    hub = hub_of(b.rt.host.slots[f"kube-proxy/{nodes[0]}"].ctx)
    assert all(b.actor(n).synced_view is hub.view for n in nodes)
    members = hub.members
    tracemalloc.start()
    copy_base = tracemalloc.get_traced_memory()[0]
    from kubesim.components.kube_proxy.model import ProxyView

    copy = ProxyView.build([service(i) for i in range(MEMORY_SERVICES)],
                           [endpoint_slice(i) for i in range(MEMORY_SERVICES)])
    view_bytes = tracemalloc.get_traced_memory()[0] - copy_base
    tracemalloc.stop()
    del copy
    b.rt.close()
    return {"kube_proxies": proxies, "services": MEMORY_SERVICES,
            "bytes_per_kube_proxy": used / proxies, "view_bytes": view_bytes,
            "hub_members": members, "wall_seconds_to_sync": wall}


def plot(points: dict[int, dict[str, Any]], path: Path = PLOT) -> None:
    """A log-log SVG of the add-one-Service sync and the full sync per mode."""
    width, height, left, right, top, bottom = 940, 460, 70, 210, 40, 50
    ys = [v for p in points.values() for m in MODES
          for v in (p[m]["full_sync_seconds"], p[m]["add_service_sync_seconds"]) if v > 0]
    x0, x1 = 0.0, math.log10(max(points))
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))

    def px(n: float) -> float:
        return left + (math.log10(n) - x0) / (x1 - x0) * (width - left - right)

    def py(s: float) -> float:
        return height - bottom - (math.log10(s) - y0) / (y1 - y0) * (height - top - bottom)

    colours = {"iptables": "#d62728", "ipvs": "#1f77b4", "nftables": "#2ca02c"}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="22" font-size="15">kube-proxy programming time per sync '
           f'(modelled; {ENDPOINTS} endpoints per Service)</text>']
    for n in points:
        x = px(n)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - bottom}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{height - bottom + 18}" text-anchor="middle">{n:,}</text>')
    for e in range(y0, y1 + 1):
        y = py(10.0**e)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{10.0**e:g} s</text>')
    out.append(f'<text x="{(left + width - right) / 2}" y="{height - 12}" '
               f'text-anchor="middle">Services (log scale)</text>')
    legend_y = top + 10
    for m in MODES:
        for key, dash, label in (("add_service_sync_seconds", "", "add one Service"),
                                 ("full_sync_seconds", ' stroke-dasharray="6 4"', "full sync")):
            pts = [(px(n), py(p[m][key])) for n, p in points.items() if p[m][key] > 0]
            path_d = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(pts))
            out.append(f'<path d="{path_d}" fill="none" stroke="{colours[m]}" stroke-width="2"{dash}/>')
            out.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colours[m]}"/>' for x, y in pts)
            lx = width - right + 15
            out.append(f'<line x1="{lx}" y1="{legend_y}" x2="{lx + 30}" y2="{legend_y}" '
                       f'stroke="{colours[m]}" stroke-width="2"{dash}/>')
            out.append(f'<text x="{lx + 36}" y="{legend_y + 4}">{m}: {label}</text>')
            legend_y += 20
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


def kube_proxy() -> dict[str, Any]:
    points = {n: curve_point(n) for n in SIZES}
    plot(points)
    return {
        "endpoints_per_service": ENDPOINTS,
        "curve": {str(n): p for n, p in points.items()},
        "memory": [memory(n) for n in MEMORY_SIZES],
        "plot": str(PLOT.relative_to(Path(__file__).parent.parent)),
    }


if __name__ == "__main__":
    print(json.dumps(kube_proxy(), indent=2))
