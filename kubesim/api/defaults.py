"""Per-kind defaulting, as the apiserver applies it when it decodes a request body.

:func:`apply_defaults` fills the fields the real ``SetDefaults_*`` functions (core/v1,
apps/v1, batch/v1, discovery/v1, scheduling/v1) fill, canonicalises resource quantities
(ResourceLists rounded up to milli precision, so ``"0.5"`` is stored as ``"500m"``) and
materialises the empty structs Go always serialises (a container's ``resources: {}``, a
template's ``creationTimestamp: null``). A malformed quantity raises the 400 the apiserver
answers with.

The steps after decoding are here too: :func:`prepare_for_create` and
:func:`prepare_for_update` (the registry strategies: status reset, generation, the Job
selector). Defaulting done by admission plugins (priority, default tolerations, LimitRange
defaults) is in ``kubesim.components.apiserver.admission``.

Everything mutates the dict passed in and returns it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

from kubesim.api import kinds, quantity, status
from kubesim.api.copying import deep_copy

Obj = dict[str, Any]

DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_TERMINATION_GRACE_PERIOD = 30
DEFAULT_MODE = 420  # 0644, for secret / configMap / downwardAPI / projected volumes
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
FINALIZER_KUBERNETES = "kubernetes"
JOB_CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
MAX_INT32 = 2**31 - 1


def _set(d: Obj, key: str, value: Any) -> None:
    """Set ``key`` when absent or null (Go's "if unset")."""
    if d.get(key) is None:
        d[key] = value


def _sub(d: Obj, key: str) -> Obj:
    """The dict at ``key``, created when absent or null."""
    if not isinstance(d.get(key), dict):
        d[key] = {}
    return d[key]


# -- quantities ----------------------------------------------------------------------------


def _resource_list(rl: Any, kind: str, version: str, round_milli: bool = True) -> None:
    if not isinstance(rl, dict):
        return
    for name, value in rl.items():
        try:
            q = quantity.parse_json(value)
        except quantity.QuantityError as err:
            raise status.cannot_handle(kind, version, str(err)) from None
        rl[name] = str(q.round_up(-3) if round_milli else q)


def _pod_spec_quantities(spec: Obj, kind: str, version: str) -> None:
    for ctr in _all_containers(spec):
        res = ctr.get("resources") or {}
        _resource_list(res.get("limits"), kind, version)
        _resource_list(res.get("requests"), kind, version)
    _resource_list(spec.get("overhead"), kind, version)
    pod_res = spec.get("resources") or {}
    _resource_list(pod_res.get("limits"), kind, version)
    _resource_list(pod_res.get("requests"), kind, version)
    for vol in spec.get("volumes") or []:
        empty_dir = vol.get("emptyDir")
        if isinstance(empty_dir, dict) and empty_dir.get("sizeLimit") is not None:
            holder = {"sizeLimit": empty_dir["sizeLimit"]}
            _resource_list(holder, kind, version, round_milli=False)
            empty_dir["sizeLimit"] = holder["sizeLimit"]


def _all_containers(spec: Obj) -> Iterator[Obj]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for ctr in spec.get(key) or []:
            if isinstance(ctr, dict):
                yield ctr


# -- pod spec ------------------------------------------------------------------------------


def image_tag_is_latest(image: str) -> bool:
    """``parsers.ParseImageName``'s tag is "latest": written so, or neither tag nor digest."""
    if not image or image != image.strip():
        return False
    name, at, _digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.rpartition(":")[2] if ":" in last else ""
    if not tag:
        return not at
    return tag == "latest"


def _container(ctr: Obj) -> None:
    if not ctr.get("imagePullPolicy"):
        ctr["imagePullPolicy"] = "Always" if image_tag_is_latest(ctr.get("image") or "") else "IfNotPresent"
    if not ctr.get("terminationMessagePath"):
        ctr["terminationMessagePath"] = "/dev/termination-log"
    if not ctr.get("terminationMessagePolicy"):
        ctr["terminationMessagePolicy"] = "File"
    _set(ctr, "resources", {})
    for port in ctr.get("ports") or []:
        if not port.get("protocol"):
            port["protocol"] = "TCP"
    for probe_key in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = ctr.get(probe_key)
        if isinstance(probe, dict):
            _probe(probe)
    for env in ctr.get("env") or []:
        field_ref = (env.get("valueFrom") or {}).get("fieldRef")
        if isinstance(field_ref, dict) and not field_ref.get("apiVersion"):
            field_ref["apiVersion"] = "v1"


def _probe(probe: Obj) -> None:
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                       ("failureThreshold", 3)):
        if not probe.get(key):
            probe[key] = value
    http_get = probe.get("httpGet")
    if isinstance(http_get, dict):
        if not http_get.get("path"):
            http_get["path"] = "/"
        if not http_get.get("scheme"):
            http_get["scheme"] = "HTTP"


_VOLUME_SOURCES = ("hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo",
                   "secret", "nfs", "iscsi", "glusterfs", "persistentVolumeClaim", "rbd",
                   "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc", "azureFile",
                   "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk",
                   "projected", "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral",
                   "image")


def _volume(vol: Obj) -> None:
    if not any(vol.get(k) is not None for k in _VOLUME_SOURCES):
        vol["emptyDir"] = {}
    for key in ("secret", "configMap", "downwardAPI", "projected"):
        src = vol.get(key)
        if isinstance(src, dict):
            _set(src, "defaultMode", DEFAULT_MODE)
    host_path = vol.get("hostPath")
    if isinstance(host_path, dict):
        _set(host_path, "type", "")
    for source in (vol.get("projected") or {}).get("sources") or []:
        token = source.get("serviceAccountToken")
        if isinstance(token, dict):
            _set(token, "expirationSeconds", 3600)


def _pod_spec(spec: Obj) -> None:
    """``SetDefaults_PodSpec`` and everything under it (shared by pods and templates)."""
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    _set(spec, "securityContext", {})
    _set(spec, "terminationGracePeriodSeconds", DEFAULT_TERMINATION_GRACE_PERIOD)
    if not spec.get("schedulerName"):
        spec["schedulerName"] = DEFAULT_SCHEDULER
    for ctr in _all_containers(spec):
        _container(ctr)
    for vol in spec.get("volumes") or []:
        _volume(vol)


def _template(template: Obj, kind: str, version: str) -> None:
    meta = _sub(template, "metadata")
    meta.setdefault("creationTimestamp", None)
    spec = _sub(template, "spec")
    _pod_spec(spec)
    _pod_spec_quantities(spec, kind, version)


def _pod(pod: Obj) -> None:
    spec = _sub(pod, "spec")
    _pod_spec(spec)
    _pod_spec_quantities(spec, "Pod", "v1")
    for key in ("containers", "initContainers"):
        for ctr in spec.get(key) or []:
            res = ctr.get("resources") or {}
            limits = res.get("limits")
            if limits:
                requests = _sub(res, "requests")
                for name, value in limits.items():
                    requests.setdefault(name, value)
                ctr["resources"] = res
    _set(spec, "enableServiceLinks", True)
    if spec.get("hostNetwork"):
        for key in ("containers", "initContainers"):
            for ctr in spec.get(key) or []:
                for port in ctr.get("ports") or []:
                    if not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort")


# -- other kinds ---------------------------------------------------------------------------


def _service(svc: Obj) -> None:
    spec = _sub(svc, "spec")
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        client_ip = _sub(_sub(spec, "sessionAffinityConfig"), "clientIP")
        _set(client_ip, "timeoutSeconds", 10800)
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    svc_type = spec["type"]
    for port in spec.get("ports") or []:
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    if svc_type in ("NodePort", "LoadBalancer") or spec.get("externalIPs"):
        if not spec.get("externalTrafficPolicy"):
            spec["externalTrafficPolicy"] = "Cluster"
    if svc_type in ("ClusterIP", "NodePort", "LoadBalancer"):
        _set(spec, "internalTrafficPolicy", "Cluster")
        headless_without_selector = spec.get("clusterIP") == "None" and not spec.get("selector")
        _set(spec, "ipFamilyPolicy",
             "RequireDualStack" if headless_without_selector else "SingleStack")
        _set(spec, "ipFamilies", ["IPv4"])
    if svc_type == "LoadBalancer":
        _set(spec, "allocateLoadBalancerNodePorts", True)
    _sub(_sub(svc, "status"), "loadBalancer")


def _deployment(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    _set(spec, "replicas", 1)
    strategy = _sub(spec, "strategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        rolling = _sub(strategy, "rollingUpdate")
        _set(rolling, "maxUnavailable", "25%")
        _set(rolling, "maxSurge", "25%")
    _set(spec, "revisionHistoryLimit", 10)
    _set(spec, "progressDeadlineSeconds", 600)
    _template(_sub(spec, "template"), "Deployment", "v1")


def _replicaset(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    _set(spec, "replicas", 1)
    _template(_sub(spec, "template"), "ReplicaSet", "v1")


def _daemonset(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    strategy = _sub(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        rolling = _sub(strategy, "rollingUpdate")
        _set(rolling, "maxUnavailable", 1)
        _set(rolling, "maxSurge", 0)
    _set(spec, "revisionHistoryLimit", 10)
    _template(_sub(spec, "template"), "DaemonSet", "v1")


def _job(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    _set(spec, "parallelism", 1)
    _set(spec, "backoffLimit", MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6)
    template = _sub(spec, "template")
    template_labels = (template.get("metadata") or {}).get("labels")
    meta = _sub(obj, "metadata")
    if template_labels is not None and not meta.get("labels"):
        meta["labels"] = dict(template_labels)
    _set(spec, "completionMode", "NonIndexed")
    _set(spec, "suspend", False)
    _set(spec, "podReplacementPolicy",
         "Failed" if spec.get("podFailurePolicy") is not None else "TerminatingOrFailed")
    _template(template, "Job", "v1")


def _namespace(obj: Obj) -> None:
    meta = _sub(obj, "metadata")
    if meta.get("name"):
        _sub(meta, "labels")[NAMESPACE_NAME_LABEL] = meta["name"]
    st = _sub(obj, "status")
    if not st.get("phase"):
        st["phase"] = "Active"


def _node(obj: Obj) -> None:
    st = obj.get("status")
    if not isinstance(st, dict):
        return
    _resource_list(st.get("capacity"), "Node", "v1")
    _resource_list(st.get("allocatable"), "Node", "v1")
    if st.get("allocatable") is None and st.get("capacity") is not None:
        st["allocatable"] = dict(st["capacity"])


_BASE64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _base64_error(value: str) -> str | None:
    """Go's ``base64.StdEncoding`` error for a bad value, or None when it decodes."""
    text = value.replace("\r", "").replace("\n", "")
    body = text.rstrip("=")
    for i, ch in enumerate(body):
        if ch not in _BASE64_ALPHABET:
            return f"illegal base64 data at input byte {i}"
    padding = len(text) - len(body)
    if len(text) % 4 or padding > 2 or (padding and len(body) % 4 + padding != 4):
        return f"illegal base64 data at input byte {len(text) - len(text) % 4 if len(text) % 4 else len(body)}"
    return None


def _secret(obj: Obj) -> None:
    """Decoding a v1 Secret: ``stringData`` folds into ``data``; values must be base64."""
    string_data = obj.pop("stringData", None)
    if string_data:
        data = _sub(obj, "data")
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
    for value in (obj.get("data") or {}).values():
        error = _base64_error(value) if isinstance(value, str) else "illegal base64 data"
        if error:
            raise status.cannot_handle("Secret", "v1", error)
    if not obj.get("type"):
        obj["type"] = "Opaque"


def _endpoints(obj: Obj) -> None:
    for subset in obj.get("subsets") or []:
        for port in subset.get("ports") or []:
            if not port.get("protocol"):
                port["protocol"] = "TCP"


def _endpointslice(obj: Obj) -> None:
    for port in obj.get("ports") or []:
        _set(port, "name", "")
        _set(port, "protocol", "TCP")


def _priorityclass(obj: Obj) -> None:
    _set(obj, "preemptionPolicy", "PreemptLowerPriority")


def _resourcequota(obj: Obj) -> None:
    _resource_list((obj.get("spec") or {}).get("hard"), "ResourceQuota", "v1")
    st = obj.get("status") or {}
    _resource_list(st.get("hard"), "ResourceQuota", "v1")
    _resource_list(st.get("used"), "ResourceQuota", "v1")


def _limitrange(obj: Obj) -> None:
    for item in (obj.get("spec") or {}).get("limits") or []:
        for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            _resource_list(item.get(key), "LimitRange", "v1")
        if item.get("type") == "Container":
            default = _sub(item, "default")
            default_request = _sub(item, "defaultRequest")
            for name, value in (item.get("max") or {}).items():
                default.setdefault(name, value)
            for name, value in default.items():
                default_request.setdefault(name, value)
            for name, value in (item.get("min") or {}).items():
                default_request.setdefault(name, value)


_DEFAULTERS = {
    ("", "Pod"): _pod,
    ("", "Service"): _service,
    ("", "Namespace"): _namespace,
    ("", "Node"): _node,
    ("", "Secret"): _secret,
    ("", "Endpoints"): _endpoints,
    ("", "ResourceQuota"): _resourcequota,
    ("", "LimitRange"): _limitrange,
    ("apps", "Deployment"): _deployment,
    ("apps", "ReplicaSet"): _replicaset,
    ("apps", "DaemonSet"): _daemonset,
    ("batch", "Job"): _job,
    ("discovery.k8s.io", "EndpointSlice"): _endpointslice,
    ("scheduling.k8s.io", "PriorityClass"): _priorityclass,
}


def apply_defaults(obj: Obj) -> Obj:
    """Default ``obj`` in place according to its apiVersion/kind; unknown kinds pass through."""
    group = obj.get("apiVersion", "").rpartition("/")[0]
    defaulter = _DEFAULTERS.get((group, obj.get("kind", "")))
    if defaulter:
        defaulter(obj)
    return obj


# -- registry strategies -------------------------------------------------------------------

_GENERATION_KINDS = {("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "DaemonSet"),
                     ("batch", "Job")}


def pod_qos_class(pod: Obj) -> str:
    """``qos.GetPodQOS``: Guaranteed, Burstable or BestEffort from cpu/memory requests+limits."""
    requests: dict[str, quantity.Quantity] = {}
    limits: dict[str, quantity.Quantity] = {}
    zero = quantity.Quantity(0)
    guaranteed = True
    spec = pod.get("spec") or {}
    for ctr in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        res = ctr.get("resources") or {}
        ctr_limits = set()
        for name in ("cpu", "memory"):
            req = (res.get("requests") or {}).get(name)
            if req is not None and quantity.parse_json(req) != zero:
                requests[name] = requests.get(name, zero) + quantity.parse_json(req)
            lim = (res.get("limits") or {}).get(name)
            if lim is not None and quantity.parse_json(lim) != zero:
                ctr_limits.add(name)
                limits[name] = limits.get(name, zero) + quantity.parse_json(lim)
        if ctr_limits != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and set(requests) == {"cpu", "memory"} and all(
            requests[n] == limits.get(n) for n in requests):
        return "Guaranteed"
    return "Burstable"


def prepare_for_create(obj: Obj, uid: str = "") -> Obj:
    """The registry's ``PrepareForCreate``: reset status, set generation, per-kind fields.

    ``uid`` is the object's new uid (the Job selector is built from it).
    """
    kind = kinds.of(obj)
    key = (kind.group, kind.kind) if kind else ("", "")
    if key in _GENERATION_KINDS:
        obj.setdefault("metadata", {})["generation"] = 1
        obj["status"] = {}
    if key == ("", "Pod"):
        obj["status"] = {"phase": "Pending", "qosClass": pod_qos_class(obj)}
    elif key == ("", "Namespace"):
        _sub(obj, "spec")["finalizers"] = [FINALIZER_KUBERNETES]
        obj["status"] = {"phase": "Active"}
    elif key == ("", "Service"):
        obj["status"] = {"loadBalancer": {}}
    elif key == ("batch", "Job") and not obj["spec"].get("manualSelector"):
        _job_selector(obj, uid)
    return obj


def _job_selector(job: Obj, uid: str) -> None:
    name = job["metadata"].get("name", "")
    spec = job["spec"]
    spec["selector"] = {"matchLabels": {JOB_CONTROLLER_UID_LABEL: uid}}
    template_labels = _sub(_sub(spec["template"], "metadata"), "labels")
    template_labels.update({"controller-uid": uid, JOB_CONTROLLER_UID_LABEL: uid,
                            "job-name": name, JOB_NAME_LABEL: name})


def prepare_for_update(new: Obj, old: Obj, subresource: str = "") -> Obj:
    """``PrepareForUpdate``: a main-resource update keeps the old status, a status update
    keeps the old spec (and metadata other than labels/annotations/finalizers...), and a
    spec change bumps ``metadata.generation`` for the workload kinds."""
    kind = kinds.of(old)
    has_status = bool(kind and kind.subresource("status"))
    if subresource == "status":
        for key, value in old.items():
            if key not in ("status", "metadata"):
                new[key] = deep_copy(value)
        return new
    if has_status:
        if "status" in old:
            new["status"] = deep_copy(old["status"])
        else:
            new.pop("status", None)
    if kind and (kind.group, kind.kind) == ("", "Namespace"):
        _sub(new, "spec")["finalizers"] = list((old.get("spec") or {}).get("finalizers") or [])
    if kind and (kind.group, kind.kind) in _GENERATION_KINDS:
        generation = old.get("metadata", {}).get("generation", 1)
        if new.get("spec") != old.get("spec"):
            generation += 1
        new.setdefault("metadata", {})["generation"] = generation
    return new

