"""When kube-proxy syncs: client-go's BoundedFrequencyRunner (pkg/util/async,
kube-proxy 1.32) as a pure state machine on the caller's clock.

A run is requested on every Service or EndpointSlice change; it goes ahead at once when
the token bucket allows (`burst` runs, refilled at one per `min_interval`; no limit when
`min_interval` is 0), otherwise it is deferred to the earlier of the next possible run
(`min_interval` after the last one ended) and the periodic timer. The timer fires
`max_interval` after the last run ended and is handled like a request. kube-proxy builds
it with burstSyncs = 2; iptables mode passes one hour as the maximum interval (its
syncPeriod only drives the canary-chain monitor), IPVS and nftables pass syncPeriod.

The owner arms one timer at `deadline`, calls `try_run(now)` when it fires or a run is
requested: True means run now, and `ran(end)` when the run is over; False means the
deadline moved.
"""

from __future__ import annotations

__all__ = ["BURST_SYNCS", "BoundedFrequencyRunner"]

#: burstSyncs in every kube-proxy 1.32 proxier.
BURST_SYNCS = 2
_EPSILON = 1e-9


class BoundedFrequencyRunner:
    """Rate limiting and the periodic timer of one kube-proxy's sync loop."""

    def __init__(self, min_interval: float, max_interval: float, burst: int = BURST_SYNCS,
                 now: float = 0.0) -> None:
        if min_interval < 0 or max_interval <= 0 or burst < 1:
            raise ValueError(f"invalid runner bounds: min {min_interval}, max {max_interval}, "
                             f"burst {burst}")
        if min_interval > max_interval:
            raise ValueError(f"min_interval {min_interval} > max_interval {max_interval}")
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.burst = burst
        self._tokens = float(burst)  # x/time/rate starts with a full bucket
        self._refilled = now
        self.last_run = now
        #: when the timer fires next (absolute time)
        self.deadline = now + max_interval

    def _accept(self, now: float) -> bool:
        """flowcontrol token bucket TryAccept: qps = 1 / min_interval, burst tokens."""
        if self.min_interval == 0:
            return True
        tokens = min(float(self.burst),
                     self._tokens + (now - self._refilled) / self.min_interval)
        if tokens < 1.0 - _EPSILON:  # a token due now counts despite float rounding
            return False
        self._tokens, self._refilled = tokens - 1.0, now
        return True

    def try_run(self, now: float) -> bool:
        """tryRun: True if the function may run now; otherwise `deadline` is moved to the
        next possible run if that is sooner than the periodic one."""
        if self._accept(now):
            return True
        next_possible = now + self.min_interval - (now - self.last_run)
        self.deadline = min(self.deadline, next_possible)
        return False

    def ran(self, end: float) -> None:
        """The run that `try_run` allowed ended at `end`: the timer restarts from there."""
        self.last_run = end
        self.deadline = end + self.max_interval
