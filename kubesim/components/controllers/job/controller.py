"""The Job controller (pkg/controller/job/job_controller.go, v1.32).

A Job runs `parallelism` pods at a time until `completions` of them succeeded (without
`completions`: until one succeeded and the rest finished). Pods carry the
`batch.kubernetes.io/job-tracking` finalizer so none is lost before it is counted: a
finished pod's uid first goes into `status.uncountedTerminatedPods` (written), then its
finalizer is removed, then the uid moves into `status.succeeded` / `status.failed`.
A pod deleted before it succeeded counts as failed (podReplacementPolicy
TerminatingOrFailed, the default); it is replaced at once and shows in
`status.terminating` while it goes. New pods wait out the pod-failure backoff (10 s
doubling per failure since the last success, at most 10 min).

When failures exceed `backoffLimit` (or, with restartPolicy OnFailure, container restarts
reach it) or `activeDeadlineSeconds` passes, the Job gets `FailureTarget`, its active pods
are deleted and counted as failed, and `Failed` follows once no pod is left terminating.
Reaching completions sets `SuccessCriteriaMet`, then `Complete` (reason CompletionsReached)
with `completionTime` (the v1.31+ order). Metrics: job_controller_jobs_finished_total
{completion_mode, result, reason} and job_controller_job_pods_finished_total
{completion_mode, result}. A suspended Job (`spec.suspend`) has its active pods deleted (not
counted as failures), starts none, and has `Suspended` True; resuming sets it False and
restarts the activeDeadlineSeconds clock (`startTime`). An Indexed Job runs one pod per
completion index (annotation and label `batch.kubernetes.io/job-completion-index`,
hostname `<job>-<index>`, env JOB_COMPLETION_INDEX), lowest pending index first, and
reports `status.completedIndexes` ("1,3-5"). Not modelled: podFailurePolicy rules,
backoffLimitPerIndex, successPolicy and managedBy.
"""

from __future__ import annotations

from typing import Any

from kubesim.api import meta, selectors
from kubesim.api.copying import deep_copy
from kubesim.api.status import APIError
from kubesim.components.client.events import EventHandler
from kubesim.components.client.recorder import EventRecorder
from kubesim.components.client.store import DeletedFinalStateUnknown, Obj
from kubesim.components.client.workqueue import ItemExponentialFailureRateLimiter
from kubesim.components.controllers import pods as podutil
from kubesim.components.controllers.base import (
    Controller,
    ControllerContext,
    Requeue,
    api_errors,
    object_key,
    unwrap,
)
from kubesim.components.controllers.expectations import UIDTrackingExpectations
from kubesim.components.controllers.indexes import CONTROLLER_UID, controller_uid_index
from kubesim.components.controllers.job import util
from kubesim.components.controllers.ownership import ControllerRefManager
from kubesim.components.controllers.replicaset import NAMESPACE_TERMINATING_CAUSE, slow_start_batch

JOBS = "jobs.batch"
STRATEGIC = "application/strategic-merge-patch+json"
#: DefaultJobApiBackOff / MaxJobApiBackOff: the sync queue's per-item backoff.
API_BACKOFF = 1.0
MAX_API_BACKOFF = 60.0


class JobController(Controller):
    name = "job"

    def __init__(self, cc: ControllerContext, workers: int = 5) -> None:
        super().__init__(cc, workers, ItemExponentialFailureRateLimiter(API_BACKOFF, MAX_API_BACKOFF))
        self.expectations = UIDTrackingExpectations()
        #: finalizerExpectations: uids whose finalizer removal the cache has not shown yet.
        self.finalizer_expectations: dict[str, set[str]] = {}
        self.backoff: dict[str, util.BackoffRecord] = {}
        #: uids of deleted Jobs, so their orphaned pods lose the finalizer.
        self._deleted_uids: dict[str, str] = {}
        #: the resourceVersion of the last status this controller wrote, per Job.
        self.written: dict[str, int] = {}
        self.recorder = EventRecorder(cc.client, cc.ctx, "job-controller", cc.now)
        self.jobs_finished = cc.ctx.metrics.counter(
            "job_controller_jobs_finished_total", "The number of finished jobs",
            ["completion_mode", "result", "reason"])
        self.pods_finished = cc.ctx.metrics.counter(
            "job_controller_job_pods_finished_total", "The number of finished Pods that are fully tracked",
            ["completion_mode", "result"])
        self.job_informer = cc.informers.informer(JOBS)
        self.pod_informer = cc.informers.informer("pods", indexers={CONTROLLER_UID: controller_uid_index})
        self.job_informer.add_event_handler(EventHandler(
            on_add=lambda job: self.enqueue(object_key(job)),
            on_update=lambda old, cur: self.enqueue(object_key(cur)),
            on_delete=self._delete_job))
        self.pod_informer.add_event_handler(EventHandler(
            on_add=self._add_pod, on_update=self._update_pod, on_delete=self._delete_pod))

    # -- event handlers -------------------------------------------------------------------
    def _delete_job(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        job = unwrap(obj)
        key = object_key(obj)
        self._deleted_uids[key] = job["metadata"].get("uid", "")
        self.enqueue(key)

    def _resolve(self, pod: Obj) -> Obj | None:
        ref = meta.controller_of(pod)
        if ref is None or ref.get("kind") != "Job":
            return None
        job = self.job_informer.indexer.get_by_key(f"{pod['metadata'].get('namespace', '')}/{ref.get('name')}")
        return job if job is not None and job["metadata"].get("uid") == ref.get("uid") else None

    def _orphan_key(self, pod: Obj) -> str | None:
        """The key of a deleted Job that still owns `pod`, if it carries our finalizer."""
        ref = meta.controller_of(pod)
        if ref is None or ref.get("kind") != "Job" or not util.has_tracking_finalizer(pod):
            return None
        return f"{pod['metadata'].get('namespace', '')}/{ref.get('name')}"

    def _add_pod(self, pod: Obj) -> None:
        job = self._resolve(pod)
        if job is None:
            orphan = self._orphan_key(pod)
            if orphan is not None:
                self.enqueue(orphan)
            return
        key = object_key(job)
        if meta.is_being_deleted(pod):
            self.expectations.deletion_observed_of(key, object_key(pod))
        else:
            self.expectations.creation_observed(key)
        self.enqueue(key)

    def _update_pod(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        job = self._resolve(cur)
        if job is None:
            orphan = self._orphan_key(cur)
            if orphan is not None:
                self.enqueue(orphan)
            return
        key = object_key(job)
        if not util.has_tracking_finalizer(cur):
            self.finalizer_expectations.get(key, set()).discard(cur["metadata"].get("uid", ""))
        if meta.is_being_deleted(cur):
            self.expectations.deletion_observed_of(key, object_key(cur))
        self.enqueue(key)

    def _delete_pod(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        pod = unwrap(obj)
        job = self._resolve(pod)
        if job is None:
            return
        key = object_key(job)
        self.finalizer_expectations.get(key, set()).discard(pod["metadata"].get("uid", ""))
        self.expectations.deletion_observed_of(key, object_key(pod))
        self.enqueue(key)

    # -- sync -----------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        cached = self.job_informer.indexer.get_by_key(key)
        deleted_uid = self._deleted_uids.get(key)
        if cached is None or (deleted_uid and deleted_uid != cached["metadata"].get("uid")):
            await self._forget_job(key)  # gone, or deleted and created again
        if cached is None:
            return
        if _rv(cached) < self.written.get(key, 0):
            # the cache has not caught up with our own status write: counting from it
            # would forget pods already counted (their finalizers are gone) and start more
            raise Requeue(f"job {key}: informer cache behind the last status write")
        job = deep_copy(cached)
        if util.is_finished(job):
            owned = self.pod_informer.indexer.by_index(CONTROLLER_UID, job["metadata"]["uid"])
            await self._remove_finalizers(key, [p for p in owned if util.has_tracking_finalizer(p)])
            return
        satisfied = self.expectations.satisfied(key, self.cc.now())
        pods = await self._pods_for_job(job)
        await Sync(self, key, job, pods, satisfied).run()

    async def _forget_job(self, key: str) -> None:
        """A deleted Job: drop its state and release its pods' finalizers."""
        self.expectations.delete(key)
        self.written.pop(key, None)
        self.finalizer_expectations.pop(key, None)
        self.backoff.pop(key, None)
        uid = self._deleted_uids.pop(key, "")
        if uid:
            pods = self.pod_informer.indexer.by_index(CONTROLLER_UID, uid)
            await self._remove_finalizers(key, [p for p in pods if util.has_tracking_finalizer(p)])

    async def _pods_for_job(self, job: Obj) -> list[Obj]:
        """getPodsForJob: the pods this Job owns, adopting matching orphans."""
        try:
            selector = selectors.from_label_selector(job["spec"].get("selector"))
        except selectors.SelectorError:
            return []
        candidates = self.pod_informer.indexer.by_index("namespace", job["metadata"]["namespace"])
        manager = ControllerRefManager(self.client, job, JOBS,
                                       lambda p: selector.matches(p["metadata"].get("labels")))
        return await manager.claim("pods", candidates)

    async def _remove_finalizers(self, key: str, pods: list[Obj]) -> list[str]:
        """removeTrackingFinalizerFromPods: the uids whose finalizer is gone afterwards."""
        if not pods:
            return []
        expected = self.finalizer_expectations.setdefault(key, set())
        for pod in pods:
            expected.add(pod["metadata"]["uid"])
        results = await self.ctx.gather(*(self._remove_finalizer(key, p) for p in pods))
        errors = api_errors(results)
        if errors:
            raise errors[0]
        return [p["metadata"]["uid"] for p in pods]

    async def _remove_finalizer(self, key: str, pod: Obj) -> None:
        md = pod["metadata"]
        body = {"metadata": {"$deleteFromPrimitiveList/finalizers": [util.JOB_TRACKING_FINALIZER]}}
        try:
            await self.client.patch("pods", md["namespace"], md["name"], body, STRATEGIC)
        except APIError as err:
            self.finalizer_expectations.get(key, set()).discard(md["uid"])
            if err.code != 404:
                raise

    async def create_pods(self, job: Obj, count: int, indexes: list[int] | None = None) -> APIError | None:
        """Create `count` pods (of these completion `indexes`, for an Indexed Job)."""
        key = object_key(job)
        self.expectations.expect_creations(key, count, self.cc.now())
        template = deep_copy(job["spec"]["template"])
        tmeta = template.setdefault("metadata", {})
        tmeta["finalizers"] = [*(tmeta.get("finalizers") or []), util.JOB_TRACKING_FINALIZER]
        pending = list(indexes or [])

        async def create() -> None:
            if indexes is None:
                pod = podutil.pod_from_template(template, job)
            else:
                index = pending.pop(0)
                name = job["metadata"]["name"]
                pod = podutil.pod_from_template(util.indexed_pod_template(template, name, index), job)
                pod["metadata"]["generateName"] = util.generate_name_with_index(name, index)
            try:
                created = await self.client.create("pods", pod, job["metadata"]["namespace"])
            except APIError as err:
                causes = (err.status.get("details") or {}).get("causes") or []
                if any(c.get("reason") == NAMESPACE_TERMINATING_CAUSE for c in causes):
                    return
                self.recorder.event(job, "Warning", "FailedCreate", f"Error creating: {err.message}")
                raise
            self.recorder.event(job, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

        successes, err = await slow_start_batch(self.cc, count, create)
        for _ in range(count - successes):
            self.expectations.creation_observed(key)
        return err

    async def delete_pods(self, job: Obj, pods: list[Obj]) -> list[str]:
        """deleteJobPods: each pod loses the finalizer (it is counted already), then goes.
        Returns the uids whose finalizer was removed."""
        key = object_key(job)
        self.expectations.expect_deletions_of(key, [object_key(p) for p in pods], self.cc.now())
        released = await self._remove_finalizers(key, [p for p in pods if util.has_tracking_finalizer(p)])

        async def delete(pod: Obj) -> None:
            md = pod["metadata"]
            try:
                await self.client.delete("pods", md["namespace"], md["name"])
            except APIError as err:
                self.expectations.deletion_observed_of(key, object_key(pod))
                if err.code == 404:
                    return
                self.recorder.event(job, "Warning", "FailedDelete", f"Error deleting: {err.message}")
                raise
            self.recorder.event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {md['name']}")

        errors = api_errors(await self.ctx.gather(*(delete(p) for p in pods)))
        if errors:
            raise errors[0]
        return released


def _rv(obj: Obj) -> int:
    """The resourceVersion as a number (the apiserver's are etcd revisions)."""
    try:
        return int(obj["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0


class Sync:
    """One syncJob: counts, the finished condition, pod management, then status tracking."""

    def __init__(self, jc: JobController, key: str, job: Obj, pods: list[Obj], satisfied: bool) -> None:
        self.jc = jc
        self.key = key
        self.job = job
        self.pods = pods
        self.satisfied = satisfied
        self.now = jc.cc.now()
        status = job.setdefault("status", {})
        self.old_status = deep_copy(status)
        uncounted = status.get("uncountedTerminatedPods") or {}
        self.indexed = util.is_indexed(job)
        #: an Indexed Job's completed indexes, counted pods and uncounted ones alike
        self.completed: set[int] = set()
        self.uncounted_succeeded: list[str] = list(uncounted.get("succeeded") or [])
        self.uncounted_failed: list[str] = list(uncounted.get("failed") or [])
        #: uids whose finalizer this sync has already removed.
        self.released: set[str] = set()

    @property
    def status(self) -> Obj:
        return self.job["status"]

    async def run(self) -> None:
        job, jc = self.job, self.jc
        expected_rm = jc.finalizer_expectations.get(self.key, set())
        active = [p for p in self.pods if podutil.is_pod_active(p)]
        terminating = [p for p in self.pods if podutil.is_pod_terminating(p)]
        new_succeeded, new_failed = self._new_finished(expected_rm)
        record = jc.backoff.setdefault(self.key, util.BackoffRecord())
        record.observe([util.finish_time(p, self.now) for p in new_succeeded],
                       [util.finish_time(p, self.now) for p in new_failed])
        self.uncounted_succeeded += [p["metadata"]["uid"] for p in new_succeeded]
        self.uncounted_failed += [p["metadata"]["uid"] for p in new_failed]
        succeeded = self.status.get("succeeded", 0) + len(self.uncounted_succeeded)
        if self.indexed:
            succeeded = len(self._completed_indexes())
        failed = self.status.get("failed", 0) + len(self.uncounted_failed)
        suspended = bool(job["spec"].get("suspend"))
        if not self.status.get("startTime") and not suspended:
            self.status["startTime"] = meta.timestamp(self.now)
        deadline = job["spec"].get("activeDeadlineSeconds")
        if deadline is not None and self.status.get("startTime"):
            left = meta.parse_timestamp(self.status["startTime"]) + deadline - self.now
            if left > 0:
                jc.enqueue_after(self.key, left)

        finishing = self._finishing_condition(succeeded, failed, len(active))
        manage_err: APIError | None = None
        if finishing is not None:
            util.ensure_condition(self.status, finishing)
            if finishing["type"] == util.FAILURE_TARGET:
                # when the Job failed, every pod not yet terminated is a failure
                self.uncounted_failed += [p["metadata"]["uid"] for p in active
                                          if util.has_tracking_finalizer(p)
                                          and p["metadata"]["uid"] not in self.uncounted_failed]
            if active:
                await self._write_status(active=0, ready=0, terminating=len(terminating))
                self.released.update(await jc.delete_pods(job, active))
                terminating += active
            active = []
        else:
            self._suspension(suspended)
            if self.satisfied:
                active, manage_err = await self._manage(active, succeeded, record, suspended)
        ready = sum(1 for p in active if podutil.is_pod_ready(p))
        await self._track(len(active), ready, len(terminating), finishing)
        if manage_err is not None:
            raise manage_err

    def _completed_indexes(self) -> set[int]:
        """status.completedIndexes plus the indexes of succeeded pods not yet counted."""
        completions = self.job["spec"].get("completions") or 0
        self.completed = util.parse_indexes(self.status.get("completedIndexes", ""), completions)
        uncounted = set(self.uncounted_succeeded)
        for pod in self.pods:
            index = util.completion_index(pod)
            if pod["metadata"]["uid"] in uncounted and index is not None and index < completions:
                self.completed.add(index)
        return self.completed

    def _new_finished(self, expected_rm: set[str]) -> tuple[list[Obj], list[Obj]]:
        """getNewFinishedPods: finished pods still carrying the finalizer, not yet counted,
        at most MaxUncountedPods in status at once."""
        room = util.MAX_UNCOUNTED_PODS - len(self.uncounted_succeeded) - len(self.uncounted_failed)
        known = set(self.uncounted_succeeded) | set(self.uncounted_failed)
        succeeded: list[Obj] = []
        failed: list[Obj] = []
        for pod in self.pods:
            uid = pod["metadata"]["uid"]
            if not util.has_tracking_finalizer(pod) or uid in expected_rm or uid in known:
                continue
            if len(succeeded) + len(failed) >= room:
                self.jc.enqueue(self.key)
                break
            if podutil.phase(pod) == "Succeeded":
                succeeded.append(pod)
            elif util.is_pod_failed(pod, self.job):
                failed.append(pod)
        return succeeded, failed

    def _finishing_condition(self, succeeded: int, failed: int, active: int) -> Obj | None:
        job, stamp = self.job, meta.timestamp(self.now)
        target = util.condition(job, util.FAILURE_TARGET)
        if target is not None:
            return target
        if util.condition(job, util.SUCCESS_CRITERIA_MET) is not None:
            return util.condition(job, util.SUCCESS_CRITERIA_MET)
        if failed > job["spec"].get("backoffLimit", 6) or util.past_backoff_limit_on_failure(job, self.pods):
            return util.new_condition(util.FAILURE_TARGET, *util.BACKOFF_LIMIT_EXCEEDED, stamp)
        deadline = job["spec"].get("activeDeadlineSeconds")
        started = self.status.get("startTime")
        if deadline is not None and started and self.now - meta.parse_timestamp(started) >= deadline:
            return util.new_condition(util.FAILURE_TARGET, *util.DEADLINE_EXCEEDED, stamp)
        if util.is_complete(job, succeeded, active):
            return util.new_condition(util.SUCCESS_CRITERIA_MET, *util.COMPLETIONS_REACHED, stamp)
        return None

    def _suspension(self, suspended: bool) -> None:
        """The Suspended condition; resuming restarts the activeDeadlineSeconds clock."""
        stamp = meta.timestamp(self.now)
        if suspended and util.condition(self.job, util.SUSPENDED) is None:
            util.ensure_condition(self.status, util.new_condition(util.SUSPENDED, *util.JOB_SUSPENDED, stamp))
            self.jc.recorder.event(self.job, "Normal", "Suspended", "Job suspended")
        elif not suspended and util.condition(self.job, util.SUSPENDED) is not None:
            cond = util.new_condition(util.SUSPENDED, *util.JOB_RESUMED, stamp)
            cond["status"] = "False"
            util.ensure_condition(self.status, cond)
            self.status["startTime"] = stamp
            self.jc.recorder.event(self.job, "Normal", "Resumed", "Job resumed")

    async def _manage(self, active: list[Obj], succeeded: int, record: util.BackoffRecord,
                      suspended: bool) -> tuple[list[Obj], APIError | None]:
        """manageJob: create or delete pods towards wantActive (none while suspended);
        the new active pods."""
        jc, job = self.jc, self.job
        if self.indexed:
            return await self._manage_indexed(active, record, suspended)
        want = 0 if suspended else util.want_active(job, succeeded, len(active))
        diff = len(active) - want
        if diff > 0:
            victims = podutil.rank_for_deletion(active, [0] * len(active), self.now)
            victims = victims[:min(diff, util.MAX_POD_CREATE_DELETE_PER_SYNC)]
            try:
                self.released.update(await jc.delete_pods(job, victims))
            except APIError as err:
                return active, err
            gone = {p["metadata"]["uid"] for p in victims}
            return [p for p in active if p["metadata"]["uid"] not in gone], None
        if diff < 0:
            wait = record.remaining(self.now)
            if wait > 0:
                jc.enqueue_after(self.key, wait)
                return active, None
            err = await jc.create_pods(job, min(-diff, util.MAX_POD_CREATE_DELETE_PER_SYNC))
            return active, err
        return active, None

    async def _manage_indexed(self, active: list[Obj], record: util.BackoffRecord,
                              suspended: bool) -> tuple[list[Obj], APIError | None]:
        """manageJob for Indexed Jobs: one active pod per pending index, lowest first; pods of
        a duplicate, completed or out-of-range index are removed first."""
        jc, job = self.jc, self.job
        completions = job["spec"].get("completions") or 0
        keep: list[Obj] = []
        extra: list[Obj] = []
        seen: set[int] = set()
        # of several pods of one index, the ready then the oldest one stays
        for pod in sorted(active, key=lambda p: (not podutil.is_pod_ready(p),
                                                 p["metadata"].get("creationTimestamp", ""),
                                                 p["metadata"]["name"])):
            index = util.completion_index(pod)
            if index is None or index >= completions or index in self.completed or index in seen:
                extra.append(pod)
            else:
                seen.add(index)
                keep.append(pod)
        want = 0 if suspended else min(job["spec"].get("parallelism", 1), completions - len(self.completed))
        if len(keep) > want:
            surplus = podutil.rank_for_deletion(keep, [0] * len(keep), self.now)[:len(keep) - want]
            extra += surplus
            keep = [p for p in keep if p not in surplus]
        if extra:
            try:
                self.released.update(await jc.delete_pods(job, extra[:util.MAX_POD_CREATE_DELETE_PER_SYNC]))
            except APIError as err:
                return keep, err
            return keep, None
        missing = want - len(keep)
        if missing <= 0:
            return keep, None
        wait = record.remaining(self.now)
        if wait > 0:
            jc.enqueue_after(self.key, wait)
            return keep, None
        pending = [i for i in range(completions) if i not in self.completed and i not in seen]
        pending = pending[:min(missing, util.MAX_POD_CREATE_DELETE_PER_SYNC)]
        return keep, await jc.create_pods(job, len(pending), pending)

    async def _track(self, active: int, ready: int, terminating: int, finishing: Obj | None) -> None:
        """trackJobStatusAndRemoveFinalizers and the flush of uncounted pods."""
        jc = self.jc
        old_uncounted = self.old_status.get("uncountedTerminatedPods") or {}
        grown = (len(self.uncounted_succeeded) != len(old_uncounted.get("succeeded") or [])
                 or len(self.uncounted_failed) != len(old_uncounted.get("failed") or []))
        if grown:
            await self._write_status(active=active, ready=ready, terminating=terminating)
        uncounted = set(self.uncounted_succeeded) | set(self.uncounted_failed)
        holders = [p for p in self.pods if p["metadata"]["uid"] in uncounted - self.released
                   and util.has_tracking_finalizer(p)]
        await jc._remove_finalizers(self.key, holders)
        # every uncounted pod has lost its finalizer (or is gone): count it
        flushed = {"succeeded": len(self.uncounted_succeeded), "failed": len(self.uncounted_failed)}
        self.status["failed"] = self.status.get("failed", 0) + flushed["failed"]
        if self.indexed:
            self.status["succeeded"] = len(self._completed_indexes())
            self.status["completedIndexes"] = util.format_indexes(self.completed)
        else:
            self.status["succeeded"] = self.status.get("succeeded", 0) + flushed["succeeded"]
        self.uncounted_succeeded, self.uncounted_failed = [], []
        finished = self._finish(finishing) if finishing is not None and terminating == 0 else None
        await self._write_status(active=active, ready=ready, terminating=terminating)
        mode = self.job["spec"].get("completionMode") or "NonIndexed"
        for result, count in flushed.items():
            if count:
                jc.pods_finished.labels(mode, result).inc(count)
        if finished is not None:
            jc.jobs_finished.labels(mode, *finished).inc()

    def _finish(self, finishing: Obj) -> tuple[str, str] | None:
        """The terminal condition after FailureTarget / SuccessCriteriaMet (with their reason,
        as delayTerminalCondition has it); (result, reason) if it is new."""
        stamp = meta.timestamp(self.now)
        failed = finishing["type"] == util.FAILURE_TARGET
        cond = util.new_condition(util.FAILED if failed else util.COMPLETE, finishing["reason"],
                                  finishing["message"], stamp)
        if not util.ensure_condition(self.status, cond):
            return None
        if failed:
            self.jc.recorder.event(self.job, "Warning", cond["reason"], cond["message"])
            return "failed", cond["reason"]
        self.status["completionTime"] = stamp
        self.jc.recorder.event(self.job, "Normal", "Completed", "Job completed")
        return "succeeded", cond["reason"]

    async def _write_status(self, **counts: int) -> None:
        status = self.status
        for name, value in counts.items():
            if value or name in ("ready", "terminating"):
                status[name] = value
            else:
                status.pop(name, None)  # omitempty
        for name in ("succeeded", "failed", "completedIndexes"):
            if not status.get(name):
                status.pop(name, None)
        status["uncountedTerminatedPods"] = {k: v for k, v in (
            ("succeeded", self.uncounted_succeeded), ("failed", self.uncounted_failed)) if v}
        if status == self.old_status:
            return
        updated: Any = await self.jc.client.update(JOBS, self.job, "status")
        self.job["metadata"]["resourceVersion"] = updated["metadata"]["resourceVersion"]
        self.jc.written[self.key] = _rv(updated)
        self.old_status = deep_copy(status)
