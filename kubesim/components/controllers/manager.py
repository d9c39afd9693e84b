"""The kube-controller-manager actor (cmd/kube-controller-manager/app, v1.32).

Replicas compete for the `kube-controller-manager` Lease in `kube-system` (lease 15 s,
renew deadline 10 s, retry 2 s); the leader builds the shared informers, waits for their
caches and starts every enabled controller with its worker count. A leader that loses its
lease stops its controllers and informers (the real process exits and is restarted) and
stands for election again. `leader_election_master_status{name="kube-controller-manager"}`
is 1 while leading; each controller's work queue exports the client-go workqueue metrics
under its name (`workqueue_depth{name="deployment"}`, ...).

Controllers and their flags (`--controllers`, `--concurrent-*-syncs` defaults)::

    deployment 5, replicaset 5, daemonset 2, job 5, endpoint 5, endpointslice 5,
    namespace 10, garbagecollector 20, resourcequota 5, nodelifecycle (no queue workers)

`controllers` takes the `--controllers` syntax: "*" enables all, "-name" disables one,
"name" enables one. There is no serviceaccount / serviceaccount-token controller: the
simulated apiserver serves no ServiceAccount or Secret-token machinery for it to manage.

Client-side rate limiting as upstream: every controller gets its own clientset
(`ClientBuilder.ClientOrDie(name)`), and so its own token bucket of `--kube-api-qps` /
`--kube-api-burst` (20 / 30, the cost model's `controller_manager.kube_api_qps` / `_burst`);
the shared informers and the leader election have a bucket each too. A controller that
writes much (the ReplicaSet controller creating 5,000 pods) is paced by it: 250 s at 20 qps.

`ControllerManager` is the part cloud-controller-manager shares (kubesim/components/cloud):
the election, the shared informers, the clients and the controllers' lifecycle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubesim.api import meta
from kubesim.api.copying import deep_copy
from kubesim.api.status import APIError
from kubesim.components.client.api import APIClient, Obj
from kubesim.components.client.informers import SharedInformerFactory
from kubesim.components.client.leader_election import LeaderElector, run_leader_election
from kubesim.components.client.ratelimit import RateLimitedClient
from kubesim.components.client.workqueue import UNFINISHED_WORK_UPDATE_PERIOD
from kubesim.components.controllers.base import Controller, ControllerContext
from kubesim.components.controllers.registry import CONTROLLERS, NodeLifecycleOptions, enabled
from kubesim.runtime.actor import Actor
from kubesim.runtime.address import Address
from kubesim.runtime.context import Context, Timer
from kubesim.runtime.errors import RuntimeErrorBase

LEASE_NAME = "kube-controller-manager"
LEASE_NAMESPACE = "kube-system"
LEASES = "leases.coordination.k8s.io"

ClientFactory = Callable[[Context], APIClient]
#: A new ControllerContext on the shared informers, with a client (and token bucket) of its own.
ContextFactory = Callable[[], ControllerContext]


class ControllerManager(Actor):
    """What kube-controller-manager and cloud-controller-manager share: compete for the
    `lease_name` Lease, build the controllers on winning, stop them on losing."""

    #: the Lease in kube-system the replicas compete for.
    lease_name = ""

    def __init__(self, client: ClientFactory, *, leader_elect: bool = True, epoch: float = 0.0,
                 min_resync_period: float = 12 * 3600.0, kube_api_qps: float | None = None,
                 kube_api_burst: int | None = None) -> None:
        self._client_factory = client
        self.kube_api_qps = kube_api_qps
        self.kube_api_burst = kube_api_burst
        self.leader_elect = leader_elect
        self.epoch = epoch
        self.min_resync_period = min_resync_period
        self.controllers: dict[str, Controller] = {}
        self.informers: SharedInformerFactory | None = None
        self.elector: LeaderElector | None = None
        self._work_timer: Timer | None = None

    def build_controllers(self, context: ContextFactory) -> dict[str, Controller]:
        """The enabled controllers, each built on a `context()` of its own."""
        raise NotImplementedError

    def on_start(self) -> Any:
        self._base_client = self._client_factory(self.ctx)
        self.client = self._new_client()  # the leader election's
        self._master = self.ctx.metrics.gauge(
            "leader_election_master_status",
            "[ALPHA] Gauge of if the reporting system is master of the relevant lease, 0 "
            "indicates backup, 1 indicates master. 'name' is the string used to identify the lease. "
            "Please make sure to group by name.", ["name"]).labels(self.lease_name)
        self._master.set(0)
        return self._run()

    def receive(self, sender: Address, message: Any) -> Any:
        if message == "status":
            return {"leading": bool(self.controllers), "controllers": sorted(self.controllers)}
        raise ValueError(f"{self.lease_name}: unknown message {message!r}")

    async def _run(self) -> None:
        if not self.leader_elect:
            await self._start_controllers()
            return
        identity = f"{self.ctx.machine.name}_{meta.new_uid(self.ctx.random)}"
        while True:
            self.elector = LeaderElector(
                identity, self.lease_name, LEASE_NAMESPACE, epoch=self.epoch,
                on_started_leading=lambda: self.ctx.spawn(self._start_controllers()),
                on_stopped_leading=self._stop_controllers)
            await run_leader_election(self.ctx, self._get_lease, self._write_lease, self.elector)

    async def _get_lease(self) -> Obj | None:
        try:
            return await self.client.get(LEASES, LEASE_NAMESPACE, self.lease_name)
        except APIError as err:
            if err.code == 404:
                return None
            raise _LeaseReadFailed() from err

    async def _write_lease(self, lease: Obj, create: bool) -> bool:
        body = deep_copy(lease)
        body.setdefault("apiVersion", "coordination.k8s.io/v1")
        body.setdefault("kind", "Lease")
        body.setdefault("metadata", {}).update(name=self.lease_name, namespace=LEASE_NAMESPACE)
        try:
            if create:
                await self.client.create(LEASES, body, LEASE_NAMESPACE)
            else:
                await self.client.update(LEASES, body)
        except APIError:
            return False
        return True

    def _new_client(self) -> APIClient:
        """A clientset with its own token bucket (rest.Config QPS / Burst)."""
        qps = self.kube_api_qps if self.kube_api_qps is not None else float(
            self.ctx.cost.value("controller_manager.kube_api_qps"))
        burst = self.kube_api_burst if self.kube_api_burst is not None else int(
            self.ctx.cost.value("controller_manager.kube_api_burst"))
        return RateLimitedClient(self._base_client, self.ctx, qps, burst)

    async def _start_controllers(self) -> None:
        self._master.set(1)
        informers = SharedInformerFactory(self._new_client(), self.ctx, resync_period=self._resync_period())
        self.informers = informers
        built = self.build_controllers(
            lambda: ControllerContext(self.ctx, self._new_client(), informers, self.epoch))
        informers.start()
        await informers.wait_for_cache_sync()
        if self.informers is not informers:
            return  # lost leadership while the caches synced
        self.controllers = built
        for controller in built.values():
            controller.start()
        self._work_timer = self.ctx.call_every(UNFINISHED_WORK_UPDATE_PERIOD, self._update_unfinished_work)

    def _stop_controllers(self) -> None:
        self._master.set(0)
        for controller in self.controllers.values():
            controller.stop()
        self.controllers = {}
        if self.informers is not None:
            self.informers.stop()
            self.informers = None
        if self._work_timer is not None:
            self._work_timer.cancel()
            self._work_timer = None

    def _update_unfinished_work(self) -> None:
        for controller in self.controllers.values():
            controller.queue.update_unfinished_work()

    def _resync_period(self) -> float:
        """ResyncPeriod: a random period in [MinResyncPeriod, 2*MinResyncPeriod)."""
        return self.min_resync_period * (1.0 + self.ctx.random.random())


class KubeControllerManager(ControllerManager):
    """One kube-controller-manager replica."""

    lease_name = LEASE_NAME

    def __init__(
        self,
        client: ClientFactory,
        *,
        controllers: tuple[str, ...] = ("*",),
        concurrent_syncs: dict[str, int] | None = None,
        node_lifecycle: NodeLifecycleOptions | None = None,
        leader_elect: bool = True,
        epoch: float = 0.0,
        min_resync_period: float = 12 * 3600.0,
        kube_api_qps: float | None = None,
        kube_api_burst: int | None = None,
    ) -> None:
        super().__init__(client, leader_elect=leader_elect, epoch=epoch, min_resync_period=min_resync_period,
                         kube_api_qps=kube_api_qps, kube_api_burst=kube_api_burst)
        self.enabled = enabled(controllers)
        self.concurrent_syncs = dict(concurrent_syncs or {})
        self.node_lifecycle = node_lifecycle or NodeLifecycleOptions()

    def build_controllers(self, context: ContextFactory) -> dict[str, Controller]:
        built: dict[str, Controller] = {}
        for name, entry in CONTROLLERS.items():
            if name in self.enabled:
                workers = self.concurrent_syncs.get(name, entry.workers)
                built[name] = entry.build(context(), workers, self.node_lifecycle)
        return built


class _LeaseReadFailed(RuntimeErrorBase):
    """Reading the Lease failed with something other than NotFound: a failed attempt."""
