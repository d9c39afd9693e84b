"""The ResourceQuota admission plugin (validating, last in the chain).

After ``kubernetes/plugin/pkg/admission/resourcequota/admission.go``: creates and updates
of namespaced objects (not subresources, not namespaces themselves) go to the
:class:`~.controller.QuotaEvaluator`.
"""

from __future__ import annotations

from kubesim.components.apiserver.admission.attributes import Attributes, Operation
from kubesim.components.apiserver.admission.interfaces import (
    ActorContext,
    Lister,
    Plugin,
    QuotaStatusUpdater,
)
from kubesim.components.apiserver.admission.resourcequota.accessor import QuotaAccessor
from kubesim.components.apiserver.admission.resourcequota.controller import QuotaEvaluator


class ResourceQuota(Plugin):
    name = "ResourceQuota"
    operations = frozenset({Operation.CREATE, Operation.UPDATE})

    def __init__(self, lister: Lister, ctx: ActorContext, update_status: QuotaStatusUpdater):
        self._evaluator = QuotaEvaluator(QuotaAccessor(lister, ctx, update_status), ctx)

    async def validate(self, attrs: Attributes) -> None:
        if attrs.subresource or not attrs.namespace:
            return
        if attrs.operation == Operation.CREATE and attrs.is_kind("", "Namespace"):
            return
        await self._evaluator.evaluate(attrs)
