"""DefaultTolerationSeconds: the 300 s not-ready / unreachable tolerations."""

from __future__ import annotations

import asyncio

from kubesim.components.apiserver.admission.default_toleration_seconds import (
    DefaultTolerationSeconds,
)
from tests.components.apiserver.admission.fakes import create, pod

NOT_READY = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300}
UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
               "effect": "NoExecute", "tolerationSeconds": 300}


def _admit(obj, subresource=""):
    attrs = create(obj, "pods")
    attrs.subresource = subresource
    asyncio.run(DefaultTolerationSeconds().admit(attrs))
    return obj["spec"].get("tolerations")


def test_both_tolerations_added():
    assert _admit(pod()) == [NOT_READY, UNREACHABLE]


def test_existing_tolerations_are_kept_and_only_the_missing_one_added():
    own = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
           "tolerationSeconds": 10}
    assert _admit(pod(tolerations=[own])) == [own, UNREACHABLE]
    wildcard = {"operator": "Exists"}
    assert _admit(pod(tolerations=[wildcard])) == [wildcard]
    no_schedule = {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                   "effect": "NoSchedule"}
    assert _admit(pod(tolerations=[no_schedule])) == [no_schedule, NOT_READY, UNREACHABLE]


def test_other_resources_and_subresources_untouched():
    assert _admit(pod(), subresource="status") is None
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ns"},
           "spec": {}}
    asyncio.run(DefaultTolerationSeconds().admit(create(svc, "services")))
    assert svc["spec"] == {}
