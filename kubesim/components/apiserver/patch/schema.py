"""Strategic-merge-patch metadata of the built-in kinds (patchStrategy / patchMergeKey
struct tags of k8s.io/api). Lists not named here are atomic (replaced whole), as are
tolerations, readinessGates, envFrom, command/args, taints and EndpointSlice lists;
maps are merged key by key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MERGE = "merge"


@dataclass(frozen=True)
class FieldMeta:
    """How one field merges: `strategy` "merge" (lists merge, by `merge_key` for lists of
    objects) or "" (lists replaced); `schema` describes the object or the list's items."""

    strategy: str = ""
    merge_key: str = ""
    schema: dict[str, FieldMeta] = field(default_factory=dict)


Schema = dict[str, FieldMeta]

UNKNOWN = FieldMeta()

OBJECT_META: Schema = {
    "ownerReferences": FieldMeta(MERGE, "uid"),
    "finalizers": FieldMeta(MERGE),
}
CONDITIONS = FieldMeta(MERGE, "type")
CONTAINER: Schema = {
    "ports": FieldMeta(MERGE, "containerPort"),
    "env": FieldMeta(MERGE, "name"),
    "volumeMounts": FieldMeta(MERGE, "mountPath"),
    "volumeDevices": FieldMeta(MERGE, "devicePath"),
}
POD_SPEC: Schema = {
    "volumes": FieldMeta(MERGE, "name"),
    "initContainers": FieldMeta(MERGE, "name", CONTAINER),
    "containers": FieldMeta(MERGE, "name", CONTAINER),
    "ephemeralContainers": FieldMeta(MERGE, "name", CONTAINER),
    "imagePullSecrets": FieldMeta(MERGE, "name"),
    "hostAliases": FieldMeta(MERGE, "ip"),
    "topologySpreadConstraints": FieldMeta(MERGE, "topologyKey"),
    "resourceClaims": FieldMeta(MERGE, "name"),
    "schedulingGates": FieldMeta(MERGE, "name"),
}
POD_STATUS: Schema = {
    "conditions": CONDITIONS,
    "podIPs": FieldMeta(MERGE, "ip"),
    "hostIPs": FieldMeta(MERGE, "ip"),
    "resourceClaimStatuses": FieldMeta(MERGE, "name"),
}
POD_TEMPLATE: Schema = {"metadata": FieldMeta(schema=OBJECT_META), "spec": FieldMeta(schema=POD_SPEC)}


def _kind(spec: Schema | None = None, status: Schema | None = None) -> FieldMeta:
    return FieldMeta(schema={
        "metadata": FieldMeta(schema=OBJECT_META),
        "spec": FieldMeta(schema=spec or {}),
        "status": FieldMeta(schema=status or {}),
    })


_WORKLOAD = _kind({"template": FieldMeta(schema=POD_TEMPLATE)}, {"conditions": CONDITIONS})

KINDS: dict[str, FieldMeta] = {
    "Pod": _kind(POD_SPEC, POD_STATUS),
    "PodTemplate": FieldMeta(schema={"metadata": FieldMeta(schema=OBJECT_META), "template": FieldMeta(schema=POD_TEMPLATE)}),
    "Deployment": _WORKLOAD,
    "ReplicaSet": _WORKLOAD,
    "DaemonSet": _WORKLOAD,
    "StatefulSet": _WORKLOAD,
    "Job": _WORKLOAD,
    "CronJob": _kind({"jobTemplate": FieldMeta(schema={"spec": FieldMeta(schema={"template": FieldMeta(schema=POD_TEMPLATE)})})}),
    "Service": _kind({"ports": FieldMeta(MERGE, "port")}, {"conditions": CONDITIONS}),
    "Node": _kind({"podCIDRs": FieldMeta(MERGE)}, {"conditions": CONDITIONS, "addresses": FieldMeta(MERGE, "type")}),
    "Namespace": _kind(status={"conditions": CONDITIONS}),
    **{kind: _kind() for kind in (
        "Endpoints", "EndpointSlice", "ConfigMap", "Secret", "Lease", "PriorityClass", "Event",
        "ResourceQuota", "LimitRange", "ServiceAccount", "Binding",
    )},
}
