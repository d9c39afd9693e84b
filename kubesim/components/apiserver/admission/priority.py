"""Priority: resolve a pod's ``priority`` and ``preemptionPolicy`` from its PriorityClass,
and allow only one ``globalDefault`` PriorityClass.

After ``kubernetes/plugin/pkg/admission/priority/admission.go``. A pod naming an unknown
class is refused with 403 Forbidden (``no PriorityClass with name x was found``); a pod
naming none gets the global default class (the lowest-valued one if a race left several),
or priority 0 and ``PreemptLowerPriority`` when there is none.
"""

from __future__ import annotations

from kubesim.components.apiserver.admission.attributes import Attributes, Obj, Operation, forbidden
from kubesim.components.apiserver.admission.interfaces import PRIORITY_CLASSES, Lister, Plugin

DEFAULT_PRIORITY = 0  # scheduling.DefaultPriorityWhenNoDefaultClassExists
PREEMPT_LOWER_PRIORITY = "PreemptLowerPriority"


class Priority(Plugin):
    name = "Priority"
    operations = frozenset({Operation.CREATE, Operation.UPDATE, Operation.DELETE})

    def __init__(self, lister: Lister):
        self._lister = lister

    async def admit(self, attrs: Attributes) -> None:
        if attrs.subresource or attrs.group_resource != "pods" or attrs.object is None:
            return
        spec = attrs.object.setdefault("spec", {})
        if attrs.operation == Operation.UPDATE:
            # Set on create; validation forbids changing it, so an update keeps the old values.
            old_spec = (attrs.old_object or {}).get("spec") or {}
            for key in ("priority", "preemptionPolicy"):
                if spec.get(key) is None and old_spec.get(key) is not None:
                    spec[key] = old_spec[key]
            return
        if attrs.operation != Operation.CREATE:
            return
        class_name = spec.get("priorityClassName")
        if class_name:
            pc = await self._lister.get(PRIORITY_CLASSES, "", class_name)
            if pc is None:
                raise forbidden(attrs, f"no PriorityClass with name {class_name} was found")
            priority, policy = int(pc.get("value") or 0), pc.get("preemptionPolicy")
        else:
            default = await self._default_class()
            if default is None:
                priority, policy = DEFAULT_PRIORITY, PREEMPT_LOWER_PRIORITY
            else:
                spec["priorityClassName"] = default["metadata"]["name"]
                priority, policy = int(default.get("value") or 0), default.get("preemptionPolicy")
        if spec.get("priority") is not None and spec["priority"] != priority:
            raise forbidden(attrs, f"the integer value of priority ({spec['priority']}) must not be "
                                   f"provided in pod spec; priority admission controller computed "
                                   f"{priority} from the given PriorityClass name")
        spec["priority"] = priority
        if policy is not None:
            if spec.get("preemptionPolicy") is not None and spec["preemptionPolicy"] != policy:
                raise forbidden(attrs, f"the string value of PreemptionPolicy ({spec['preemptionPolicy']}) "
                                       f"must not be provided in pod spec; priority admission controller "
                                       f"computed {policy} from the given PriorityClass name")
            spec["preemptionPolicy"] = policy

    async def validate(self, attrs: Attributes) -> None:
        if (attrs.subresource or attrs.group_resource != PRIORITY_CLASSES or attrs.object is None
                or attrs.operation not in (Operation.CREATE, Operation.UPDATE)):
            return
        if not attrs.object.get("globalDefault"):
            return
        default = await self._default_class()
        if default is None:
            return
        default_name = default["metadata"]["name"]
        if attrs.operation == Operation.CREATE or default_name != attrs.object["metadata"].get("name"):
            raise forbidden(attrs, f"PriorityClass {default_name} is already marked as default. "
                                   "Only one default can exist")

    async def _default_class(self) -> Obj | None:
        chosen: Obj | None = None
        for pc in await self._lister.list(PRIORITY_CLASSES, ""):
            if pc.get("globalDefault") and (chosen is None or chosen.get("value", 0) > pc.get("value", 0)):
                chosen = pc
        return chosen
