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

`ControllerManager` is the part cloud-controller-manager shares (kubesim/components/cloud):
the election, the shared informers and the controllers' lifecycle.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from kubesim.api import meta
from kubesim.api.status import APIError
from kubesim.components.client.api import APIClient, Obj
from kubesim.components.client.informers import SharedInformerFactory
from kubesim.components.client.leader_election import LeaderElector, run_leader_election
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


class ControllerManager(Actor):
    """What kube-controller-manager and cloud-controller-manager share: compete for the
    `lease_name` Lease, build the controllers on winning, stop them on losing."""

    #: the Lease in kube-system the replicas compete for.
    lease_name = ""

    def __init__(self, client: ClientFactory, *, leader_elect: bool = True, epoch: float = 0.0,
                 min_resync_period: float = 12 * 3600.0) -> None:
        self._client_factory = client
        self.leader_elect = leader_elect
        self.epoch = epoch
        self.min_resync_period = min_resync_period
        self.controllers: dict[str, Controller] = {}
        self.informers: SharedInformerFactory | None = None
        self.elector: LeaderElector | None = None
        self._work_timer: Timer | None = None

    def build_controllers(self, cc: ControllerContext) -> dict[str, Controller]:
        """The enabled controllers, built on the shared informers of `cc`."""
        raise NotImplementedError

    def on_start(self) -> Any:
        self.client = self._client_factory(self.ctx)
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
        body = copy.deepcopy(lease)
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

    async def _start_controllers(self) -> None:
        self._master.set(1)
        informers = SharedInformerFactory(self.client, self.ctx, resync_period=self._resync_period())
        self.informers = informers
        built = self.build_controllers(ControllerContext(self.ctx, self.client, informers, self.epoch))
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
    ) -> None:
        super().__init__(client, leader_elect=leader_elect, epoch=epoch, min_resync_period=min_resync_period)
        self.enabled = enabled(controllers)
        self.concurrent_syncs = dict(concurrent_syncs or {})
        self.node_lifecycle = node_lifecycle or NodeLifecycleOptions()

    def build_controllers(self, cc: ControllerContext) -> dict[str, Controller]:
        built: dict[str, Controller] = {}
        for name, entry in CONTROLLERS.items():
            if name in self.enabled:
                workers = self.concurrent_syncs.get(name, entry.workers)
                built[name] = entry.build(cc, workers, self.node_lifecycle)
        return built


class _LeaseReadFailed(RuntimeErrorBase):
    """Reading the Lease failed with something other than NotFound: a failed attempt."""
