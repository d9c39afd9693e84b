"""The status manager: versions and skipped duplicates, stable transition times, the merge
with the API's status, the strategic merge patch (applied with the apiserver's own patch
code), and when a finished pod may be deleted."""

from __future__ import annotations

import copy
from typing import Any

from kubesim.components.apiserver import patch as patching
from kubesim.components.kubelet.status_manager import StatusManager, merge_pod_status, status_patch

Obj = dict[str, Any]


def pod(uid: str = "u1", **meta: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "uid": uid, **meta},
            "spec": {"containers": [{"name": "app", "image": "x"}]},
            "status": {"phase": "Pending", "qosClass": "BestEffort"}}


def cond(ctype: str, status: str, **extra: Any) -> Obj:
    return {"type": ctype, "status": status, **extra}


def kubelet_status(phase: str, ready: bool) -> Obj:
    ready_cond = cond("Ready", "True") if ready else cond("Ready", "False", reason="ContainersNotReady",
                                                          message="containers with unready status: [app]")
    return {"phase": phase, "conditions": [
        cond("PodReadyToStartContainers", "True"), cond("Initialized", "True"), ready_cond,
        dict(ready_cond, type="ContainersReady"), cond("PodScheduled", "True")],
        "containerStatuses": [{"name": "app", "ready": ready}], "qosClass": "BestEffort"}


def test_versions_transition_times_and_duplicates():
    sm = StatusManager(epoch=0.0)
    p = pod()
    first = sm.set_pod_status(p, kubelet_status("Pending", False), 3.0)
    assert first["startTime"] == "1970-01-01T00:00:03Z"
    assert sm.pending() == ["u1"]
    assert sm.target("u1") == ("default", "p", 1)
    same = sm.set_pod_status(p, kubelet_status("Pending", False), 9.0)
    assert same is first and sm.target("u1")[2] == 1  # unchanged: no new version
    sm.synced("u1", 1)
    assert sm.pending() == []
    second = sm.set_pod_status(p, kubelet_status("Running", True), 12.0)
    assert sm.target("u1")[2] == 2 and sm.pending() == ["u1"]
    times = {c["type"]: c["lastTransitionTime"] for c in second["conditions"]}
    assert times["Initialized"] == "1970-01-01T00:00:03Z"  # status unchanged since t=3
    assert times["Ready"] == "1970-01-01T00:00:12Z"
    assert second["startTime"] == "1970-01-01T00:00:03Z"


def test_merge_keeps_conditions_others_own_and_unreadies_terminal_pods():
    api = kubelet_status("Running", True)
    api["conditions"].append(cond("DisruptionTarget", "True", reason="EvictionByEvictionAPI"))
    api["nominatedNodeName"] = "n2"
    cached = kubelet_status("Succeeded", True)
    merged = merge_pod_status(api, cached)
    assert [c["type"] for c in merged["conditions"]][0] == "DisruptionTarget"
    ready = {c["type"]: (c["status"], c.get("reason")) for c in merged["conditions"]}
    assert ready["Ready"] == ("False", "PodCompleted") and ready["ContainersReady"] == ("False", "PodCompleted")
    assert merged["nominatedNodeName"] == "n2"


def test_patch_round_trips_through_the_apiserver_strategic_merge():
    sm = StatusManager()
    p = pod()
    api_pod = copy.deepcopy(p)
    api_pod["status"] = kubelet_status("Pending", False)
    api_pod["status"]["conditions"].append(cond("example.com/gate", "True"))
    sm.set_pod_status(p, kubelet_status("Running", True), 10.0)
    body = sm.prepare("u1", api_pod)
    assert body["metadata"] == {"uid": "u1"}
    assert body["status"]["$setElementOrder/conditions"][0] == {"type": "example.com/gate"}
    changed_ready = next(c for c in body["status"]["conditions"] if c["type"] == "Ready")
    assert changed_ready["reason"] is None and changed_ready["message"] is None  # removed fields
    patched = patching.apply_patch("application/strategic-merge-patch+json", copy.deepcopy(api_pod), body, "Pod")
    assert patched["status"] == merge_pod_status(api_pod["status"], sm.get("u1"))
    api_pod["status"] = patched["status"]
    assert sm.prepare("u1", api_pod) is None  # nothing left to write


def test_status_patch_of_equal_statuses_is_none():
    assert status_patch("u", kubelet_status("Running", True), kubelet_status("Running", True)) is None


def test_only_finished_deleted_terminal_pods_are_deleted():
    sm = StatusManager()
    live = pod()
    sm.set_pod_status(live, kubelet_status("Succeeded", False), 1.0)
    assert not sm.can_be_deleted("u1")  # not deleted
    deleted = pod(deletionTimestamp="1970-01-01T00:00:02Z")
    sm.update_pod(deleted)
    assert not sm.can_be_deleted("u1")  # termination not finished
    sm.set_pod_status(deleted, kubelet_status("Succeeded", False), 3.0, finished=True)
    assert sm.can_be_deleted("u1")
    static = pod("s1", deletionTimestamp="1970-01-01T00:00:02Z",
                 annotations={"kubernetes.io/config.source": "file"})
    sm.set_pod_status(static, kubelet_status("Succeeded", False), 3.0, finished=True)
    assert not sm.can_be_deleted("s1")
    assert "s1" not in sm.pending()  # a static pod waits for its mirror pod
    sm.set_mirror("s1", "m1")
    assert "s1" in sm.pending() and sm.api_uid("s1") == "m1"
