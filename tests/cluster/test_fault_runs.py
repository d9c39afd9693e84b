"""Each fault type on a running cluster (sim): what it does shows in the report
(availability, outage windows, the load balancer's view, leaders, pods) and in the
metrics sampled when the fault started and ended. Faults of one topology share a run,
spaced so that each has settled before the next; the report attributes to a fault what
happens until the next one starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubesim.cluster.run import run_cluster
from kubesim.runtime.costmodel import CostModel
from kubesim.specs import parse_spec

ZONES = ["zone-a", "zone-b", "zone-c"]
PROBE = {"writesPerSecond": 5, "readsPerSecond": 5}
TAKEOVER = 15.0 + 2.0 * (1 + 1.2) + 5.0  # leaseDuration + jittered retryPeriod + starting up


def run(path: Path, topology: str, faults: list[dict[str, Any]], duration: str, **more: Any) -> dict[str, Any]:
    spec = parse_spec({"kind": "Cluster", "name": "t", "zones": ZONES,
                       "controlPlane": {"topology": topology, "machines": 3}, "faults": faults,
                       "duration": duration, "probe": PROBE, "runtime": {"seed": 3}, **more})
    return run_cluster(spec, path / "run")


@pytest.fixture(scope="module")
def stacked(tmp_path_factory) -> dict[str, dict[str, Any]]:
    report = run(tmp_path_factory.mktemp("stacked"), "stacked", [
        {"name": "crash", "type": "crashMachine", "machines": ["cp-1"], "at": "5s", "restartAfter": "10s"},
        {"name": "reboot", "type": "restartMachine", "machines": ["cp-2"], "at": "30s", "downFor": "5s"},
        {"name": "cut", "type": "partition", "etcdMachines": 1, "at": "50s", "healAfter": "10s"},
        {"name": "kcm", "type": "killLeader", "component": "kube-controller-manager", "at": "75s"},
        {"name": "sched", "type": "killLeader", "component": "kube-scheduler", "at": "100s"},
    ], "125s")
    return {"report": report, **{f["name"]: f for f in report["faults"]}}


@pytest.fixture(scope="module")
def external(tmp_path_factory) -> dict[str, dict[str, Any]]:
    report = run(tmp_path_factory.mktemp("external"), "external", [
        {"name": "kill", "type": "killLeader", "component": "etcd", "at": "5s", "restartAfter": "10s"},
        {"name": "follow", "type": "slowDisk", "etcdMachines": 1, "fsyncFactor": 20, "duration": "5s",
         "on": {"event": "leaderChanged", "component": "etcd", "delay": "1s"}},
        {"name": "slow", "type": "slowDisk", "etcdMachines": 3, "fsyncFactor": 50, "at": "30s", "duration": "10s"},
    ], "50s")
    return {"report": report, **{f["name"]: f for f in report["faults"]}}


def test_crash_machine_stacked_takes_etcd_member_and_apiserver(stacked):
    fault = stacked["crash"]
    assert fault["targets"] == ["cp-1"] and fault["ended"] - fault["started"] == pytest.approx(10.0)
    # the LB's health checks (fall 3 x inter 2s) take the dead apiserver out of the rotation
    changes = [c for c in stacked["report"]["load_balancer"] if c[1] == "apiserver/apiserver-1"]
    (down_at, _, down), (up_at, _, up) = changes[:2]
    assert down is False and 5.0 + 4.0 <= down_at <= 5.0 + 8.0 and up is True and up_at > fault["ended"]
    writes = fault["writes"]
    assert writes["failed_requests"] > 0 and writes["disrupted_seconds"] >= 4.0
    # two members and two apiservers serve everything before the machine is back
    assert writes["time_to_recover"] < fault["ended"] - fault["started"]
    # the restarted member found the leader again: its own leader-change counter moved
    assert stacked["report"]["etcd"]["leader_changes_by_member"]["etcd-1"] >= 1


def test_losing_the_etcd_leaders_machine_stacked_only_fails_the_dead_apiserver(tmp_path):
    """kubeadm's stacked apiservers each use their own machine's member: the survivors'
    members elect a leader in about a second and serve on; the only failures are requests
    the LB sent to the dead replica before its health checks dropped it."""
    report = run(tmp_path, "stacked", [{"name": "crash", "type": "crashMachine", "etcdMachines": 1, "at": "5s"}],
                 "30s")
    [fault] = report["faults"]
    dead = "apiserver/apiserver-" + fault["targets"][0].split("-")[-1]
    [(down_at, replica, up)] = report["load_balancer"]
    assert (replica, up) == (dead, False)
    for kind in ("writes", "reads"):
        assert fault[kind]["time_to_recover"] <= down_at - fault["started"] + 0.5
    assert report["actor_errors"] == []


def test_restart_machine_stops_gracefully_and_comes_back(stacked):
    fault = stacked["reboot"]
    assert fault["ended"] - fault["started"] == pytest.approx(5.0)
    down, back = [c for c in stacked["report"]["load_balancer"] if c[1] == "apiserver/apiserver-2"][:2]
    assert down[2] is False and back[2] is True and back[0] > fault["ended"]
    # the other two replicas served everything the LB did not send to the stopped one
    assert fault["writes"]["unavailable_seconds"] == 0 and fault["writes"]["failed_requests"] > 0


def test_partition_cuts_the_leader_off_and_a_new_one_takes_over(stacked):
    fault = stacked["cut"]
    leader_machine = "cp-" + fault["leader_before"].split("-")[-1]
    assert fault["machines"] == [leader_machine]
    new = fault["new_leader"]
    assert new is not None and new["member"] != fault["leader_before"] and new["after"] < 5.0
    assert fault["metrics"]["etcd_leader_changes"] >= 1
    writes = fault["writes"]
    assert writes["failed_requests"] > 0 and writes["time_to_recover"] < 10.0  # before the heal


def test_kill_leading_controller_manager_a_standby_takes_the_lease(stacked):
    fault = stacked["kcm"]
    assert fault["targets"] == [fault["leader_before"]] and fault["leader_before"].startswith("controller-manager/")
    new = fault["new_leader"]
    # the standbys wait for the Lease to expire (leaseDuration 15 s after they last saw it
    # renewed), retrying every retryPeriod 2 s with up to 1.2 jitter, then start controllers
    assert new is not None and new["member"] != fault["leader_before"] and 10.0 <= new["after"] <= TAKEOVER
    # leader_election_master_status: the new holder reports 1
    assert new["member"].split("/")[-1] in fault["metrics"]["lease_holders_at_end"]["kube-controller-manager"]


def test_kill_leading_scheduler(stacked):
    fault = stacked["sched"]
    assert fault["leader_before"].startswith("scheduler/") and fault["targets"] == [fault["leader_before"]]
    assert fault["new_leader"] is not None and 10.0 <= fault["new_leader"]["after"] <= TAKEOVER
    assert stacked["report"]["leaders"]["kube-scheduler"][-1][1] == fault["new_leader"]["member"]


def test_kill_etcd_leader(external):
    fault = external["kill"]
    assert fault["targets"] == [fault["leader_before"]]
    new = fault["new_leader"]
    assert new is not None and new["member"] != fault["leader_before"]
    assert fault["metrics"]["etcd_leader_changes"] >= 1 and external["report"]["etcd"]["leader_changes"] >= 1
    assert fault["ended"] - fault["started"] == pytest.approx(10.0)


def test_fault_on_event_follows_the_new_leader(external):
    """`on: leaderChanged` fires when the monitor sees a new etcd leader."""
    changed = [t for t, event, subject in external["report"]["events"] if event == "leaderChanged"]
    fault = external["follow"]
    # started once the new leader's machine was looked up (status asks, 0.25 s at most)
    assert changed[0] + 1.0 <= fault["started"] <= changed[0] + 1.5
    assert fault["targets"] == [external["kill"]["new_leader"]["member"].split("/")[-1]]


def test_slow_disk_raises_fsync_and_write_latency(external):
    fault = external["slow"]
    assert sorted(fault["targets"]) == ["etcd-0", "etcd-1", "etcd-2"]
    median = CostModel.load().latency("disk.fsync").median
    assert fault["metrics"]["etcd_wal_fsync_mean_seconds"] > 10 * median
    assert fault["writes"]["share_during"] == 1.0  # slower, not down
    assert fault["writes"]["latency_p50_during"] > 3 * external["report"]["availability"]["writes"]["latency_p50"]


def test_stop_kubelets_pods_are_evicted_and_rescheduled(tmp_path):
    spec = parse_spec({
        "kind": "Cluster", "name": "t", "controlPlane": {"machines": 1},
        "nodePools": [{"name": "pool-a", "count": 4}],
        "controllerManager": {"node-monitor-grace-period": "20s"},
        "workloads": [{"name": "web", "replicas": 8, "tolerationSeconds": 5}],
        "faults": [{"name": "s", "type": "stopKubelets", "share": 0.25, "at": "5s"}],
        "duration": "60s", "probe": {"writesPerSecond": 2, "readsPerSecond": 2}, "runtime": {"seed": 3}})
    report = run_cluster(spec, tmp_path / "run")
    [fault] = report["faults"]
    [node] = fault["targets"]
    assert node.startswith("pool-a-")
    pods = fault["pods"]
    # grace period 20 s -> NotReady + NoExecute taint; tolerationSeconds 5 -> evicted; the
    # ReplicaSet makes replacements the scheduler puts on the other nodes
    assert pods["on_nodes_hit"] > 0
    assert pods["lost"] == pods["on_nodes_hit"] and pods["rescheduled_running"] == pods["lost"]
    assert report["nodes"] == 5 and report["bootstrap"]["nodes_ready"] == 5
    assert fault["metrics"]["unhealthy_nodes_at_end"] == 1  # node_collector_unhealthy_nodes_in_zone


def test_no_component_raises_through_the_faults(stacked, external):
    """A request in flight to a replica that stops gets the client's timeout: the scheduler
    and controller manager retry it, they do not raise."""
    assert stacked["report"]["actor_errors"] == [] and external["report"]["actor_errors"] == []
