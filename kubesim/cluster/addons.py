"""The objects `kubeadm init` creates in a new cluster's API (phase addon/kube-proxy,
cmd/kubeadm/app/phases/addons/proxy/manifests.go, v1.32): the kube-proxy ConfigMap (the
KubeProxyConfiguration, with the spec's proxy mode) and the DaemonSet that runs
kube-proxy on every node. (kubeadm also creates the kube-proxy ServiceAccount and its
RBAC bindings; the simulated apiserver serves neither kind, and admits the pods without.) The DaemonSet controller then creates a
kube-proxy pod per node, the scheduler-free way daemon pods get their node.

The spec's `workloads` are Deployments created the same way.

`api(runtime, apiservers, token, method, path, body)` is the driver's way to the API: a
request to the first replica that answers, as the admin.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from kubesim.cluster.spec import ClusterSpec
from kubesim.components.apiserver.rest.requestinfo import request_info
from kubesim.runtime.base import Runtime

KUBE_PROXY_IMAGE = "registry.k8s.io/kube-proxy:v1.32.0"
NAMESPACE = "kube-system"


async def api(runtime: Runtime, apiservers: list[str], token: str, method: str, path: str,
              body: Any = None, query: dict[str, str] | None = None, timeout: float = 30.0) -> dict[str, Any]:
    """The first answer a replica gives (a Response dict); raises when none answers."""
    req = request_info(method, path, query or {})
    req.update(token=token, accept="application/json", content_type="application/json")
    if body is not None:
        req["body"] = json.dumps(body).encode()
    last: Exception | None = None
    for replica in apiservers:
        try:
            return await runtime.ask(replica, ["request", req], timeout=timeout)
        except Exception as exc:  # a replica down: ask the next one
            last = exc
    raise RuntimeError(f"no apiserver answered {method} {path}: {last!r}")


def kube_proxy_objects(spec: ClusterSpec) -> list[tuple[str, dict[str, Any]]]:
    """(collection path, object) of what the kube-proxy addon phase creates."""
    proxy = spec.kube_proxy
    config = {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
              "mode": proxy.proxy_mode(), "ipvs": {"scheduler": proxy.ipvs_scheduler() if proxy.mode == "ipvs" else ""},
              "clientConnection": {"kubeconfig": "/var/lib/kube-proxy/kubeconfig.conf"}}
    kubeconfig = {"apiVersion": "v1", "kind": "Config",
                  "clusters": [{"name": "default", "cluster": {
                      "certificate-authority": "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
                      "server": "https://control-plane.kubesim:6443"}}],
                  "contexts": [{"name": "default", "context": {"cluster": "default", "namespace": "default",
                                                                "user": "default"}}],
                  "current-context": "default",
                  "users": [{"name": "default", "user": {
                      "tokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"}}]}
    labels = {"k8s-app": "kube-proxy"}
    daemonset = {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "kube-proxy", "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "priorityClassName": "system-node-critical",
                    "containers": [{
                        "name": "kube-proxy", "image": KUBE_PROXY_IMAGE, "imagePullPolicy": "IfNotPresent",
                        "command": ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf",
                                    "--hostname-override=$(NODE_NAME)"],
                        "securityContext": {"privileged": True},
                        "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                    }],
                    "hostNetwork": True,
                    "serviceAccountName": "kube-proxy",
                    "tolerations": [{"operator": "Exists"}],
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                },
            },
        },
    }
    return [
        ("/api/v1/namespaces/kube-system/configmaps",
         {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "kube-proxy", "namespace": NAMESPACE, "labels": {"app": "kube-proxy"}},
          "data": {"config.conf": yaml.safe_dump(config, sort_keys=False),
                   "kubeconfig.conf": yaml.safe_dump(kubeconfig, sort_keys=False)}}),
        ("/apis/apps/v1/namespaces/kube-system/daemonsets", daemonset),
    ]


async def create(runtime: Runtime, apiservers: list[str], token: str,
                 objects: list[tuple[str, dict[str, Any]]]) -> None:
    """Create `objects` (an object that already exists is left as it is)."""
    for path, obj in objects:
        reply = await api(runtime, apiservers, token, "POST", path, obj)
        if reply["code"] not in (201, 409):
            raise RuntimeError(f"creating {obj['kind']} {obj['metadata']['name']}: {reply['code']} {reply['body']}")


def workload_objects(spec: ClusterSpec) -> list[tuple[str, dict[str, Any]]]:
    """(collection path, Deployment) of each of the spec's workloads."""
    out = []
    for w in spec.workloads:
        labels = {"app": w.name}
        pod: dict[str, Any] = {"containers": [{"name": w.name, "image": w.image, "resources": {
            "requests": {"cpu": w.cpu, "memory": w.memory}}}]}
        if w.toleration_seconds is not None:
            pod["tolerations"] = [{"key": key, "operator": "Exists", "effect": "NoExecute",
                                   "tolerationSeconds": w.toleration_seconds}
                                  for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")]
        out.append((f"/apis/apps/v1/namespaces/{w.namespace}/deployments", {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": w.name, "namespace": w.namespace, "labels": labels},
            "spec": {"replicas": w.replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": pod}}}))
    return out
