"""Pure Job helpers (pkg/controller/job: job_controller.go, backoff_utils.go,
indexed_job_utils.go, v1.32): the tracking finalizer, when a pod counts as failed, how
many pods should be active, Job conditions, the exponential pod-failure backoff, and the
completion indexes of Indexed Jobs.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubesim.api import meta
from kubesim.api.copying import deep_copy
from kubesim.components.client.store import Obj
from kubesim.components.controllers import pods as podutil

#: batch.JobTrackingFinalizer: a pod keeps it until the controller has counted it.
JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
#: DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff.
POD_FAILURE_BACKOFF = 10.0
MAX_POD_FAILURE_BACKOFF = 600.0
#: MaxUncountedPods: at most this many uids in status.uncountedTerminatedPods at once.
MAX_UNCOUNTED_PODS = 500
#: MaxPodCreateDeletePerSync.
MAX_POD_CREATE_DELETE_PER_SYNC = 500

COMPLETE = "Complete"
FAILED = "Failed"
FAILURE_TARGET = "FailureTarget"
SUCCESS_CRITERIA_MET = "SuccessCriteriaMet"
SUSPENDED = "Suspended"
JOB_SUSPENDED = ("JobSuspended", "Job suspended")
JOB_RESUMED = ("JobResumed", "Job resumed")
BACKOFF_LIMIT_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")


def has_tracking_finalizer(pod: Obj) -> bool:
    return JOB_TRACKING_FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or [])


def only_replace_failed_pods(job: Obj) -> bool:
    """podReplacementPolicy Failed (always so with a podFailurePolicy)."""
    spec = job.get("spec") or {}
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def is_pod_failed(pod: Obj, job: Obj) -> bool:
    """isPodFailed: phase Failed, or (unless only failed pods are replaced) deleted before
    it could succeed: an orphan that never reached the Failed phase counts as a failure."""
    if podutil.phase(pod) == "Failed":
        return True
    if only_replace_failed_pods(job):
        return False
    return meta.is_being_deleted(pod) and podutil.phase(pod) != "Succeeded"


def condition(job: Obj, cond_type: str) -> Obj | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == cond_type and cond.get("status") == "True":
            return cond
    return None


def is_finished(job: Obj) -> bool:
    """IsJobFinished: a Complete or Failed condition is True."""
    return condition(job, COMPLETE) is not None or condition(job, FAILED) is not None


def new_condition(cond_type: str, reason: str, message: str, stamp: str) -> Obj:
    return {"type": cond_type, "status": "True", "lastProbeTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


def ensure_condition(status: Obj, cond: Obj) -> bool:
    """ensureJobConditionStatus: add or update `cond`; returns whether anything changed."""
    conditions = status.setdefault("conditions", [])
    for existing in conditions:
        if existing.get("type") == cond["type"]:
            if existing.get("status") == cond["status"]:
                return False
            existing.update(cond)
            return True
    conditions.append(cond)
    return True


def want_active(job: Obj, succeeded: int, active: int) -> int:
    """How many pods should be running (manageJob's wantActive for NonIndexed Jobs)."""
    spec = job["spec"]
    parallelism = spec.get("parallelism", 1)
    completions = spec.get("completions")
    if completions is None:
        # a worker-pool Job: once any pod succeeded, no new pods are started
        return active if succeeded > 0 else parallelism
    return max(0, min(completions - succeeded, parallelism))


def is_complete(job: Obj, succeeded: int, active: int) -> bool:
    completions = job["spec"].get("completions")
    if completions is None:
        return succeeded > 0 and active == 0
    return succeeded >= completions


def restarts(pods: list[Obj]) -> int:
    """Container restarts of non-terminal pods (pastBackoffLimitOnFailure's count)."""
    total = 0
    for pod in pods:
        if podutil.phase(pod) in ("Succeeded", "Failed"):
            continue
        st = pod.get("status") or {}
        for cs in [*(st.get("initContainerStatuses") or []), *(st.get("containerStatuses") or [])]:
            total += int(cs.get("restartCount") or 0)
    return total


def past_backoff_limit_on_failure(job: Obj, pods: list[Obj]) -> bool:
    """pastBackoffLimitOnFailure: with restartPolicy OnFailure, restarts count as failures."""
    spec = job["spec"]
    if (spec["template"].get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    count = restarts(pods)
    limit = spec.get("backoffLimit", 6)
    return count > 0 if limit == 0 else count >= limit


def finish_time(pod: Obj, now: float) -> float:
    """getFinishedTime: the latest container finishedAt, else the Ready condition's last
    transition, else deletionTimestamp, else `now`."""
    st = pod.get("status") or {}
    latest: float | None = None
    for cs in [*(st.get("initContainerStatuses") or []), *(st.get("containerStatuses") or [])]:
        finished = ((cs.get("state") or {}).get("terminated") or {}).get("finishedAt")
        if finished:
            t = meta.parse_timestamp(finished)
            latest = t if latest is None else max(latest, t)
    if latest is not None:
        return latest
    ready = podutil.condition(pod, "Ready")
    if ready is not None and ready.get("status") == "False" and ready.get("lastTransitionTime"):
        return meta.parse_timestamp(ready["lastTransitionTime"])
    deleted = pod["metadata"].get("deletionTimestamp")
    return meta.parse_timestamp(deleted) if deleted else now


@dataclass
class BackoffRecord:
    """backoffRecord: failures since the last success, and when the last one happened."""

    failures_after_last_success: int = 0
    last_failure_time: float | None = None

    def observe(self, succeeded: list[float], failed: list[float]) -> None:
        """newBackoffRecord: fold in newly counted pods, given their finish times."""
        last_success = max(succeeded, default=None)
        if last_success is not None:
            failed = [t for t in failed if t > last_success]
            self.failures_after_last_success = 0
            self.last_failure_time = None
        if failed:
            self.failures_after_last_success += len(failed)
            newest = max(failed)
            if self.last_failure_time is None or newest > self.last_failure_time:
                self.last_failure_time = newest

    def remaining(self, now: float) -> float:
        """getRemainingTime: how long new pods must still wait (0 once the backoff passed)."""
        if self.failures_after_last_success == 0 or self.last_failure_time is None:
            return 0.0
        backoff = POD_FAILURE_BACKOFF * 2.0 ** (self.failures_after_last_success - 1)
        backoff = min(backoff, MAX_POD_FAILURE_BACKOFF)
        return max(0.0, backoff - (now - self.last_failure_time))


# -- Indexed completion mode (indexed_job_utils.go) ------------------------------------------
#: the annotation (and label) carrying a pod's completion index.
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"
#: names.MaxGeneratedNameLength: 63 minus the 5 random characters.
MAX_GENERATED_NAME_LENGTH = 58


def is_indexed(job: Obj) -> bool:
    return (job.get("spec") or {}).get("completionMode") == "Indexed"


def completion_index(pod: Obj) -> int | None:
    """getCompletionIndex: the pod's index from the annotation (or label); None if unusable."""
    md = pod.get("metadata") or {}
    raw = (md.get("annotations") or {}).get(COMPLETION_INDEX) or (md.get("labels") or {}).get(COMPLETION_INDEX)
    try:
        index = int(raw)
    except (TypeError, ValueError):
        return None
    return index if index >= 0 else None


def parse_indexes(text: str, completions: int) -> set[int]:
    """parseIndexesFromString: "1,3-5" -> {1, 3, 4, 5}, dropping what is out of range."""
    out: set[int] = set()
    for part in (text or "").split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        try:
            lo, hi = int(first), int(last or first)
        except ValueError:
            continue
        out.update(i for i in range(lo, hi + 1) if 0 <= i < completions)
    return out


def format_indexes(indexes: set[int]) -> str:
    """The compressed interval form of status.completedIndexes: {1, 3, 4, 5} -> "1,3-5"."""
    parts: list[str] = []
    ordered = sorted(indexes)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def generate_name_with_index(job_name: str, index: int) -> str:
    """podGenerateNameWithIndex: "<job>-<index>-", the job name cut to fit."""
    suffix = f"-{index}-"
    prefix = job_name + suffix
    if len(prefix) > MAX_GENERATED_NAME_LENGTH:
        prefix = job_name[:MAX_GENERATED_NAME_LENGTH - len(suffix)] + suffix
    return prefix


def indexed_pod_template(template: Obj, job_name: str, index: int) -> Obj:
    """The template of index `index`: the index annotation and label, hostname
    `<job>-<index>` (unless set) and the JOB_COMPLETION_INDEX env var from the annotation."""
    out = deep_copy(template)
    md = out.setdefault("metadata", {})
    md.setdefault("annotations", {})[COMPLETION_INDEX] = str(index)
    md.setdefault("labels", {})[COMPLETION_INDEX] = str(index)
    spec = out.setdefault("spec", {})
    if not spec.get("hostname"):
        spec["hostname"] = f"{job_name}-{index}"
    env_var = {"name": COMPLETION_INDEX_ENV, "valueFrom": {"fieldRef": {
        "apiVersion": "v1", "fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"}}}
    for key in ("initContainers", "containers"):
        for ctr in spec.get(key) or []:
            env = ctr.setdefault("env", [])
            if not any(e.get("name") == COMPLETION_INDEX_ENV for e in env):
                env.append(deep_copy(env_var))
    return out
