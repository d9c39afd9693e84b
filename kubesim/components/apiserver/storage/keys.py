"""Where objects live in etcd, and the list continue token.

Keys follow kube-apiserver's storage layout (``/registry`` prefix, then the resource prefix of
``pkg/registry/*/storage``, then ``<namespace>/<name>`` or ``<name>``): pods under
``/registry/pods/default/x``, nodes under ``/registry/minions/``, services under
``/registry/services/specs/``, endpoints under ``/registry/services/endpoints/``; both event
APIs share ``/registry/events/``.

The continue token is ``storage.EncodeContinue`` (k8s.io/apiserver pkg/storage/continue.go):
unpadded URL-safe base64 of ``{"v":"meta.k8s.io/v1","rv":N,"start":"<key after prefix>\\u0000"}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import posixpath

from kubesim.api.kinds import Kind

REGISTRY = "/registry"

# resource prefixes that differ from the plural resource name
_PREFIX_EXCEPTIONS = {
    ("", "nodes"): "minions",
    ("", "services"): "services/specs",
    ("", "endpoints"): "services/endpoints",
}

CONTINUE_VERSION = "meta.k8s.io/v1"
ERR_GENERIC_INVALID_KEY = "continue key is not valid"
ERR_INVALID_START_RV = (
    "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
)
ERR_EMPTY_START_KEY = "continue key is not valid: encoded start key empty (version meta.k8s.io/v1)"
ERR_UNRECOGNIZED_VERSION = "continue key is not valid: server does not recognize this encoded version"


class ContinueError(ValueError):
    """A continue token that does not decode; the message is apiserver's."""


def resource_prefix(kind: Kind) -> str:
    """``/registry/<resource prefix>/`` for every object of the kind."""
    group = kind.group if kind.storage_group is None else kind.storage_group
    name = _PREFIX_EXCEPTIONS.get((group, kind.resource), kind.resource)
    return f"{REGISTRY}/{name}/"


def list_prefix(kind: Kind, namespace: str) -> str:
    """The key prefix a list covers: the whole resource, or one namespace of it."""
    prefix = resource_prefix(kind)
    return f"{prefix}{namespace}/" if namespace and kind.namespaced else prefix


def object_key(kind: Kind, namespace: str, name: str) -> bytes:
    """The etcd key of one object."""
    if kind.namespaced:
        return f"{resource_prefix(kind)}{namespace}/{name}".encode()
    return f"{resource_prefix(kind)}{name}".encode()


def prefix_end(prefix: bytes) -> bytes:
    """clientv3.GetPrefixRangeEnd: the first key after every key starting with ``prefix``."""
    end = bytearray(prefix)
    for i in range(len(end) - 1, -1, -1):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[: i + 1])
    return b"\0"


def encode_continue(key: bytes, key_prefix: str, resource_version: int) -> str:
    """``storage.EncodeContinue``: the token for a list resuming at ``key``."""
    text = key.decode()
    if not text.startswith(key_prefix):
        raise ValueError("unable to encode next field: the key and key prefix do not match")
    token = {"v": CONTINUE_VERSION, "rv": resource_version, "start": text[len(key_prefix):]}
    data = json.dumps(token, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def decode_continue(token: str, key_prefix: str) -> tuple[bytes, int]:
    """``storage.DecodeContinue``: (start key, resource version); rv -1 means "latest"."""
    try:
        data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        parsed = json.loads(data)
    except (binascii.Error, ValueError) as e:
        raise ContinueError(f"{ERR_GENERIC_INVALID_KEY}: {e}") from None
    if not isinstance(parsed, dict):
        raise ContinueError(f"{ERR_GENERIC_INVALID_KEY}: not an object")
    if parsed.get("v") != CONTINUE_VERSION:
        raise ContinueError(f"{ERR_UNRECOGNIZED_VERSION} {parsed.get('v', '')}")
    rv = parsed.get("rv", 0)
    if not isinstance(rv, int) or rv == 0:
        raise ContinueError(ERR_INVALID_START_RV)
    start = parsed.get("start", "")
    if not isinstance(start, str) or not start:
        raise ContinueError(ERR_EMPTY_START_KEY)
    # path.Clean must leave the key alone: no climbing out of the prefix
    rooted = start if start.startswith("/") else "/" + start
    if posixpath.normpath(rooted) != rooted or rooted.startswith("//"):
        raise ContinueError(f"{ERR_GENERIC_INVALID_KEY}: {start}")
    return (key_prefix + rooted[1:]).encode(), rv
