"""The informer's local cache: client-go's cache.Indexer (threadSafeStore), without locks.

Objects are plain dicts in Kubernetes JSON form, keyed by `meta_namespace_key`
("namespace/name", or "name" for cluster-scoped objects). Named index functions map an
object to the index values it is filed under; the `namespace` index is always there.
The store also remembers the resourceVersion it is synced to (the reflector's
lastSyncResourceVersion).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], list[str]]

NAMESPACE_INDEX = "namespace"


@dataclass(frozen=True)
class DeletedFinalStateUnknown:
    """An object deleted while the watch was down: `obj` is its last known state."""

    key: str
    obj: Obj


def meta_namespace_key(obj: Obj | DeletedFinalStateUnknown) -> str:
    """cache.DeletionHandlingMetaNamespaceKeyFunc: "namespace/name", or "name" if cluster-scoped."""
    if isinstance(obj, DeletedFinalStateUnknown):
        return obj.key
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    if not name:
        raise KeyError("object has no metadata.name")
    namespace = meta.get("namespace")
    return f"{namespace}/{name}" if namespace else name


def split_meta_namespace_key(key: str) -> tuple[str, str]:
    """cache.SplitMetaNamespaceKey: (namespace, name); namespace is "" if cluster-scoped."""
    namespace, sep, name = key.partition("/")
    return (namespace, name) if sep else ("", key)


def resource_version(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


def namespace_index(obj: Obj) -> list[str]:
    """cache.MetaNamespaceIndexFunc ("" for cluster-scoped objects)."""
    return [(obj.get("metadata") or {}).get("namespace", "")]


def pod_node_name_index(obj: Obj) -> list[str]:
    """Pods by spec.nodeName (unscheduled pods are filed under "")."""
    return [(obj.get("spec") or {}).get("nodeName", "")]


class Indexer:
    """Key -> object store with secondary indices (cache.NewIndexer)."""

    def __init__(self, indexers: dict[str, IndexFunc] | None = None) -> None:
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = {NAMESPACE_INDEX: namespace_index}
        self._indices: dict[str, dict[str, set[str]]] = {NAMESPACE_INDEX: {}}
        #: resourceVersion of the last list or watch event applied (lastSyncResourceVersion).
        self.resource_version = ""
        if indexers:
            self.add_indexers(indexers)

    # indices ---------------------------------------------------------------
    def add_indexers(self, indexers: dict[str, IndexFunc]) -> None:
        """Add index functions; objects already stored are indexed at once."""
        clash = set(indexers) & set(self._indexers)
        if clash:
            raise ValueError(f"indexer conflict: {sorted(clash)}")
        for name, fn in indexers.items():
            self._indexers[name] = fn
            self._indices[name] = {}
            for key, obj in self._items.items():
                self._file(name, key, obj)

    def has_indexer(self, index_name: str) -> bool:
        return index_name in self._indexers

    def by_index(self, index_name: str, value: str) -> list[Obj]:
        """Objects whose index function `index_name` yields `value`."""
        return [self._items[key] for key in sorted(self._index(index_name).get(value, ()))]

    def index_keys(self, index_name: str, value: str) -> list[str]:
        return sorted(self._index(index_name).get(value, ()))

    def index(self, index_name: str, obj: Obj) -> list[Obj]:
        """Objects sharing any index value with `obj` (cache.Indexer.Index)."""
        index = self._index(index_name)
        keys: set[str] = set()
        for value in self._indexers[index_name](obj):
            keys |= index.get(value, set())
        return [self._items[key] for key in sorted(keys)]

    def list_index_values(self, index_name: str) -> list[str]:
        return sorted(self._index(index_name))

    # store -----------------------------------------------------------------
    def add(self, obj: Obj) -> None:
        self.update(obj)

    def update(self, obj: Obj) -> None:
        key = meta_namespace_key(obj)
        old = self._items.get(key)
        self._items[key] = obj
        self._reindex(key, old, obj)

    def delete(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        key = meta_namespace_key(obj)
        old = self._items.pop(key, None)
        if old is not None:
            self._reindex(key, old, None)

    def replace(self, objs: Iterable[Obj], resource_version: str) -> None:
        """Replace the whole content (a relist) and remember its resourceVersion."""
        self._items = {meta_namespace_key(obj): obj for obj in objs}
        self._indices = {name: {} for name in self._indexers}
        for key, obj in self._items.items():
            for name in self._indexers:
                self._file(name, key, obj)
        self.resource_version = resource_version

    def get(self, obj: Obj | DeletedFinalStateUnknown) -> Obj | None:
        return self._items.get(meta_namespace_key(obj))

    def get_by_key(self, key: str) -> Obj | None:
        return self._items.get(key)

    def list(self) -> list[Obj]:
        return [self._items[key] for key in sorted(self._items)]

    def list_keys(self) -> list[str]:
        return sorted(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    # internals -------------------------------------------------------------
    def _index(self, index_name: str) -> dict[str, set[str]]:
        try:
            return self._indices[index_name]
        except KeyError:
            raise KeyError(f"index {index_name!r} does not exist") from None

    def _file(self, index_name: str, key: str, obj: Obj) -> None:
        index = self._indices[index_name]
        for value in self._indexers[index_name](obj):
            index.setdefault(value, set()).add(key)

    def _reindex(self, key: str, old: Obj | None, new: Obj | None) -> None:
        for name, fn in self._indexers.items():
            old_values = set(fn(old)) if old is not None else set()
            new_values = set(fn(new)) if new is not None else set()
            index = self._indices[name]
            for value in old_values - new_values:
                keys = index[value]
                keys.discard(key)
                if not keys:
                    del index[value]
            for value in new_values - old_values:
                index.setdefault(value, set()).add(key)
