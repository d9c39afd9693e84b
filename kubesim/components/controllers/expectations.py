"""Controller expectations (pkg/controller/controller_utils.go): how many creations and
deletions a controller has asked for and not yet seen in its informer, so it does not act
twice on a stale cache. Pure: time comes in as arguments.

`ControllerExpectations` counts; `UIDTrackingExpectations` also remembers which pods it
deleted, so a deletion observed twice (a graceful delete's update, then the delete) is
counted once, as the ReplicaSet and Job controllers need.
"""

from __future__ import annotations

from dataclasses import dataclass

#: ExpectationsTimeout: expectations older than this are considered satisfied (a lost watch
#: event must not stall a controller forever).
EXPECTATIONS_TIMEOUT = 300.0


@dataclass
class _Expectee:
    add: int
    delete: int
    timestamp: float

    def fulfilled(self) -> bool:
        return self.add <= 0 and self.delete <= 0


class ControllerExpectations:
    """ControllerExpectations keyed by the controller's key ("namespace/name")."""

    def __init__(self) -> None:
        self._items: dict[str, _Expectee] = {}

    def satisfied(self, key: str, now: float) -> bool:
        """SatisfiedExpectations: no expectations, fulfilled ones, or expired ones."""
        exp = self._items.get(key)
        if exp is None:
            return True
        return exp.fulfilled() or now - exp.timestamp > EXPECTATIONS_TIMEOUT

    def set(self, key: str, add: int, delete: int, now: float) -> None:
        self._items[key] = _Expectee(add, delete, now)

    def expect_creations(self, key: str, adds: int, now: float) -> None:
        self.set(key, adds, 0, now)

    def expect_deletions(self, key: str, dels: int, now: float) -> None:
        self.set(key, 0, dels, now)

    def lower(self, key: str, add: int = 0, delete: int = 0) -> None:
        exp = self._items.get(key)
        if exp is not None:
            exp.add -= add
            exp.delete -= delete

    def raise_(self, key: str, add: int = 0, delete: int = 0) -> None:
        exp = self._items.get(key)
        if exp is not None:
            exp.add += add
            exp.delete += delete

    def creation_observed(self, key: str) -> None:
        self.lower(key, add=1)

    def deletion_observed(self, key: str) -> None:
        self.lower(key, delete=1)

    def delete(self, key: str) -> None:
        """DeleteExpectations: the controller itself is gone."""
        self._items.pop(key, None)

    def get(self, key: str) -> tuple[int, int] | None:
        exp = self._items.get(key)
        return None if exp is None else (exp.add, exp.delete)


class UIDTrackingExpectations(ControllerExpectations):
    """UIDTrackingControllerExpectations: deletions are tracked by pod key."""

    def __init__(self) -> None:
        super().__init__()
        self._uids: dict[str, set[str]] = {}

    def expect_deletions_of(self, key: str, deleted_keys: list[str], now: float) -> None:
        """ExpectDeletions: remember which pods are expected to go."""
        self._uids[key] = set(deleted_keys)
        self.expect_deletions(key, len(deleted_keys), now)

    def deletion_observed_of(self, key: str, deleted_key: str) -> None:
        """DeletionObserved: counts only once per expected pod."""
        pending = self._uids.get(key)
        if pending is not None and deleted_key in pending:
            pending.discard(deleted_key)
            self.lower(key, delete=1)

    def delete(self, key: str) -> None:
        super().delete(key)
        self._uids.pop(key, None)
