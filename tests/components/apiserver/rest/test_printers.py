"""Server-side printers and Table assembly, against what kubectl 1.32 prints."""

from __future__ import annotations

import pytest

from kubesim.api import meta
from kubesim.components.apiserver.rest import printers, tables

NOW = 1_735_689_600.0


@pytest.mark.parametrize(("seconds", "text"), [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (119, "119s"), (120, "2m"), (150, "2m30s"),
    (600, "10m"), (3 * 3600, "3h"), (3 * 3600 + 600, "3h10m"), (9 * 3600, "9h"),
    (50 * 3600, "2d2h"), (72 * 3600, "3d"), (10 * 86400, "10d"), (800 * 86400, "2y70d"),
    (9 * 365 * 86400, "9y"),
])
def test_human_duration(seconds, text):
    assert printers.human_duration(seconds) == text


def _pod(**status):
    return {"metadata": {"name": "p", "creationTimestamp": meta.timestamp(NOW - 90)},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"},
            "status": status}


def test_pod_rows_follow_print_pod():
    running = _pod(phase="Running", podIPs=[{"ip": "10.0.0.5"}], containerStatuses=[
        {"name": "a", "ready": True, "restartCount": 0, "state": {"running": {}}},
        {"name": "b", "ready": False, "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
         "lastState": {"terminated": {"finishedAt": meta.timestamp(NOW - 30)}}}])
    cells, conditions = printers.print_pod(running, NOW)
    assert cells == ["p", "1/2", "CrashLoopBackOff", "2 (30s ago)", "90s", "10.0.0.5", "n1",
                     "<none>", "<none>"]
    assert conditions == []
    done, conditions = printers.print_pod(_pod(phase="Succeeded"), NOW)
    assert done[2] == "Succeeded" and conditions[0]["type"] == "Completed"
    terminating = _pod(phase="Running")
    terminating["metadata"]["deletionTimestamp"] = meta.timestamp(NOW)
    assert printers.print_pod(terminating, NOW)[0][2] == "Terminating"
    init = _pod(phase="Pending", initContainerStatuses=[
        {"name": "i", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}])
    init["spec"]["initContainers"] = [{"name": "i"}]
    assert printers.print_pod(init, NOW)[0][2] == "Init:0/1"


def test_node_service_and_default_printers():
    node = {"metadata": {"name": "n1", "creationTimestamp": meta.timestamp(NOW - 3600),
                         "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "nodeInfo": {"kubeletVersion": "v1.32.0"},
                       "addresses": [{"type": "InternalIP", "address": "10.1.0.1"}]}}
    assert printers.print_node(node, NOW)[:6] == [
        "n1", "Ready,SchedulingDisabled", "control-plane", "60m", "v1.32.0", "10.1.0.1"]
    svc = {"metadata": {"name": "s"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.9",
                                               "ports": [{"port": 80, "nodePort": 30080,
                                                          "protocol": "TCP"}],
                                               "selector": {"app": "x"}}}
    assert printers.print_service(svc, NOW) == ["s", "NodePort", "10.96.0.9", "<none>",
                                                "80:30080/TCP", "<unknown>", "app=x"]
    columns, row = printers.printer_for("", "LimitRange")
    assert [c["name"] for c in columns] == ["Name", "Created At"]
    assert row({"metadata": {"name": "l", "creationTimestamp": "2025-01-01T00:00:00Z"}}, NOW)[0] == [
        "l", "2025-01-01T00:00:00Z"]


def test_table_version_negotiation():
    kubectl = ("application/json;as=Table;v=v1;g=meta.k8s.io,"
               "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")
    assert tables.table_version(kubectl) == "v1"
    assert tables.table_version("application/json") is None
    assert tables.table_version("application/json;as=Table;v=v2;g=meta.k8s.io") is None


def test_table_rows_carry_partial_object_metadata_by_default():
    obj = {"metadata": {"name": "cm", "labels": {"a": "b"}, "creationTimestamp": meta.timestamp(NOW)},
           "data": {"k": "v"}}
    table = tables.to_table("", "ConfigMap", [obj], {"resourceVersion": "9"}, NOW)
    assert table["metadata"] == {"resourceVersion": "9"}
    assert table["rows"][0]["cells"] == ["cm", 1, "0s"]
    assert table["rows"][0]["object"] == {"kind": "PartialObjectMetadata",
                                          "apiVersion": "meta.k8s.io/v1",
                                          "metadata": obj["metadata"]}
    bare = tables.to_table("", "ConfigMap", [obj], {}, NOW, include="None", headers=False)
    assert "object" not in bare["rows"][0] and bare["columnDefinitions"] == []
