"""Key layout, values and continue tokens."""

from __future__ import annotations

import base64
import json

import pytest

from kubesim.components.apiserver.storage import codec, keys
from tests.components.apiserver.storage.helpers import kind


@pytest.mark.parametrize(("resource", "group", "namespace", "name", "key"), [
    ("pods", "", "default", "web", b"/registry/pods/default/web"),
    ("nodes", "", "", "n1", b"/registry/minions/n1"),
    ("services", "", "kube-system", "dns", b"/registry/services/specs/kube-system/dns"),
    ("endpoints", "", "default", "k", b"/registry/services/endpoints/default/k"),
    ("namespaces", "", "", "default", b"/registry/namespaces/default"),
    ("deployments", "apps", "default", "d", b"/registry/deployments/default/d"),
    ("leases", "coordination.k8s.io", "kube-node-lease", "n1",
     b"/registry/leases/kube-node-lease/n1"),
    ("events", "events.k8s.io", "default", "e", b"/registry/events/default/e"),
])
def test_object_keys_follow_the_apiserver_layout(resource, group, namespace, name, key):
    assert keys.object_key(kind(resource, group), namespace, name) == key


def test_list_prefixes_and_prefix_end():
    pods = kind("pods")
    assert keys.list_prefix(pods, "") == "/registry/pods/"
    assert keys.list_prefix(pods, "ns") == "/registry/pods/ns/"
    assert keys.list_prefix(kind("nodes"), "ignored") == "/registry/minions/"
    assert keys.prefix_end(b"/registry/pods/") == b"/registry/pods0"
    assert keys.prefix_end(b"a\xff") == b"b"


def test_continue_token_is_upstreams_format_and_round_trips():
    token = keys.encode_continue(b"/registry/pods/default/web\x00", "/registry/pods/", 42)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert raw == b'{"v":"meta.k8s.io/v1","rv":42,"start":"default/web\\u0000"}'
    assert "=" not in token
    assert keys.decode_continue(token, "/registry/pods/") == (b"/registry/pods/default/web\x00", 42)


def _token(payload: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(("payload", "message"), [
    ({"v": "meta.k8s.io/v1", "rv": 0, "start": "a"}, keys.ERR_INVALID_START_RV),
    ({"v": "meta.k8s.io/v1", "rv": 3, "start": ""}, keys.ERR_EMPTY_START_KEY),
    ({"v": "v2", "rv": 3, "start": "a"}, keys.ERR_UNRECOGNIZED_VERSION + " v2"),
    ({"v": "meta.k8s.io/v1", "rv": 3, "start": "../secrets/x"},
     keys.ERR_GENERIC_INVALID_KEY + ": ../secrets/x"),
])
def test_bad_continue_tokens_are_refused_with_upstreams_messages(payload, message):
    with pytest.raises(keys.ContinueError) as info:
        keys.decode_continue(_token(payload), "/registry/pods/")
    assert str(info.value) == message


def test_values_are_compact_json_without_resource_version():
    obj = {"kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "7"}, "data": {"k": "v"}}
    data = codec.encode(obj)
    assert data == b'{"kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}}'
    assert obj["metadata"]["resourceVersion"] == "7"  # the caller's object is untouched
    assert codec.decode(data, 9)["metadata"]["resourceVersion"] == "9"
