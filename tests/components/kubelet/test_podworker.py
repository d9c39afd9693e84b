"""The pod state machine driven directly: start-up timeline, image cache, pull failures,
CNI addresses, crash-loop back-off, restart policies, init containers, graceful
termination and Job completion."""

from __future__ import annotations

import pytest

from kubesim.components.kubelet import behavior
from kubesim.components.kubelet.config import KubeletConfig
from kubesim.components.kubelet.podworker import FINISHED, go_duration

from .helpers import (
    APP_IMAGE,
    CREATE_START,
    SANDBOX,
    SMALL_IMAGE,
    TEST_IMAGES,
    Node,
    container,
    phase,
    state_of,
)

PULL_APP = 1.0 + 4.0
PULL_SMALL = 1.0 + 1.0


def running(node: Node, name: str) -> bool:
    return node.phase(name) == "Running"


def test_pod_starts_through_sandbox_pull_create_start_and_the_next_relist():
    node = Node()
    node.add(node.pod("web"))
    node.run_until(0.0)
    first = node.status("web")
    assert phase(first) == "Pending"
    assert state_of(first) == {"waiting": {"reason": "ContainerCreating"}}
    conditions = {c["type"]: (c["status"], c.get("reason"), c.get("message")) for c in first["conditions"]}
    assert conditions == {
        "PodReadyToStartContainers": ("False", None, None),
        "Initialized": ("True", None, None),
        "Ready": ("False", "ContainersNotReady", "containers with unready status: [app]"),
        "ContainersReady": ("False", "ContainersNotReady", "containers with unready status: [app]"),
        "PodScheduled": ("True", None, None),
    }
    started = SANDBOX + PULL_APP + CREATE_START
    seen = node.run_until_true(lambda: running(node, "web"))
    assert seen == 6.5  # the first PLEG relist after the sync that started the container
    status = node.status("web")
    app = node.container_status("web")
    assert app["state"] == {"running": {"startedAt": "1970-01-01T00:00:06Z"}}
    assert int(started) == 6
    assert app["ready"] and app["started"] and app["restartCount"] == 0
    assert app["image"] == "example.com/app:1" and app["imageID"].startswith("example.com/app@sha256:")
    assert app["containerID"].startswith("containerd://") and len(app["containerID"]) == 13 + 64
    assert status["podIP"] == "10.244.1.2" and status["podIPs"] == [{"ip": "10.244.1.2"}]
    assert status["hostIP"] == node.cfg.node_ip
    assert [c["type"] for c in status["conditions"]] == [
        "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
    assert all(c["status"] == "True" for c in status["conditions"])
    assert status["startTime"] == "1970-01-01T00:00:00Z"
    assert node.metric("kubelet_pod_start_duration_seconds_sum") == 6.5
    for op in ("run_podsandbox", "pull_image", "create_container", "start_container"):
        assert node.metric("kubelet_runtime_operations_total", operation_type=op) == 1, op
    assert node.metric("kubelet_runtime_operations_duration_seconds_sum", operation_type="pull_image") == PULL_APP
    assert node.metric("kubelet_pod_worker_duration_seconds_count", operation_type="create") == 1
    assert node.metric("kubelet_running_pods") == 1
    assert node.metric("kubelet_running_containers", container_state="running") == 1


def test_image_cache_pull_policies_and_the_serialized_puller():
    node = Node()
    node.add(node.pod("a", [container(image=APP_IMAGE)]))
    node.add(node.pod("b", [container(image=SMALL_IMAGE)]))
    node.run_until_true(lambda: running(node, "a") and running(node, "b"))
    # one pull at a time: b's pull waited for a's
    a_started = node.worker("a").slots["app"].cur.started_at
    b_started = node.worker("b").slots["app"].cur.started_at
    assert a_started == SANDBOX + PULL_APP + CREATE_START
    assert b_started == SANDBOX + PULL_APP + PULL_SMALL + CREATE_START
    assert node.metric("kubelet_runtime_operations_total", operation_type="pull_image") == 2
    # IfNotPresent: cached, no pull
    node.add(node.pod("c", [container(image=APP_IMAGE)]))
    node.run_until_true(lambda: running(node, "c"))
    assert node.metric("kubelet_runtime_operations_total", operation_type="pull_image") == 2
    assert node.worker("c").slots["app"].cur.started_at - node.worker("c").first_seen == SANDBOX + CREATE_START
    # Always: pulled again, but the layers are present: only the registry round trip
    node.add(node.pod("d", [container(image=APP_IMAGE, imagePullPolicy="Always")]))
    node.run_until_true(lambda: running(node, "d"))
    assert node.metric("kubelet_runtime_operations_total", operation_type="pull_image") == 3
    assert node.worker("d").slots["app"].cur.started_at - node.worker("d").first_seen == SANDBOX + 1.0 + CREATE_START
    images = node.loop.env.images.node_status_images()
    assert [i["names"][1] for i in images] == [APP_IMAGE, SMALL_IMAGE, "registry.k8s.io/pause:3.10"]
    assert images[0]["sizeBytes"] == 4_000_000


def test_unknown_image_waits_in_err_image_pull_then_image_pull_backoff():
    node = Node()
    node.add(node.pod("bad", [container(image="example.com/missing:1")]))
    node.run_until(8.0)
    waiting = node.container_status("bad")["state"]["waiting"]
    ref = "example.com/missing:1"
    assert waiting == {"reason": "ErrImagePull", "message": (
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": '
        f'failed to resolve reference "{ref}": {ref}: not found')}
    assert phase(node.status("bad")) == "Pending"
    node.run_until(20.0)
    assert node.container_status("bad")["state"]["waiting"] == {
        "reason": "ImagePullBackOff", "message": f'Back-off pulling image "{ref}"'}
    # the retry after the 10 s back-off pulls (and fails) again, doubling the back-off
    node.run_until(60.0)
    pulls = node.metric("kubelet_runtime_operations_total", operation_type="pull_image")
    assert pulls is not None and 2 <= pulls <= 3
    assert node.loop.env.image_backoff.get(f"{node.uid('bad')}_{ref}") == 10.0 * 2 ** (pulls - 1)


def test_pull_policy_never_without_the_image():
    node = Node()
    node.add(node.pod("never", [container(image=SMALL_IMAGE, imagePullPolicy="Never")]))
    node.run_until(5.0)
    assert node.container_status("never")["state"]["waiting"] == {
        "reason": "ErrImageNeverPull",
        "message": f'Container image "{SMALL_IMAGE}" is not present with pull policy of Never'}
    assert node.metric("kubelet_runtime_operations_total", operation_type="pull_image") is None


def test_crash_loop_backoff_doubles_from_10s_to_5min():
    node = Node()
    node.add(node.pod("crash", annotations={behavior.EXIT_AFTER: "1", behavior.EXIT_CODE: "2"}))
    starts: list[float] = []
    exits: list[float] = []
    node.run_until(0.0)
    slot = node.worker("crash").slots["app"]
    while len(starts) < 8:
        due = node.loop.next_wakeup()
        assert due is not None
        node.now = due
        node.loop.advance(due)
        cur = slot.cur
        if cur is not None and cur.started_at is not None and (not starts or cur.started_at != starts[-1]):
            starts.append(cur.started_at)
        if cur is not None and cur.finished_at is not None and (not exits or cur.finished_at != exits[-1]):
            exits.append(cur.finished_at)
    delays = [starts[i + 1] - exits[i] for i in range(len(starts) - 1)]
    # the first restart is immediate (next relist + sync); later ones wait for the back-off,
    # retried every 10-15 s (kubernetes#123602)
    assert delays[0] < 2.0
    for i, backoff in enumerate([10, 20, 40, 80, 160, 300], start=1):
        assert backoff <= delays[i] < backoff + 15 + 2, (i, delays)
    status = node.status("crash")
    app = node.container_status("crash")
    assert phase(status) == "Running"
    assert app["restartCount"] >= 6
    last = app["lastState"]["terminated"]
    assert last["exitCode"] == 2 and last["reason"] == "Error"


def test_crash_loop_status_reports_the_backoff_message():
    node = Node()
    node.add(node.pod("crash", annotations={behavior.EXIT_AFTER: "1", behavior.EXIT_CODE: "1"}))
    node.run_until(0.0)
    found = node.run_until_true(
        lambda: node.container_status("crash")["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff")
    assert found < 30
    app = node.container_status("crash")
    uid = node.uid("crash")
    assert app["state"]["waiting"]["message"] == f"back-off 10s restarting failed container=app pod=crash_default({uid})"
    assert app["lastState"]["terminated"]["exitCode"] == 1
    assert app["ready"] is False
    assert node.condition("crash", "Ready")["status"] == "False"


def test_backoff_resets_after_ten_minutes_of_running():
    node = Node()
    node.add(node.pod("slow", annotations={behavior.EXIT_AFTER: "700", behavior.EXIT_CODE: "1"}))
    node.run_until(0.0)
    slot = node.worker("slow").slots["app"]
    node.run_until_true(lambda: slot.cur is not None and slot.cur.attempt == 3 and slot.cur.started_at is not None,
                        limit=4000)
    # every run lasted longer than 2 x 300 s: each restart starts the back-off afresh
    key = f"{node.uid('slow')}_app"
    assert node.loop.env.container_backoff.get(key) == 10.0
    assert slot.cur.started_at - slot.prev.finished_at < 2.0


@pytest.mark.parametrize("policy, code, expect", [
    ("Never", 0, "Succeeded"), ("Never", 3, "Failed"), ("OnFailure", 0, "Succeeded")])
def test_job_pods_complete_after_their_run_time(policy, code, expect):
    node = Node()
    node.add(node.pod("job", restartPolicy=policy,
                      annotations={behavior.EXIT_AFTER: "30s", behavior.EXIT_CODE: str(code)}))
    node.run_until_true(lambda: node.phase("job") in ("Succeeded", "Failed"), limit=200)
    status = node.status("job")
    assert phase(status) == expect
    term = state_of(status)["terminated"]
    assert term["exitCode"] == code and term["reason"] == ("Completed" if code == 0 else "Error")
    started = node.worker("job").slots["app"].cur.started_at
    finished = node.worker("job").slots["app"].cur.finished_at
    assert finished - started == 30.0
    ready = node.condition("job", "ContainersReady")
    assert (ready["status"], ready["reason"]) == ("False", "PodCompleted" if expect == "Succeeded" else "PodFailed")
    node.run_until_true(lambda: node.worker("job").state == FINISHED, limit=300)
    assert node.loop.env.ipam.in_use() == 0
    assert node.loop.status.can_be_deleted(node.uid("job")) is False  # not deleted: stays in the API


def test_on_failure_restarts_a_failed_container():
    node = Node()
    node.add(node.pod("retry", restartPolicy="OnFailure",
                      annotations={behavior.EXIT_AFTER: "5", behavior.EXIT_CODE: "1"}))
    node.run_until(60.0)
    assert node.container_status("retry")["restartCount"] >= 2
    assert phase(node.status("retry")) == "Running"


def test_init_containers_run_in_order_before_the_app():
    node = Node()
    init = [container("init-a", SMALL_IMAGE), container("init-b", SMALL_IMAGE)]
    node.add(node.pod("ini", init=init, annotations={behavior.INIT_EXIT_AFTER: "3"}))
    node.run_until(0.0)
    status = node.status("ini")
    assert node.container_status("ini", "init-a")["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert node.container_status("ini", "app")["state"] == {"waiting": {"reason": "PodInitializing"}}
    init_cond = node.condition("ini", "Initialized")
    assert (init_cond["status"], init_cond["reason"], init_cond["message"]) == (
        "False", "ContainersNotInitialized", "containers with incomplete status: [init-a init-b]")
    assert phase(status) == "Pending"
    node.run_until_true(lambda: running(node, "ini"), limit=100)
    w = node.worker("ini")
    a, b, app = (w.slots[n].cur for n in ("init-a", "init-b", "app"))
    assert a.finished_at - a.started_at == 3.0 and b.started_at > a.finished_at
    assert app.started_at > b.finished_at
    assert node.container_status("ini", "init-a")["state"]["terminated"]["reason"] == "Completed"
    assert node.container_status("ini", "init-a")["ready"] is True
    assert node.condition("ini", "Initialized")["status"] == "True"


def test_failed_init_container_with_restart_never_fails_the_pod():
    node = Node()
    node.add(node.pod("ini", init=[container("setup", SMALL_IMAGE)], restartPolicy="Never",
                      annotations={behavior.INIT_EXIT_CODE: "4"}))
    node.run_until_true(lambda: node.phase("ini") == "Failed", limit=60)
    assert node.container_status("ini", "setup")["state"]["terminated"]["exitCode"] == 4
    assert node.worker("ini").slots["app"].cur is None  # the app never started


def test_graceful_termination_within_the_grace_period():
    node = Node()
    node.add(node.pod("web", annotations={behavior.SHUTDOWN_SECONDS: "5"}, terminationGracePeriodSeconds=30))
    node.run_until_true(lambda: running(node, "web"))
    ip = node.status("web")["podIP"]
    deleted_at = node.now
    node.delete("web")
    node.run_until_true(lambda: node.worker("web").state == FINISHED, limit=100)
    slot = node.worker("web").slots["app"]
    assert slot.cur.exit_code == 0
    assert 5.0 <= slot.cur.finished_at - deleted_at <= 5.0 + 1.0  # SIGTERM at the next relist
    status = node.status("web")
    assert phase(status) == "Succeeded"
    assert state_of(status)["terminated"]["reason"] == "Completed"
    assert status["podIP"] == ip  # kept after the sandbox is gone
    assert node.loop.env.ipam.in_use() == 0
    assert node.loop.status.can_be_deleted(node.uid("web"))
    assert node.metric("kubelet_pod_worker_duration_seconds_count", operation_type="kill") == 2


def test_sigkill_after_the_grace_period():
    node = Node()
    node.add(node.pod("stubborn", annotations={behavior.SHUTDOWN_SECONDS: "600"}))
    node.run_until_true(lambda: running(node, "stubborn"))
    deleted_at = node.now
    node.delete("stubborn", grace=20)
    node.run_until_true(lambda: node.worker("stubborn").state == FINISHED, limit=200)
    cur = node.worker("stubborn").slots["app"].cur
    assert cur.exit_code == behavior.SIGKILL_EXIT_CODE
    assert 20.0 <= cur.finished_at - deleted_at <= 21.0
    assert phase(node.status("stubborn")) == "Failed"


def test_deleted_before_start_never_creates_containers():
    node = Node()
    node.add(node.pod("gone"))
    node.run_until(1.0)  # sandbox created, image pull in progress
    node.delete("gone", grace=30)
    node.run_until_true(lambda: node.worker("gone").state == FINISHED, limit=60)
    assert node.worker("gone").slots["app"].cur is None
    assert node.loop.env.ipam.in_use() == 0


def test_ip_addresses_come_from_the_pod_cidr_and_are_released():
    node = Node()
    for i in range(3):
        node.add(node.pod(f"p{i}", [container(image=SMALL_IMAGE)]))
    node.run_until_true(lambda: all(running(node, f"p{i}") for i in range(3)), limit=60)
    assert sorted(node.status(f"p{i}")["podIP"] for i in range(3)) == ["10.244.1.2", "10.244.1.3", "10.244.1.4"]
    node.delete("p0", grace=1)
    node.run_until_true(lambda: node.worker("p0").state == FINISHED, limit=100)
    node.add(node.pod("p3", [container(image=SMALL_IMAGE)]))
    node.run_until_true(lambda: running(node, "p3"), limit=200)
    assert node.status("p3")["podIP"] == "10.244.1.5"  # host-local goes round-robin
    assert node.loop.env.ipam.in_use() == 3


def test_host_network_pods_use_the_node_address():
    node = Node()
    node.add(node.pod("hn", hostNetwork=True))
    node.run_until_true(lambda: running(node, "hn"))
    assert node.status("hn")["podIP"] == node.cfg.node_ip
    assert node.loop.env.ipam.in_use() == 0


def test_volumes_are_mounted_before_the_sandbox():
    node = Node()
    pvc = {"name": "data", "persistentVolumeClaim": {"claimName": "data"}}
    node.add(node.pod("db", volumes=[pvc, {"name": "cfg", "configMap": {"name": "c"}}]))
    node.run_until_true(lambda: running(node, "db"), limit=60)
    sandbox = node.worker("db").sandbox
    assert sandbox.created_at == 8.0 + 1.0 + SANDBOX  # attach + mount, then RunPodSandbox


def test_pods_wait_for_a_pod_cidr():
    cfg = KubeletConfig.for_node(1, name="n1", pod_cidr="", registry_images=dict(TEST_IMAGES))
    node = Node(cfg)
    node.add(node.pod("early"))
    node.run_until(20.0)
    assert node.worker("early").sandbox is None
    node.loop.node_seen({"metadata": {"name": "n1"}, "spec": {"podCIDR": "10.244.9.0/24"},
                         "status": {"allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"}}})
    node.run_until_true(lambda: running(node, "early"), limit=60)
    assert node.status("early")["podIP"] == "10.244.9.2"


def test_go_duration():
    assert [go_duration(s) for s in (10, 80, 300, 3600)] == ["10s", "1m20s", "5m0s", "1h0m0s"]


def test_sidecar_starts_first_keeps_running_and_is_stopped_when_the_job_is_done():
    node = Node()
    sidecar = container("proxy", SMALL_IMAGE, restartPolicy="Always")
    node.add(node.pod("job", init=[sidecar], restartPolicy="Never",
                      annotations={f"{behavior.EXIT_AFTER}.app": "20"}))
    node.run_until_true(lambda: running(node, "job"), limit=60)
    w = node.worker("job")
    assert w.slots["proxy"].cur.started_at < w.slots["app"].cur.created_at
    assert node.condition("job", "Initialized")["status"] == "True"
    assert node.container_status("job", "proxy")["started"] is True
    node.run_until_true(lambda: node.phase("job") == "Succeeded", limit=120)
    assert w.slots["proxy"].cur.state == "exited"
    assert node.container_status("job", "app")["state"]["terminated"]["exitCode"] == 0


def test_force_deleted_pod_is_killed_at_once():
    node = Node()
    node.add(node.pod("web", annotations={behavior.SHUTDOWN_SECONDS: "600"}))
    node.run_until_true(lambda: running(node, "web"))
    gone = dict(node.pods["web"], metadata=dict(node.pods["web"]["metadata"], deletionGracePeriodSeconds=0))
    at = node.now
    node.loop.pod_gone(gone, node.now)
    node.run_until(at + 10.0)
    assert node.uid("web") not in node.loop.workers  # finished and forgotten
    assert node.loop.env.ipam.in_use() == 0
    assert node.loop.status.get(node.uid("web")) is None


def test_spec_update_syncs_with_the_update_operation_type():
    node = Node()
    node.add(node.pod("web"))
    node.run_until_true(lambda: running(node, "web"))
    labelled = dict(node.pods["web"], metadata=dict(node.pods["web"]["metadata"], labels={"v": "2"}))
    node.pods["web"] = labelled
    node.loop.pod_seen(labelled, node.now)
    node.run_until(node.now + 2.0)
    assert node.metric("kubelet_pod_worker_duration_seconds_count", operation_type="update") == 1
    assert node.worker("web").slots["app"].cur.attempt == 0
