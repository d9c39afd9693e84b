"""Service ClusterIP and NodePort allocation on the sim runtime, with real etcd and two real
apiserver replicas: unique IPs under concurrent creates through both replicas, the bitmap
in etcd, release and reuse, a full range, requested IPs and ports (422 with upstream's
texts), headless and ExternalName Services, type changes, updates that leave the
allocated values out, and the `default/kubernetes` Service with its lease-kept endpoints."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from typing import Any

import pytest

from kubesim.api.status import APIError
from kubesim.components.apiserver.kubernetes_service import (
    ENDPOINT_INTERVAL,
    MASTER_LEASE_TTL,
    KubernetesService,
)
from kubesim.components.apiserver.storage.ranges import ServiceRange
from kubesim.components.apiserver.storage.service_alloc import NODE_PORTS_KEY, SERVICE_IPS_KEY
from tests.components.apiserver.rest.clusters import TOKEN, sim_control_plane
from tests.components.apiserver.test_client import holder


def service(name: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("ports", [{"port": 80}])
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}


@pytest.fixture(scope="module")
def two():
    rt, plane = sim_control_plane(seed=41, apiservers=2)
    clients = [holder(rt, f"svc{i}", [api], token=TOKEN) for i, api in enumerate(plane.apiservers)]
    yield rt, plane, clients
    rt.close()


def stored_bits(rt, plane, key: bytes, spec: ServiceRange) -> set[str]:
    """The values the RangeAllocation in etcd holds."""
    etcd = rt.actor(plane.apiservers[0]).etcd

    async def read(rt):
        return await etcd.range({"key": key})

    kvs = rt.run(read)["kvs"]
    if not kvs:
        return set()
    bits = spec.bitmap(json.loads(kvs[0]["value"]))
    return {spec.render(i) for i, bit in enumerate(reversed(bin(bits)[2:])) if bit == "1"}


def error(rt, coro_fn) -> APIError:
    async def go(rt):
        try:
            await coro_fn()
        except APIError as err:
            return err
        raise AssertionError("no error")

    return rt.run(go)


def test_the_kubernetes_service_gets_the_first_ip_and_lists_the_replicas(two):
    rt, _plane, (a, _b) = two

    async def read(rt):
        await rt.sleep(1.0)
        return (await a.get("services", "default", "kubernetes"),
                await a.get("endpoints", "default", "kubernetes"),
                await a.get("endpointslices.discovery.k8s.io", "default", "kubernetes"))

    svc, ep, eps = rt.run(read)
    assert svc["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    assert svc["spec"]["clusterIP"] == "10.96.0.1" and svc["spec"]["clusterIPs"] == ["10.96.0.1"]
    assert svc["spec"]["ports"] == [{"name": "https", "protocol": "TCP", "port": 443,
                                     "targetPort": 6443}]
    assert ep["subsets"] == [{"addresses": [{"ip": "127.0.0.1"}],
                              "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]
    assert eps["addressType"] == "IPv4"
    assert [e["addresses"] for e in eps["endpoints"]] == [["127.0.0.1"]]
    assert eps["metadata"]["labels"]["kubernetes.io/service-name"] == "kubernetes"

    async def later(rt):
        await rt.sleep(35.0)  # three reconcile passes of each replica
        return [(await a.get(r, "default", "kubernetes"))["metadata"]["resourceVersion"]
                for r in ("services", "endpoints", "endpointslices.discovery.k8s.io")]

    # what is already right is not written again
    assert rt.run(later) == [o["metadata"]["resourceVersion"] for o in (svc, ep, eps)]


def test_concurrent_creates_through_two_replicas_get_unique_ips(two):
    rt, plane, (a, b) = two

    async def create_all(rt):
        return await asyncio.gather(*(
            (a if i % 2 else b).create("services", service(f"c{i}")) for i in range(30)))

    created = rt.run(create_all)
    ips = [s["spec"]["clusterIP"] for s in created]
    assert len(set(ips)) == 30
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/12") for ip in ips)
    assert "10.96.0.1" not in ips
    assert all(s["spec"]["clusterIPs"] == [s["spec"]["clusterIP"]] for s in created)
    assert all(s["spec"]["ipFamilies"] == ["IPv4"] and s["spec"]["ipFamilyPolicy"] == "SingleStack"
               for s in created)
    held = stored_bits(rt, plane, SERVICE_IPS_KEY, ServiceRange.cidr("10.96.0.0/12"))
    assert set(ips) | {"10.96.0.1"} <= held

    async def delete_all(rt):
        for i in range(30):
            await a.delete("services", "default", f"c{i}")

    rt.run(delete_all)
    held = stored_bits(rt, plane, SERVICE_IPS_KEY, ServiceRange.cidr("10.96.0.0/12"))
    assert not set(ips) & held and "10.96.0.1" in held


def test_requested_ip_taken_or_out_of_range_is_422_and_nothing_is_stored(two):
    rt, _plane, (a, b) = two
    err = error(rt, lambda: b.create("services", service("taken", clusterIP="10.96.0.1")))
    assert err.code == 422 and err.reason == "Invalid"
    assert err.message == ('Service "taken" is invalid: spec.clusterIPs: Invalid value: '
                           '[]string{"10.96.0.1"}: failed to allocate IP 10.96.0.1: '
                           'provided IP is already allocated')
    err = error(rt, lambda: a.create("services", service("outside", clusterIP="10.0.0.5")))
    assert err.code == 422
    assert err.message.endswith("failed to allocate IP 10.0.0.5: provided IP is not in the "
                                "valid range. The range of valid IPs is 10.96.0.0/12")
    for name in ("taken", "outside"):
        assert error(rt, lambda n=name: a.get("services", "default", n)).code == 404

    async def requested(rt):
        return await a.create("services", service("mine", clusterIP="10.96.3.3"))

    assert rt.run(requested)["spec"]["clusterIPs"] == ["10.96.3.3"]
    err = error(rt, lambda: b.create("services", service("again", clusterIP="10.96.3.3")))
    assert "provided IP is already allocated" in err.message


def test_a_failed_create_gives_its_ip_back(two):
    rt, plane, (a, b) = two

    async def first(rt):
        return await a.create("services", service("dup"))

    rt.run(first)
    err = error(rt, lambda: b.create("services", service("dup", clusterIP="10.96.7.7")))
    assert err.code == 409 and err.reason == "AlreadyExists"
    assert "10.96.7.7" not in stored_bits(rt, plane, SERVICE_IPS_KEY,
                                          ServiceRange.cidr("10.96.0.0/12"))


def test_headless_and_external_name_get_no_ip(two):
    rt, plane, (a, _b) = two
    before = stored_bits(rt, plane, SERVICE_IPS_KEY, ServiceRange.cidr("10.96.0.0/12"))

    async def create(rt):
        headless = await a.create("services", service("headless", clusterIP="None",
                                                      selector={"app": "x"}))
        external = await a.create("services", service("ext", type="ExternalName",
                                                      externalName="example.com", ports=[]))
        return headless, external

    headless, external = rt.run(create)
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["clusterIPs"] == ["None"]
    assert "clusterIP" not in external["spec"]
    assert stored_bits(rt, plane, SERVICE_IPS_KEY, ServiceRange.cidr("10.96.0.0/12")) == before


def test_node_ports_requested_conflicting_released_on_type_change(two):
    rt, plane, (a, b) = two
    ports = ServiceRange.ports("30000-32767")

    async def create(rt):
        fixed = await a.create("services", service("np-fixed", type="NodePort",
                                                   ports=[{"port": 80, "nodePort": 30080}]))
        auto = await b.create("services", service(
            "np-auto", type="LoadBalancer",
            ports=[{"name": "http", "port": 80}, {"name": "https", "port": 443}]))
        return fixed, auto

    fixed, auto = rt.run(create)
    assert fixed["spec"]["ports"][0]["nodePort"] == 30080
    auto_ports = [p["nodePort"] for p in auto["spec"]["ports"]]
    assert len(set(auto_ports)) == 2 and all(30000 <= p <= 32767 for p in auto_ports)
    assert {"30080", *map(str, auto_ports)} <= stored_bits(rt, plane, NODE_PORTS_KEY, ports)

    err = error(rt, lambda: b.create("services", service("np-clash", type="NodePort",
                                                         ports=[{"port": 81, "nodePort": 30080}])))
    assert err.code == 422
    assert err.message == ('Service "np-clash" is invalid: spec.ports[0].nodePort: Invalid '
                           'value: 30080: provided port is already allocated')
    err = error(rt, lambda: b.create("services", service("np-low", type="NodePort",
                                                         ports=[{"port": 81, "nodePort": 8080}])))
    assert err.message.endswith("spec.ports[0].nodePort: Invalid value: 8080: provided port is "
                                "not in the valid range. The range of valid ports is 30000-32767")

    async def to_cluster_ip(rt):
        current = await a.get("services", "default", "np-fixed")
        current["spec"]["type"] = "ClusterIP"  # as `kubectl edit` of the type alone
        updated = await a.update("services", current)
        taker = await b.create("services", service("np-taker", type="NodePort",
                                                    ports=[{"port": 80, "nodePort": 30080}]))
        return updated, taker

    updated, taker = rt.run(to_cluster_ip)
    assert updated["spec"]["clusterIP"] == fixed["spec"]["clusterIP"]
    assert "nodePort" not in updated["spec"]["ports"][0]
    assert "externalTrafficPolicy" not in updated["spec"]
    assert taker["spec"]["ports"][0]["nodePort"] == 30080

    async def delete(rt):
        await a.delete("services", "default", "np-auto")

    rt.run(delete)
    assert not set(map(str, auto_ports)) & stored_bits(rt, plane, NODE_PORTS_KEY, ports)


def test_an_update_that_leaves_allocated_values_out_keeps_them(two):
    rt, _plane, (a, b) = two

    async def go(rt):
        created = await a.create("services", service("kept", type="NodePort",
                                                     ports=[{"name": "web", "port": 80}]))
        # a PUT of a manifest without clusterIP or nodePort, as `kubectl replace` sends
        bare = service("kept", type="NodePort", ports=[{"name": "web", "port": 80}],
                       selector={"app": "web"})
        bare["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
        replaced = await b.update("services", bare)
        return created, replaced

    created, replaced = rt.run(go)
    assert replaced["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    assert replaced["spec"]["ports"][0]["nodePort"] == created["spec"]["ports"][0]["nodePort"]
    assert replaced["spec"]["selector"] == {"app": "web"}


def test_a_full_range_then_release_and_reuse():
    # 10.0.0.0/29: six usable addresses, the first held by default/kubernetes
    rt, plane = sim_control_plane(seed=5, apiservers=2,
                                  settings={"service_cluster_ip_range": "10.0.0.0/29"})
    try:
        a = holder(rt, "small", plane.apiservers, token=TOKEN)

        async def fill(rt):
            await rt.sleep(1.0)
            return [await a.create("services", service(f"s{i}")) for i in range(5)]

        ips = sorted(s["spec"]["clusterIP"] for s in rt.run(fill))
        assert ips == [f"10.0.0.{i}" for i in range(2, 7)]
        err = error(rt, lambda: a.create("services", service("one-too-many")))
        assert err.code == 500 and err.reason == "InternalError"
        assert err.message == ("Internal error occurred: failed to allocate a serviceIP: "
                               "range is full")

        async def release_and_reuse(rt):
            freed = (await a.get("services", "default", "s3"))["spec"]["clusterIP"]
            await a.delete("services", "default", "s3")
            again = await a.create("services", service("reused"))
            return freed, again["spec"]["clusterIP"]

        freed, reused = rt.run(release_and_reuse)
        assert reused == freed
    finally:
        rt.close()


def test_a_replica_whose_master_lease_expires_leaves_the_kubernetes_endpoints(two):
    rt, plane, (a, _b) = two
    api = rt.actor(plane.apiservers[0])
    served = api.served
    other = KubernetesService(api.etcd, served[("", "v1", "services")].store,
                              served[("", "v1", "endpoints")].store,
                              served[("discovery.k8s.io", "v1", "endpointslices")].store,
                              "10.96.0.1", "192.0.2.7:6443")

    async def joined_then_gone(rt):
        await other.reconcile()  # one pass of a replica advertising 192.0.2.7, then silence
        joined = await a.get("endpoints", "default", "kubernetes")
        await rt.sleep(MASTER_LEASE_TTL + 2 * ENDPOINT_INTERVAL)
        return joined, await a.get("endpoints", "default", "kubernetes")

    joined, gone = rt.run(joined_then_gone)
    assert [x["ip"] for x in joined["subsets"][0]["addresses"]] == ["127.0.0.1", "192.0.2.7"]
    assert [x["ip"] for x in gone["subsets"][0]["addresses"]] == ["127.0.0.1"]


def test_a_local_load_balancer_gets_a_health_check_node_port(two):
    rt, plane, (a, _b) = two
    ports = ServiceRange.ports("30000-32767")

    async def create(rt):
        return await a.create("services", service("lb-local", type="LoadBalancer",
                                                  externalTrafficPolicy="Local"))

    svc = rt.run(create)
    hc = svc["spec"]["healthCheckNodePort"]
    assert 30000 <= hc <= 32767 and hc != svc["spec"]["ports"][0]["nodePort"]
    assert str(hc) in stored_bits(rt, plane, NODE_PORTS_KEY, ports)

    async def delete(rt):
        await a.delete("services", "default", "lb-local")

    rt.run(delete)
    assert str(hc) not in stored_bits(rt, plane, NODE_PORTS_KEY, ports)
