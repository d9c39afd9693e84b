"""Job controller on the sim runtime: parallelism and completions, the tracking finalizer
and uncountedTerminatedPods, backoffLimit with the pod-failure backoff, activeDeadlineSeconds,
pods deleted from outside, worker pools, and the pure helpers."""

from __future__ import annotations

from typing import Any

import pytest

from kubesim.api import meta
from kubesim.api.defaults import JOB_NAME_LABEL
from kubesim.components.controllers.job import util
from tests.components.controllers.harness import Cluster, template


def job(name: str = "pi", **spec: Any) -> dict[str, Any]:
    tpl = template({"app": name})
    tpl["spec"]["restartPolicy"] = "Never"
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": tpl, **spec}}


@pytest.fixture
def cluster():
    c = Cluster(seed=5, controllers=("job",))
    yield c
    c.close()


def job_pods(c: Cluster, name: str = "pi") -> list[dict[str, Any]]:
    return [p for p in c.pods() if p["metadata"]["labels"].get(JOB_NAME_LABEL) == name]


def running(c: Cluster, name: str = "pi") -> list[dict[str, Any]]:
    return [p for p in job_pods(c, name) if p.get("status", {}).get("phase") == "Running"
            and not meta.is_being_deleted(p)]


def finish(c: Cluster, pod: dict[str, Any], phase: str) -> None:
    stamp = meta.timestamp(c.now())

    def done(p: dict[str, Any]) -> None:
        p["status"]["phase"] = phase
        p["status"]["conditions"] = [{"type": "Ready", "status": "False", "lastTransitionTime": stamp}]
        p["status"]["containerStatuses"] = [{"name": "app", "restartCount": 0, "state": {"terminated": {
            "exitCode": 0 if phase == "Succeeded" else 1, "finishedAt": stamp}}}]
    c.api.mutate("pods", pod["metadata"]["namespace"], pod["metadata"]["name"], done)


def status(c: Cluster, name: str = "pi") -> dict[str, Any]:
    return c.get("jobs.batch", "default", name).get("status", {})


def conditions(st: dict[str, Any]) -> dict[str, str]:
    return {x["type"]: x.get("reason", "") for x in st.get("conditions", []) if x["status"] == "True"}


def test_completions_with_parallelism_count_every_pod_once(cluster):
    cluster.create("jobs.batch", job(completions=5, parallelism=2))
    most = {"active": 0}

    def check(event: str, resource: str, obj: dict[str, Any]) -> None:
        if resource == "pods":
            live = [p for p in cluster.pods() if p.get("status", {}).get("phase") not in ("Succeeded", "Failed")
                    and not meta.is_being_deleted(p)]
            most["active"] = max(most["active"], len(live))
            assert len(live) <= 2, "more pods active than parallelism"

    cluster.api.observers.append(check)
    finished = 0
    while finished < 5:
        cluster.run_until(lambda: len(running(cluster)) > 0)
        pod = running(cluster)[0]
        assert util.JOB_TRACKING_FINALIZER in pod["metadata"]["finalizers"]
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job"
        finish(cluster, pod, "Succeeded")
        finished += 1
        cluster.run_until(lambda n=finished: status(cluster).get("succeeded", 0) == n)
    cluster.run_until(lambda: "Complete" in conditions(status(cluster)))
    st = status(cluster)
    assert most["active"] == 2
    assert st["succeeded"] == 5 and "failed" not in st and "active" not in st
    assert st["uncountedTerminatedPods"] == {} and st["ready"] == 0 and st["terminating"] == 0
    assert conditions(st) == {"SuccessCriteriaMet": "CompletionsReached", "Complete": "CompletionsReached"}
    assert st["completionTime"] >= st["startTime"]
    assert len(job_pods(cluster)) == 5
    assert all(util.JOB_TRACKING_FINALIZER not in (p["metadata"].get("finalizers") or [])
               for p in job_pods(cluster))
    reasons = [e["reason"] for e in cluster.api.objects("events", "default") if e["involvedObject"]["kind"] == "Job"]
    assert reasons.count("SuccessfulCreate") == 5 and "Completed" in reasons
    samples = {(name, tuple(sorted(labels.items()))): value for name, labels, value in
               cluster.rt.metrics.samples(["job_controller_jobs_finished_total", "job_controller_job_pods_finished_total"])
               if name.endswith("_total")}
    finished = [v for (n, labels), v in samples.items() if n == "job_controller_jobs_finished_total"
                and ("reason", "CompletionsReached") in labels and ("result", "succeeded") in labels]
    pods = [v for (n, labels), v in samples.items() if n == "job_controller_job_pods_finished_total"
            and ("result", "succeeded") in labels and ("completion_mode", "NonIndexed") in labels]
    assert finished == [1.0] and pods == [5.0]


def test_backoff_limit_with_growing_pod_backoff(cluster):
    cluster.create("jobs.batch", job(backoffLimit=2))
    created: list[float] = []
    for attempt in range(3):
        cluster.run_until(lambda n=attempt: len(job_pods(cluster)) == n + 1 and len(running(cluster)) == 1,
                          timeout=120)
        pod = running(cluster)[0]
        created.append(meta.parse_timestamp(pod["metadata"]["creationTimestamp"]))
        finish(cluster, pod, "Failed")
    cluster.run_until(lambda: "Failed" in conditions(status(cluster)))
    st = status(cluster)
    assert st["failed"] == 3 and "succeeded" not in st
    assert conditions(st) == {"FailureTarget": "BackoffLimitExceeded", "Failed": "BackoffLimitExceeded"}
    assert "completionTime" not in st
    # the second pod waited 10 s after the first failure, the third 20 s after the second
    assert 10 <= created[1] - created[0] < 14
    assert 20 <= created[2] - created[1] < 24
    cluster.run_for(60)
    assert len(job_pods(cluster)) == 3  # a failed Job starts nothing more
    failed_jobs = [v for n, labels, v in cluster.rt.metrics.samples(["job_controller_jobs_finished_total"])
                   if n.endswith("_total") and labels["result"] == "failed"]
    failed_pods = [v for n, labels, v in cluster.rt.metrics.samples(["job_controller_job_pods_finished_total"])
                   if n.endswith("_total") and labels["result"] == "failed"]
    assert (failed_jobs, failed_pods) == ([1.0], [3.0])
    warnings = [e for e in cluster.api.objects("events", "default") if e["reason"] == "BackoffLimitExceeded"]
    assert warnings[0]["type"] == "Warning"
    assert warnings[0]["message"] == "Job has reached the specified backoff limit"


def test_active_deadline_deletes_active_pods_and_counts_them_failed(cluster):
    cluster.create("jobs.batch", job(parallelism=3, completions=10, activeDeadlineSeconds=30))
    cluster.run_until(lambda: len(running(cluster)) == 3)
    cluster.run_until(lambda: "Failed" in conditions(status(cluster)), timeout=60)
    st = status(cluster)
    assert conditions(st)["Failed"] == "DeadlineExceeded"
    assert st["failed"] == 3 and "active" not in st
    assert job_pods(cluster) == []
    started = meta.parse_timestamp(st["startTime"])
    failed_at = meta.parse_timestamp(next(x for x in st["conditions"] if x["type"] == "Failed")["lastTransitionTime"])
    assert 30 <= failed_at - started < 32


def test_a_pod_deleted_from_outside_counts_as_failed_and_is_replaced():
    c = Cluster(seed=6, controllers=("job",), graceful_pods=True)
    try:
        c.create("jobs.batch", job(completions=1))
        c.run_until(lambda: len(running(c)) == 1)
        victim = running(c)[0]
        c.delete("pods", "default", victim["metadata"]["name"])
        c.run_until(lambda: len(running(c)) == 1 and running(c)[0]["metadata"]["uid"] != victim["metadata"]["uid"])
        c.run_until(lambda: status(c).get("failed") == 1)
        # counted, so the finalizer is gone and the kubelet's final delete removes the pod
        terminating = c.api.find("pods", "default", victim["metadata"]["name"])
        assert util.JOB_TRACKING_FINALIZER not in terminating["metadata"].get("finalizers", [])
        assert status(c)["terminating"] == 1
        finish(c, running(c)[0], "Succeeded")
        c.run_for(10)
        assert "SuccessCriteriaMet" in conditions(status(c))
        assert "Complete" not in conditions(status(c)), "Complete before every pod terminated"
        c.delete("pods", "default", victim["metadata"]["name"], grace_period_seconds=0)
        c.run_until(lambda: "Complete" in conditions(status(c)))
        assert status(c)["terminating"] == 0
        assert (status(c)["succeeded"], status(c)["failed"]) == (1, 1)
    finally:
        c.close()


def test_worker_pool_starts_nothing_after_the_first_success(cluster):
    cluster.create("jobs.batch", job(parallelism=3))
    cluster.run_until(lambda: len(running(cluster)) == 3)
    first, *rest = running(cluster)
    finish(cluster, first, "Succeeded")
    cluster.run_for(15)
    assert len(job_pods(cluster)) == 3
    assert "Complete" not in conditions(status(cluster))
    for pod in rest:
        finish(cluster, pod, "Succeeded")
    cluster.run_until(lambda: "Complete" in conditions(status(cluster)))
    assert status(cluster)["succeeded"] == 3


def test_deleting_a_job_releases_its_pods_finalizers(cluster):
    cluster.create("jobs.batch", job(parallelism=2, completions=4))
    cluster.run_until(lambda: len(running(cluster)) == 2)
    cluster.delete("jobs.batch", "default", "pi")  # no garbage collector runs here: the pods stay
    assert cluster.api.find("jobs.batch", "default", "pi") is None
    assert all(util.JOB_TRACKING_FINALIZER in p["metadata"]["finalizers"] for p in cluster.pods())
    cluster.run_until(lambda: all(util.JOB_TRACKING_FINALIZER not in (p["metadata"].get("finalizers") or [])
                                  for p in cluster.pods()), timeout=30)


def test_suspend_deletes_active_pods_without_counting_them_and_resume_restarts_the_clock(cluster):
    cluster.create("jobs.batch", job(parallelism=2, completions=4, suspend=True))
    cluster.run_until(lambda: "Suspended" in conditions(status(cluster)), timeout=5)
    assert job_pods(cluster) == [] and "startTime" not in status(cluster)
    cluster.update("jobs.batch", "default", "pi", lambda j: j["spec"].__setitem__("suspend", False))
    cluster.run_until(lambda: len(running(cluster)) == 2)
    st = status(cluster)
    resumed = next(x for x in st["conditions"] if x["type"] == "Suspended")
    assert (resumed["status"], resumed["reason"], resumed["message"]) == ("False", "JobResumed", "Job resumed")
    assert st["startTime"] == resumed["lastTransitionTime"]
    cluster.update("jobs.batch", "default", "pi", lambda j: j["spec"].__setitem__("suspend", True))
    cluster.run_until(lambda: job_pods(cluster) == [], timeout=10)
    st = status(cluster)
    assert conditions(st)["Suspended"] == "JobSuspended"
    assert "failed" not in st and "active" not in st
    counts = {e["reason"]: e["count"] for e in cluster.api.objects("events", "default")}
    assert (counts["Suspended"], counts["Resumed"]) == (2, 1)  # a repeated event is aggregated


def index_of(pod: dict[str, Any]) -> int:
    return int(pod["metadata"]["annotations"][util.COMPLETION_INDEX])


def test_indexed_job_runs_each_index_once_lowest_first(cluster):
    cluster.create("jobs.batch", job(completionMode="Indexed", completions=5, parallelism=2))
    cluster.run_until(lambda: len(running(cluster)) == 2)
    pods = sorted(running(cluster), key=index_of)
    assert [index_of(p) for p in pods] == [0, 1]
    first = pods[0]
    assert first["metadata"]["name"].startswith("pi-0-")
    assert first["metadata"]["labels"][util.COMPLETION_INDEX] == "0"
    assert first["spec"]["hostname"] == "pi-0"
    assert first["spec"]["containers"][0]["env"] == [{"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
        "apiVersion": "v1", "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}}]
    finish(cluster, pods[1], "Succeeded")
    cluster.run_until(lambda: sorted(index_of(p) for p in running(cluster)) == [0, 2])
    assert status(cluster)["completedIndexes"] == "1" and status(cluster)["succeeded"] == 1
    # a failed index is retried with a pod of the same index, after the pod-failure backoff
    index2 = next(p for p in running(cluster) if index_of(p) == 2)
    finish(cluster, index2, "Failed")
    cluster.run_until(lambda: status(cluster).get("failed") == 1)
    cluster.run_for(5)
    assert sorted(index_of(p) for p in running(cluster)) == [0]
    cluster.run_until(lambda: sorted(index_of(p) for p in running(cluster)) == [0, 2], timeout=15)
    while "Complete" not in conditions(status(cluster)):
        for pod in running(cluster):
            finish(cluster, pod, "Succeeded")
        cluster.run_for(2)
        assert cluster.rt.now() < 300
    st = status(cluster)
    assert (st["succeeded"], st["failed"], st["completedIndexes"]) == (5, 1, "0-4")
    indexes = sorted(index_of(p) for p in job_pods(cluster) if p["status"]["phase"] == "Succeeded")
    assert indexes == [0, 1, 2, 3, 4]


def test_completed_indexes_round_trip():
    assert util.format_indexes({1, 3, 4, 5, 9}) == "1,3-5,9"
    assert util.format_indexes(set()) == ""
    assert util.parse_indexes("1,3-5,9", completions=5) == {1, 3, 4}
    assert util.parse_indexes("", completions=5) == set()
    assert util.generate_name_with_index("pi", 12) == "pi-12-"
    long = "j" * 60
    assert util.generate_name_with_index(long, 7) == "j" * 55 + "-7-"
    tpl = util.indexed_pod_template({"spec": {"containers": [
        {"name": "a", "env": [{"name": "JOB_COMPLETION_INDEX", "value": "mine"}]}, {"name": "b"}]}}, "pi", 3)
    assert [len(c["env"]) for c in tpl["spec"]["containers"]] == [1, 1]
    assert tpl["spec"]["containers"][0]["env"][0]["value"] == "mine"


def test_want_active_and_completion():
    j = {"spec": {"parallelism": 3, "completions": 5}}
    assert util.want_active(j, succeeded=0, active=0) == 3
    assert util.want_active(j, succeeded=4, active=2) == 1
    assert util.want_active(j, succeeded=5, active=0) == 0
    pool = {"spec": {"parallelism": 3}}
    assert util.want_active(pool, succeeded=0, active=1) == 3
    assert util.want_active(pool, succeeded=1, active=2) == 2
    assert util.is_complete(pool, 1, 1) is False and util.is_complete(pool, 1, 0) is True
    assert util.is_complete(j, 5, 2) is True


def test_backoff_record_doubles_caps_and_resets_on_success():
    record = util.BackoffRecord()
    assert record.remaining(100.0) == 0.0
    record.observe([], [100.0])
    assert record.remaining(104.0) == pytest.approx(6.0)
    record.observe([], [110.0, 111.0])
    assert record.remaining(111.0) == pytest.approx(40.0)  # 3 failures: 10 s * 2^2
    for t in range(7):
        record.observe([], [200.0 + t])
    assert record.remaining(206.0) == pytest.approx(600.0)  # capped at 10 min
    record.observe([300.0], [250.0])
    assert record.remaining(300.0) == 0.0
    record.observe([], [301.0])
    assert record.remaining(301.0) == pytest.approx(10.0)


def test_deleted_pod_counts_as_failed_unless_only_failed_pods_are_replaced():
    pod = {"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}, "status": {"phase": "Running"}}
    assert util.is_pod_failed(pod, {"spec": {"podReplacementPolicy": "TerminatingOrFailed"}})
    assert not util.is_pod_failed(pod, {"spec": {"podReplacementPolicy": "Failed"}})
    assert not util.is_pod_failed({"metadata": {}, "status": {"phase": "Succeeded"}}, {"spec": {}})
