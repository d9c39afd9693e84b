"""Which watchers an event is offered to: the cacher's ``indexedWatchers`` (k8s.io/apiserver
pkg/storage/cacher/cacher.go, 1.32).

A watch is filed under its scope (namespace and name, from the request or from exact
``metadata.namespace`` / ``metadata.name`` field selectors) or, when its kind has an indexed
trigger and its field selector requires an exact value of that field, under that value. An
event is offered to the watchers of its own (namespace, name), (namespace, ""), ("", name)
and ("", "") scopes and to the watchers of its trigger values (the object's and, if different,
its previous state's); every other watcher could not select it, so it never sees it. Only
pods have a trigger upstream: ``spec.nodeName`` (pkg/registry/core/pod/storage's
``TriggerFunc``), so a kubelet's watch of its own pods costs nothing when another node's pod
changes.

Watchers are kept in registration order within each bucket and buckets are visited in
upstream's order, so the order they are offered events in is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from kubesim.api.kinds import Kind
from kubesim.components.apiserver.storage.predicate import Predicate

if TYPE_CHECKING:
    from kubesim.components.apiserver.watchcache.watcher import CacheWatcher

K = TypeVar("K")
NAMESPACE_FIELD, NAME_FIELD = "metadata.namespace", "metadata.name"
# the registry stores' TriggerFunc: (group, kind) -> the field an exact-match watch is indexed on
TRIGGERS: dict[tuple[str, str], str] = {("", "Pod"): "spec.nodeName"}


class Scope(NamedTuple):
    """``namespacedName``: what a watch is restricted to ("" for any)."""

    namespace: str
    name: str


def trigger_field(kind: Kind) -> str | None:
    """The kind's indexed trigger field, or None (``Cacher.indexedTrigger``)."""
    return TRIGGERS.get((kind.group, kind.kind))


def exact_match(pred: Predicate, field: str) -> str | None:
    """``fields.Selector.RequiresExactMatch``: the value ``field=value`` pins, if any."""
    for req in pred.field.requirements:
        if req.field == field and not req.negate:
            return req.value
    return None


def watch_scope(namespace: str, pred: Predicate) -> Scope:
    """The scope a watch is filed under: the request's namespace, else an exact
    ``metadata.namespace``; an exact ``metadata.name``."""
    return Scope(namespace or exact_match(pred, NAMESPACE_FIELD) or "",
                 exact_match(pred, NAME_FIELD) or "")


class IndexedWatchers:
    """The live watchers of one cache, by scope and by trigger value."""

    def __init__(self) -> None:
        self._registered: dict[int, CacheWatcher] = {}
        self._where: dict[CacheWatcher, tuple[int, Scope, str | None]] = {}
        self._by_scope: dict[Scope, dict[int, CacheWatcher]] = {}
        self._by_value: dict[str, dict[int, CacheWatcher]] = {}
        self._next = 0

    def __len__(self) -> int:
        return len(self._registered)

    def __iter__(self) -> Iterator[CacheWatcher]:
        """Every watcher, in registration order (a copy: the caller may remove while
        iterating)."""
        return iter(list(self._registered.values()))

    def add(self, watcher: CacheWatcher, scope: Scope, trigger_value: str | None) -> None:
        """File ``watcher`` under ``trigger_value`` if its watch uses the trigger, else under
        its scope."""
        self._next += 1
        ident = self._next
        self._registered[ident] = watcher
        self._where[watcher] = (ident, scope, trigger_value)
        if trigger_value is None:
            self._by_scope.setdefault(scope, {})[ident] = watcher
        else:
            self._by_value.setdefault(trigger_value, {})[ident] = watcher

    def remove(self, watcher: CacheWatcher) -> None:
        where = self._where.pop(watcher, None)
        if where is None:
            return
        ident, scope, value = where
        del self._registered[ident]
        if value is None:
            _discard(self._by_scope, scope, ident)
        else:
            _discard(self._by_value, value, ident)

    def for_event(self, namespace: str, name: str,
                  trigger_values: list[str] | None) -> list[CacheWatcher]:
        """``startDispatching``: the watchers that may select an object of ``namespace`` /
        ``name`` whose trigger values are ``trigger_values`` (None: the kind has no
        trigger, so every trigger-filed watcher is offered it)."""
        out: list[CacheWatcher] = []
        scopes = self._by_scope
        if namespace:
            if name:
                out.extend(scopes.get(Scope(namespace, name), {}).values())
            out.extend(scopes.get(Scope(namespace, ""), {}).values())
        if name:
            out.extend(scopes.get(Scope("", name), {}).values())
        out.extend(scopes.get(Scope("", ""), {}).values())
        if trigger_values is None:
            for watchers in self._by_value.values():
                out.extend(watchers.values())
        else:
            for value in trigger_values:
                out.extend(self._by_value.get(value, {}).values())
        return out


def _discard(buckets: dict[K, dict[int, CacheWatcher]], key: K, ident: int) -> None:
    bucket = buckets.get(key)
    if bucket is not None:
        bucket.pop(ident, None)
        if not bucket:
            del buckets[key]
