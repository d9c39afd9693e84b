"""DefaultTolerationSeconds: pods tolerate the not-ready and unreachable NoExecute taints
for 300 s unless they already tolerate them.

After ``kubernetes/plugin/pkg/admission/defaulttolerationseconds/admission.go``; 300 s is
the default of ``--default-not-ready-toleration-seconds`` and
``--default-unreachable-toleration-seconds``.
"""

from __future__ import annotations

from kubesim.components.apiserver.admission.attributes import Attributes, Obj, Operation
from kubesim.components.apiserver.admission.interfaces import Plugin

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
DEFAULT_TOLERATION_SECONDS = 300


class DefaultTolerationSeconds(Plugin):
    name = "DefaultTolerationSeconds"
    operations = frozenset({Operation.CREATE, Operation.UPDATE})

    async def admit(self, attrs: Attributes) -> None:
        if attrs.group_resource != "pods" or attrs.subresource or attrs.object is None:
            return
        _add_default_tolerations(attrs.object)


def _tolerates(toleration: Obj, taint: str) -> bool:
    return (toleration.get("key") or "") in (taint, "") and \
        (toleration.get("effect") or "") in ("NoExecute", "")


def _add_default_tolerations(pod: Obj) -> None:
    """Append the 300 s tolerations the pod lacks, not-ready first."""
    spec = pod.setdefault("spec", {})
    tolerations = spec.get("tolerations") or []
    missing = [taint for taint in (NOT_READY_TAINT, UNREACHABLE_TAINT)
               if not any(_tolerates(t, taint) for t in tolerations)]
    for taint in missing:
        tolerations.append({"key": taint, "operator": "Exists", "effect": "NoExecute",
                            "tolerationSeconds": DEFAULT_TOLERATION_SECONDS})
    if missing:
        spec["tolerations"] = tolerations
