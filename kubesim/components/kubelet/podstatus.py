"""The pod status the kubelet reports: phase, conditions, container statuses.

After kubernetes/pkg/kubelet (v1.32): kubelet_pods.go generateAPIPodStatus, getPhase and
convertToAPIContainerStatuses, status/generate.go (the Initialized, Ready, ContainersReady
and PodReadyToStartContainers conditions) and kubelet/container/helpers.go
(ShouldContainerBeRestarted). Pure: the input is what the kubelet's runtime cache shows
for each container (`ContainerView`) plus the probe results the caller folded in.
Times are simulated seconds; `epoch` is the Unix time simulated time 0 stands for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubesim.api.meta import timestamp
from kubesim.components.kubelet.containers import EXITED, RUNNING, ContainerRecord, Sandbox

Obj = dict[str, Any]

PENDING, RUNNING_PHASE, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"
TERMINAL = (SUCCEEDED, FAILED)
CONTAINER_CREATING = "ContainerCreating"
POD_INITIALIZING = "PodInitializing"
#: conditions the kubelet owns (kubetypes.PodConditionByKubelet), in the order it writes them.
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                      "PodScheduled")


@dataclass(frozen=True, slots=True)
class ContainerView:
    """One spec container as the kubelet's cache shows it, with the prober's verdicts."""

    cur: ContainerRecord | None  # the newest instance
    prev: ContainerRecord | None  # the one before it (lastState)
    started: bool  # startup probe passed (or none) while running
    ready: bool  # readiness probe passed (or none) while started
    waiting: tuple[str, str] | None  # (reason, message) of the last failed start (reason cache)


def is_restartable_init(container: Obj) -> bool:
    """A sidecar: an init container with restartPolicy Always."""
    return container.get("restartPolicy") == "Always"


def should_restart(container_view: ContainerView | None, pod: Obj) -> bool:
    """kubecontainer.ShouldContainerBeRestarted for the newest instance."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    cur = container_view.cur if container_view else None
    if cur is None:
        return True
    if cur.state == RUNNING:
        return False
    if cur.state != EXITED:
        return True
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    if policy == "Never":
        return False
    if policy == "OnFailure" and cur.exit_code == 0:
        return False
    return True


def _state(record: ContainerRecord, epoch: float) -> Obj:
    if record.state == RUNNING:
        assert record.started_at is not None
        return {"running": {"startedAt": timestamp(epoch + record.started_at)}}
    if record.state == EXITED:
        assert record.finished_at is not None
        return {"terminated": {
            "exitCode": record.exit_code,
            "reason": record.reason,
            "startedAt": timestamp(epoch + (record.started_at if record.started_at is not None else record.finished_at)),
            "finishedAt": timestamp(epoch + record.finished_at),
            "containerID": record.id,
        }}
    return {"waiting": {}}


def container_statuses(pod: Obj, specs: list[Obj], views: dict[str, ContainerView],
                       old_statuses: list[Obj] | None, default_reason: str, init: bool,
                       epoch: float) -> list[Obj]:
    """convertToAPIContainerStatuses + the prober's started/ready, one entry per spec container."""
    old_by_name = {s.get("name"): s for s in old_statuses or []}
    out: list[Obj] = []
    for spec in specs:
        name = spec["name"]
        view = views.get(name)
        cur = view.cur if view else None
        status: Obj
        old = old_by_name.get(name)
        if cur is None:
            if old is not None and "terminated" in (old.get("state") or {}):
                out.append(old)
                continue
            status = {"name": name, "state": {"waiting": {"reason": default_reason}},
                      "lastState": (old or {}).get("lastState") or {},
                      "ready": False, "restartCount": (old or {}).get("restartCount", 0),
                      "image": spec.get("image", ""), "imageID": "", "started": False}
        else:
            status = {"name": name, "state": _state(cur, epoch),
                      "lastState": _state(view.prev, epoch) if view and view.prev else {},
                      "ready": False, "restartCount": cur.attempt, "image": cur.image,
                      "imageID": cur.image_id, "containerID": cur.id, "started": False}
        sidecar = init and is_restartable_init(spec)
        restartable = not init or sidecar
        succeeded_init = init and not sidecar and cur is not None and cur.state == EXITED and cur.exit_code == 0
        if view is not None and view.waiting and not succeeded_init and should_restart(view, pod):
            if "terminated" in status["state"]:
                status["lastState"] = status["state"]
            status["state"] = {"waiting": {"reason": view.waiting[0], "message": view.waiting[1]}}
        if cur is not None and cur.state == RUNNING and view is not None:
            status["started"] = view.started
            status["ready"] = view.ready if restartable else False
        if init and not sidecar:
            status["ready"] = cur is not None and cur.state == EXITED and cur.exit_code == 0
        out.append(status)
    if not init:
        out.sort(key=lambda s: s["name"])
    return out


def any_regular_started(statuses: list[Obj]) -> bool:
    """kubecontainer.HasAnyRegularContainerStarted: a regular container is running or terminated."""
    return any("running" in (s.get("state") or {}) or "terminated" in (s.get("state") or {})
               for s in statuses)


def get_phase(pod: Obj, init_statuses: list[Obj], statuses: list[Obj], pod_is_terminal: bool) -> str:
    """kubelet_pods.go getPhase."""
    spec = pod.get("spec") or {}
    policy = spec.get("restartPolicy") or "Always"
    init_by_name = {s["name"]: s for s in init_statuses}
    by_name = {s["name"]: s for s in statuses}
    pending_init = failed_init = 0
    unknown = running = waiting = stopped = succeeded = 0
    for c in spec.get("initContainers") or []:
        s = init_by_name.get(c["name"])
        state = (s or {}).get("state") or {}
        last = ((s or {}).get("lastState") or {}).get("terminated")
        if is_restartable_init(c):
            if s is None:
                unknown += 1
            elif "running" in state:
                if not s.get("started"):
                    pending_init += 1
                running += 1
            elif "waiting" in state and last is None:
                pending_init += 1
                waiting += 1
            continue
        if s is None or "running" in state:
            pending_init += 1
        elif "terminated" in state:
            if state["terminated"].get("exitCode", 0) != 0:
                failed_init += 1
        elif "waiting" in state:
            if last is not None:
                if last.get("exitCode", 0) != 0:
                    failed_init += 1
            else:
                pending_init += 1
        else:
            pending_init += 1
    for c in spec.get("containers") or []:
        s = by_name.get(c["name"])
        state = (s or {}).get("state") or {}
        if s is None:
            unknown += 1
        elif "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            if state["terminated"].get("exitCode", 0) == 0:
                succeeded += 1
        elif "waiting" in state:
            if ((s.get("lastState") or {}).get("terminated")) is not None:
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1
    if failed_init > 0 and policy == "Never":
        return FAILED
    if (pending_init > 0 and not any_regular_started(statuses)) or waiting > 0:
        return PENDING
    if running > 0 and unknown == 0:
        return RUNNING_PHASE
    if running == 0 and stopped > 0 and unknown == 0:
        if pod_is_terminal:
            return SUCCEEDED if stopped == succeeded else FAILED
        if policy == "Always":
            return RUNNING_PHASE
        if stopped == succeeded:
            return SUCCEEDED
        if policy == "Never":
            return FAILED
        return RUNNING_PHASE
    return PENDING


def _names(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"


def _condition(ctype: str, ok: bool, reason: str = "", message: str = "") -> Obj:
    cond: Obj = {"type": ctype, "status": "True" if ok else "False"}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def _containers_ready(pod: Obj, init_statuses: list[Obj], statuses: list[Obj], phase: str) -> Obj:
    spec = pod.get("spec") or {}
    if phase in TERMINAL:
        return _condition("ContainersReady", False, "PodCompleted" if phase == SUCCEEDED else "PodFailed")
    known = {s["name"]: s for s in [*init_statuses, *statuses]}
    unknown: list[str] = []
    unready: list[str] = []
    candidates = [c for c in spec.get("initContainers") or [] if is_restartable_init(c)]
    for c in [*candidates, *(spec.get("containers") or [])]:
        s = known.get(c["name"])
        if s is None:
            unknown.append(c["name"])
        elif not s.get("ready"):
            unready.append(c["name"])
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {_names(unknown)}")
    if unready:
        messages.append(f"containers with unready status: {_names(unready)}")
    if messages:
        return _condition("ContainersReady", False, "ContainersNotReady", ", ".join(messages))
    return _condition("ContainersReady", True)


def _initialized(pod: Obj, init_statuses: list[Obj], statuses: list[Obj], phase: str) -> Obj:
    spec = pod.get("spec") or {}
    by_name = {s["name"]: s for s in init_statuses}
    unknown: list[str] = []
    incomplete: list[str] = []
    for c in spec.get("initContainers") or []:
        s = by_name.get(c["name"])
        if s is None:
            unknown.append(c["name"])
        elif (is_restartable_init(c) and not s.get("started")) or (
                not is_restartable_init(c) and not s.get("ready")):
            incomplete.append(c["name"])
    if phase == SUCCEEDED and not unknown:
        return _condition("Initialized", True, "PodCompleted")
    if any_regular_started(statuses):
        return _condition("Initialized", True)
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {_names(unknown)}")
    if incomplete:
        messages.append(f"containers with incomplete status: {_names(incomplete)}")
    if messages:
        return _condition("Initialized", False, "ContainersNotInitialized", ", ".join(messages))
    return _condition("Initialized", True)


def generate(pod: Obj, views: dict[str, ContainerView], sandbox: Sandbox | None, pod_ip: str,
             old_status: Obj, pod_is_terminal: bool, node_ip: str, epoch: float) -> Obj:
    """generateAPIPodStatus: the status the kubelet hands its status manager.

    `old_status` is the status manager's cached status (or the API's); `pod_ip` the last
    known pod IP (kept after the sandbox is gone, as the kubelet keeps it).
    """
    spec = pod.get("spec") or {}
    api_status = pod.get("status") or {}
    has_init = bool(spec.get("initContainers"))
    default_reason = POD_INITIALIZING if has_init else CONTAINER_CREATING
    init_statuses = container_statuses(pod, spec.get("initContainers") or [], views,
                                       old_status.get("initContainerStatuses"), default_reason,
                                       True, epoch)
    statuses = container_statuses(pod, spec.get("containers") or [], views,
                                  old_status.get("containerStatuses"), default_reason, False, epoch)
    phase = get_phase(pod, init_statuses, statuses, pod_is_terminal)
    if phase not in TERMINAL:
        if old_status.get("phase") in TERMINAL:
            phase = old_status["phase"]
        elif api_status.get("phase") in TERMINAL:
            phase = api_status["phase"]
    status: Obj = {"phase": phase}
    if phase == old_status.get("phase"):
        for key in ("reason", "message"):
            value = old_status.get(key) or api_status.get(key)
            if value:
                status[key] = value
    conditions = [c for c in old_status.get("conditions") or api_status.get("conditions") or []
                  if c.get("type") not in KUBELET_CONDITIONS]
    conditions.append(_condition("PodReadyToStartContainers", sandbox is not None and sandbox.ready))
    conditions.append(_initialized(pod, init_statuses, statuses, phase))
    containers_ready = _containers_ready(pod, init_statuses, statuses, phase)
    ready = dict(containers_ready, type="Ready")
    if containers_ready["status"] == "True":
        gates = _readiness_gates(spec, conditions)
        if gates:
            ready = _condition("Ready", False, "ReadinessGatesNotReady", gates)
    conditions.append(ready)
    conditions.append(containers_ready)
    conditions.append(_condition("PodScheduled", True))
    status["conditions"] = conditions
    status["hostIP"] = node_ip
    status["hostIPs"] = [{"ip": node_ip}]
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    if old_status.get("startTime"):
        status["startTime"] = old_status["startTime"]
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    status["containerStatuses"] = statuses
    qos = old_status.get("qosClass") or api_status.get("qosClass")
    if qos:
        status["qosClass"] = qos
    return status


def _readiness_gates(spec: Obj, conditions: list[Obj]) -> str:
    messages = []
    by_type = {c.get("type"): c for c in conditions}
    for gate in spec.get("readinessGates") or []:
        ctype = gate.get("conditionType", "")
        cond = by_type.get(ctype)
        if cond is None:
            messages.append(f'corresponding condition of pod readiness gate "{ctype}" does not exist.')
        elif cond.get("status") != "True":
            messages.append(f'the status of pod readiness gate "{ctype}" is not "True", but {cond.get("status")}')
    return ", ".join(messages)
