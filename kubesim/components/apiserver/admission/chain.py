"""The admission chain: every mutating plugin in order, then every validating one.

After ``k8s.io/apiserver/pkg/admission/chain.go`` and the order of
``AllOrderedPlugins`` in ``kubernetes/pkg/kubeapiserver/options/plugins.go`` (1.32),
restricted to the plugins kubesim has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kubesim.components.apiserver.admission.attributes import Attributes
from kubesim.components.apiserver.admission.default_toleration_seconds import (
    DefaultTolerationSeconds,
)
from kubesim.components.apiserver.admission.interfaces import (
    ActorContext,
    Lister,
    MutationInterface,
    Plugin,
    QuotaStatusUpdater,
    ValidationInterface,
)
from kubesim.components.apiserver.admission.limitranger import LimitRanger
from kubesim.components.apiserver.admission.namespace_lifecycle import NamespaceLifecycle
from kubesim.components.apiserver.admission.priority import Priority
from kubesim.components.apiserver.admission.resourcequota.plugin import ResourceQuota

DEFAULT_PLUGINS = ("NamespaceLifecycle", "LimitRanger", "Priority", "DefaultTolerationSeconds",
                   "ResourceQuota")

_FACTORIES: dict[str, Callable[[Lister, QuotaStatusUpdater, ActorContext], Plugin]] = {
    "NamespaceLifecycle": lambda lister, _update, ctx: NamespaceLifecycle(lister, ctx),
    "LimitRanger": lambda lister, _update, ctx: LimitRanger(lister, ctx),
    "Priority": lambda lister, _update, _ctx: Priority(lister),
    "DefaultTolerationSeconds": lambda _lister, _update, _ctx: DefaultTolerationSeconds(),
    "ResourceQuota": lambda lister, update, ctx: ResourceQuota(lister, ctx, update),
}


class Chain:
    """``chainAdmissionHandler``."""

    def __init__(self, plugins: Sequence[Plugin]):
        self.plugins = tuple(plugins)
        # which interfaces each plugin has, found once: an isinstance check against a
        # runtime-checkable Protocol walks the protocol's attributes every time
        self.mutating: tuple[MutationInterface, ...] = tuple(
            p for p in self.plugins if isinstance(p, MutationInterface))
        self.validating: tuple[ValidationInterface, ...] = tuple(
            p for p in self.plugins if isinstance(p, ValidationInterface))

    async def admit(self, attrs: Attributes) -> None:
        """The mutating phase; raises ``APIError`` on the first rejection."""
        for plugin in self.mutating:
            if plugin.handles(attrs.operation):
                await plugin.admit(attrs)

    async def validate(self, attrs: Attributes) -> None:
        """The validating phase; raises ``APIError`` on the first rejection."""
        for plugin in self.validating:
            if plugin.handles(attrs.operation):
                await plugin.validate(attrs)


def new_chain(lister: Lister, update_quota_status: QuotaStatusUpdater, ctx: ActorContext,
              plugins: Sequence[str] = DEFAULT_PLUGINS) -> Chain:
    """The chain of the named plugins, in kube-apiserver's order whatever order they are given.

    Raises ``ValueError`` for a plugin kubesim does not have.
    """
    unknown = [name for name in plugins if name not in _FACTORIES]
    if unknown:
        raise ValueError(f"unknown admission plugin(s): {', '.join(unknown)}")
    ordered = [name for name in DEFAULT_PLUGINS if name in plugins]
    return Chain([_FACTORIES[name](lister, update_quota_status, ctx) for name in ordered])
