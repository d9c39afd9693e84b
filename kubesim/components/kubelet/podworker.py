"""One pod's worker: the kubelet's pod state machine, pure (inputs: events and times;
outputs: runtime operations on the node's models, status updates, metrics).

After kubernetes/pkg/kubelet (v1.32): pod_workers.go (SyncPod -> SyncTerminatingPod ->
SyncTerminatedPod, one sync at a time), kubelet.go SyncPod, kuberuntime_manager.go
(computePodActions, SyncPod: kill, sandbox, init containers one at a time, then the
containers), kuberuntime_container.go (startContainer, killContainer) and the PLEG.

Timing, as the real kubelet has it:
- a sync runs against the runtime cache, which the PLEG refreshes every relist (1 s): a sync
  starts only once a relist has happened after the previous sync ended (podCache
  GetNewerThan), and runtime changes (a container started or died) reach the worker at the
  next relist, which triggers a sync;
- within a sync, runtime operations run one after another (RunPodSandbox with the CNI ADD,
  then per container: image pull through the node's serialized puller, CreateContainer,
  StartContainer), their durations from the cost model;
- after a sync the worker is requeued at syncFrequency x [1, 1.5), or after 10 s x [1, 1.5)
  when the sync failed or a container was in back-off (kubernetes#123602: back-off errors
  reach the pod worker, so a CrashLoopBackOff restart happens at the first retry after its
  delay expired);
- termination stops every container with SIGTERM, waits for it to exit or for the grace
  period (then SIGKILL), stops the sandbox (CNI DEL releases the IP), reports the terminal
  status, unmounts the volumes and tells the status manager the pod is finished.

The node-level models (image service, IPAM, back-offs, status manager, metrics) come in
`NodeEnv`; the worker calls them synchronously. `advance(now)` processes everything due by
`now` in time order; `next_wakeup()` says when to call it again.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubesim.api.meta import parse_timestamp
from kubesim.components.kubelet import podstatus, volumes
from kubesim.components.kubelet.backoff import Backoff
from kubesim.components.kubelet.behavior import SIGKILL_EXIT_CODE, Behavior, container_behavior
from kubesim.components.kubelet.containers import (
    EXITED,
    RUNNING,
    ContainerRecord,
    Sandbox,
    runtime_id,
)
from kubesim.components.kubelet.images import ImageService, normalize
from kubesim.components.kubelet.ipam import HostLocalIPAM, IPAMError
from kubesim.components.kubelet.probes import (
    KINDS,
    LIVENESS,
    READINESS,
    STARTUP,
    SUCCESS,
    ContainerView,
    ProbeSpec,
    ProbeWorker,
)
from kubesim.runtime.costmodel import CostModel

if TYPE_CHECKING:
    from kubesim.components.kubelet.metrics import KubeletMetrics
    from kubesim.components.kubelet.status_manager import StatusManager

Obj = dict[str, Any]

SYNCING, TERMINATING, TERMINATED, FINISHED = "syncing", "terminating", "terminated", "finished"
#: which pending update type a sync reports (kubelet_pod_worker_duration_seconds{operation_type})
_PRIORITY = {"sync": 0, "update": 1, "create": 2, "kill": 3}

#: pod_workers.go: backOffPeriod (retry after a failed sync) and the jitter factors.
ERROR_BACKOFF = 10.0
#: pod_workers.go backOffOnTransientErrorPeriod (network not ready).
TRANSIENT_ERROR_BACKOFF = 1.0
JITTER_FACTOR = 0.5
#: kuberuntime_container.go minimumGracePeriodInSeconds (liveness/startup kills).
MINIMUM_GRACE_PERIOD = 2
CONTAINER_ID_PREFIX = "containerd://"

# runtime operation types (kubelet_runtime_operations_duration_seconds{operation_type})
OP_RUN_SANDBOX = "run_podsandbox"
OP_STOP_SANDBOX = "stop_podsandbox"
OP_PULL = "pull_image"
OP_CREATE = "create_container"
OP_START = "start_container"
OP_STOP = "stop_container"


@dataclass
class NodeEnv:
    """What a pod worker uses of its node: identity, models, shared back-offs and sinks."""

    node_name: str
    node_ip: str
    epoch: float
    cost: CostModel
    rng: random.Random
    images: ImageService
    status: StatusManager
    metrics: KubeletMetrics
    container_backoff: Backoff
    image_backoff: Backoff
    relist_period: float
    relist_phase: float
    sync_frequency: float
    ipam: HostLocalIPAM | None = None
    boot: int = 0  # the node's boot count: runtime ids differ after a reboot

    def relist_after(self, t: float) -> float:
        """The first PLEG relist strictly after `t`."""
        k = math.floor((t - self.relist_phase) / self.relist_period) + 1
        return self.relist_phase + k * self.relist_period

    def relist_at_or_after(self, t: float) -> float:
        k = math.ceil((t - self.relist_phase) / self.relist_period)
        return self.relist_phase + k * self.relist_period

    def jitter(self, period: float) -> float:
        """wait.Jitter(period, 0.5)."""
        return period * (1.0 + JITTER_FACTOR * self.rng.random())


def go_duration(seconds: float) -> str:
    """time.Duration.String() for whole seconds: 10s, 1m20s, 5m0s, 1h0m0s."""
    total = int(round(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h{m}m{s}s"
    if m:
        return f"{m}m{s}s"
    return f"{s}s"


class Slot:
    """One spec container of the pod: its instances in the runtime and in the PLEG cache."""

    __slots__ = ("name", "spec", "init", "sidecar", "behavior", "cur", "prev", "seen_cur",
                 "seen_prev", "exit_at", "exit_code", "waiting", "probes")

    def __init__(self, name: str, spec: Obj, init: bool, behavior: Behavior) -> None:
        self.name = name
        self.spec = spec
        self.init = init
        self.sidecar = init and podstatus.is_restartable_init(spec)
        self.behavior = behavior
        self.cur: ContainerRecord | None = None
        self.prev: ContainerRecord | None = None
        self.seen_cur: ContainerRecord | None = None
        self.seen_prev: ContainerRecord | None = None
        self.exit_at: float | None = None  # when the running process ends
        self.exit_code = 0
        self.waiting: tuple[str, str] | None = None  # reason cache entry
        self.probes: dict[str, ProbeWorker] = {}

    @property
    def regular_init(self) -> bool:
        return self.init and not self.sidecar


@dataclass(slots=True)
class PodRuntime:
    """What the container runtime holds for one pod: its sandbox (and IP), the mounted
    volumes and each container's current and previous instance with its process. It
    outlives the kubelet process, so a restarted kubelet finds it again."""

    sandbox: Sandbox | None
    pod_ip: str
    volumes_ready: bool
    #: container name -> (current instance, previous instance, process exit time, exit code)
    containers: dict[str, tuple[ContainerRecord | None, ContainerRecord | None, float | None, int]]


class PodWorker:
    """The state machine of one pod on the node; see the module docstring."""

    __slots__ = ("uid", "env", "pod", "first_seen", "state", "slots", "sandbox", "seen_sandbox", "pod_ip",
                 "volumes_ready", "probes_added", "status", "grace", "plan", "op_done", "on_done",
                 "waiting_pull", "sync_start", "sync_type", "sync_error", "want_sync", "next_sync_type",
                 "sync_at", "last_sync_end", "dirty_since", "pulls", "inputs", "_status_inputs", "_probe_due")

    def __init__(self, pod: Obj, env: NodeEnv, now: float) -> None:
        meta = pod.get("metadata") or {}
        self.uid: str = meta.get("uid", "")
        self.env = env
        self.pod = pod
        self.first_seen = now
        self.state = SYNCING
        self.slots: dict[str, Slot] = {}
        for key, init in (("initContainers", True), ("containers", False)):
            for spec in (pod.get("spec") or {}).get(key) or []:
                self.slots[spec["name"]] = Slot(spec["name"], spec, init,
                                                container_behavior(pod, spec["name"], init and not
                                                                   podstatus.is_restartable_init(spec)))
        self.sandbox: Sandbox | None = None
        self.seen_sandbox: Sandbox | None = None
        self.pod_ip = ""
        self.volumes_ready = False
        self.probes_added = False
        self.status: Obj | None = None  # what this worker last handed the status manager
        self.grace = 0.0
        # sync machinery
        self.plan: list[tuple[Any, ...]] = []  # the steps left of this sync (a few at most)
        self.op_done: float | None = None
        self.on_done: Callable[[float], None] | None = None
        self.waiting_pull = ""  # container name while its image is being pulled
        self.sync_start: float | None = None
        self.sync_type = "create"
        self.sync_error = 0.0  # requeue delay after a failed sync (0: no failure)
        self.want_sync = True
        self.next_sync_type = "create"
        self.sync_at: float | None = now
        self.last_sync_end = -math.inf
        self.dirty_since: float | None = None
        self.pulls: tuple[float, float] | None = None  # first pull start, last pull end
        # what the generated status depends on changes -> `inputs` moves on
        self.inputs = 0
        self._status_inputs = -1
        self._probe_due: float | None = None

    # ------------------------------------------------------------------ properties
    @property
    def name(self) -> str:
        return (self.pod.get("metadata") or {}).get("name", "")

    @property
    def namespace(self) -> str:
        return (self.pod.get("metadata") or {}).get("namespace", "")

    @property
    def spec(self) -> Obj:
        return self.pod.get("spec") or {}

    @property
    def restart_policy(self) -> str:
        return self.spec.get("restartPolicy") or "Always"

    @property
    def busy(self) -> bool:
        return self.op_done is not None or bool(self.waiting_pull)

    def running_containers(self) -> int:
        return sum(1 for s in self.slots.values() if s.cur is not None and s.cur.state == RUNNING)

    def container_states(self) -> list[str]:
        return [s.cur.state for s in self.slots.values() if s.cur is not None]

    # ------------------------------------------------------------------ inputs
    def update(self, pod: Obj, now: float) -> None:
        """A new version of the pod from its source (watch or static manifest)."""
        self.pod = pod
        self.inputs += 1
        if (pod.get("metadata") or {}).get("deletionTimestamp") and self.state == SYNCING:
            grace = (pod.get("metadata") or {}).get("deletionGracePeriodSeconds")
            self.terminate(now, float(grace if grace is not None else
                                      self.spec.get("terminationGracePeriodSeconds", 30)))
        elif self.state == SYNCING:
            self._request_sync(now, "update")

    def terminate(self, now: float, grace: float) -> None:
        """Start terminating (deleted, removed from its source, or evicted)."""
        if self.state != SYNCING:
            self.grace = min(self.grace, max(grace, 1.0))
            return
        self.state = TERMINATING
        self.grace = max(grace, 1.0)
        self.plan.clear()
        if self.waiting_pull:
            self.env.images.cancel(self.uid)
            self.waiting_pull = ""
        if self.sync_start is not None and not self.busy:
            self._end_sync(now)
        self._request_sync(now, "kill")

    def observe(self, now: float) -> bool:
        """A PLEG relist at `now`: runtime changes become visible; True if there were any."""
        if self.dirty_since is None or self.dirty_since > now:
            return False
        self.dirty_since = None
        self.inputs += 1
        self.seen_sandbox = self.sandbox
        for slot in self.slots.values():
            slot.seen_cur, slot.seen_prev = slot.cur, slot.prev
        if self.state in (SYNCING, TERMINATING):
            self._request_sync(now, "sync")
        return True

    def pull_done(self, image_id: str, error: str, requested: float, started: float, now: float) -> None:
        """The node's puller finished this worker's pull (`image_id` "" on failure);
        `requested` is when the worker asked, `started` when the pull began."""
        name, self.waiting_pull = self.waiting_pull, ""
        if not name:
            return
        self.env.metrics.runtime_operation(OP_PULL, now - started)
        slot = self.slots[name]
        if error:
            self.env.image_backoff.next(self._image_key(slot), now, now)
            self._wait(slot, ("ErrImagePull", error))
            self.sync_error = ERROR_BACKOFF
        else:
            first = self.pulls[0] if self.pulls else requested
            self.pulls = (first, now)
            self.plan.insert(0, ("create", name, image_id))
        self._run_plan(now)

    # ------------------------------------------------------------------ time
    def next_wakeup(self) -> float | None:
        times = [t for t in (self.op_done, self._probe_due) if t is not None]
        if self.want_sync and not self.busy and self.sync_start is None and self.sync_at is not None:
            times.append(self.sync_at)
        times.extend(s.exit_at for s in self.slots.values() if s.exit_at is not None)
        return min(times, default=None)

    def advance(self, now: float) -> None:
        """Process every event due by `now`, each at its own time."""
        while True:
            t = self.next_wakeup()
            if t is None or t > now:
                return
            exiting = [s for s in self.slots.values() if s.exit_at is not None and s.exit_at <= t]
            if exiting:
                for slot in exiting:
                    self._exit(slot, t)
            elif self.op_done is not None and self.op_done <= t:
                done, self.op_done, self.on_done = self.on_done, None, None
                if done is not None:
                    done(t)
                self._run_plan(t)
            elif self._probe_due is not None and self._probe_due <= t:
                self._run_probes(t)
            else:
                self._begin_sync(t)

    # ------------------------------------------------------------------ runtime
    def _dirty(self, t: float) -> None:
        if self.dirty_since is None:
            self.dirty_since = t

    def _exit(self, slot: Slot, t: float) -> None:
        assert slot.cur is not None
        slot.cur = slot.cur.exited(t, slot.exit_code)
        slot.exit_at = None
        self._dirty(t)

    def _op(self, now: float, seconds: float, done: Callable[[float], None]) -> None:
        self.op_done = now + seconds
        self.on_done = done

    # ------------------------------------------------------------------ syncs
    def _request_sync(self, now: float, sync_type: str) -> None:
        """Queue a sync (UpdatePod): it starts once the runtime cache is newer than the end
        of the previous sync; the most significant pending update type is kept."""
        if not self.want_sync or _PRIORITY[sync_type] > _PRIORITY[self.next_sync_type]:
            self.next_sync_type = sync_type
        self.want_sync = True
        if self.sync_start is not None:
            return  # runs after the current sync (see _end_sync)
        gate = self.env.relist_after(self.last_sync_end) if self.last_sync_end > -math.inf else now
        when = max(now, gate)
        self.sync_at = when if self.sync_at is None else min(self.sync_at, when)

    def _begin_sync(self, t: float) -> None:
        self.want_sync = False
        self.sync_at = None
        self.sync_start = t
        self.sync_type, self.next_sync_type = self.next_sync_type, "sync"
        self.sync_error = 0.0
        if self.state == SYNCING:
            status = self._set_status(t, terminal=False)
            if status["phase"] in podstatus.TERMINAL:
                self.state = TERMINATING
                self.grace = max(float(self.spec.get("terminationGracePeriodSeconds", 30)), 1.0)
                self._end_sync(t)
                self._request_sync(t, "kill")
                return
            self.plan.extend([("volumes",), ("probes",), *self._compute_actions()])
        elif self.state == TERMINATING:
            self._stop_probes((LIVENESS, STARTUP))
            self.plan.extend([("status",), ("kill_pod",), ("final_status",)])
        elif self.state == TERMINATED:
            self.plan.extend([("status",), ("unmount",), ("finish",)])
        self._run_plan(t)

    def _end_sync(self, t: float) -> None:
        assert self.sync_start is not None
        self.env.metrics.pod_worker(self.sync_type, t - self.sync_start)
        self.sync_start = None
        self.last_sync_end = t
        if self.state == FINISHED:
            self.want_sync = False
            self.sync_at = None
        elif self.want_sync:
            self.sync_at = self.env.relist_after(t)
        elif self.state == SYNCING and (self.sync_error or self.env.sync_frequency):
            delay = self.env.jitter(self.sync_error or self.env.sync_frequency)
            self.want_sync = True
            self.next_sync_type = "sync"
            self.sync_at = max(self.env.relist_at_or_after(t + delay), self.env.relist_after(t))

    def _run_plan(self, now: float) -> None:
        while self.plan and not self.busy:
            step = self.plan.pop(0)
            getattr(self, "_step_" + step[0])(now, *step[1:])
        if not self.plan and not self.busy and self.sync_start is not None:
            self._end_sync(now)

    # ------------------------------------------------------------------ status
    def _views(self, actual: bool) -> dict[str, podstatus.ContainerView]:
        views = {}
        for name, slot in self.slots.items():
            cur, prev = (slot.cur, slot.prev) if actual else (slot.seen_cur, slot.seen_prev)
            started = ready = False
            if cur is not None and cur.state == RUNNING:
                startup = slot.probes.get(STARTUP)
                started = startup is None or (startup.container_id == cur.id and startup.result == SUCCESS)
                readiness = slot.probes.get(READINESS)
                ready = started and (readiness is None or (
                    readiness.container_id == cur.id and readiness.result == SUCCESS))
            views[name] = podstatus.ContainerView(cur, prev, started, ready, slot.waiting)
        return views

    def _set_status(self, t: float, terminal: bool, actual: bool = False, finished: bool = False) -> Obj:
        """generateAPIPodStatus + statusManager.SetPodStatus, then the prober's view of the
        new status (and its manual readiness trigger); returns the generated status."""
        if self.status is not None and self._status_inputs == self.inputs and not (terminal or actual or finished):
            # nothing it depends on changed: the same status (the prober still looks)
            self._probe_results_changed(self._update_probe_views(t), t)
            return self.status
        old = self.status if self.status is not None else (self.pod.get("status") or {})
        sandbox = self.sandbox if actual else self.seen_sandbox
        status = podstatus.generate(self.pod, self._views(actual), sandbox, self.pod_ip, old,
                                    terminal, self.env.node_ip, self.env.epoch)
        before = (self.status or {}).get("phase")
        self.status = self.env.status.set_pod_status(self.pod, status, t, finished)
        self._status_inputs = self.inputs
        if before == podstatus.PENDING and status["phase"] == podstatus.RUNNING_PHASE:
            self.env.metrics.pod_started(t - self.first_seen)
        self._probe_results_changed(self._update_probe_views(t), t)
        return status

    def _update_probe_views(self, t: float) -> list[ProbeWorker]:
        """Probe workers read the containers as the status manager now reports them; a
        started container that is not ready gets a readiness probe at once. Returns the
        workers whose result changed."""
        if not self.probes_added:
            return []
        current = self.status or {}
        statuses = {s["name"]: s for s in [*(current.get("initContainerStatuses") or []),
                                           *(current.get("containerStatuses") or [])]}
        changed: list[ProbeWorker] = []
        for name, slot in self.slots.items():
            if not slot.probes:
                continue
            view = _probe_view(statuses.get(name), slot.seen_cur, self.env.epoch)
            for worker in slot.probes.values():
                changed.extend(self._advance_probe(worker, t))
                if worker.observe(view):
                    changed.append(worker)
            readiness = slot.probes.get(READINESS)
            if readiness is not None and view is not None and view.running and view.started \
                    and readiness.result != SUCCESS and readiness.probe_now(t):
                changed.append(readiness)
        self._refresh_probe_due()
        return changed

    def _probe_results_changed(self, changed: list[ProbeWorker], t: float) -> None:
        """Results manager updates: a readiness or startup change updates the status at
        once (SetContainerReadiness / SetContainerStartup); every update triggers a sync."""
        while changed and self.state != FINISHED:
            if self.state == SYNCING:
                self._request_sync(t, "sync")
            if not any(w.kind in (READINESS, STARTUP) for w in changed) or self.status is None:
                return
            status = podstatus.generate(self.pod, self._views(False), self.seen_sandbox, self.pod_ip,
                                        self.status, False, self.env.node_ip, self.env.epoch)
            self.status = self.env.status.set_pod_status(self.pod, status, t, False)
            changed = self._update_probe_views(t)

    # ------------------------------------------------------------------ probes
    def _add_probes(self, t: float) -> None:
        never = self.restart_policy == "Never"
        for slot in self.slots.values():
            if slot.regular_init:
                continue
            for kind in KINDS:
                spec = ProbeSpec.of(slot.spec, kind)
                if spec is not None:
                    slot.probes[kind] = ProbeWorker(kind, spec, slot.behavior, t, never)
        self.probes_added = True
        self._probe_results_changed(self._update_probe_views(t), t)

    def _advance_probe(self, worker: ProbeWorker, t: float) -> list[ProbeWorker]:
        changed = []
        while worker.advance(t) is not None:
            changed.append(worker)
        return changed

    def _run_probes(self, t: float) -> None:
        changed = [w for s in self.slots.values() for p in s.probes.values() for w in self._advance_probe(p, t)]
        self._refresh_probe_due()
        self._probe_results_changed(changed, t)

    def _refresh_probe_due(self) -> None:
        dues = [w.next_due() for s in self.slots.values() for w in s.probes.values()]
        self._probe_due = min((d for d in dues if d is not None), default=None)

    def _stop_probes(self, kinds: tuple[str, ...]) -> None:
        for slot in self.slots.values():
            for kind in kinds:
                worker = slot.probes.get(kind)
                if worker is not None:
                    worker.stop()
        self._refresh_probe_due()

    # ------------------------------------------------------------------ actions
    def _compute_actions(self) -> list[tuple[Any, ...]]:
        """computePodActions over the runtime cache."""
        policy = self.restart_policy
        app = [s for s in self.slots.values() if not s.init]
        if self.seen_sandbox is None:
            steps: list[tuple[Any, ...]] = [("sandbox",)]
            inits = [s for s in self.slots.values() if s.init]
            if inits:
                return steps + [("start", inits[0].name)]
            return steps + [("start", s.name) for s in app
                            if not (policy == "OnFailure" and _succeeded(s.seen_cur))]
        if not self.seen_sandbox.ready:
            return []
        init_steps, initialized = self._init_actions()
        if not initialized:
            return init_steps
        kills: list[tuple[Any, ...]] = []
        starts: list[tuple[Any, ...]] = []
        keep = 0
        for slot in app:
            cur = slot.seen_cur
            if cur is None or cur.state != RUNNING:
                view = podstatus.ContainerView(cur, slot.seen_prev, False, False, None)
                if podstatus.should_restart(view, self.pod):
                    starts.append(("start", slot.name))
                continue
            if self._probe_failed(slot, cur):
                kills.append(("kill", slot.name))
                if policy != "Never":
                    starts.append(("start", slot.name))
                continue
            keep += 1
        if keep == 0 and not starts:
            return [("kill_pod",)]
        return init_steps + kills + starts

    def _init_actions(self) -> tuple[list[tuple[Any, ...]], bool]:
        """computeInitContainerActions: (steps, whether the regular containers may start)."""
        steps: list[tuple[Any, ...]] = []
        for slot in (s for s in self.slots.values() if s.init):
            cur = slot.seen_cur
            if slot.sidecar:
                if cur is None or cur.state == EXITED:
                    steps.append(("start", slot.name))
                    if cur is None:
                        return steps, False
                    continue
                if cur.state == RUNNING and self._probe_failed(slot, cur):
                    steps.extend([("kill", slot.name), ("start", slot.name)])
                    continue
                startup = slot.probes.get(STARTUP)
                if cur.state == RUNNING and startup is not None and not (
                        startup.container_id == cur.id and startup.result == SUCCESS):
                    return steps, False
                continue
            if cur is None:
                return steps + [("start", slot.name)], False
            if cur.state != EXITED:
                return steps, False
            if cur.exit_code == 0:
                continue
            if self.restart_policy == "Never":
                return [("kill_pod",)], False
            return steps + [("start", slot.name)], False
        return steps, True

    def _probe_failed(self, slot: Slot, cur: ContainerRecord) -> bool:
        for kind in (LIVENESS, STARTUP):
            worker = slot.probes.get(kind)
            if worker is not None and worker.container_id == cur.id and worker.result == "Failure":
                return True
        return False

    # ------------------------------------------------------------------ steps
    def _step_status(self, now: float) -> None:
        self._set_status(now, terminal=False)

    def _step_volumes(self, now: float) -> None:
        if self.volumes_ready:
            return

        def done(t: float) -> None:
            self.volumes_ready = True

        self._op(now, volumes.setup_seconds(self.pod, self.env.cost, self.env.rng), done)

    def _step_probes(self, now: float) -> None:
        if not self.probes_added:
            self._add_probes(now)

    def _step_sandbox(self, now: float) -> None:
        sandbox_id = runtime_id(self.env.node_name, str(self.env.boot), self.uid, "sandbox")
        cost, rng = self.env.cost, self.env.rng
        seconds = cost.sample("kubelet.sandbox_create", rng)
        if self.spec.get("hostNetwork"):
            ip = self.env.node_ip
        elif self.env.ipam is None:
            self.plan.clear()
            self.sync_error = TRANSIENT_ERROR_BACKOFF
            return
        else:
            seconds += cost.sample("kubelet.cni_setup", rng)
            try:
                ip = self.env.ipam.allocate(sandbox_id)
            except IPAMError:
                self.plan.clear()
                self.sync_error = ERROR_BACKOFF
                self._op(now, seconds, lambda t: None)
                return

        def done(t: float) -> None:
            self.env.metrics.runtime_operation(OP_RUN_SANDBOX, seconds)
            self.sandbox = Sandbox(sandbox_id, ip, t)
            self.pod_ip = ip
            self._dirty(t)

        self._op(now, seconds, done)

    def _wait(self, slot: Slot, reason: tuple[str, str] | None) -> None:
        """Record the last start failure of a container (the kubelet's reason cache)."""
        if slot.waiting != reason:
            slot.waiting = reason
            self.inputs += 1

    def _container_key(self, slot: Slot) -> str:
        return f"{self.uid}_{slot.name}"

    def _image_key(self, slot: Slot) -> str:
        return f"{self.uid}_{slot.spec.get('image', '')}"

    def _step_start(self, now: float, name: str) -> None:
        """kuberuntime SyncPod's start(): the back-off check, then startContainer."""
        slot = self.slots[name]
        exited = next((c for c in (slot.seen_cur, slot.seen_prev) if c is not None and c.state == EXITED), None)
        key = self._container_key(slot)
        backoff = self.env.container_backoff
        if exited is not None:
            assert exited.finished_at is not None
            if backoff.in_backoff_since(key, exited.finished_at, now):
                self._wait(slot, ("CrashLoopBackOff",
                                  f"back-off {go_duration(backoff.get(key))} restarting failed "
                                  f"container={name} pod={self.name}_{self.namespace}({self.uid})"))
                self.sync_error = ERROR_BACKOFF
                return
            backoff.next(key, exited.finished_at, now)
        image = slot.spec.get("image", "")
        policy = slot.spec.get("imagePullPolicy") or "IfNotPresent"
        present = self.env.images.image_ref(image)
        if policy == "Never" and not present:
            self._wait(slot, ("ErrImageNeverPull",
                              f'Container image "{image}" is not present with pull policy of Never'))
            self.sync_error = ERROR_BACKOFF
            return
        if present and policy != "Always":
            self.plan.insert(0, ("create", name, present))
            return
        if self.env.image_backoff.in_backoff_since_update(self._image_key(slot), now):
            self._wait(slot, ("ImagePullBackOff", f'Back-off pulling image "{image}"'))
            self.sync_error = ERROR_BACKOFF
            return
        self.waiting_pull = name
        self.env.images.enqueue(self.uid, image, now)

    def _step_create(self, now: float, name: str, image_id: str) -> None:
        slot = self.slots[name]
        seconds = self.env.cost.sample("kubelet.container_create", self.env.rng)
        attempt = 0 if slot.cur is None else slot.cur.attempt + 1
        image = normalize(slot.spec.get("image", ""))
        found = self.env.images.present.get(image)

        def done(t: float) -> None:
            self.env.metrics.runtime_operation(OP_CREATE, seconds)
            cid = CONTAINER_ID_PREFIX + runtime_id(self.env.node_name, str(self.env.boot), self.uid, name,
                                                   str(attempt))
            slot.prev = slot.cur if slot.cur is not None and slot.cur.state == EXITED else slot.prev
            slot.cur = ContainerRecord(cid, name, attempt, image,
                                       found.repo_digest if found is not None else image_id, t)
            self._dirty(t)
            if self.state == SYNCING:
                self.plan.insert(0, ("start_container", name))

        self._op(now, seconds, done)

    def _step_start_container(self, now: float, name: str) -> None:
        slot = self.slots[name]
        seconds = self.env.cost.sample("kubelet.container_start", self.env.rng)

        def done(t: float) -> None:
            self.env.metrics.runtime_operation(OP_START, seconds)
            assert slot.cur is not None
            slot.cur = slot.cur.started(t)
            self._wait(slot, None)
            behavior = slot.behavior
            if behavior.exit_after is not None:
                slot.exit_at = t + behavior.exit_after
                slot.exit_code = behavior.exit_code
            self._dirty(t)

        self._op(now, seconds, done)

    def _stop(self, slot: Slot, now: float, grace: float) -> float:
        """SIGTERM now, SIGKILL at the grace period; returns when the process is gone."""
        if slot.exit_at is not None and slot.exit_at <= now + min(slot.behavior.shutdown_seconds, grace):
            return slot.exit_at
        if slot.behavior.shutdown_seconds <= grace:
            slot.exit_at, slot.exit_code = now + slot.behavior.shutdown_seconds, 0
        else:
            slot.exit_at, slot.exit_code = now + grace, SIGKILL_EXIT_CODE
        return slot.exit_at

    def _step_kill(self, now: float, name: str) -> None:
        """killContainer after a failed liveness or startup probe."""
        slot = self.slots[name]
        if slot.cur is None or slot.cur.state != RUNNING:
            return
        grace = float(self.spec.get("terminationGracePeriodSeconds", 30))
        for kind in (LIVENESS, STARTUP):
            override = (slot.spec.get(f"{kind}Probe") or {}).get("terminationGracePeriodSeconds")
            if override is not None and self._probe_failed(slot, slot.cur):
                grace = float(override)
                break
        gone = self._stop(slot, now, max(grace, MINIMUM_GRACE_PERIOD))
        seconds = gone - now + self.env.cost.sample("kubelet.container_stop", self.env.rng)
        self._op(now, seconds, lambda t: self.env.metrics.runtime_operation(OP_STOP, seconds))

    def _step_kill_pod(self, now: float) -> None:
        """killPod: every container stopped in parallel, then the sandbox (CNI DEL)."""
        cost, rng = self.env.cost, self.env.rng
        grace = self.grace if self.state != SYNCING else float(self.spec.get("terminationGracePeriodSeconds", 30))
        end = now
        for slot in self.slots.values():
            if slot.cur is not None and slot.cur.state == RUNNING:
                seconds = self._stop(slot, now, grace) - now + cost.sample("kubelet.container_stop", rng)
                self.env.metrics.runtime_operation(OP_STOP, seconds)
                end = max(end, now + seconds)
        if self.sandbox is None or not self.sandbox.ready:
            self._op(now, end - now, lambda t: None)
            return
        stop = cost.sample("kubelet.sandbox_stop", rng)
        if not self.spec.get("hostNetwork"):
            stop += cost.sample("kubelet.cni_teardown", rng)

        def done(t: float) -> None:
            self.env.metrics.runtime_operation(OP_STOP_SANDBOX, stop)
            assert self.sandbox is not None
            if self.env.ipam is not None:
                self.env.ipam.release(self.sandbox.id)
            self.sandbox = Sandbox(self.sandbox.id, self.sandbox.ip, self.sandbox.created_at, ready=False)
            self._dirty(t)

        self._op(now, end - now + stop, done)

    def _step_final_status(self, now: float) -> None:
        """SyncTerminatingPod's end: the terminal status from a fresh runtime status."""
        self._stop_probes(KINDS)
        self.seen_sandbox = self.sandbox
        for slot in self.slots.values():
            slot.seen_cur, slot.seen_prev = slot.cur, slot.prev
        self._set_status(now, terminal=True, actual=True)
        self.state = TERMINATED
        self.want_sync = True
        self.next_sync_type = "kill"

    def _step_unmount(self, now: float) -> None:
        self._op(now, volumes.teardown_seconds(self.pod, self.env.cost, self.env.rng), lambda t: None)

    def _step_finish(self, now: float) -> None:
        """SyncTerminatedPod's end: statusManager.TerminatePod (the pod is finished)."""
        self._set_status(now, terminal=True, finished=True)
        self.state = FINISHED
        self.env.container_backoff.forget_prefix(self.uid + "_")
        self.env.image_backoff.forget_prefix(self.uid + "_")

    # ------------------------------------------------------------------ kubelet restart
    def runtime_state(self, now: float) -> PodRuntime:
        """The pod as the container runtime holds it at `now`, when the kubelet process
        stops: processes that ended by then have exited (at their own time); operations the
        kubelet had in flight die with it."""
        for slot in self.slots.values():
            if slot.exit_at is not None and slot.exit_at <= now and slot.cur is not None:
                self._exit(slot, slot.exit_at)
        return PodRuntime(self.sandbox, self.pod_ip, self.volumes_ready,
                          {name: (s.cur, s.prev, s.exit_at, s.exit_code) for name, s in self.slots.items()})

    def adopt(self, state: PodRuntime) -> None:
        """A restarted kubelet's new worker finds the pod's sandbox and containers in the
        runtime (its first PLEG relist runs before the first sync)."""
        self.sandbox = self.seen_sandbox = state.sandbox
        self.pod_ip = state.pod_ip
        self.volumes_ready = state.volumes_ready
        for name, (cur, prev, exit_at, code) in state.containers.items():
            slot = self.slots.get(name)
            if slot is not None:
                slot.cur = slot.seen_cur = cur
                slot.prev = slot.seen_prev = prev
                slot.exit_at, slot.exit_code = exit_at, code
        self.inputs += 1

    # ------------------------------------------------------------------ startup SLI
    def pull_seconds(self) -> float:
        """Time from the first image pull's start to the last pull's end (0: none)."""
        return self.pulls[1] - self.pulls[0] if self.pulls else 0.0


def _succeeded(record: ContainerRecord | None) -> bool:
    return record is not None and record.state == EXITED and record.exit_code == 0


def _probe_view(status: Obj | None, seen: ContainerRecord | None, epoch: float) -> ContainerView | None:
    """What a prober worker reads of one container status."""
    if status is None or not status.get("containerID"):
        return None
    state = status.get("state") or {}
    running = "running" in state
    started_at = seen.started_at if seen is not None and seen.id == status["containerID"] and \
        seen.started_at is not None else 0.0
    if running and (seen is None or seen.id != status["containerID"]):
        started_at = parse_timestamp(state["running"]["startedAt"]) - epoch
    return ContainerView(status["containerID"], running, started_at, bool(status.get("started")),
                         "terminated" in state)
