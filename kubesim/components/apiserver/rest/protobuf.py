"""Kubernetes protobuf request bodies decoded into the JSON object the JSON path reads.

kubectl's typed commands (`kubectl create deployment|configmap|namespace|secret|service|job|
cronjob|priorityclass|quota`) POST `application/vnd.kubernetes.protobuf`: the magic bytes
"k8s\\x00" then a runtime.Unknown (1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3
contentEncoding, 4 contentType) whose `raw` is the object's message. The tables below give,
per message of k8s.io/api and apimachinery's generated.proto (v1.32), field number ->
(JSON name, type, cardinality). The Go structs are proto2 with every present field written,
so a value field at its zero value is dropped where the JSON tag is omitempty (`KEEP` marks
pointers and fields without omitempty, which JSON always carries when set); a zero Time is
JSON's null; Quantity is its string; IntOrString its int or string; map<string,bytes> base64.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from kubesim.api import status

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
ACCEPTED = ["application/json", "application/yaml", MEDIA_TYPE]

Obj = dict[str, Any]
# A field: (JSON name, type, cardinality). Types: "string", "bytes", "bool", "int32",
# "int64", "Time", "Quantity", "IntOrString", or a message name; cardinality: "" (optional),
# "keep" (pointer / not omitempty: present means set), "list", "map" (map<string, type>).
Field = tuple[str, str, str]
SCALARS = {"string", "bytes", "bool", "int32", "int64"}

_META: dict[str, dict[int, Field]] = {
    "ObjectMeta": {
        1: ("name", "string", ""), 2: ("generateName", "string", ""),
        3: ("namespace", "string", ""), 4: ("selfLink", "string", ""),
        5: ("uid", "string", ""), 6: ("resourceVersion", "string", ""),
        7: ("generation", "int64", ""), 8: ("creationTimestamp", "Time", "keep"),
        9: ("deletionTimestamp", "Time", ""), 10: ("deletionGracePeriodSeconds", "int64", "keep"),
        11: ("labels", "string", "map"), 12: ("annotations", "string", "map"),
        13: ("ownerReferences", "OwnerReference", "list"), 14: ("finalizers", "string", "list"),
        17: ("managedFields", "ManagedFieldsEntry", "list"),
    },
    "OwnerReference": {
        1: ("kind", "string", "keep"), 3: ("name", "string", "keep"), 4: ("uid", "string", "keep"),
        5: ("apiVersion", "string", "keep"), 6: ("controller", "bool", "keep"),
        7: ("blockOwnerDeletion", "bool", "keep"),
    },
    "ManagedFieldsEntry": {
        1: ("manager", "string", ""), 2: ("operation", "string", ""),
        3: ("apiVersion", "string", ""), 4: ("time", "Time", ""),
        6: ("fieldsType", "string", ""), 7: ("fieldsV1", "FieldsV1", ""),
        8: ("subresource", "string", ""),
    },
    "FieldsV1": {1: ("Raw", "bytes", "")},
    "LabelSelector": {
        1: ("matchLabels", "string", "map"),
        2: ("matchExpressions", "LabelSelectorRequirement", "list"),
    },
    "LabelSelectorRequirement": {
        1: ("key", "string", "keep"), 2: ("operator", "string", "keep"), 3: ("values", "string", "list"),
    },
    "Condition": {
        1: ("type", "string", "keep"), 2: ("status", "string", "keep"),
        3: ("observedGeneration", "int64", ""), 4: ("lastTransitionTime", "Time", "keep"),
        5: ("reason", "string", "keep"), 6: ("message", "string", "keep"),
    },
}

_CORE: dict[str, dict[int, Field]] = {
    "ConfigMap": {
        1: ("metadata", "ObjectMeta", ""), 2: ("data", "string", "map"),
        3: ("binaryData", "bytes", "map"), 4: ("immutable", "bool", "keep"),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta", ""), 2: ("data", "bytes", "map"), 3: ("type", "string", ""),
        4: ("stringData", "string", "map"), 5: ("immutable", "bool", "keep"),
    },
    "Namespace": {
        1: ("metadata", "ObjectMeta", ""), 2: ("spec", "NamespaceSpec", ""),
        3: ("status", "NamespaceStatus", ""),
    },
    "NamespaceSpec": {1: ("finalizers", "string", "list")},
    "NamespaceStatus": {
        1: ("phase", "string", ""), 2: ("conditions", "NamespaceCondition", "list"),
    },
    "NamespaceCondition": {
        1: ("type", "string", "keep"), 2: ("status", "string", "keep"),
        4: ("lastTransitionTime", "Time", ""), 5: ("reason", "string", ""),
        6: ("message", "string", ""),
    },
    "Service": {
        1: ("metadata", "ObjectMeta", ""), 2: ("spec", "ServiceSpec", ""),
        3: ("status", "ServiceStatus", ""),
    },
    "ServiceSpec": {
        1: ("ports", "ServicePort", "list"), 2: ("selector", "string", "map"),
        3: ("clusterIP", "string", ""), 4: ("type", "string", ""),
        5: ("externalIPs", "string", "list"), 7: ("sessionAffinity", "string", ""),
        8: ("loadBalancerIP", "string", ""), 9: ("loadBalancerSourceRanges", "string", "list"),
        10: ("externalName", "string", ""), 11: ("externalTrafficPolicy", "string", ""),
        12: ("healthCheckNodePort", "int32", ""), 13: ("publishNotReadyAddresses", "bool", ""),
        14: ("sessionAffinityConfig", "SessionAffinityConfig", ""),
        17: ("ipFamilyPolicy", "string", "keep"), 18: ("clusterIPs", "string", "list"),
        19: ("ipFamilies", "string", "list"),
        20: ("allocateLoadBalancerNodePorts", "bool", "keep"),
        21: ("loadBalancerClass", "string", "keep"), 22: ("internalTrafficPolicy", "string", "keep"),
        23: ("trafficDistribution", "string", "keep"),
    },
    "ServicePort": {
        1: ("name", "string", ""), 2: ("protocol", "string", ""), 3: ("port", "int32", "keep"),
        4: ("targetPort", "IntOrString", ""), 5: ("nodePort", "int32", ""),
        6: ("appProtocol", "string", "keep"),
    },
    "SessionAffinityConfig": {1: ("clientIP", "ClientIPConfig", "")},
    "ClientIPConfig": {1: ("timeoutSeconds", "int32", "keep")},
    "ServiceStatus": {
        1: ("loadBalancer", "LoadBalancerStatus", ""), 2: ("conditions", "Condition", "list"),
    },
    "LoadBalancerStatus": {1: ("ingress", "LoadBalancerIngress", "list")},
    "LoadBalancerIngress": {
        1: ("ip", "string", ""), 2: ("hostname", "string", ""), 3: ("ipMode", "string", "keep"),
        4: ("ports", "PortStatus", "list"),
    },
    "PortStatus": {
        1: ("port", "int32", "keep"), 2: ("protocol", "string", "keep"),
        3: ("error", "string", "keep"),
    },
    "ResourceQuota": {
        1: ("metadata", "ObjectMeta", ""), 2: ("spec", "ResourceQuotaSpec", ""),
        3: ("status", "ResourceQuotaStatus", ""),
    },
    "ResourceQuotaSpec": {
        1: ("hard", "Quantity", "map"), 2: ("scopes", "string", "list"),
        3: ("scopeSelector", "ScopeSelector", ""),
    },
    "ResourceQuotaStatus": {1: ("hard", "Quantity", "map"), 2: ("used", "Quantity", "map")},
    "ScopeSelector": {1: ("matchExpressions", "ScopedResourceSelectorRequirement", "list")},
    "ScopedResourceSelectorRequirement": {
        1: ("scopeName", "string", "keep"), 2: ("operator", "string", "keep"),
        3: ("values", "string", "list"),
    },
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "PodSpec", "")},
    "PodSpec": {
        1: ("volumes", "Volume", "list"), 2: ("containers", "Container", "list"),
        3: ("restartPolicy", "string", ""), 4: ("terminationGracePeriodSeconds", "int64", "keep"),
        5: ("activeDeadlineSeconds", "int64", "keep"), 6: ("dnsPolicy", "string", ""),
        7: ("nodeSelector", "string", "map"), 8: ("serviceAccountName", "string", ""),
        9: ("serviceAccount", "string", ""), 10: ("nodeName", "string", ""),
        11: ("hostNetwork", "bool", ""), 12: ("hostPID", "bool", ""), 13: ("hostIPC", "bool", ""),
        15: ("imagePullSecrets", "LocalObjectReference", "list"), 16: ("hostname", "string", ""),
        17: ("subdomain", "string", ""), 19: ("schedulerName", "string", ""),
        20: ("initContainers", "Container", "list"),
        21: ("automountServiceAccountToken", "bool", "keep"),
        22: ("tolerations", "Toleration", "list"), 24: ("priorityClassName", "string", ""),
        25: ("priority", "int32", "keep"), 27: ("shareProcessNamespace", "bool", "keep"),
        29: ("runtimeClassName", "string", "keep"), 30: ("enableServiceLinks", "bool", "keep"),
        31: ("preemptionPolicy", "string", "keep"), 35: ("setHostnameAsFQDN", "bool", "keep"),
        37: ("hostUsers", "bool", "keep"),
    },
    "Container": {
        1: ("name", "string", "keep"), 2: ("image", "string", ""), 3: ("command", "string", "list"),
        4: ("args", "string", "list"), 5: ("workingDir", "string", ""),
        6: ("ports", "ContainerPort", "list"), 7: ("env", "EnvVar", "list"),
        8: ("resources", "ResourceRequirements", ""), 9: ("volumeMounts", "VolumeMount", "list"),
        13: ("terminationMessagePath", "string", ""), 14: ("imagePullPolicy", "string", ""),
        16: ("stdin", "bool", ""), 17: ("stdinOnce", "bool", ""), 18: ("tty", "bool", ""),
        20: ("terminationMessagePolicy", "string", ""), 24: ("restartPolicy", "string", "keep"),
    },
    "ContainerPort": {
        1: ("name", "string", ""), 2: ("hostPort", "int32", ""), 3: ("containerPort", "int32", "keep"),
        4: ("protocol", "string", ""), 5: ("hostIP", "string", ""),
    },
    "EnvVar": {1: ("name", "string", "keep"), 2: ("value", "string", "")},
    "ResourceRequirements": {1: ("limits", "Quantity", "map"), 2: ("requests", "Quantity", "map")},
    "VolumeMount": {
        1: ("name", "string", "keep"), 2: ("readOnly", "bool", ""), 3: ("mountPath", "string", "keep"),
        4: ("subPath", "string", ""),
    },
    "Volume": {1: ("name", "string", "keep")},
    "LocalObjectReference": {1: ("name", "string", "")},
    "Toleration": {
        1: ("key", "string", ""), 2: ("operator", "string", ""), 3: ("value", "string", ""),
        4: ("effect", "string", ""), 5: ("tolerationSeconds", "int64", "keep"),
    },
}

_APPS_BATCH_SCHEDULING: dict[str, dict[int, Field]] = {
    "Deployment": {
        1: ("metadata", "ObjectMeta", ""), 2: ("spec", "DeploymentSpec", ""),
        3: ("status", "DeploymentStatus", ""),
    },
    "DeploymentSpec": {
        1: ("replicas", "int32", "keep"), 2: ("selector", "LabelSelector", ""),
        3: ("template", "PodTemplateSpec", ""), 4: ("strategy", "DeploymentStrategy", ""),
        5: ("minReadySeconds", "int32", ""), 6: ("revisionHistoryLimit", "int32", "keep"),
        7: ("paused", "bool", ""), 9: ("progressDeadlineSeconds", "int32", "keep"),
    },
    "DeploymentStrategy": {1: ("type", "string", ""), 2: ("rollingUpdate", "RollingUpdateDeployment", "")},
    "RollingUpdateDeployment": {
        1: ("maxUnavailable", "IntOrString", "keep"), 2: ("maxSurge", "IntOrString", "keep"),
    },
    "DeploymentStatus": {
        1: ("observedGeneration", "int64", ""), 2: ("replicas", "int32", ""),
        3: ("updatedReplicas", "int32", ""), 4: ("availableReplicas", "int32", ""),
        5: ("unavailableReplicas", "int32", ""), 6: ("conditions", "DeploymentCondition", "list"),
        7: ("readyReplicas", "int32", ""), 8: ("collisionCount", "int32", "keep"),
    },
    "DeploymentCondition": {
        1: ("type", "string", "keep"), 2: ("status", "string", "keep"),
        4: ("reason", "string", ""), 5: ("message", "string", ""),
        6: ("lastUpdateTime", "Time", ""), 7: ("lastTransitionTime", "Time", ""),
    },
    "Job": {
        1: ("metadata", "ObjectMeta", ""), 2: ("spec", "JobSpec", ""), 3: ("status", "JobStatus", ""),
    },
    "JobSpec": {
        1: ("parallelism", "int32", "keep"), 2: ("completions", "int32", "keep"),
        3: ("activeDeadlineSeconds", "int64", "keep"), 4: ("selector", "LabelSelector", ""),
        5: ("manualSelector", "bool", "keep"), 6: ("template", "PodTemplateSpec", "keep"),
        7: ("backoffLimit", "int32", "keep"), 8: ("ttlSecondsAfterFinished", "int32", "keep"),
        9: ("completionMode", "string", "keep"), 10: ("suspend", "bool", "keep"),
        12: ("backoffLimitPerIndex", "int32", "keep"), 13: ("maxFailedIndexes", "int32", "keep"),
        14: ("podReplacementPolicy", "string", "keep"), 15: ("managedBy", "string", "keep"),
    },
    "JobStatus": {
        1: ("conditions", "JobCondition", "list"), 2: ("startTime", "Time", ""),
        3: ("completionTime", "Time", ""), 4: ("active", "int32", ""),
        5: ("succeeded", "int32", ""), 6: ("failed", "int32", ""),
        7: ("completedIndexes", "string", ""), 9: ("ready", "int32", "keep"),
        10: ("failedIndexes", "string", "keep"), 11: ("terminating", "int32", "keep"),
    },
    "JobCondition": {
        1: ("type", "string", "keep"), 2: ("status", "string", "keep"),
        3: ("lastProbeTime", "Time", ""), 4: ("lastTransitionTime", "Time", ""),
        5: ("reason", "string", ""), 6: ("message", "string", ""),
    },
    "CronJob": {
        1: ("metadata", "ObjectMeta", ""), 2: ("spec", "CronJobSpec", ""),
        3: ("status", "CronJobStatus", ""),
    },
    "CronJobSpec": {
        1: ("schedule", "string", "keep"), 2: ("startingDeadlineSeconds", "int64", "keep"),
        3: ("concurrencyPolicy", "string", ""), 4: ("suspend", "bool", "keep"),
        5: ("jobTemplate", "JobTemplateSpec", "keep"),
        6: ("successfulJobsHistoryLimit", "int32", "keep"),
        7: ("failedJobsHistoryLimit", "int32", "keep"), 8: ("timeZone", "string", "keep"),
    },
    "JobTemplateSpec": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "JobSpec", "")},
    "CronJobStatus": {
        1: ("active", "ObjectReference", "list"), 4: ("lastScheduleTime", "Time", ""),
        5: ("lastSuccessfulTime", "Time", ""),
    },
    "ObjectReference": {
        1: ("kind", "string", ""), 2: ("namespace", "string", ""), 3: ("name", "string", ""),
        4: ("uid", "string", ""), 5: ("apiVersion", "string", ""),
        6: ("resourceVersion", "string", ""), 7: ("fieldPath", "string", ""),
    },
    "PriorityClass": {
        1: ("metadata", "ObjectMeta", ""), 2: ("value", "int32", "keep"),
        3: ("globalDefault", "bool", ""), 4: ("description", "string", ""),
        5: ("preemptionPolicy", "string", "keep"),
    },
}

MESSAGES: dict[str, dict[int, Field]] = {**_META, **_CORE, **_APPS_BATCH_SCHEDULING}

# apiVersion/kind of the objects served from protobuf -> their top-level message.
KINDS: dict[tuple[str, str], str] = {
    ("v1", "ConfigMap"): "ConfigMap", ("v1", "Secret"): "Secret",
    ("v1", "Namespace"): "Namespace", ("v1", "Service"): "Service",
    ("v1", "ResourceQuota"): "ResourceQuota", ("apps/v1", "Deployment"): "Deployment",
    ("batch/v1", "Job"): "Job", ("batch/v1", "CronJob"): "CronJob",
    ("scheduling.k8s.io/v1", "PriorityClass"): "PriorityClass",
}

class ProtobufError(ValueError):
    """Malformed protobuf bytes."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("unexpected EOF in a varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 64:
            raise ProtobufError("varint overflows 64 bits")


def fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """The (field number, wire type, value) of a message's bytes, in order: a varint for
    wire type 0, the bytes of a length-delimited field (2); fixed64/fixed32 as ints."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("illegal field number 0")
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, wire, value))
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise ProtobufError("unexpected EOF in a length-delimited field")
            out.append((number, wire, data[pos:pos + size]))
            pos += size
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            if pos + width > len(data):
                raise ProtobufError("unexpected EOF in a fixed-width field")
            out.append((number, wire, int.from_bytes(data[pos:pos + width], "little")))
            pos += width
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    return out


def _signed(value: int, bits: int) -> int:
    value &= (1 << 64) - 1  # negative int32 are sign-extended to 10-byte varints
    value = value - (1 << 64) if value >= 1 << 63 else value
    if bits == 32 and not -(1 << 31) <= value < 1 << 31:
        raise ProtobufError(f"int32 out of range: {value}")
    return value


def _time(data: bytes) -> str | None:
    """meta/v1 Time {1 seconds, 2 nanos} as RFC 3339 at second precision (Time's JSON);
    the zero Time is JSON's null."""
    seconds = 0
    for number, wire, value in fields(data):
        if number == 1 and wire == 0:
            seconds = _signed(int(value), 64)
    if seconds == 0:
        return None
    stamp = datetime.fromtimestamp(seconds, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _int_or_string(data: bytes) -> int | str:
    """util/intstr IntOrString {1 type (0 int, 1 string), 2 intVal, 3 strVal}."""
    kind, int_val, str_val = 0, 0, ""
    for number, wire, value in fields(data):
        if number == 1 and wire == 0:
            kind = int(value)
        elif number == 2 and wire == 0:
            int_val = _signed(int(value), 32)
        elif number == 3 and wire == 2:
            str_val = bytes(value).decode()  # type: ignore[arg-type]
    return str_val if kind == 1 else int_val


def _quantity(data: bytes) -> str:
    """resource.Quantity {1 string}."""
    for number, wire, value in fields(data):
        if number == 1 and wire == 2:
            return bytes(value).decode()  # type: ignore[arg-type]
    return "0"


def _value(kind: str, wire: int, value: int | bytes) -> Any:
    expected = 0 if kind in ("bool", "int32", "int64") else 2
    if wire != expected:
        raise ProtobufError(f"wire type {wire} for a field of type {kind}")
    if kind == "bool":
        return bool(value)
    if kind in ("int32", "int64"):
        return _signed(int(value), 32 if kind == "int32" else 64)
    raw = bytes(value)  # type: ignore[arg-type]
    if kind == "string":
        try:
            return raw.decode()
        except UnicodeDecodeError as err:
            raise ProtobufError(f"invalid UTF-8 in a string: {err}") from None
    if kind == "bytes":
        return base64.b64encode(raw).decode()
    if kind == "bytes_raw":
        return raw
    if kind == "Time":
        return _time(raw)
    if kind == "Quantity":
        return _quantity(raw)
    if kind == "IntOrString":
        return _int_or_string(raw)
    return decode_message(kind, raw)


def _map_entry(kind: str, raw: bytes) -> tuple[str, Any]:
    key, val = "", _value(kind, 0 if kind in ("bool", "int32", "int64") else 2,
                          0 if kind in ("bool", "int32", "int64") else b"")
    for number, wire, value in fields(raw):
        if number == 1:
            key = _value("string", wire, value)
        elif number == 2:
            val = _value(kind, wire, value)
    return key, val


def _empty(value: Any) -> bool:
    return value in ("", 0, False, None) or value == [] or value == {}


def decode_message(message: str, data: bytes) -> Obj:
    """The JSON object of `message`'s bytes. Message fields are always kept (JSON writes
    non-pointer structs even when empty); zero scalars, empty lists and maps are dropped
    unless the field is marked "keep"."""
    spec = MESSAGES[message]
    out: Obj = {}
    for number, wire, value in fields(data):
        if number not in spec:
            raise ProtobufError(f"unknown field {number} in message {message}")
        name, kind, card = spec[number]
        if card == "list":
            out.setdefault(name, []).append(_value(kind, wire, value))
        elif card == "map":
            if wire != 2:
                raise ProtobufError(f"wire type {wire} for map field {message}.{name}")
            key, val = _map_entry(kind, bytes(value))  # type: ignore[arg-type]
            out.setdefault(name, {})[key] = val
        else:
            out[name] = _value(kind, wire, value)
    for name, kind, card in spec.values():
        if name in out and card != "keep" and kind in SCALARS | {"Time"} and _empty(out[name]):
            del out[name]
    return out


def _unknown(data: bytes) -> tuple[str, str, bytes, str]:
    """runtime.Unknown {1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding,
    4 contentType}: apiVersion, kind, raw and contentEncoding."""
    api_version = kind = encoding = ""
    raw = b""
    for number, wire, value in fields(data):
        if number == 1:
            for inner, inner_wire, inner_value in fields(_value("bytes_raw", wire, value)):
                if inner == 1:
                    api_version = _value("string", inner_wire, inner_value)
                elif inner == 2:
                    kind = _value("string", inner_wire, inner_value)
        elif number == 2:
            raw = _value("bytes_raw", wire, value)
        elif number == 3:
            encoding = _value("string", wire, value)
    return api_version, kind, raw, encoding


def decode(body: bytes) -> Obj:
    """The JSON object of a protobuf request body. 400 for malformed bytes; 415 for a kind
    kubesim has no protobuf schema of."""
    if not body.startswith(MAGIC):
        raise status.bad_request(
            "the object provided is unrecognized: provided data does not appear to be a "
            "protobuf message, expected prefix [107 56 115 0]")
    kind = ""
    try:
        api_version, kind, raw, encoding = _unknown(body[len(MAGIC):])
        message = KINDS.get((api_version, kind))
        if message is None:
            raise status.unsupported_media_type(ACCEPTED)
        if encoding:
            raise ProtobufError(f"unsupported content encoding {encoding!r}")
        obj = decode_message(message, raw)
    except ProtobufError as err:
        raise status.bad_request(
            f"the object provided is unrecognized (must be of type {kind or 'unknown'}): "
            f"{err}") from None
    return {"apiVersion": api_version, "kind": kind, **obj}
