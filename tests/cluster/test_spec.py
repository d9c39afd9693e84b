"""The Cluster spec: examples load, defaults follow kubeadm and the components, and every
bad spec fails with one line naming the file and the field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesim.cluster.spec import ClusterSpec
from kubesim.components.etcd.settings import EtcdSettings
from kubesim.runtime.costmodel import CostModel
from kubesim.specs import SpecFileError, load_spec

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("cluster-*.yaml"))
POOL = {"name": "pool-a", "count": 3}
BASE: dict[str, Any] = {
    "kind": "Cluster",
    "name": "t",
    "zones": ["zone-a", "zone-b", "zone-c"],
    "controlPlane": {"machines": 3},
    "nodePools": [POOL],
}


def merged(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """`base` with `patch` merged in (mappings recursively; anything else replaces)."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def load(tmp_path: Path, patch: dict[str, Any]) -> ClusterSpec:
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(merged(BASE, patch)))
    spec = load_spec(path)
    assert isinstance(spec, ClusterSpec)
    return spec


def pool(**fields: Any) -> dict[str, Any]:
    return {"nodePools": [{**POOL, **fields}]}


def fault(**fields: Any) -> dict[str, Any]:
    return {"faults": [{"name": "f", "at": "1m", **fields}]}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_load(path):
    spec = load_spec(path)
    assert isinstance(spec, ClusterSpec)
    assert spec.name == path.stem.removeprefix("cluster-")


def test_the_examples_cover_both_topologies_and_the_envelope():
    specs = [load_spec(p) for p in EXAMPLES]
    assert {s.control_plane.topology for s in specs} == {"stacked", "external"}
    assert max(sum(p.count for p in s.node_pools) for s in specs) == 5000


def test_defaults_follow_kubeadm_and_the_components():
    spec = ClusterSpec.model_validate({"kind": "Cluster"})
    cp = spec.control_plane
    assert (cp.topology, cp.machines) == ("stacked", 1)  # what `kubeadm init` builds
    assert cp.apiserver_count() == cp.scheduler_count() == cp.controller_manager_count() == 1
    assert spec.zones == ["zone-a"] and spec.node_pools == [] and spec.faults == []
    assert spec.scheduler.profiles[0].scheduler_name == "default-scheduler"
    assert spec.scheduler.leader_election.lease_duration == 15.0
    assert spec.controller_manager.node_eviction_rate == 0.1
    assert spec.controller_manager.secondary_node_eviction_rate == 0.01
    assert spec.controller_manager.unhealthy_zone_threshold == 0.55
    assert spec.controller_manager.large_cluster_size_threshold == 50
    assert spec.controller_manager.concurrent_daemonset_syncs == 2
    assert spec.controller_manager.concurrent_gc_syncs == 20
    assert spec.kube_proxy.proxy_mode() == "iptables" and spec.kube_proxy.ipvs_scheduler() == "rr"
    assert spec.load_balancer.health_check.interval == 2.0
    assert spec.runtime.nodes_per_host == 100 and spec.runtime.type == "sim"
    # flags left unset come from the cost-model profile
    assert spec.etcd.member_settings() == {}
    assert spec.apiserver.max_requests_inflight is None


def test_counts_default_to_one_per_control_plane_machine_and_may_be_fewer(tmp_path):
    spec = load(tmp_path, {"controlPlane": {"machines": 5, "schedulers": 2}})
    cp = spec.control_plane
    assert (cp.apiserver_count(), cp.scheduler_count(), cp.controller_manager_count()) == (5, 2, 5)
    assert cp.etcd_members() == 5


def test_external_topology_defaults_to_three_etcd_machines(tmp_path):
    spec = load(tmp_path, {"controlPlane": {"topology": "external", "machines": 2}})
    assert spec.control_plane.etcd_members() == 3


def test_etcd_flags_become_member_settings_in_seconds(tmp_path):
    spec = load(tmp_path, {"etcd": {"heartbeat-interval": 50, "election-timeout": 500, "snapshot-count": 1000,
                                    "quota-backend-bytes": 1 << 30}})
    settings = spec.etcd.member_settings()
    assert settings == {"heartbeat_interval": 0.05, "election_timeout": 0.5, "snapshot_count": 1000,
                        "quota_bytes": 1 << 30}
    resolved = EtcdSettings.from_cost(CostModel.load(), **settings)  # the member takes them as they are
    assert resolved.election_ticks == 10 and resolved.quota_bytes == 1 << 30


def test_durations_and_quantities_are_read_like_the_components(tmp_path):
    spec = load(tmp_path, {"controllerManager": {"node-monitor-grace-period": "1m30s"},
                           "kubelet": {"nodeStatusUpdateFrequency": "5s", "kubeAPIQPS": 25},
                           **pool(machine={"cpu": 8, "memory": "32Gi", "pods": 250})})
    assert spec.controller_manager.node_monitor_grace_period == 90.0
    assert spec.kubelet.node_status_update_frequency == 5.0 and spec.kubelet.kube_api_qps == 25
    shape = spec.node_pools[0].machine
    assert shape.capacity() == {"cpu": "8", "memory": "32Gi", "ephemeral-storage": "100Gi", "pods": "250"}


def test_watch_cache_sizes_parse_like_the_apiserver_flag(tmp_path):
    spec = load(tmp_path, {"apiserver": {"watch-cache-sizes": ["pods#1000", "deployments.apps#0"]}})
    assert spec.apiserver.watch_cache_size_by_resource() == {"pods": 1000, "deployments.apps": 0}


def test_every_fault_type_loads(tmp_path):
    spec = load(tmp_path, {"faults": [
        {"name": "crash", "type": "crashMachine", "machines": ["cp-0", "pool-a-00001"], "at": "1m",
         "restartAfter": "30s"},
        {"name": "reboot", "type": "restartMachine", "machines": ["lb"], "downFor": "10s",
         "on": {"event": "faultEnded", "fault": "crash", "delay": "5s"}},
        {"name": "split", "type": "partition", "zones": ["zone-a"], "healAfter": "1m", "at": "5m"},
        {"name": "slow", "type": "slowDisk", "machines": ["cp-1"], "fsyncFactor": 10, "duration": "2m", "at": "0s"},
        {"name": "kill-etcd", "type": "killLeader", "component": "etcd",
         "on": {"event": "faultStarted", "fault": "split"}},
        {"name": "kill-again", "type": "killLeader", "component": "kube-scheduler",
         "on": {"event": "leaderChanged", "component": "etcd"}},
        {"name": "kubelets", "type": "stopKubelets", "share": 0.5, "pools": ["pool-a"], "zones": ["zone-b"],
         "at": "10m", "restartAfter": "3m"},
    ]})
    assert [f.type for f in spec.faults] == ["crashMachine", "restartMachine", "partition", "slowDisk", "killLeader",
                                             "killLeader", "stopKubelets"]
    assert spec.faults[1].on.delay == 5.0 and spec.faults[0].restart_after == 30.0
    assert [f.ends() for f in spec.faults] == [True, True, True, True, False, False, True]


BAD = [
    # (patch, field, message)
    ({"controlPlane": {"machines": 2}}, "controlPlane.machines", "must be odd and >= 1 for stacked etcd (got 2)"),
    ({"controlPlane": {"machines": 0}}, "controlPlane.machines", "Input should be greater than or equal to 1"),
    ({"controlPlane": {"topology": "external", "externalEtcd": {"machines": 2}}},
     "controlPlane.externalEtcd.machines", "must be odd and >= 3 for external etcd (got 2)"),
    ({"controlPlane": {"topology": "external", "externalEtcd": {"machines": 4}}},
     "controlPlane.externalEtcd.machines", "must be odd and >= 3 for external etcd (got 4)"),
    ({"controlPlane": {"externalEtcd": {"machines": 3}}}, "controlPlane.externalEtcd", "only with topology external"),
    ({"controlPlane": {"topology": "kubeadm"}}, "controlPlane.topology", "Input should be 'stacked' or 'external'"),
    ({"controlPlane": {"apiservers": 4}}, "controlPlane.apiservers",
     "must be <= controlPlane.machines (3): kubeadm runs at most one kube-apiserver static pod"),
    ({"controlPlane": {"controllerManagers": 0}}, "controlPlane.controllerManagers",
     "Input should be greater than or equal to 1"),
    ({"controlPlane": {"zones": ["zone-d"]}}, "controlPlane.zones[0]",
     "zone 'zone-d' is not one of the cluster's zones (zone-a, zone-b, zone-c)"),
    ({"controlPlane": {"topology": "external", "externalEtcd": {"zones": ["zone-a", "zone-a"]}}},
     "controlPlane.externalEtcd.zones[1]", 'Duplicate value: "zone-a"'),
    ({"controlPlane": {"machine": {"memory": "lots"}}}, "controlPlane.machine.memory",
     "quantities must match the regular expression"),
    ({"zones": ["zone-a", "zone-a"]}, "zones[1]", 'Duplicate value: "zone-a"'),
    ({"zones": []}, "zones", "List should have at least 1 item"),
    ({"zones": ["zone a"]}, "zones[0]", "a valid label must be an empty string or consist of alphanumeric"),
    ({"name": "My_Cluster"}, "name", "a lowercase RFC 1123 label must consist of lower case alphanumeric"),
    ({"nodepools": []}, "nodepools", "Extra inputs are not permitted"),
    (pool(machine={"pods": 0}), "nodePools[0].machine.pods", "Input should be greater than or equal to 1"),
    (pool(machine={"cpu": 0}), "nodePools[0].machine.cpu", "must be greater than 0 (got 0)"),
    (pool(machine={"gpu": 1}), "nodePools[0].machine.gpu", "Extra inputs are not permitted"),
    (pool(count=0), "nodePools[0].count", "Input should be greater than or equal to 1"),
    (pool(name="Pool_A"), "nodePools[0].name", "a lowercase RFC 1123 label must consist of"),
    (pool(name="control-plane"), "nodePools[0].name", "'control-plane' is reserved"),
    (pool(name="p" * 58), "nodePools[0].name", "must be no more than 57 characters"),
    (pool(zones=["zone-d"]), "nodePools[0].zones[0]", "zone 'zone-d' is not one of the cluster's zones"),
    ({"nodePools": [POOL, POOL]}, "nodePools[1].name", 'Duplicate value: "pool-a"'),
    (pool(labels={"bad key": "x"}), "nodePools[0].labels", 'Invalid value: "bad key": name part must consist of'),
    (pool(taints=[{"key": "k", "effect": "NoRun"}]), "nodePools[0].taints[0].effect",
     "Input should be 'NoSchedule', 'PreferNoSchedule' or 'NoExecute'"),
    (pool(taints=[{"key": "k", "effect": "NoSchedule"}, {"key": "k", "value": "v", "effect": "NoSchedule"}]),
     "nodePools[0].taints[1]", "taints must be unique by key and effect pair"),
    (pool(taints=[{"key": "a/b/c", "effect": "NoSchedule"}]), "nodePools[0].taints[0].key",
     "a qualified name must consist of"),
    (pool(kubeProxy={"mode": "userspace"}), "nodePools[0].kubeProxy.mode", "Input should be"),
    ({"kubeProxy": {"mode": "ipvs", "ipvs": {"scheduler": "lblc"}}}, "kubeProxy.ipvs.scheduler",
     "unsupported IPVS scheduler 'lblc'"),
    ({"kubelet": {"nodeStatusUpdateFrequency": "10"}}, "kubelet.nodeStatusUpdateFrequency",
     'time: missing unit in duration "10"'),
    ({"kubelet": {"nodeStatusUpdateFrequency": 10}}, "kubelet.nodeStatusUpdateFrequency",
     "expected a Go duration string"),
    ({"kubelet": {"kubeApiQps": 10}}, "kubelet.kubeApiQps", "Extra inputs are not permitted"),
    ({"etcd": {"heartbeat-interval": 300}}, "etcd.heartbeat-interval",
     "--election-timeout[1000ms] should be at least as 5 times as --heartbeat-interval[300ms]"),
    ({"etcd": {"election-timeout": 60000}}, "etcd.election-timeout",
     "--election-timeout[60000ms] is too long, and should be set less than 50000ms"),
    ({"etcd": {"heartbeat_interval": 100}}, "etcd.heartbeat_interval", "Extra inputs are not permitted"),
    ({"etcd": {"quota-backend-bytes": 0}}, "etcd.quota-backend-bytes", "Input should be greater than or equal to 1"),
    ({"apiserver": {"watch-cache-sizes": ["pods=100"]}}, "apiserver.watch-cache-sizes",
     "invalid value of watch cache size: pods=100"),
    ({"apiserver": {"watch-cache-sizes": ["pods#-1"]}}, "apiserver.watch-cache-sizes",
     "watch cache size cannot be negative: pods#-1"),
    ({"apiserver": {"max-requests-inflight": 0, "max-mutating-requests-inflight": 0}},
     "apiserver.max-requests-inflight", "plus max-mutating-requests-inflight must be positive"),
    ({"controllerManager": {"pod-eviction-timeout": "5m"}}, "controllerManager.pod-eviction-timeout",
     "removed in Kubernetes v1.27"),
    ({"controllerManager": {"node-monitor-grace-period": "5s"}}, "controllerManager.node-monitor-grace-period",
     "must be more than the kubelets' nodeStatusUpdateFrequency (10s at kubelet), got 5s"),
    ({"controllerManager": {"node-monitor-grace-period": "30s"}, **pool(kubelet={"nodeStatusUpdateFrequency": "1m"})},
     "controllerManager.node-monitor-grace-period", "(60s at nodePools[0].kubelet)"),
    ({"controllerManager": {"leader-elect-renew-deadline": "20s"}}, "controllerManager.leader-elect-lease-duration",
     "leaseDuration must be greater than renewDeadline"),
    ({"controllerManager": {"unhealthy-zone-threshold": 1.5}}, "controllerManager.unhealthy-zone-threshold",
     "Input should be less than or equal to 1"),
    ({"scheduler": {"leaderElection": {"retryPeriod": "9s"}}}, "scheduler.leaderElection.renewDeadline",
     "renewDeadline must be greater than retryPeriod*JitterFactor"),
    ({"scheduler": {"profiles": []}}, "scheduler.profiles", "List should have at least 1 item"),
    ({"scheduler": {"profiles": [{}, {}]}}, "scheduler.profiles[1].schedulerName",
     'Duplicate value: "default-scheduler"'),
    ({"scheduler": {"profiles": [{"schedulerName": ""}]}}, "scheduler.profiles[0].schedulerName", "Required value"),
    ({"scheduler": {"profiles": [{}, {"schedulerName": "b", "plugins": {"queueSort": {"enabled": [{"name": "X"}]}}}]}},
     "scheduler.profiles[1].plugins.queueSort", "queueSort must be the same for all profiles"),
    ({"scheduler": {"profiles": [{"plugins": {"queueSort": {"enabled": [{"name": "A"}, {"name": "B"}]}}}]}},
     "scheduler.profiles[0].plugins.queueSort.enabled", "only one queue sort plugin can be enabled"),
    ({"scheduler": {"profiles": [{"plugins": {"scoring": {}}}]}}, "scheduler.profiles[0].plugins.scoring",
     "Extra inputs are not permitted"),
    ({"scheduler": {"profiles": [{"pluginConfig": [{"name": "NodeAffinity"}, {"name": "NodeAffinity"}]}]}},
     "scheduler.profiles[0].pluginConfig[1]", 'Duplicate value: "NodeAffinity"'),
    ({"scheduler": {"profiles": [{"plugins": {"score": {"enabled": [{"name": "X", "weight": -1}]}}}]}},
     "scheduler.profiles[0].plugins.score.enabled[0].weight", "Input should be greater than or equal to 0"),
    ({"scheduler": {"percentageOfNodesToScore": 101}}, "scheduler.percentageOfNodesToScore",
     "Input should be less than or equal to 100"),
    ({"scheduler": {"podInitialBackoffSeconds": 5, "podMaxBackoffSeconds": 2}}, "scheduler.podMaxBackoffSeconds",
     "must be greater than or equal to PodInitialBackoffSeconds"),
    ({"loadBalancer": {"balance": "leastconn"}}, "loadBalancer.balance", "Input should be 'roundrobin'"),
    ({"loadBalancer": {"healthCheck": {"interval": "0s"}}}, "loadBalancer.healthCheck.interval",
     "Input should be greater than 0"),
    ({"runtime": {"nodesPerHost": 0}}, "runtime.nodesPerHost", "Input should be greater than or equal to 1"),
    ({"runtime": {"type": "kvm"}}, "runtime.type", "Input should be 'sim' or 'ray'"),
    ({"runtime": {"batch": {"maxMessages": 0}}}, "runtime.batch.maxMessages",
     "Input should be greater than or equal to 1"),
    ({"costModel": {"overrides": {"disk.fsnyc": 1}}}, "costModel", "disk.fsnyc"),
    ({"costModel": {"profile": "missing.yaml"}}, "costModel", "missing.yaml"),
    # faults
    (fault(type="crashMachine", machines=["cp-5"]), "faults[0].machines[0]",
     "no machine named 'cp-5' (machines: cp-0..cp-2, lb, pool-a-00000..pool-a-00002)"),
    (fault(type="explode"), "faults[0]", "Input tag 'explode' found using 'type' does not match"),
    (fault(type="crashMachine", machines=["cp-0"], at=None), "faults[0]", "needs exactly one trigger"),
    (fault(type="crashMachine", machines=["cp-0"], on={"event": "leaderChanged", "component": "etcd"}),
     "faults[0]", "needs exactly one trigger"),
    (fault(type="crashMachine", machines=["cp-0"], at="-1s"), "faults[0].crashMachine.at",
     "Input should be greater than or equal to 0"),
    (fault(type="crashMachine", machines=[]), "faults[0].crashMachine.machines", "List should have at least 1 item"),
    (fault(type="crashMachine", machines=["cp-0"], name="Lose CP"), "faults[0].crashMachine.name",
     "a lowercase RFC 1123 label"),
    ({"faults": [{"name": "a", "at": "1m", "type": "killLeader", "component": "etcd"},
                 {"name": "a", "at": "2m", "type": "killLeader", "component": "etcd"}]},
     "faults[1].name", 'Duplicate value: "a"'),
    (fault(type="killLeader", component="kube-proxy"), "faults[0].killLeader.component", "Input should be 'etcd'"),
    ({**fault(type="killLeader", component="kube-scheduler"), "scheduler": {"leaderElection": {"leaderElect": False}}},
     "faults[0].component", "kube-scheduler runs without leader election"),
    (fault(type="killLeader", component="etcd", at=None, on={"event": "leaderChanged"}), "faults[0].on.component",
     "required for event leaderChanged"),
    (fault(type="killLeader", component="etcd", at=None,
           on={"event": "leaderChanged", "component": "etcd", "fault": "f"}),
     "faults[0].on.fault", "only for events faultStarted and faultEnded"),
    ({"faults": [{"name": "a", "at": "1m", "type": "killLeader", "component": "etcd"},
                 {"name": "b", "on": {"event": "faultStarted", "fault": "a", "component": "etcd"},
                  "type": "killLeader", "component": "etcd"}]},
     "faults[1].on.component", "only for event leaderChanged"),
    ({**fault(type="killLeader", component="kube-controller-manager"), "controllerManager": {"leader-elect": False}},
     "faults[0].component", "kube-controller-manager runs without leader election"),
    (fault(type="killLeader", component="etcd", at=None, on={"event": "faultStarted", "fault": "nope"}),
     "faults[0].on.fault", "no fault named 'nope'"),
    (fault(type="killLeader", component="etcd", at=None, on={"event": "faultStarted", "fault": "f"}),
     "faults[0].on.fault", "a fault cannot be triggered by itself"),
    (fault(type="killLeader", component="etcd", at=None, on={"event": "faultStarted"}),
     "faults[0].on.fault", "required for event faultStarted"),
    ({"faults": [{"name": "a", "at": "1m", "type": "killLeader", "component": "etcd"},
                 {"name": "b", "on": {"event": "faultEnded", "fault": "a"}, "type": "killLeader", "component": "etcd"}]},
     "faults[1].on.fault", "fault 'a' never ends (give it a restartAfter, healAfter or duration)"),
    ({"faults": [{"name": "a", "on": {"event": "faultStarted", "fault": "b"}, "type": "killLeader", "component": "etcd"},
                 {"name": "b", "on": {"event": "faultStarted", "fault": "a"}, "type": "killLeader", "component": "etcd"}]},
     "faults[0].on.fault", "triggers form a cycle through 'a': it never fires"),
    (fault(type="partition", zones=["zone-a", "zone-b", "zone-c"]), "faults[0].zones", "cuts off every zone"),
    (fault(type="partition", zones=["zone-a"], machines=["cp-0"]), "faults[0]", "set exactly one"),
    (fault(type="partition", zones=["zone-x"]), "faults[0].zones[0]", "zone 'zone-x' is not one of"),
    (fault(type="slowDisk", machines=["cp-0"], fsyncFactor=1), "faults[0].slowDisk.fsyncFactor",
     "Input should be greater than 1"),
    (fault(type="stopKubelets", share=0), "faults[0].stopKubelets.share", "Input should be greater than 0"),
    (fault(type="stopKubelets", share=0.5, pools=["pool-b"]), "faults[0].pools[0]",
     "no node pool named 'pool-b' (pools: pool-a)"),
    ({**pool(zones=["zone-a"]), **fault(type="stopKubelets", share=0.5, zones=["zone-b"])}, "faults[0]",
     "selects no worker node"),
    (fault(type="stopKubelets", share=0.5, zones=["zone-q"]), "faults[0].zones[0]", "zone 'zone-q' is not one of"),
    (fault(type="restartMachine", machines=["lb-0"]), "faults[0].machines[0]", "no machine named 'lb-0'"),
]


@pytest.mark.parametrize(("patch", "field", "message"), BAD, ids=[f"{i}-{case[1]}" for i, case in enumerate(BAD)])
def test_bad_spec_names_file_and_field(tmp_path, patch, field, message):
    with pytest.raises(SpecFileError) as exc:
        load(tmp_path, patch)
    text = str(exc.value)
    assert "\n" not in text
    assert text.startswith(f"{tmp_path / 'cluster.yaml'}: {field}: "), text
    assert message in text, text
