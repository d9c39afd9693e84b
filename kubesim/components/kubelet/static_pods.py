"""Static pods and their mirror pods, after kubernetes/pkg/kubelet/config (file source,
common.go applyDefaults) and pkg/kubelet/pod/mirror_client.go (v1.32).

A node's static pods come from its manifest set (the staticPodPath directory, re-read every
fileCheckFrequency). Each manifest becomes a pod named ``<name>-<node>`` with a uid hashed
from the manifest and the node, the config annotations, a toleration of every NoExecute
taint and spec.nodeName set; the kubelet runs it itself and shows it in the API as a mirror
pod (annotation ``kubernetes.io/config.mirror``, owned by the Node), whose status the
status manager writes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from kubesim.api import defaults
from kubesim.api.copying import deep_copy
from kubesim.api.meta import timestamp

Obj = dict[str, Any]

CONFIG_SOURCE = "kubernetes.io/config.source"
CONFIG_HASH = "kubernetes.io/config.hash"
CONFIG_SEEN = "kubernetes.io/config.seen"
CONFIG_MIRROR = "kubernetes.io/config.mirror"
FILE_SOURCE = "file"


def static_pod(manifest: Obj, node_name: str, path: str, now: float, epoch: float) -> Obj:
    """One manifest as the file source hands it to the kubelet (`path` names its file)."""
    pod = deep_copy(manifest)
    pod.setdefault("apiVersion", "v1")
    pod.setdefault("kind", "Pod")
    defaults.apply_defaults(pod)
    digest = hashlib.md5(json.dumps(pod, sort_keys=True).encode())
    digest.update(f"host:{node_name}file:{path}".encode())
    uid = digest.hexdigest()
    meta = pod.setdefault("metadata", {})
    meta["uid"] = uid
    meta["name"] = f"{meta.get('name', '')}-{node_name}"
    meta.setdefault("namespace", "default")
    meta["creationTimestamp"] = timestamp(epoch + now)
    annotations = meta.setdefault("annotations", {})
    annotations[CONFIG_HASH] = uid
    annotations[CONFIG_SEEN] = timestamp(epoch + now)
    annotations[CONFIG_SOURCE] = FILE_SOURCE
    spec = pod.setdefault("spec", {})
    spec["nodeName"] = node_name
    tolerations = spec.setdefault("tolerations", [])
    if {"operator": "Exists", "effect": "NoExecute"} not in tolerations:
        tolerations.append({"operator": "Exists", "effect": "NoExecute"})
    pod["status"] = {"phase": "Pending", "qosClass": defaults.pod_qos_class(pod)}
    return pod


def is_mirror(pod: Obj) -> bool:
    return CONFIG_MIRROR in ((pod.get("metadata") or {}).get("annotations") or {})


def static_uid_of_mirror(mirror: Obj) -> str:
    """The static pod a mirror pod stands for (its config.mirror hash)."""
    return ((mirror.get("metadata") or {}).get("annotations") or {}).get(CONFIG_MIRROR, "")


def mirror_pod(static: Obj, node_name: str, node_uid: str) -> Obj:
    """CreateMirrorPod: the static pod as created in the API."""
    pod = deep_copy(static)
    meta = pod["metadata"]
    for key in ("uid", "resourceVersion", "creationTimestamp"):
        meta.pop(key, None)
    meta["annotations"][CONFIG_MIRROR] = meta["annotations"][CONFIG_HASH]
    if node_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node_name,
                                    "uid": node_uid, "controller": True}]
    pod.pop("status", None)
    return pod
