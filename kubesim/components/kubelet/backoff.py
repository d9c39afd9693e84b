"""client-go's per-item exponential backoff (util/flowcontrol/backoff.go), as the kubelet
uses it for container restarts (CrashLoopBackOff) and image pulls (ImagePullBackOff).

The kubelet builds both with ``flowcontrol.NewBackOff(10s, 300s)`` (kubelet.go:
backOffPeriod, MaxContainerBackOff) and no jitter: each `next` doubles the item's delay up
to the maximum, and an item whose last update is more than twice the maximum (10 min) older
than the event starts again at 10 s. Times are simulated seconds.
"""

from __future__ import annotations

INITIAL = 10.0
MAXIMUM = 300.0


class Backoff:
    """flowcontrol.Backoff without jitter: item -> (current delay, last update)."""

    __slots__ = ("initial", "maximum", "_items")

    def __init__(self, initial: float = INITIAL, maximum: float = MAXIMUM) -> None:
        self.initial = initial
        self.maximum = maximum
        self._items: dict[str, tuple[float, float]] = {}

    def _expired(self, event_time: float, last_update: float) -> bool:
        return event_time - last_update > 2 * self.maximum

    def next(self, key: str, event_time: float, now: float) -> None:
        """`Next(id, eventTime)`: start at the initial delay or double it; stamp `now`."""
        entry = self._items.get(key)
        if entry is None or self._expired(event_time, entry[1]):
            delay = self.initial
        else:
            delay = min(entry[0] * 2, self.maximum)
        self._items[key] = (delay, now)

    def get(self, key: str) -> float:
        """The item's current delay (0 if unknown)."""
        entry = self._items.get(key)
        return entry[0] if entry else 0.0

    def in_backoff_since(self, key: str, event_time: float, now: float) -> bool:
        """`IsInBackOffSince`: less than the delay has passed since `event_time`."""
        entry = self._items.get(key)
        if entry is None or self._expired(event_time, entry[1]):
            return False
        return now - event_time < entry[0]

    def in_backoff_since_update(self, key: str, now: float) -> bool:
        """`IsInBackOffSinceUpdate`: less than the delay has passed since the last `next`."""
        entry = self._items.get(key)
        if entry is None or self._expired(now, entry[1]):
            return False
        return now - entry[1] < entry[0]

    def forget(self, key: str) -> None:
        self._items.pop(key, None)

    def forget_prefix(self, prefix: str) -> None:
        """Drop every item of one pod (keys start with the pod's uid)."""
        for key in [k for k in self._items if k.startswith(prefix)]:
            del self._items[key]
