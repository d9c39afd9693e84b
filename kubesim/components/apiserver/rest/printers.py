"""The server-side printers `kubectl get` shows: column definitions and row cells per kind,
after kubernetes pkg/printers/internalversion/printers.go (1.32). Kinds without a printer
get the default convertor's Name / Created At columns (apiserver pkg/registry/rest/table.go).

A printer takes an object and `now` (Unix seconds, for the Age columns) and returns the
row's cells and, for pods, the row conditions kubectl uses to dim finished pods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubesim.api import meta, selectors

Obj = dict[str, Any]
Cells = list[Any]

# metav1.ObjectMeta{}.SwaggerDoc() texts the printers reuse
NAME_DOC = ("Name must be unique within a namespace. Is required when creating resources, although "
            "some resources may allow a client to request the generation of an appropriate name "
            "automatically. Name is primarily intended for creation idempotence and configuration "
            "definition. Cannot be updated. More info: "
            "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
CREATION_DOC = ("CreationTimestamp is a timestamp representing the server time when this object was "
                "created. It is not guaranteed to be set in happens-before order across separate "
                "operations. Clients may not set this value. It is represented in RFC3339 form and "
                "is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")
NONE = "<none>"


def column(name: str, description: str, priority: int = 0, type_: str = "string",
           format_: str = "") -> dict[str, Any]:
    """A metav1.TableColumnDefinition."""
    return {"name": name, "type": type_, "format": format_, "description": description,
            "priority": priority}


def _name() -> dict[str, Any]:
    return column("Name", NAME_DOC, format_="name")


def _age() -> dict[str, Any]:
    return column("Age", CREATION_DOC)


def human_duration(seconds: float) -> str:
    """apimachinery util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if rest == 0 else f"{hours // 24 // 365}y{rest}d"
    return f"{hours // 24 // 365}y"


def since(timestamp: str | None, now: float) -> str:
    """printers.go translateTimestampSince."""
    if not timestamp:
        return "<unknown>"
    return human_duration(now - meta.parse_timestamp(timestamp))


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _age_of(obj: Obj, now: float) -> str:
    return since(_meta(obj).get("creationTimestamp"), now)


def _template_containers(obj: Obj) -> tuple[str, str]:
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = spec.get("containers") or []
    return (",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers))


def _selector_string(selector: Obj | None) -> str:
    """metav1.LabelSelectorAsSelector(...).String(); "<none>" when it selects nothing."""
    if not selector:
        return NONE
    try:
        text = str(selectors.from_label_selector(selector))
    except selectors.SelectorError as err:
        return str(err)
    return text or "<none>"


def _map_selector(selector: dict[str, str] | None) -> str:
    if not selector:
        return NONE
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


# --------------------------------------------------------------------------- pods
POD_COLUMNS = [
    _name(),
    column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
    column("Status", "The aggregate status of the containers in this pod."),
    column("Restarts", "The number of times the containers in this pod have been restarted and "
                       "when the last container in this pod has restarted."),
    _age(),
    column("IP", "podIP address allocated to the pod. Routable at least within the cluster. "
                 "Empty if not yet allocated.", 1),
    column("Node", "NodeName indicates in which node this pod is scheduled. If empty, this pod is "
                   "a candidate for scheduling by the scheduler defined in schedulerName. Once this "
                   "field is set, the kubelet for this node becomes responsible for the lifecycle of "
                   "this pod. This field should not be used to express a desire for the pod to be "
                   "scheduled on a specific node. "
                   "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename",
           1),
    column("Nominated Node", "nominatedNodeName is set only when this pod preempts other pods on "
                             "the node, but it cannot be scheduled right away as preemption victims "
                             "receive their graceful termination periods. This field does not "
                             "guarantee that the pod will be scheduled on this node. Scheduler may "
                             "decide to place the pod elsewhere if other nodes become available "
                             "sooner. Scheduler may also decide to give the resources on this node "
                             "to a higher priority pod that is created after preemption. As a "
                             "result, this field may be different than PodSpec.nodeName when the "
                             "pod is scheduled.", 1),
    column("Readiness Gates", "If specified, all readiness gates will be evaluated for pod "
                              "readiness. A pod is ready when all its containers are ready AND all "
                              "conditions specified in the readiness gates have status equal to "
                              "\"True\" More info: "
                              "https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates",
           1),
]


def _restarts(count: int, last: str | None, now: float) -> str:
    if count and last:
        return f"{count} ({since(last, now)} ago)"
    return str(count)


def print_pod(pod: Obj, now: float) -> tuple[Cells, list[Obj]]:
    """printers.go printPod: READY, STATUS (reason), RESTARTS as kubectl shows them."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    containers = spec.get("containers") or []
    total, ready, restarts = len(containers), 0, 0
    last_restart: str | None = None
    reason = status.get("phase") or ""
    if status.get("reason"):
        reason = status["reason"]
    conditions: list[Obj] = []
    if reason in ("Succeeded", "Failed"):
        conditions = [{"type": "Completed", "status": "True",
                       "reason": reason, "message": ""}]

    def note_restart(cs: Obj) -> None:
        nonlocal restarts, last_restart
        restarts += int(cs.get("restartCount") or 0)
        finished = ((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        if finished and (last_restart is None or finished > last_restart):
            last_restart = finished

    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for i, cs in enumerate(init_statuses):
        note_restart(cs)
        state = cs.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and terminated.get("exitCode", 0) == 0:
            continue
        if terminated is not None:
            if terminated.get("reason"):
                reason = "Init:" + terminated["reason"]
            elif terminated.get("signal"):
                reason = f"Init:Signal:{terminated['signal']}"
            else:
                reason = f"Init:ExitCode:{terminated.get('exitCode', 0)}"
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(spec.get('initContainers') or [])}"
        initializing = True
        break
    if not initializing:
        restarts, last_restart = 0, None
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            note_restart(cs)
            state = cs.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated is not None:
                reason = (f"Signal:{terminated['signal']}" if terminated.get("signal")
                          else f"ExitCode:{terminated.get('exitCode', 0)}")
            elif state.get("running") is not None and cs.get("ready"):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            ready_condition = next((c for c in status.get("conditions") or []
                                    if c.get("type") == "Ready"), None)
            reason = "Running" if ready_condition and ready_condition.get("status") == "True" \
                else "NotReady"
    if _meta(pod).get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    ips = status.get("podIPs") or []
    pod_ip = ips[0].get("ip") if ips else status.get("podIP")
    gates = spec.get("readinessGates") or []
    if gates:
        true_types = {c.get("type") for c in status.get("conditions") or []
                      if c.get("status") == "True"}
        gate_cell = f"{sum(1 for g in gates if g.get('conditionType') in true_types)}/{len(gates)}"
    else:
        gate_cell = NONE
    cells = [_meta(pod).get("name", ""), f"{ready}/{total}", reason,
             _restarts(restarts, last_restart, now), _age_of(pod, now),
             pod_ip or NONE, spec.get("nodeName") or NONE,
             status.get("nominatedNodeName") or NONE, gate_cell]
    return cells, conditions


# --------------------------------------------------------------------------- workloads
_CONTAINERS = column("Containers", "Names of each container in the template.", 1)
_IMAGES = column("Images", "Images referenced by each container in the template.", 1)

DEPLOYMENT_COLUMNS = [
    _name(),
    column("Ready", "Number of the pod with ready state"),
    column("Up-to-date", "Total number of non-terminated pods targeted by this deployment that "
                         "have the desired template spec."),
    column("Available", "Total number of available pods (ready for at least minReadySeconds) "
                        "targeted by this deployment."),
    _age(), _CONTAINERS, _IMAGES,
    column("Selector", "Label selector for pods. Existing ReplicaSets whose pods are selected by "
                       "this will be the ones affected by this deployment.", 1),
]


def print_deployment(obj: Obj, now: float) -> Cells:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    names, images = _template_containers(obj)
    desired = spec.get("replicas", 1) if spec.get("replicas") is not None else 1
    return [_meta(obj).get("name", ""), f"{status.get('readyReplicas', 0)}/{desired}",
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0),
            _age_of(obj, now), names, images, _selector_string(spec.get("selector"))]


REPLICASET_COLUMNS = [
    _name(),
    column("Desired", "Replicas is the number of desired pods. This is a pointer to distinguish "
                      "between explicit zero and unspecified. Defaults to 1. More info: "
                      "https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#replicaset"),
    column("Current", "Replicas is the most recently observed number of non-terminating pods. "
                      "More info: "
                      "https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#replicaset"),
    column("Ready", "The number of non-terminating pods targeted by this ReplicaSet with a Ready "
                    "Condition."),
    _age(), _CONTAINERS, _IMAGES,
    column("Selector", "Selector is a label query over pods that should match the replica count. "
                       "Label keys and values that must match in order to be controlled by this "
                       "replica set. It must match the pod template's labels. More info: "
                       "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
           1),
]


def print_replicaset(obj: Obj, now: float) -> Cells:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    names, images = _template_containers(obj)
    return [_meta(obj).get("name", ""), spec.get("replicas", 1), status.get("replicas", 0),
            status.get("readyReplicas", 0), _age_of(obj, now), names, images,
            _selector_string(spec.get("selector"))]


DAEMONSET_COLUMNS = [
    _name(),
    column("Desired", "The total number of nodes that should be running the daemon pod "
                      "(including nodes correctly running the daemon pod). More info: "
                      "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
    column("Current", "The number of nodes that are running at least 1 daemon pod and are "
                      "supposed to run the daemon pod. More info: "
                      "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
    column("Ready", "numberReady is the number of nodes that should be running the daemon pod "
                    "and have one or more of the daemon pod running with a Ready Condition."),
    column("Up-to-date", "The total number of nodes that are running updated daemon pod"),
    column("Available", "The number of nodes that should be running the daemon pod and have one "
                        "or more of the daemon pod running and available (ready for at least "
                        "spec.minReadySeconds)"),
    column("Node Selector", "NodeSelector is a selector which must be true for the pod to fit on "
                            "a node. Selector which must match a node's labels for the pod to be "
                            "scheduled on that node. More info: "
                            "https://kubernetes.io/docs/concepts/configuration/assign-pod-node/"),
    _age(), _CONTAINERS, _IMAGES,
    column("Selector", "A label query over pods that are managed by the daemon set. Must match "
                       "in order to be controlled. It must match the pod template's labels. More "
                       "info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
           1),
]


def print_daemonset(obj: Obj, now: float) -> Cells:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    names, images = _template_containers(obj)
    node_selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector")
    return [_meta(obj).get("name", ""), status.get("desiredNumberScheduled", 0),
            status.get("currentNumberScheduled", 0), status.get("numberReady", 0),
            status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0),
            _map_selector(node_selector), _age_of(obj, now), names, images,
            _selector_string(spec.get("selector"))]


JOB_COLUMNS = [
    _name(),
    column("Status", "Status of the job."),
    column("Completions", "The completion status of the job."),
    column("Duration", "Time required to complete the job."),
    _age(), _CONTAINERS, _IMAGES,
    column("Selector", "A label query over pods that should match the pod count. Normally, the "
                       "system sets this field for you. More info: "
                       "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
           1),
]


def _job_status(conditions: list[Obj], deleting: bool) -> str:
    """printers.go printJob (1.32): the last true condition that names a state."""
    if deleting:
        return "Terminating"
    state = "Running"
    for c in conditions:
        if c.get("status") != "True":
            continue
        kind = c.get("type")
        if kind in ("Complete", "Failed", "Suspended"):
            return kind
        if kind == "FailureTarget":
            state = "FailureTarget"
        elif kind == "SuccessCriteriaMet":
            state = "SuccessCriteriaMet"
    return state


def print_job(obj: Obj, now: float) -> Cells:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    names, images = _template_containers(obj)
    if spec.get("completions") is not None:
        completions = f"{status.get('succeeded', 0)}/{spec['completions']}"
    else:
        parallelism = spec.get("parallelism", 0) or 0
        completions = f"{status.get('succeeded', 0)}/1 of {parallelism}" if parallelism > 1 \
            else f"{status.get('succeeded', 0)}/1"
    start, done = status.get("startTime"), status.get("completionTime")
    if start and done:
        duration = human_duration(meta.parse_timestamp(done) - meta.parse_timestamp(start))
    elif start:
        duration = human_duration(now - meta.parse_timestamp(start))
    else:
        duration = ""
    return [_meta(obj).get("name", ""),
            _job_status(status.get("conditions") or [], bool(_meta(obj).get("deletionTimestamp"))),
            completions, duration, _age_of(obj, now), names, images,
            _selector_string(spec.get("selector"))]


# --------------------------------------------------------------------------- core kinds
NODE_COLUMNS = [
    _name(),
    column("Status", "The status of the node"),
    column("Roles", "The roles of the node"),
    _age(),
    column("Version", "Kubelet Version reported by the node."),
    column("Internal-IP", "List of addresses reachable to the node. Queried from cloud provider, "
                          "if available.", 1),
    column("External-IP", "List of addresses reachable to the node. Queried from cloud provider, "
                          "if available.", 1),
    column("OS-Image", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux "
                       "7 (wheezy)).", 1),
    column("Kernel-Version", "Kernel Version reported by the node from 'uname -r' (e.g. "
                             "3.16.0-0.bpo.4-amd64).", 1),
    column("Container-Runtime", "ContainerRuntime Version reported by the node through runtime "
                                "remote API (e.g. containerd://1.4.2).", 1),
]
NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
NODE_ROLE_LABEL = "kubernetes.io/role"


def print_node(obj: Obj, now: float) -> Cells:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    states = []
    for c in status.get("conditions") or []:
        if c.get("type") == "Ready":
            states.append("Ready" if c.get("status") == "True" else
                          "NotReady" if c.get("status") == "False" else "Unknown")
    if not states:
        states.append("Unknown")
    if spec.get("unschedulable"):
        states.append("SchedulingDisabled")
    roles = set()
    for key, value in (_meta(obj).get("labels") or {}).items():
        if key.startswith(NODE_ROLE_PREFIX) and key[len(NODE_ROLE_PREFIX):]:
            roles.add(key[len(NODE_ROLE_PREFIX):])
        elif key == NODE_ROLE_LABEL and value:
            roles.add(value)
    info = status.get("nodeInfo") or {}
    addresses = status.get("addresses") or []

    def address(kind: str) -> str:
        return next((a.get("address") for a in addresses if a.get("type") == kind), None) or NONE

    return [_meta(obj).get("name", ""), ",".join(states), ",".join(sorted(roles)) or NONE,
            _age_of(obj, now), info.get("kubeletVersion", ""), address("InternalIP"),
            address("ExternalIP"), info.get("osImage") or "<unknown>",
            info.get("kernelVersion") or "<unknown>", info.get("containerRuntimeVersion") or "<unknown>"]


SERVICE_COLUMNS = [
    _name(),
    column("Type", "type determines how the Service is exposed. Defaults to ClusterIP. Valid "
                   "options are ExternalName, ClusterIP, NodePort, and LoadBalancer."),
    column("Cluster-IP", "clusterIP is the IP address of the service and is usually assigned "
                         "randomly."),
    column("External-IP", "externalIPs is a list of IP addresses for which nodes in the cluster "
                           "will also accept traffic for this service."),
    column("Port(s)", "The list of ports that are exposed by this service."),
    _age(),
    column("Selector", "Route service traffic to pods with label keys and values matching this "
                       "selector. If empty or not present, the service is assumed to have an "
                       "external process managing its endpoints, which Kubernetes will not "
                       "modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. "
                       "Ignored if type is ExternalName. More info: "
                       "https://kubernetes.io/docs/concepts/services-networking/service/", 1),
]


def _external_ip(svc: Obj) -> str:
    spec = svc.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    external = list(spec.get("externalIPs") or [])
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or NONE
    if kind == "LoadBalancer":
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        ips = [i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")]
        ips += external
        return ",".join(ips) or "<pending>"
    if kind == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def print_service(obj: Obj, now: float) -> Cells:
    spec = obj.get("spec") or {}
    ports = []
    for p in spec.get("ports") or []:
        text = f"{p.get('port')}/{p.get('protocol', 'TCP')}"
        if p.get("nodePort"):
            text = f"{p.get('port')}:{p['nodePort']}/{p.get('protocol', 'TCP')}"
        ports.append(text)
    return [_meta(obj).get("name", ""), spec.get("type", "ClusterIP"),
            spec.get("clusterIP") or NONE, _external_ip(obj), ",".join(ports) or NONE,
            _age_of(obj, now), _map_selector(spec.get("selector"))]


NAMESPACE_COLUMNS = [
    _name(),
    column("Status", "The status of the namespace"),
    _age(),
]


def print_namespace(obj: Obj, now: float) -> Cells:
    return [_meta(obj).get("name", ""), (obj.get("status") or {}).get("phase", ""),
            _age_of(obj, now)]


CONFIGMAP_COLUMNS = [_name(), column("Data", "Data contains the configuration data."), _age()]


def print_configmap(obj: Obj, now: float) -> Cells:
    return [_meta(obj).get("name", ""),
            len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), _age_of(obj, now)]


SECRET_COLUMNS = [
    _name(),
    column("Type", "Used to facilitate programmatic handling of secret data. More info: "
                   "https://kubernetes.io/docs/concepts/configuration/secret/#secret-types"),
    column("Data", "Data contains the secret data. Each key must consist of alphanumeric "
                   "characters, '-', '_' or '.'. The serialized form of the secret data is a "
                   "base64 encoded string, representing the arbitrary (possibly non-string) data "
                   "value here. Described in https://tools.ietf.org/html/rfc4648#section-4"),
    _age(),
]


def print_secret(obj: Obj, now: float) -> Cells:
    return [_meta(obj).get("name", ""), obj.get("type", "Opaque"), len(obj.get("data") or {}),
            _age_of(obj, now)]


ENDPOINTS_COLUMNS = [
    _name(),
    column("Endpoints", "Endpoints is the list of endpoints in the service."),
    _age(),
]


def _format_endpoints(endpoints: list[str]) -> str:
    """printers.go formatEndpoints: at most 3, then "+ N more..."."""
    if not endpoints:
        return NONE
    shown = ",".join(endpoints[:3])
    return shown + (f" + {len(endpoints) - 3} more..." if len(endpoints) > 3 else "")


def print_endpoints(obj: Obj, now: float) -> Cells:
    out = []
    for subset in obj.get("subsets") or []:
        ports = subset.get("ports") or []
        for addr in subset.get("addresses") or []:
            if ports:
                out.extend(f"{addr.get('ip')}:{p.get('port')}" for p in ports)
            else:
                out.append(addr.get("ip", ""))
    return [_meta(obj).get("name", ""), _format_endpoints(out), _age_of(obj, now)]


ENDPOINTSLICE_COLUMNS = [
    _name(),
    column("AddressType", "Type of address carried by this EndpointSlice"),
    column("Ports", "Ports advertised by this EndpointSlice"),
    column("Endpoints", "Endpoints represented by this EndpointSlice"),
    _age(),
]


def print_endpointslice(obj: Obj, now: float) -> Cells:
    ports = obj.get("ports")
    if ports is None:
        port_cell = NONE
    elif not ports:
        port_cell = "<unset>"
    else:
        port_cell = ",".join(str(p.get("port")) if p.get("port") is not None else "<unset>"
                             for p in ports)
    addrs = [a for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
    return [_meta(obj).get("name", ""), obj.get("addressType", ""), port_cell,
            _format_endpoints(addrs), _age_of(obj, now)]


EVENT_COLUMNS = [
    column("Last Seen", "Time when this Event was last seen"),
    column("Type", "Type of this event (Normal, Warning), new types could be added in the future."),
    column("Reason", "This should be a short, machine understandable string that gives the "
                     "reason for this event being generated."),
    column("Object", "The object this Event is about"),
    column("Subobject", "The subobject this Event is about", 1),
    column("Source", "The component reporting this event. Should be a short machine "
                     "understandable string.", 1),
    column("Message", "A human-readable description of the status of this operation."),
    column("First Seen", "Time when this Event was first seen", 1),
    column("Count", "The number of times this event has occurred.", 1),
    column("Name", NAME_DOC, 1, format_="name"),
]


def print_event(obj: Obj, now: float) -> Cells:
    """printers.go printEvent, for core/v1 Events (events.k8s.io/v1 fields as fallbacks)."""
    involved = obj.get("involvedObject") or obj.get("regarding") or {}
    source = obj.get("source") or {}
    source_text = source.get("component") or obj.get("reportingComponent") or \
        obj.get("reportingController") or ""
    if source.get("host"):
        source_text += ", " + source["host"]
    first = obj.get("firstTimestamp") or obj.get("eventTime") or \
        ((obj.get("series") or {}).get("lastObservedTime"))
    last = obj.get("lastTimestamp") or ((obj.get("series") or {}).get("lastObservedTime")) or \
        obj.get("eventTime") or first
    count = obj.get("count") or ((obj.get("series") or {}).get("count")) or 1
    if (obj.get("series") or {}).get("count"):
        last_seen = f"{since(last, now)} (x{count} over {since(first, now)})"
    elif count > 1:
        last_seen = f"{since(last, now)} (x{count} over {since(first, now)})"
    else:
        last_seen = since(last, now)
    kind = involved.get("kind", "")
    return [last_seen, obj.get("type", ""), obj.get("reason", ""),
            f"{kind.lower()}/{involved.get('name', '')}", involved.get("fieldPath", ""),
            source_text, (obj.get("message") or obj.get("note") or "").strip(),
            since(first, now), count, _meta(obj).get("name", "")]


LEASE_COLUMNS = [
    _name(),
    column("Holder", "holderIdentity contains the identity of the holder of a current lease. If "
                     "Coordinated Leader Election is used, the holder identity must be equal to "
                     "the elected LeaseCandidate.metadata.name field."),
    _age(),
]


def print_lease(obj: Obj, now: float) -> Cells:
    holder = (obj.get("spec") or {}).get("holderIdentity")
    return [_meta(obj).get("name", ""), holder if holder is not None else "", _age_of(obj, now)]


PRIORITYCLASS_COLUMNS = [
    _name(),
    column("Value", "value represents the integer value of this priority class. This is the "
                    "actual priority that pods receive when they have the name of this class in "
                    "their pod spec.", type_="integer"),
    column("Global-Default", "globalDefault specifies whether this PriorityClass should be "
                             "considered as the default priority for pods that do not have any "
                             "priority class. Only one PriorityClass can be marked as "
                             "`globalDefault`. However, if more than one PriorityClasses exists "
                             "with their `globalDefault` field set to true, the smallest value of "
                             "such global default PriorityClasses will be used as the default "
                             "priority.", type_="boolean"),
    _age(),
    column("PreemptionPolicy", "preemptionPolicy is the Policy for preempting pods with lower "
                               "priority. One of Never, PreemptLowerPriority. Defaults to "
                               "PreemptLowerPriority if unset."),
]


def print_priorityclass(obj: Obj, now: float) -> Cells:
    return [_meta(obj).get("name", ""), obj.get("value", 0), bool(obj.get("globalDefault")),
            _age_of(obj, now), obj.get("preemptionPolicy") or "PreemptLowerPriority"]


RESOURCEQUOTA_COLUMNS = [
    _name(),
    _age(),
    column("Request", "Request represents a minimum amount of cpu/memory that a container may "
                      "consume."),
    column("Limit", "Limits control the maximum amount of cpu/memory that a container may use "
                    "independent of contention on the node."),
]


def print_resourcequota(obj: Obj, now: float) -> Cells:
    status = obj.get("status") or {}
    hard, used = status.get("hard") or {}, status.get("used") or {}
    requests, limits = [], []
    for name in sorted(hard):
        text = f"{name}: {used.get(name, '0')}/{hard[name]}"
        (limits if name.startswith("limits.") else requests).append(text)
    return [_meta(obj).get("name", ""), _age_of(obj, now), ", ".join(requests), ", ".join(limits)]


DEFAULT_COLUMNS = [
    _name(),
    column("Created At", CREATION_DOC, type_="date"),
]


def print_default(obj: Obj, now: float) -> Cells:
    """The default table convertor: name and creationTimestamp as stored."""
    return [_meta(obj).get("name", ""), _meta(obj).get("creationTimestamp")]


Printer = Callable[[Obj, float], Cells]

# (group, kind) -> (columns, cell printer); pods are special (row conditions)
PRINTERS: dict[tuple[str, str], tuple[list[dict[str, Any]], Printer]] = {
    ("apps", "Deployment"): (DEPLOYMENT_COLUMNS, print_deployment),
    ("apps", "ReplicaSet"): (REPLICASET_COLUMNS, print_replicaset),
    ("apps", "DaemonSet"): (DAEMONSET_COLUMNS, print_daemonset),
    ("batch", "Job"): (JOB_COLUMNS, print_job),
    ("", "Node"): (NODE_COLUMNS, print_node),
    ("", "Service"): (SERVICE_COLUMNS, print_service),
    ("", "Namespace"): (NAMESPACE_COLUMNS, print_namespace),
    ("", "ConfigMap"): (CONFIGMAP_COLUMNS, print_configmap),
    ("", "Secret"): (SECRET_COLUMNS, print_secret),
    ("", "Endpoints"): (ENDPOINTS_COLUMNS, print_endpoints),
    ("discovery.k8s.io", "EndpointSlice"): (ENDPOINTSLICE_COLUMNS, print_endpointslice),
    ("", "Event"): (EVENT_COLUMNS, print_event),
    ("events.k8s.io", "Event"): (EVENT_COLUMNS, print_event),
    ("coordination.k8s.io", "Lease"): (LEASE_COLUMNS, print_lease),
    ("scheduling.k8s.io", "PriorityClass"): (PRIORITYCLASS_COLUMNS, print_priorityclass),
    ("", "ResourceQuota"): (RESOURCEQUOTA_COLUMNS, print_resourcequota),
}


def printer_for(group: str, kind: str) -> tuple[list[dict[str, Any]], Callable[[Obj, float], tuple[Cells, list[Obj]]]]:
    """Columns and a row function (cells, row conditions) for objects of `kind`."""
    if (group, kind) == ("", "Pod"):
        return POD_COLUMNS, print_pod
    columns, cells = PRINTERS.get((group, kind), (DEFAULT_COLUMNS, print_default))
    return columns, lambda obj, now: (cells(obj, now), [])
