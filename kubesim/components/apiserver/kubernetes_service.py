"""The ``default/kubernetes`` Service and its endpoints, kept by every apiserver replica.

After k8s.io/kubernetes pkg/controlplane/controller/kubernetesservice (the Service, made if
missing every ``EndpointInterval`` = 10 s, with the first IP of --service-cluster-ip-range
and port 443 -> the secure port) and pkg/controlplane/reconcilers/lease.go (the default
``--endpoint-reconciler-type=lease``): each replica keeps ``/registry/masterleases/<ip>``
alive under an etcd lease with a 15 s TTL, and writes the Endpoints and the EndpointSlice
named ``kubernetes`` so they list exactly the IPs whose leases are alive.
"""

from __future__ import annotations

from typing import Any

from kubesim.api import status
from kubesim.components.apiserver.storage import ResourceStore
from kubesim.components.apiserver.storage.keys import prefix_end
from kubesim.components.etcd.backend import EtcdBackend

Obj = dict[str, Any]

SERVICE_NAME = "kubernetes"
NAMESPACE = "default"
ENDPOINT_INTERVAL = 10.0  # kubernetesservice.Controller EndpointInterval
MASTER_LEASE_TTL = 15  # reconcilers.MasterEndpointReconcileTTL, seconds
MASTER_LEASES_PREFIX = b"/registry/masterleases/"
SERVICE_PORT = 443
PORT_NAME = "https"


def service(cluster_ip: str) -> Obj:
    """``CreateOrUpdateMasterServiceIfNeeded``'s Service."""
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": SERVICE_NAME, "namespace": NAMESPACE,
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "ipFamilyPolicy": "SingleStack",
                 "sessionAffinity": "None",
                 "ports": [{"name": PORT_NAME, "protocol": "TCP", "port": SERVICE_PORT,
                            "targetPort": None}]},
    }


def endpoints(ips: list[str], port: int) -> Obj:
    """The Endpoints the lease reconciler writes (``endpointsv1.RepackSubsets`` order)."""
    subsets = [{"addresses": [{"ip": ip} for ip in ips],
                "ports": [{"name": PORT_NAME, "port": port, "protocol": "TCP"}]}] if ips else []
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": SERVICE_NAME, "namespace": NAMESPACE,
                         "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": subsets}


def endpoint_slice(ips: list[str], port: int) -> Obj:
    """The EndpointSlice the reconciler's EndpointsAdapter writes beside the Endpoints."""
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": SERVICE_NAME, "namespace": NAMESPACE,
                         "labels": {"kubernetes.io/service-name": SERVICE_NAME}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips],
            "ports": [{"name": PORT_NAME, "port": port, "protocol": "TCP"}]}


class KubernetesService:
    """One replica's part: its master lease, the Service, the Endpoints and the slice."""

    def __init__(self, etcd: EtcdBackend, services: ResourceStore, endpoints_store: ResourceStore,
                 slices: ResourceStore, cluster_ip: str, advertise_address: str) -> None:
        host, _, port = advertise_address.rpartition(":")
        self.ip = host
        self.port = int(port)
        self.etcd = etcd
        self.services = services
        self.endpoints = endpoints_store
        self.slices = slices
        self.cluster_ip = cluster_ip

    async def reconcile(self) -> None:
        """One pass; raises the etcd or API error that stopped it (the caller retries)."""
        try:
            await self.services.get(NAMESPACE, SERVICE_NAME)
        except status.APIError as err:
            if err.code != 404:
                raise
            svc = service(self.cluster_ip)
            svc["spec"]["ports"][0]["targetPort"] = self.port
            try:
                await self.services.create(NAMESPACE, svc)
            except status.APIError as create_err:
                if create_err.reason != "AlreadyExists":
                    raise
        ips = await self._renew_lease()
        await self._write(self.endpoints, endpoints(ips, self.port))
        await self._write(self.slices, endpoint_slice(ips, self.port))

    async def _renew_lease(self) -> list[str]:
        """UpdateLease + ListLeases: put our key under a fresh TTL lease; the live IPs."""
        grant = await self.etcd.lease_grant({"TTL": MASTER_LEASE_TTL})
        await self.etcd.put({"key": MASTER_LEASES_PREFIX + self.ip.encode(),
                             "value": self.ip.encode(), "lease": grant["ID"]})
        listed = await self.etcd.range({"key": MASTER_LEASES_PREFIX,
                                        "range_end": prefix_end(MASTER_LEASES_PREFIX)})
        return sorted(kv["key"][len(MASTER_LEASES_PREFIX):].decode() for kv in listed["kvs"])

    async def _write(self, store: ResourceStore, wanted: Obj) -> None:
        """Create, or update when what is stored differs (unchanged objects are not written)."""
        def replace(current: Obj) -> Obj:
            return {**wanted, "metadata": {**current["metadata"], **wanted["metadata"]}}

        try:
            await store.guaranteed_update(NAMESPACE, SERVICE_NAME, replace)
        except status.APIError as err:
            if err.code != 404:
                raise
            try:
                await store.create(NAMESPACE, wanted)
            except status.APIError as create_err:
                if create_err.reason != "AlreadyExists":
                    raise
