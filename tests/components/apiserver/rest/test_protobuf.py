"""The protobuf request body decoder (rest/protobuf.py): bytes built by a small encoder over
the same field tables, and one ConfigMap body encoded by hand from core/v1/generated.proto."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kubesim.api.status import APIError
from kubesim.components.apiserver.rest.protobuf import MAGIC, MESSAGES, decode

SCALAR_WIRE = {"bool": 0, "int32": 0, "int64": 0}


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _len(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _varint(len(payload)) + payload


def _scalar(number: int, kind: str, value: Any) -> bytes:
    if kind in SCALAR_WIRE:
        return _key(number, 0) + _varint(int(value))
    if kind == "string":
        return _len(number, value.encode())
    if kind == "bytes":
        return _len(number, base64.b64decode(value))
    if kind == "Quantity":
        return _len(number, _len(1, value.encode()))
    if kind == "Time":  # only the zero Time (kubectl's creationTimestamp: null)
        return _len(number, _key(1, 0) + _varint(0) + _key(2, 0) + _varint(0))
    if kind == "IntOrString":
        if isinstance(value, int):
            return _len(number, _key(1, 0) + _varint(0) + _key(2, 0) + _varint(value)
                        + _len(3, b""))
        return _len(number, _key(1, 0) + _varint(1) + _key(2, 0) + _varint(0)
                    + _len(3, value.encode()))
    return _len(number, encode(kind, value))


def encode(message: str, obj: dict[str, Any], zeros: bool = True) -> bytes:
    """`obj` as gogo-protobuf marshals it: value fields the object lacks are written at
    their zero value (as Go's non-pointer fields are) when `zeros`."""
    out = b""
    for number, (name, kind, card) in sorted(MESSAGES[message].items()):
        if name not in obj:
            if zeros and card == "" and kind in ("string", "int32", "int64", "bool"):
                out += _scalar(number, kind, "" if kind == "string" else 0)
            continue
        value = obj[name]
        if card == "list":
            out += b"".join(_scalar(number, kind, item) for item in value)
        elif card == "map":
            for key in sorted(value):
                out += _len(number, _len(1, key.encode()) + _scalar(2, kind, value[key]))
        elif kind == "Time" and value is None:
            out += _scalar(number, "Time", None)
        else:
            out += _scalar(number, kind, value)
    return out


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = _len(1, api_version.encode()) + _len(2, kind.encode())
    return MAGIC + _len(1, type_meta) + _len(2, raw) + _len(3, b"") + _len(4, b"")


def test_configmap_from_hand_encoded_bytes():
    # ConfigMap{metadata{name "c", creationTimestamp zero}, data{"a": "b"}}, field numbers
    # from core/v1 and meta/v1 generated.proto, wrapped in runtime.Unknown.
    raw = bytes.fromhex(
        "0a09" "0a0163" "4204" "0800" "1000"  # 1 metadata: 1 name "c", 8 creationTimestamp
        "1206" "0a0161" "120162")              # 2 data: entry {1 "a", 2 "b"}
    type_meta = bytes.fromhex("0a02" "7631" "1209") + b"ConfigMap"
    body = b"k8s\x00" + bytes.fromhex("0a0f") + type_meta + bytes.fromhex("1213") + raw \
        + bytes.fromhex("1a00" "2200")
    assert decode(body) == {"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "c", "creationTimestamp": None},
                            "data": {"a": "b"}}


def test_kubectl_create_deployment_round_trips_without_zero_values():
    deployment = {
        "metadata": {"name": "web", "creationTimestamp": None, "labels": {"app": "web"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {},
                                         "ports": [{"containerPort": 80}]}]},
            },
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
        },
        "status": {},
    }
    body = envelope("apps/v1", "Deployment", encode("Deployment", deployment))
    assert decode(body) == {"apiVersion": "apps/v1", "kind": "Deployment", **deployment}


@pytest.mark.parametrize("api_version,kind,obj", [
    ("v1", "Secret", {"metadata": {"name": "s"}, "data": {"k": base64.b64encode(b"\x00\xff").decode()},
                      "type": "Opaque"}),
    ("v1", "ConfigMap", {"metadata": {"name": "b"}, "binaryData": {"f": "AAE="}, "immutable": False}),
    ("v1", "Namespace", {"metadata": {"name": "team"}, "spec": {}, "status": {}}),
    ("v1", "Service", {"metadata": {"name": "svc", "labels": {"app": "svc"}},
                       "spec": {"ports": [{"name": "80-8080", "protocol": "TCP", "port": 80,
                                           "targetPort": 8080}],
                                "selector": {"app": "svc"}, "type": "ClusterIP"},
                       "status": {"loadBalancer": {}}}),
    ("batch/v1", "Job", {"metadata": {"name": "j"},
                         "spec": {"template": {"metadata": {},
                                               "spec": {"containers": [{"name": "j", "image": "busybox",
                                                                        "command": ["date"], "resources": {}}],
                                                        "restartPolicy": "Never"}}},
                         "status": {}}),
    ("batch/v1", "CronJob", {"metadata": {"name": "cj"},
                             "spec": {"schedule": "*/1 * * * *",
                                      "jobTemplate": {"metadata": {"name": "cj"},
                                                      "spec": {"template": {"metadata": {}, "spec": {}}}}},
                             "status": {}}),
    ("scheduling.k8s.io/v1", "PriorityClass", {"metadata": {"name": "high"}, "value": 1000,
                                               "globalDefault": True, "description": "d",
                                               "preemptionPolicy": "Never"}),
    ("v1", "ResourceQuota", {"metadata": {"name": "q"},
                             "spec": {"hard": {"cpu": "1", "pods": "2", "requests.memory": "1Gi"},
                                      "scopes": ["BestEffort"]},
                             "status": {}}),
])
def test_kinds_of_kubectl_create(api_version, kind, obj):
    assert decode(envelope(api_version, kind, encode(kind, obj))) == {
        "apiVersion": api_version, "kind": kind, **obj}


def test_negative_int_and_pointer_zero_are_kept():
    obj = {"metadata": {"name": "low"}, "value": -5, "globalDefault": False}
    got = decode(envelope("scheduling.k8s.io/v1", "PriorityClass", encode("PriorityClass", obj)))
    assert got["value"] == -5 and "globalDefault" not in got
    replicas0 = {"metadata": {"name": "z"}, "spec": {"replicas": 0}}
    got = decode(envelope("apps/v1", "Deployment", encode("Deployment", replicas0)))
    assert got["spec"] == {"replicas": 0}


def test_other_kinds_are_unsupported_media_type():
    with pytest.raises(APIError) as err:
        decode(envelope("v1", "Pod", b""))
    assert err.value.code == 415
    assert err.value.status["message"] == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json, application/yaml, application/vnd.kubernetes.protobuf")


@pytest.mark.parametrize("body", [
    b'{"kind": "ConfigMap"}',                                     # no magic
    envelope("v1", "ConfigMap", b"\x0a\x05\x0a"),                 # truncated metadata
    envelope("v1", "ConfigMap", _len(9, b"x")),                   # unknown field
    envelope("v1", "ConfigMap", _key(1, 0) + _varint(3)),         # wrong wire type
])
def test_malformed_bodies_are_bad_requests(body):
    with pytest.raises(APIError) as err:
        decode(body)
    assert err.value.code == 400


# Bodies kubectl 1.32.4 POSTed (captured from the wire), and the objects its
# `--dry-run=client -o json` prints for the same commands.
KUBECTL_BODIES = [
    ("create service nodeport np --tcp=80:8080 --node-port=30080",
     "6b3873000a0d0a02763112075365727669636512670a1d0a026e7012001a0022002a003200380042005a090a03"
     "61707012026e7012420a1d0a0738302d38303830120354435018502207080010903f1a002880eb0112090a0361"
     "707012026e701a0022084e6f6465506f72743a00420052005a00600068001a020a001a002200",
     {"apiVersion": "v1", "kind": "Service",
      "metadata": {"name": "np", "creationTimestamp": None, "labels": {"app": "np"}},
      "spec": {"ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080,
                          "nodePort": 30080}],
               "selector": {"app": "np"}, "type": "NodePort"},
      "status": {"loadBalancer": {}}}),
    ("create deployment web --image=nginx --replicas=3 --port=80",
     "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412b8010a1f0a0377656212001a0022002a00"
     "3200380042005a0a0a0361707012037765621286010803120c0a0a0a0361707012037765621a6c0a1c0a001200"
     "1a0022002a003200380042005a0a0a036170701203776562124c122e0a056e67696e7812056e67696e782a0032"
     "0a0a001000185022002a0042006a007200800100880100900100a201001a00320042004a005200580060006800"
     "8201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200",
     {"apiVersion": "apps/v1", "kind": "Deployment",
      "metadata": {"name": "web", "creationTimestamp": None, "labels": {"app": "web"}},
      "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
               "template": {"metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
                            "spec": {"containers": [{"name": "nginx", "image": "nginx",
                                                     "ports": [{"containerPort": 80}],
                                                     "resources": {}}]}},
               "strategy": {}},
      "status": {}}),
]


@pytest.mark.parametrize("command,body,expected", KUBECTL_BODIES)
def test_bodies_kubectl_sent(command, body, expected):
    assert decode(bytes.fromhex(body)) == expected, command
