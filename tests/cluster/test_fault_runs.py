"""Each fault type on a running control plane (sim): what it does shows in the report
(availability, outage windows, the load balancer's view, the etcd leader) and in the
etcd members' metrics sampled when the fault started and ended."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubesim.cluster.run import run_cluster
from kubesim.runtime.costmodel import CostModel
from kubesim.specs import parse_spec


def run(tmp_path: Path, topology: str, fault: dict[str, Any], duration: str = "30s") -> dict[str, Any]:
    spec = parse_spec({"kind": "Cluster", "name": "t", "zones": ["zone-a", "zone-b", "zone-c"],
                       "controlPlane": {"topology": topology, "machines": 3},
                       "faults": [fault], "duration": duration, "runtime": {"seed": 3}})
    return run_cluster(spec, tmp_path / "run")


def test_crash_machine_stacked_takes_etcd_member_and_apiserver(tmp_path):
    report = run(tmp_path, "stacked", {"name": "c", "type": "crashMachine", "machines": ["cp-1"], "at": "10s"})
    [fault] = report["faults"]
    assert fault["targets"] == ["cp-1"] and fault["ended"] is None
    # the LB's health checks (fall 3 x inter 2s) take the dead apiserver out of the rotation
    [[when, replica, up]] = report["load_balancer"]
    assert replica == "apiserver/apiserver-1" and up is False and 10.0 + 4.0 <= when <= 10.0 + 8.0
    writes = fault["writes"]
    assert 0 < writes["failed_requests"] and writes["disrupted_seconds"] >= 4.0
    assert writes["share_last_10s"] == 1.0  # two members and two apiservers keep serving
    assert fault["leader_before"] != "etcd/etcd-1" or fault["new_leader"] is not None


def test_restart_machine_stops_gracefully_and_comes_back(tmp_path):
    report = run(tmp_path, "stacked", {"name": "r", "type": "restartMachine", "machines": ["cp-1"],
                                       "at": "10s", "downFor": "5s"})
    [fault] = report["faults"]
    assert fault["ended"] - fault["started"] == pytest.approx(5.0)
    down, back = report["load_balancer"]
    assert down[1:] == ["apiserver/apiserver-1", False] and back[1:] == ["apiserver/apiserver-1", True]
    assert back[0] > fault["ended"]
    # the other two replicas served everything the LB did not send to the stopped one
    assert fault["writes"]["unavailable_seconds"] == 0 and fault["writes"]["failed_requests"] > 0
    assert report["availability"]["writes"]["share_last_10s"] == 1.0
    # the restarted member found the leader again: its own leader-change counter moved
    assert report["etcd"]["leader_changes_by_member"]["etcd-1"] >= 1
    assert report["etcd"]["leaders"] == [[0.0, fault["leader_before"]]]


def test_partition_cuts_the_leader_off_and_a_new_one_takes_over(tmp_path):
    report = run(tmp_path, "stacked", {"name": "p", "type": "partition", "etcdMachines": 1,
                                       "at": "10s", "healAfter": "10s"})
    [fault] = report["faults"]
    leader_machine = {"etcd/etcd-0": "cp-0", "etcd/etcd-1": "cp-1", "etcd/etcd-2": "cp-2"}[fault["leader_before"]]
    assert fault["machines"] == [leader_machine]
    new = fault["new_leader"]
    assert new is not None and new["member"] != fault["leader_before"] and new["after"] < 5.0
    assert fault["metrics"]["etcd_leader_changes"] >= 1
    writes = fault["writes"]
    assert writes["failed_requests"] > 0 and writes["time_to_recover"] < 10.0  # before the heal


def test_slow_disk_raises_fsync_and_write_latency(tmp_path):
    report = run(tmp_path, "external", {"name": "s", "type": "slowDisk", "etcdMachines": 3,
                                        "fsyncFactor": 50, "at": "10s", "duration": "10s"})
    [fault] = report["faults"]
    assert sorted(fault["targets"]) == ["etcd-0", "etcd-1", "etcd-2"]
    assert fault["targets"][0] == fault["leader_before"].split("/")[-1]  # the leader's first
    median = CostModel.load().latency("disk.fsync").median
    assert fault["metrics"]["etcd_wal_fsync_mean_seconds"] > 10 * median
    assert fault["writes"]["share_during"] == 1.0  # slower, not down
    assert fault["writes"]["latency_p50_during"] > 3 * report["availability"]["writes"]["latency_p50"]


def test_kill_etcd_leader(tmp_path):
    report = run(tmp_path, "external", {"name": "k", "type": "killLeader", "component": "etcd",
                                        "at": "10s", "restartAfter": "10s"})
    [fault] = report["faults"]
    assert fault["targets"] == [fault["leader_before"]]
    new = fault["new_leader"]
    assert new is not None and new["member"] != fault["leader_before"]
    assert fault["metrics"]["etcd_leader_changes"] >= 1 and report["etcd"]["leader_changes"] >= 1
    assert report["availability"]["writes"]["share_last_10s"] == 1.0


def test_fault_on_event_follows_the_new_leader(tmp_path):
    """`on: leaderChanged` fires when the monitor sees a new etcd leader."""
    spec = parse_spec({"kind": "Cluster", "name": "t", "zones": ["zone-a", "zone-b", "zone-c"],
                       "controlPlane": {"topology": "external", "machines": 3}, "duration": "40s",
                       "faults": [
                           {"name": "first", "type": "killLeader", "component": "etcd", "at": "5s"},
                           {"name": "second", "type": "slowDisk", "etcdMachines": 1, "fsyncFactor": 20,
                            "on": {"event": "leaderChanged", "component": "etcd", "delay": "1s"}}]})
    report = run_cluster(spec, tmp_path / "run")
    first, second = report["faults"]
    assert first["name"] == "first" and second["name"] == "second"
    changed = [t for t, event, subject in report["events"] if event == "leaderChanged"]
    # started once the new leader's machine was looked up (status asks, 0.25 s at most)
    assert changed[0] + 1.0 <= second["started"] <= changed[0] + 1.5
    new_leader_machine = first["new_leader"]["member"].split("/")[-1]
    assert second["targets"] == [new_leader_machine]


def test_kill_leading_controller_manager_a_standby_takes_the_lease(tmp_path):
    report = run(tmp_path, "stacked", {"name": "k", "type": "killLeader", "component": "kube-controller-manager",
                                       "at": "5s"}, duration="30s")
    [fault] = report["faults"]
    assert fault["targets"] == [fault["leader_before"]] and fault["leader_before"].startswith("controller-manager/")
    new = fault["new_leader"]
    # the standbys wait for the Lease to expire: leaseDuration 15 s from its last renewal
    assert new is not None and new["member"] != fault["leader_before"] and 10.0 <= new["after"] <= 20.0
    assert report["leaders"]["kube-controller-manager"][-1][1] == new["member"]
    # leader_election_master_status: the new holder says 1 (the killed one's gauge is gone
    # with its process on a real node; here it stays at its last value)
    assert new["member"].split("/")[-1] in fault["metrics"]["lease_holders_at_end"]["kube-controller-manager"]


def test_kill_leading_scheduler(tmp_path):
    report = run(tmp_path, "stacked", {"name": "k", "type": "killLeader", "component": "kube-scheduler",
                                       "at": "5s"}, duration="30s")
    [fault] = report["faults"]
    assert fault["leader_before"].startswith("scheduler/") and fault["targets"] == [fault["leader_before"]]
    assert fault["new_leader"] is not None and 10.0 <= fault["new_leader"]["after"] <= 20.0


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
