"""The plugin interfaces and the injected dependencies of the admission chain.

Plugins follow ``k8s.io/apiserver/pkg/admission/interfaces.go``: every plugin says which
operations it handles (``Handles``); a mutating plugin has ``admit``
(``MutationInterface``), a validating one ``validate`` (``ValidationInterface``); a
plugin may be both. The chain (:mod:`.chain`) tells them apart with ``isinstance``.

Admission does no I/O of its own: it reads objects through a :class:`Lister`, writes
ResourceQuota status through a :data:`QuotaStatusUpdater`, and takes time, sleeping and
background tasks from an :class:`ActorContext`, all injected by the request handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, runtime_checkable

from kubesim.components.apiserver.admission.attributes import Attributes, Obj, Operation

# Group-resource names the plugins read through the Lister.
NAMESPACES = "namespaces"
PRIORITY_CLASSES = "priorityclasses.scheduling.k8s.io"
LIMIT_RANGES = "limitranges"
RESOURCE_QUOTAS = "resourcequotas"


class Lister(Protocol):
    """Reads for the plugins, backed by the apiserver's watch cache.

    ``resource`` is one of the group-resource names above; ``namespace`` is "" for a
    cluster-scoped resource. ``live=True`` reads storage instead of the cache (the
    loopback client call the real plugins make when their informer may be stale).
    """

    async def get(self, resource: str, namespace: str, name: str, *,
                  live: bool = False) -> Obj | None:
        """The object, or None when it does not exist."""
        ...

    async def list(self, resource: str, namespace: str, *, live: bool = False) -> list[Obj]:
        """Every object of ``resource`` in ``namespace``."""
        ...


QuotaStatusUpdater = Callable[[Obj], Awaitable[Obj]]
"""PUT ``resourcequotas/<name>/status`` with the quota's ``metadata.resourceVersion`` as
precondition; returns the stored quota; raises ``APIError`` 409 Conflict when stale."""


class ActorContext(Protocol):
    """The part of an actor's ``ctx`` admission uses (``kubesim.runtime.context.Context``)."""

    def now(self) -> float:
        ...

    async def sleep(self, delay: float) -> None:
        ...

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> Any:
        ...


class Plugin:
    """``admission.Handler``: the operations a plugin handles."""

    name = ""
    operations: frozenset[Operation] = frozenset()

    def handles(self, operation: Operation) -> bool:
        return operation in self.operations


@runtime_checkable
class MutationInterface(Protocol):
    """A plugin with a mutating phase."""

    async def admit(self, attrs: Attributes) -> None:
        ...


@runtime_checkable
class ValidationInterface(Protocol):
    """A plugin with a validating phase."""

    async def validate(self, attrs: Attributes) -> None:
        ...
