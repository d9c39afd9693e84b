"""Create / update validation with Kubernetes' field paths and messages."""

from __future__ import annotations

import copy

import pytest

from kubesim.api import defaults, status, validation


def messages(obj, old=None):
    return [str(e) for e in validation.validate(obj, old)]


def pod(name="p", **spec):
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec}}
    return defaults.apply_defaults(obj)


def deployment(selector=None, template_labels=None):
    return defaults.apply_defaults({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": selector or {"app": "web"}},
                 "template": {"metadata": {"labels": template_labels or {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})


def test_valid_objects_pass():
    assert messages(pod()) == []
    assert messages(deployment()) == []


def test_invalid_name_gives_the_real_422():
    with pytest.raises(status.APIError) as err:
        validation.check(pod(name="Foo_bar"))
    assert err.value.code == 422
    assert err.value.message == (
        'Pod "Foo_bar" is invalid: metadata.name: Invalid value: "Foo_bar": a lowercase RFC 1123 '
        "subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
        "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    assert err.value.status["details"]["causes"][0]["field"] == "metadata.name"


def test_pod_spec_errors():
    p = pod(restartPolicy="Sometimes")
    p["spec"]["containers"] += [{"name": "c", "image": "", "imagePullPolicy": "Always",
                                 "ports": [{"containerPort": 70000, "protocol": "ICMP"}],
                                 "volumeMounts": [{"name": "data", "mountPath": "/d"}],
                                 "resources": {"limits": {"cpu": "1", "foo": "1"},
                                               "requests": {"cpu": "2"}}}]
    assert messages(p) == [
        "spec.containers[1].image: Required value",
        "spec.containers[1].ports[0].containerPort: Invalid value: 70000: must be between 1 and "
        "65535, inclusive",
        'spec.containers[1].ports[0].protocol: Unsupported value: "ICMP": supported values: '
        '"SCTP", "TCP", "UDP"',
        'spec.containers[1].volumeMounts[0].name: Not found: "data"',
        'spec.containers[1].resources.limits[foo]: Invalid value: "foo": must be a standard '
        "resource for containers",
        'spec.containers[1].resources.requests: Invalid value: "2": must be less than or equal to '
        "cpu limit of 1",
        'spec.containers[1].name: Duplicate value: "c"',
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", '
        '"OnFailure", "Never"']
    empty = pod()
    empty["spec"]["containers"] = []
    assert messages(empty) == ["spec.containers: Required value"]


def test_pod_update_only_images():
    old = pod()
    old["metadata"]["resourceVersion"] = "1"
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:2"
    assert messages(new, old) == []
    new["spec"]["restartPolicy"] = "Never"
    (msg,) = messages(new, old)
    assert msg.startswith(
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
        "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
        "set to 1 if it was previously negative)\n")


def test_selector_must_match_template():
    with pytest.raises(status.APIError) as err:
        validation.check(deployment(template_labels={"app": "other"}))
    assert err.value.message == (
        'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: '
        'map[string]string{"app":"other"}: `selector` does not match template `labels`')


def test_deployment_selector_is_immutable():
    old = deployment()
    old["metadata"]["resourceVersion"] = "3"
    new = deployment(selector={"app": "web", "v": "2"}, template_labels={"app": "web", "v": "2"})
    new["metadata"]["resourceVersion"] = "3"
    assert messages(new, old) == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", '
        '"v":"2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable']


def test_workload_template_rules():
    d = deployment()
    d["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    d["spec"]["replicas"] = -1
    assert messages(d) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']
    job = defaults.apply_defaults({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": "d"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
    defaults.prepare_for_create(job, uid="u")
    assert messages(job) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: '
        '"OnFailure", "Never"']


def test_service():
    svc = defaults.apply_defaults({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "1svc", "namespace": "d"},
        "spec": {"ports": [{"port": 80}, {"port": 80, "name": "b"}], "type": "Weird"}})
    assert messages(svc) == [
        'metadata.name: Invalid value: "1svc": a DNS-1035 label must consist of lower case '
        "alphanumeric characters or '-', start with an alphabetic character, and end with an "
        "alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
        "'[a-z]([-a-z0-9]*[a-z0-9])?')",
        'spec.type: Unsupported value: "Weird": supported values: "ClusterIP", "ExternalName", '
        '"LoadBalancer", "NodePort"',
        "spec.ports[0].name: Required value",
        'spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", '
        'AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, '
        'StrVal:""}, NodePort:0}']
    no_ports = defaults.apply_defaults({"apiVersion": "v1", "kind": "Service",
                                        "metadata": {"name": "s", "namespace": "d"}, "spec": {}})
    assert messages(no_ports) == ["spec.ports: Required value"]


def test_configmap_secret_namespace_priorityclass():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"},
          "data": {"bad key": "v"}}
    assert messages(cm) == [
        'data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric '
        "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used "
        "for validation is '[-._a-zA-Z0-9]+')"]
    old = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "d",
                                                              "resourceVersion": "1"},
           "type": "Opaque", "immutable": True, "data": {"a": "YQ=="}}
    new = {**old, "data": {"a": "Yg=="}}
    assert messages(new, old) == ["data: Forbidden: field is immutable when `immutable` is set"]
    ns = defaults.apply_defaults({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}})
    assert messages(ns) == ['metadata.name: Invalid value: "a.b": must not contain dots']
    pc = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "p"},
          "value": 2_000_000_000, "preemptionPolicy": "PreemptLowerPriority"}
    assert messages(pc) == [
        "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]


def test_lease_event_endpointslice():
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "n1", "namespace": "kube-node-lease"},
             "spec": {"leaseDurationSeconds": 0}}
    assert messages(lease) == ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
    ev = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e.1", "namespace": "a"},
          "involvedObject": {"kind": "Pod", "name": "p", "namespace": "b"}}
    assert messages(ev) == ['involvedObject.namespace: Invalid value: "b": does not match event.namespace']
    eps = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": "s-1", "namespace": "d"}, "addressType": "IPv4",
           "endpoints": [{"addresses": ["10.0.0.300"]}]}
    assert messages(eps) == ['endpoints[0].addresses[0]: Invalid value: "10.0.0.300": must be a valid IPv4 address']


def test_unknown_kind_has_no_rules():
    assert validation.validate({"apiVersion": "x/v1", "kind": "Y"}) == []
