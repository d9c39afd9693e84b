"""What the probe requests say about API availability: pure functions over the prober's
records, shared by the report and its tests.

A record is `[kind, sent, finished, code, replica]` (`prober.py`); a request succeeded
when its code is 2xx. Times are seconds since the cluster became ready.

- `per_second`: for each whole second, how many requests of a kind were sent, how many
  succeeded, and the share (the API availability SLI per second);
- `outages`: the unavailability windows: from a failed request's sending to the next
  successful answer, every request failed (or was answered only after the window), for
  at least a second;
- `disruptions`: windows in which requests failed, successes in between included while
  failures come less than a second apart (a dead replica the balancer still picks);
- `recovery`: for a fault, the unavailability and disruption it caused and how long
  after it started the requests succeeded again for good.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Record = Sequence[Any]


def succeeded(record: Record) -> bool:
    return 200 <= int(record[3]) < 300


def of_kind(records: Sequence[Record], kind: int, t0: float = 0.0) -> list[tuple[float, float, bool]]:
    """(sent, latency, ok) of one kind, sent time relative to `t0`, in sending order."""
    out = [(r[1] - t0, r[2] - r[1], succeeded(r)) for r in records if r[0] == kind]
    out.sort(key=lambda x: x[0])
    return out


def codes(records: Sequence[Record], kind: int) -> dict[str, int]:
    """How many requests of a kind ended with each code ("0": no answer within the timeout)."""
    out: dict[str, int] = {}
    for r in records:
        if r[0] == kind:
            out[str(r[3])] = out.get(str(r[3]), 0) + 1
    return dict(sorted(out.items()))


def per_second(requests: Sequence[tuple[float, float, bool]], duration: float) -> list[list[float]]:
    """[second, sent, succeeded, share] for each second in [0, duration)."""
    seconds = max(0, int(duration))
    sent = [0] * seconds
    ok = [0] * seconds
    for t, _latency, good in requests:
        s = int(t)
        if 0 <= s < seconds:
            sent[s] += 1
            ok[s] += good
    return [[s, sent[s], ok[s], ok[s] / sent[s] if sent[s] else 1.0] for s in range(seconds)]


@dataclass(frozen=True)
class Window:
    start: float
    end: float | None  # None: still failing when the run ended
    failed: int

    def length(self, run_end: float) -> float:
        return (run_end if self.end is None else self.end) - self.start

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "failed_requests": self.failed}


def _failure_runs(requests: Sequence[tuple[float, float, bool]], gap: float | None) -> list[Window]:
    """Runs of failed requests, each from its first failure (sent) to the next success
    (answered); with `gap`, failures less than `gap` apart belong to one run despite
    successes between. A request sent during an outage that is answered after it, within
    the timeout, is a success at the time it was answered."""
    windows: list[Window] = []
    start: float | None = None
    last_failure = 0.0
    answered: float | None = None  # the first success after the last failure
    failed = 0
    events = sorted((t + latency if good else t, good) for t, latency, good in requests)
    for t, good in events:
        if good:
            if start is not None and answered is None:
                answered = t
            if start is not None and (gap is None or t - last_failure >= gap):
                windows.append(Window(start, answered, failed))
                start, answered, failed = None, None, 0
        else:
            if start is None:
                start = t
            last_failure = t
            answered = None
            failed += 1
    if start is not None:
        windows.append(Window(start, answered, failed))
    return windows


def outages(requests: Sequence[tuple[float, float, bool]], min_length: float = 1.0) -> list[Window]:
    """Unavailability windows: every request sent in them failed, for at least `min_length`."""
    return [w for w in _failure_runs(requests, None) if w.end is None or w.end - w.start >= min_length]


def disruptions(requests: Sequence[tuple[float, float, bool]], gap: float = 1.0) -> list[Window]:
    """Windows in which requests failed (some may have succeeded between failures less
    than `gap` apart: a dead replica still in the balancer's rotation)."""
    return _failure_runs(requests, gap)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) by the nearest-rank method; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, int(-(-q * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]


def share(requests: Sequence[tuple[float, float, bool]], start: float, end: float) -> float | None:
    """Share of the requests sent in [start, end) that succeeded (None: none sent)."""
    window = [good for t, _l, good in requests if start <= t < end]
    return sum(window) / len(window) if window else None


def recovery(outage: Sequence[Window], disrupted: Sequence[Window], start: float, until: float,
             run_end: float, slack: float) -> dict[str, Any]:
    """What a fault started at `start` did to one kind of request: the windows opening in
    [start - slack, until) (a request sent just before it may fail because of it). Time to
    recover: from `start` to the end of the last disruption (None: not before the run ended)."""
    def caused(windows: Sequence[Window]) -> list[Window]:
        return [w for w in windows if start - slack <= w.start < until]

    hit = caused(disrupted)
    last = max(hit, key=lambda w: w.start) if hit else None
    return {
        "unavailable_seconds": sum(w.length(run_end) for w in caused(outage)),
        "disrupted_seconds": sum(w.length(run_end) for w in hit),
        "failed_requests": sum(w.failed for w in hit),
        "time_to_recover": 0.0 if last is None else (None if last.end is None else max(0.0, last.end - start)),
    }
