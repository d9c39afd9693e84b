"""KubeSchedulerConfiguration reading and the pod status patches the scheduler writes."""

from __future__ import annotations

import pytest

from kubesim.components.scheduler.config import ConfigError, SchedulerConfig
from kubesim.components.scheduler.framework import Framework
from kubesim.components.scheduler.podstatus import (
    disruption_target_patch,
    truncate_message,
    unschedulable_patch,
)

from .helpers import pod


def test_defaults_match_v1_32():
    cfg = SchedulerConfig.from_dict({})
    assert [p.scheduler_name for p in cfg.profiles] == ["default-scheduler"]
    assert (cfg.pod_initial_backoff_seconds, cfg.pod_max_backoff_seconds) == (1.0, 10.0)
    le = cfg.leader_election
    assert (le.leader_elect, le.lease_duration, le.renew_deadline, le.retry_period) == (True, 15.0, 10.0, 2.0)
    assert (le.resource_namespace, le.resource_name) == ("kube-system", "kube-scheduler")
    assert cfg.percentage_of_nodes_to_score is None and cfg.qps is None


def test_reads_a_kube_scheduler_configuration():
    cfg = SchedulerConfig.from_dict({
        "apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration",
        "percentageOfNodesToScore": 30, "podMaxBackoffSeconds": 20,
        "leaderElection": {"leaderElect": False, "leaseDuration": "30s", "renewDeadline": "20s"},
        "clientConnection": {"qps": 200, "burst": 400},
        "profiles": [
            {"schedulerName": "default-scheduler"},
            {"schedulerName": "packer", "percentageOfNodesToScore": 100,
             "plugins": {"score": {"enabled": [{"name": "NodeResourcesFit", "weight": 3}],
                                   "disabled": [{"name": "ImageLocality"}]}},
             "pluginConfig": [{"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "MostAllocated"}}}]},
        ]})
    assert cfg.percentage_of_nodes_to_score == 30 and cfg.pod_max_backoff_seconds == 20.0
    assert (cfg.leader_election.leader_elect, cfg.leader_election.lease_duration) == (False, 30.0)
    assert (cfg.qps, cfg.burst) == (200.0, 400)
    fwk = Framework(cfg.profiles[1])
    assert fwk.score_weights["NodeResourcesFit"] == 3 and "ImageLocality" not in fwk.score_weights
    assert fwk.percentage_of_nodes_to_score == 100
    assert fwk.points["score"][0].strategy == "MostAllocated"


@pytest.mark.parametrize("raw,error", [
    ({"apiVersion": "kubescheduler.config.k8s.io/v1beta3"},
     'apiVersion: Unsupported value: "kubescheduler.config.k8s.io/v1beta3"'),
    ({"profiles": [{"schedulerName": "a"}, {"schedulerName": "a"}]}, 'profiles[1].schedulerName: Duplicate value: "a"'),
    ({"profiles": [{}]}, "profiles[0].schedulerName: Required value"),
    ({"percentageOfNodesToScore": 101}, "percentageOfNodesToScore: Invalid value: 101: not in valid range [0-100]"),
    ({"profiles": [{"schedulerName": "a", "plugins": {"sort": {}}}]}, 'unknown extension point'),
    ({"podInitialBackoffSeconds": 5, "podMaxBackoffSeconds": 1}, "podMaxBackoffSeconds: Invalid value"),
    ({"leaderElection": {"leaseDuration": "15"}},
     'leaderElection.leaseDuration: Invalid value: "15": time: missing unit in duration "15"'),
])
def test_bad_configuration_names_the_field(raw, error):
    with pytest.raises(ConfigError) as exc:
        SchedulerConfig.from_dict(raw)
    assert error in str(exc.value)


def test_unschedulable_patch_follows_update_pod_condition():
    p = pod("p")
    first = unschedulable_patch(p, "Unschedulable", "0/1 nodes are available: 1 Insufficient cpu.", "", 10.0)
    cond = first["conditions"][0]
    assert cond == {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": "0/1 nodes are available: 1 Insufficient cpu.",
                    "lastProbeTime": None, "lastTransitionTime": "1970-01-01T00:00:10Z"}
    assert "nominatedNodeName" not in first  # "" is already what the pod has
    p["status"]["conditions"] = [cond]
    assert unschedulable_patch(p, "Unschedulable", cond["message"], None, 20.0) is None
    again = unschedulable_patch(p, "Unschedulable", "0/2 nodes are available.", "n1", 30.0)
    assert again["conditions"][0]["lastTransitionTime"] == "1970-01-01T00:00:10Z"  # status unchanged
    assert again["nominatedNodeName"] == "n1"
    p["status"]["nominatedNodeName"] = "n1"
    assert unschedulable_patch(p, "Unschedulable", cond["message"], "", 40.0) == {"nominatedNodeName": None}


def test_disruption_target_and_truncation():
    patch = disruption_target_patch(pod("victim"), "default-scheduler", 5.0)
    assert patch["conditions"][0]["message"] == "default-scheduler: preempting to accommodate a higher priority pod"
    assert patch["conditions"][0]["reason"] == "PreemptionByScheduler"
    assert truncate_message("x" * 1024) == "x" * 1024
    assert truncate_message("x" * 2000) == "x" * 1020 + " ..."
