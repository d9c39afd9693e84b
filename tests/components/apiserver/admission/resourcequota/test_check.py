"""The pure quota check: matching, constraints, deltas and the real rejection messages."""

from __future__ import annotations

import pytest

from kubesim.api.status import APIError
from kubesim.components.apiserver.admission import resource_lists as rl
from kubesim.components.apiserver.admission.resourcequota.check import QuotaDoc, check_request
from kubesim.components.apiserver.admission.resourcequota.evaluators import Registry
from tests.components.apiserver.admission.fakes import container, create, pod, quota, update

REGISTRY = Registry()


def _check(quotas, attrs):
    docs = [QuotaDoc.of(q) for q in quotas]
    return [rl.to_json(d.used) for d in check_request(docs, attrs, REGISTRY.get(attrs.group_resource))]


def _reject(quotas, attrs):
    with pytest.raises(APIError) as err:
        _check(quotas, attrs)
    assert err.value.code == 403 and err.value.reason == "Forbidden"
    return err.value.message


def _deployment(name="d"):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "ns"}, "spec": {}}


def _service(name="s", svc_type="ClusterIP", ports=1, **spec):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "ns"},
            "spec": {"type": svc_type, "ports": [{"port": 80 + i} for i in range(ports)], **spec}}


def test_pod_counts_and_compute_are_charged():
    q = quota("q", {"pods": "10", "requests.cpu": "2", "limits.memory": "2Gi", "count/pods": "5"},
              {"pods": "1", "requests.cpu": "500m", "limits.memory": "1Gi", "count/pods": "1"})
    obj = pod(containers=[container(requests={"cpu": "250m"}, limits={"memory": "512Mi"}),
                          container("b", requests={"cpu": "250m"}, limits={"memory": "512Mi"})])
    assert _check([q], create(obj, "pods")) == [
        {"count/pods": "2", "limits.memory": "2Gi", "pods": "2", "requests.cpu": "1"}]


def test_exceeded_quota_message():
    q = quota("q", {"pods": "2"}, {"pods": "2"})
    assert _reject([q], create(pod("web"), "pods")) == \
        'pods "web" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2'
    q = quota("compute", {"requests.memory": "1Gi", "pods": "10"},
              {"requests.memory": "768Mi", "pods": "1"})
    big = pod("web", containers=[container(requests={"memory": "512Mi"},
                                           limits={"memory": "512Mi"})])
    assert _reject([q], create(big, "pods")) == (
        'pods "web" is forbidden: exceeded quota: compute, requested: requests.memory=512Mi, '
        "used: requests.memory=768Mi, limited: requests.memory=1Gi")


def test_no_quota_is_charged_when_one_of_several_is_exceeded():
    roomy = quota("a-roomy", {"pods": "100"})
    full = quota("b-full", {"count/pods": "1"}, {"count/pods": "1"})
    assert "exceeded quota: b-full" in _reject([roomy, full], create(pod(), "pods"))
    assert _check([roomy, quota("c", {"pods": "3"})], create(pod(), "pods")) == \
        [{"pods": "1"}, {"pods": "1"}]


def test_quota_on_cpu_requires_every_container_to_set_it():
    q = quota("q", {"limits.cpu": "4", "requests.memory": "1Gi"})
    obj = pod("web", containers=[container("a", requests={"memory": "1Mi"}),
                                 container("b", limits={"cpu": "1"})])
    assert _reject([q], create(obj, "pods")) == (
        'pods "web" is forbidden: failed quota: q: must specify limits.cpu for: a; '
        "requests.memory for: b")


def test_status_not_yet_computed_is_refused():
    q = quota("q", {"pods": "2", "services": "1"}, {"services": "0"})
    assert _reject([q], create(pod("web"), "pods")) == \
        'pods "web" is forbidden: status unknown for quota: q, resources: pods'
    # quota.status.hard is what counts: a quota the controller has not seen does not apply
    unsynced = quota("q", {"pods": "0"})
    unsynced["status"] = {}
    assert _check([unsynced], create(pod(), "pods")) == [{}]


def test_generic_object_counts_and_legacy_aliases():
    q = quota("q", {"count/deployments.apps": "1"}, {"count/deployments.apps": "1"})
    assert _reject([q], create(_deployment("web"), "deployments", "apps")) == (
        'deployments.apps "web" is forbidden: exceeded quota: q, requested: '
        "count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}}
    q = quota("q", {"configmaps": "5", "count/configmaps": "5", "secrets": "1"})
    assert _check([q], create(cm, "configmaps")) == \
        [{"configmaps": "1", "count/configmaps": "1", "secrets": "0"}]
    # object counts are charged on create only
    assert _check([q], update(cm, dict(cm, metadata={"name": "c", "resourceVersion": "3"}),
                              "configmaps")) == [{"configmaps": "0", "count/configmaps": "0",
                                                 "secrets": "0"}]


def test_services_charge_node_ports_and_load_balancers_and_updates_charge_the_delta():
    q = quota("q", {"services": "10", "services.nodeports": "3", "services.loadbalancers": "1"})
    assert _check([q], create(_service(svc_type="NodePort", ports=2), "services")) == \
        [{"services": "1", "services.loadbalancers": "0", "services.nodeports": "2"}]
    lb = _service(svc_type="LoadBalancer", ports=2, allocateLoadBalancerNodePorts=False)
    lb["spec"]["ports"][0]["nodePort"] = 30001
    assert _check([q], create(lb, "services")) == \
        [{"services": "1", "services.loadbalancers": "1", "services.nodeports": "1"}]
    old = _service(ports=4)
    old["metadata"]["resourceVersion"] = "7"
    new = _service(svc_type="NodePort", ports=4)
    assert _reject([q], update(new, old, "services")) == (
        'services "s" is forbidden: exceeded quota: q, requested: services.nodeports=4, '
        "used: services.nodeports=0, limited: services.nodeports=3")
    # a change that needs nothing more charges nothing ...
    new["metadata"]["resourceVersion"] = "8"
    assert _check([q], update(old, new, "services")) == \
        [{"services": "0", "services.loadbalancers": "0", "services.nodeports": "0"}]
    # ... unless the old object was never stored (create on update): then all of it
    del new["metadata"]["resourceVersion"]
    assert _check([q], update(old, new, "services")) == \
        [{"services": "1", "services.loadbalancers": "0", "services.nodeports": "0"}]


def test_pod_scopes():
    best_effort = quota("be", {"pods": "1"}, {"pods": "1"}, scopes=["BestEffort"])
    burstable = pod(containers=[container(requests={"cpu": "100m"})])
    assert _check([best_effort], create(burstable, "pods")) == [{"pods": "1"}]
    assert "exceeded quota: be" in _reject([best_effort], create(pod(), "pods"))
    terminating = quota("t", {"pods": "0"}, scopes=["Terminating"])
    assert _check([terminating], create(pod(), "pods")) == [{"pods": "0"}]
    assert "exceeded quota: t" in _reject([terminating],
                                          create(pod(activeDeadlineSeconds=60), "pods"))
    by_class = quota("pc", {"pods": "0"}, scopeSelector={"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]})
    assert _check([by_class], create(pod(priorityClassName="low"), "pods")) == [{"pods": "0"}]
    assert "exceeded quota: pc" in _reject([by_class], create(pod(priorityClassName="high"), "pods"))
    cross = quota("x", {"pods": "0"}, scopes=["CrossNamespacePodAffinity"])
    affinity = {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "podAffinityTerm": {"topologyKey": "zone", "namespaceSelector": {}}}]}}
    assert "exceeded quota: x" in _reject([cross], create(pod(affinity=affinity), "pods"))
    # scoped quotas never match other kinds
    svc_scoped = quota("s", {"services": "0"}, scopes=["BestEffort"])
    assert _check([svc_scoped], create(_service(), "services")) == [{"services": "0"}]


def test_terminal_pods_are_charged_their_count_only():
    q = quota("q", {"pods": "0", "count/pods": "5"})
    done = pod()
    done["status"] = {"phase": "Succeeded"}
    assert _check([q], create(done, "pods")) == [{"count/pods": "1", "pods": "0"}]


def test_extended_and_hugepages_resources():
    q = quota("q", {"requests.example.com/gpu": "1", "hugepages-2Mi": "4Mi"},
              {"requests.example.com/gpu": "0", "hugepages-2Mi": "0"})
    obj = pod(containers=[container(requests={"example.com/gpu": "1", "hugepages-2Mi": "4Mi"},
                                    limits={"example.com/gpu": "1", "hugepages-2Mi": "4Mi"})])
    assert _check([q], create(obj, "pods")) == \
        [{"hugepages-2Mi": "4Mi", "requests.example.com/gpu": "1"}]
