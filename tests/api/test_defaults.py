"""Defaulting, registry strategies and defaulting admission."""

from __future__ import annotations

import pytest

from kubesim.api import defaults, status


def pod(**spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec}}


def test_pod_defaults():
    p = defaults.apply_defaults(pod())
    spec = p["spec"]
    assert {k: spec[k] for k in ("restartPolicy", "dnsPolicy", "terminationGracePeriodSeconds",
                                 "schedulerName", "securityContext", "enableServiceLinks")} == {
        "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30,
        "schedulerName": "default-scheduler", "securityContext": {}, "enableServiceLinks": True}
    assert spec["containers"][0] == {
        "name": "c", "image": "nginx", "imagePullPolicy": "Always",
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        "resources": {}}


@pytest.mark.parametrize(("image", "policy"), [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.25", "IfNotPresent"),
    ("registry:5000/nginx", "Always"), ("registry:5000/nginx:1", "IfNotPresent"),
    ("nginx@sha256:abc", "IfNotPresent"), ("", "IfNotPresent")])
def test_image_pull_policy(image, policy):
    p = pod()
    p["spec"]["containers"][0]["image"] = image
    assert defaults.apply_defaults(p)["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_pod_resources_ports_probes():
    p = pod()
    ctr = p["spec"]["containers"][0]
    ctr["resources"] = {"limits": {"cpu": "0.5", "memory": "1.5Gi"}, "requests": {"cpu": "100u"}}
    ctr["ports"] = [{"containerPort": 80}]
    ctr["readinessProbe"] = {"httpGet": {"port": 80}}
    defaults.apply_defaults(p)
    assert ctr["resources"] == {"limits": {"cpu": "500m", "memory": "1536Mi"},
                                "requests": {"cpu": "1m", "memory": "1536Mi"}}
    assert ctr["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert ctr["readinessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                                     "timeoutSeconds": 1, "periodSeconds": 10,
                                     "successThreshold": 1, "failureThreshold": 3}


def test_bad_quantity_is_a_400():
    p = pod()
    p["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "lots"}}
    with pytest.raises(status.APIError) as err:
        defaults.apply_defaults(p)
    assert err.value.code == 400
    assert err.value.message == (
        'Pod in version "v1" cannot be handled as a Pod: quantities must match the regular '
        "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


def test_service_defaults():
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
           "spec": {"selector": {"app": "a"}, "ports": [{"port": 80}, {"port": 53, "targetPort": "dns"}]}}
    spec = defaults.apply_defaults(svc)["spec"]
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80},
                             {"port": 53, "targetPort": "dns", "protocol": "TCP"}]
    assert (spec["type"], spec["sessionAffinity"], spec["ipFamilyPolicy"],
            spec["internalTrafficPolicy"], spec["ipFamilies"]) == \
        ("ClusterIP", "None", "SingleStack", "Cluster", ["IPv4"])
    assert svc["status"] == {"loadBalancer": {}}
    lb = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
          "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}
    spec = defaults.apply_defaults(lb)["spec"]
    assert spec["externalTrafficPolicy"] == "Cluster" and spec["allocateLoadBalancerNodePorts"] is True


def test_workload_defaults():
    template = {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}
    dep = defaults.apply_defaults({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                                   "spec": {"template": template}})
    spec = dep["spec"]
    assert (spec["replicas"], spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (1, 10, 600)
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["template"]["metadata"]["creationTimestamp"] is None
    assert "enableServiceLinks" not in spec["template"]["spec"]  # Pod-only default
    ds = defaults.apply_defaults({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d"},
                                  "spec": {}})
    assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                            "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    rs = defaults.apply_defaults({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r"},
                                  "spec": {"replicas": 0}})
    assert rs["spec"]["replicas"] == 0
    job = defaults.apply_defaults({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
                                   "spec": {"template": {"metadata": {"labels": {"x": "y"}}}}})
    js = job["spec"]
    assert (js["completions"], js["parallelism"], js["backoffLimit"], js["completionMode"],
            js["suspend"], js["podReplacementPolicy"]) == (1, 1, 6, "NonIndexed", False, "TerminatingOrFailed")
    assert job["metadata"]["labels"] == {"x": "y"}


def test_other_kinds():
    ns = defaults.apply_defaults({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team"}
    assert ns["status"] == {"phase": "Active"}
    node = defaults.apply_defaults({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"},
                                    "status": {"capacity": {"cpu": "4", "memory": "8192Mi"}}})
    assert node["status"]["allocatable"] == {"cpu": "4", "memory": "8Gi"}
    secret = defaults.apply_defaults({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                                      "stringData": {"k": "v"}})
    assert secret == {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                      "data": {"k": "dg=="}, "type": "Opaque"}
    with pytest.raises(status.APIError) as err:
        defaults.apply_defaults({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                                 "data": {"k": "no!"}})
    assert err.value.message == ('Secret in version "v1" cannot be handled as a Secret: '
                                 "illegal base64 data at input byte 2")
    pc = defaults.apply_defaults({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                  "metadata": {"name": "p"}, "value": 5})
    assert pc["preemptionPolicy"] == "PreemptLowerPriority"
    eps = defaults.apply_defaults({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                                   "metadata": {"name": "e"}, "ports": [{"port": 80}]})
    assert eps["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]
    lr = defaults.apply_defaults({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l"},
                                  "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"},
                                                       "min": {"memory": "1Mi"}}]}})
    item = lr["spec"]["limits"][0]
    assert item["default"] == {"cpu": "2"} and item["defaultRequest"] == {"cpu": "2", "memory": "1Mi"}


def test_prepare_for_create_and_update():
    p = defaults.prepare_for_create(defaults.apply_defaults(pod()))
    assert p["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    g = pod()
    g["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1", "memory": "1Gi"}}
    assert defaults.prepare_for_create(defaults.apply_defaults(g))["status"]["qosClass"] == "Guaranteed"
    b = pod()
    b["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "1"}}
    assert defaults.pod_qos_class(b) == "Burstable"

    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
           "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    defaults.prepare_for_create(defaults.apply_defaults(job), uid="u-1")
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}
    assert job["spec"]["template"]["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "j"
    assert job["metadata"]["generation"] == 1 and job["status"] == {}

    ns = defaults.prepare_for_create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}})
    assert ns["spec"] == {"finalizers": ["kubernetes"]}

    old = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "generation": 3},
           "spec": {"replicas": 1}, "status": {"replicas": 1}}
    new = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"replicas": 2}, "status": {"replicas": 9}}
    defaults.prepare_for_update(new, old)
    assert new["metadata"]["generation"] == 4 and new["status"] == {"replicas": 1}
    st = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
          "spec": {"replicas": 7}, "status": {"replicas": 2}}
    defaults.prepare_for_update(st, old, subresource="status")
    assert st["spec"] == {"replicas": 1} and st["status"] == {"replicas": 2}

