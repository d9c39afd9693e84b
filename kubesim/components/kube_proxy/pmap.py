"""A small persistent (immutable, structure-sharing) mapping.

`PMap.set` / `PMap.delete` return a new map and leave the old one intact, copying only
one of 256 buckets plus the bucket index: O(n/256 + 256) instead of O(n). That keeps
per-event updates of a 10,000-Service view cheap while every kube-proxy on a host can
hold (and keep) its own snapshot without copies.

Iteration order is unspecified (it follows Python's per-process string hashing):
callers that produce output sort.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

_BITS = 8
_MASK = (1 << _BITS) - 1
_EMPTY_BUCKET: dict[Any, Any] = {}
_EMPTY_ROOT: tuple[dict[Any, Any], ...] = (_EMPTY_BUCKET,) * (1 << _BITS)


class PMap(Mapping[K, V], Generic[K, V]):
    """An immutable mapping with cheap functional updates."""

    __slots__ = ("_root", "_len")

    def __init__(self, items: Mapping[K, V] | None = None) -> None:
        if not items:
            self._root: tuple[dict[K, V], ...] = _EMPTY_ROOT  # type: ignore[assignment]
            self._len = 0
            return
        buckets: list[dict[K, V]] = [{} for _ in range(1 << _BITS)]
        for k, v in items.items():
            buckets[hash(k) & _MASK][k] = v
        self._root = tuple(buckets)
        self._len = len(items)

    @classmethod
    def _make(cls, root: tuple[dict[K, V], ...], length: int) -> PMap[K, V]:
        m = cls.__new__(cls)
        m._root = root
        m._len = length
        return m

    def __getitem__(self, key: K) -> V:
        return self._root[hash(key) & _MASK][key]

    def get(self, key: K, default: Any = None) -> Any:
        return self._root[hash(key) & _MASK].get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._root[hash(key) & _MASK]

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[K]:
        for bucket in self._root:
            yield from bucket

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping) or len(other) != self._len:
            return False
        return all(k in other and other[k] == v for k, v in self.items())

    __hash__ = None  # type: ignore[assignment]

    def set(self, key: K, value: V) -> PMap[K, V]:
        """A new map with ``key`` bound to ``value``."""
        i = hash(key) & _MASK
        bucket = self._root[i]
        if key in bucket and bucket[key] is value:
            return self
        new_bucket = dict(bucket)
        new_bucket[key] = value
        length = self._len + (0 if key in bucket else 1)
        return PMap._make(self._root[:i] + (new_bucket,) + self._root[i + 1 :], length)

    def delete(self, key: K) -> PMap[K, V]:
        """A new map without ``key`` (the same map if it is absent)."""
        i = hash(key) & _MASK
        bucket = self._root[i]
        if key not in bucket:
            return self
        new_bucket = dict(bucket)
        del new_bucket[key]
        return PMap._make(self._root[:i] + (new_bucket,) + self._root[i + 1 :], self._len - 1)

    def __repr__(self) -> str:
        return f"PMap({len(self)} items)"
