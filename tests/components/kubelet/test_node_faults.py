"""Node faults on the kubelet actor: the kubelet service stopped and started again (its pods
keep running in the container runtime), the node's network cut and restored, and a reboot
(a runtime-level restart of the actor)."""

from __future__ import annotations

from typing import Any

from kubesim.components.kubelet import behavior

from .harness import web_pod

Obj = dict[str, Any]


def lease_renewals(cluster, node: str) -> list[float]:
    return [t for t, verb, res, _ in cluster.log if verb == "update" and res.startswith("leases")]


def phase(cluster, name: str) -> str:
    return ((cluster.get("pods", "default", name) or {}).get("status") or {}).get("phase", "")


def app_status(cluster, name: str) -> Obj:
    return cluster.get("pods", "default", name)["status"]["containerStatuses"][0]


def test_stopped_kubelet_stops_its_lease_and_a_restarted_one_adopts_its_running_pods(cluster):
    node = cluster.kubelet(1)
    kubelet = f"kubelet/{node}"

    async def main():
        await cluster.api.create("pods", web_pod("web"))
        await cluster.api.create("pods", web_pod("job", **{behavior.EXIT_AFTER: "100", behavior.EXIT_CODE: "1"}))
        await cluster.until(lambda: phase(cluster, "web") == "Running" and phase(cluster, "job") == "Running")
        before = app_status(cluster, "web")
        ip = cluster.get("pods", "default", "web")["status"]["podIP"]
        await cluster.rt.ask(kubelet, {"op": "stop_kubelet"})
        stopped_at = cluster.rt.now()
        requests = len(cluster.log)
        await cluster.rt.sleep(200.0)
        assert len(cluster.log) == requests  # not one request while stopped
        state = await cluster.rt.ask(kubelet, {"op": "state"})
        assert state == {"running": False, "network": True, "registered": False, "pods": 2}
        await cluster.api.create("pods", web_pod("late"))
        await cluster.rt.ask(kubelet, {"op": "start_kubelet"})
        started_at = cluster.rt.now()
        await cluster.until(lambda: phase(cluster, "late") == "Running"
                            and app_status(cluster, "job")["restartCount"] == 1, timeout=60)
        after = app_status(cluster, "web")
        # the same container, never restarted, same sandbox IP
        assert after["containerID"] == before["containerID"] and after["restartCount"] == 0
        assert cluster.get("pods", "default", "web")["status"]["podIP"] == ip
        # the job's container exited while the kubelet was down, at its own time
        job = app_status(cluster, "job")
        finished = job["lastState"]["terminated"]
        assert finished["exitCode"] == 1 and finished["reason"] == "Error"
        return stopped_at, started_at

    stopped_at, started_at = cluster.run(main)
    renewals = lease_renewals(cluster, node)
    assert not [t for t in renewals if stopped_at < t < started_at]
    assert [t for t in renewals if t >= started_at]
    # one sandbox per pod: the restarted kubelet adopted the running ones
    assert cluster.metric("kubelet_runtime_operations_total", node=node, operation_type="run_podsandbox") == 3
    assert ("update", "nodes", "") not in cluster.calls  # re-registration adopted the Node unchanged
    assert cluster.calls[("create", "nodes", "")] == 2


def test_pod_deleted_while_the_kubelet_is_stopped_is_killed_after_it_starts(cluster):
    node = cluster.kubelet(1)
    kubelet = f"kubelet/{node}"

    async def main():
        for name in ("keep", "graceful", "forced"):
            await cluster.api.create("pods", web_pod(name))
        await cluster.until(lambda: all(phase(cluster, n) == "Running" for n in ("keep", "graceful", "forced")))
        await cluster.rt.ask(kubelet, {"op": "stop_kubelet"})
        await cluster.api.delete("pods", "default", "graceful")  # stays Terminating: nobody kills it
        await cluster.api.delete("pods", "default", "forced", grace_period_seconds=0)
        await cluster.rt.sleep(60.0)
        assert cluster.get("pods", "default", "graceful")["metadata"]["deletionTimestamp"]
        await cluster.rt.ask(kubelet, {"op": "start_kubelet"})
        await cluster.until(lambda: cluster.get("pods", "default", "graceful") is None, timeout=60)
        loop = cluster.rt.actor(kubelet).loop
        await cluster.until(lambda: len(loop.workers) == 1, timeout=30)
        return loop

    loop = cluster.run(main)
    assert phase(cluster, "keep") == "Running"
    assert loop.env.ipam.in_use() == 1  # the orphan's and the deleted pod's addresses are free


def test_network_down_stops_the_lease_while_pods_keep_running_and_restarting(cluster):
    node = cluster.kubelet(1)
    kubelet = f"kubelet/{node}"

    async def main():
        await cluster.api.create("pods", web_pod("crash", **{behavior.EXIT_AFTER: "5", behavior.EXIT_CODE: "1"}))
        await cluster.api.create("pods", web_pod("bye"))
        await cluster.until(lambda: phase(cluster, "bye") == "Running")
        await cluster.rt.ask(kubelet, {"op": "network_down"})
        down_at = cluster.rt.now()
        seen = app_status(cluster, "crash")["restartCount"]
        await cluster.api.delete("pods", "default", "bye")
        await cluster.rt.sleep(120.0)
        # the API heard nothing, the node went on restarting its crashing container
        assert app_status(cluster, "crash")["restartCount"] == seen
        worker = next(w for w in cluster.rt.actor(kubelet).loop.workers.values() if w.name == "crash")
        restarts_offline = worker.slots["app"].cur.attempt
        assert restarts_offline > seen
        await cluster.rt.ask(kubelet, {"op": "network_up"})
        up_at = cluster.rt.now()
        await cluster.until(lambda: cluster.get("pods", "default", "bye") is None
                            and app_status(cluster, "crash")["restartCount"] >= restarts_offline, timeout=120)
        return down_at, up_at

    down_at, up_at = cluster.run(main)
    renewals = lease_renewals(cluster, node)
    assert not [t for t in renewals if down_at < t < up_at]
    assert [t for t in renewals if up_at <= t <= up_at + 10.0]


def test_reboot_restarts_every_pod(cluster):
    node = cluster.kubelet(1)
    kubelet = f"kubelet/{node}"

    async def main():
        await cluster.api.create("pods", web_pod("web"))
        await cluster.until(lambda: phase(cluster, "web") == "Running")
        before = app_status(cluster, "web")["containerID"]
        await cluster.rt.restart_actor(kubelet)
        await cluster.until(lambda: app_status(cluster, "web").get("containerID") not in (None, before), timeout=60)
        await cluster.until(lambda: app_status(cluster, "web").get("ready") is True, timeout=60)

    cluster.run(main)
    # the rebooted kubelet's counters start from zero, as a new process': one sandbox since
    assert cluster.metric("kubelet_runtime_operations_total", node=node, operation_type="run_podsandbox") == 1
    assert cluster.calls[("create", "nodes", "")] == 2
