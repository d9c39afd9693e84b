"""How often Python's cyclic garbage collector runs while a sim run executes.

A whole cluster on one interpreter is a large heap of long-lived objects (etcd's stores,
watch caches, informer indexers) and a stream of short-lived ones (envelopes, timer handles,
decoded objects). With CPython's default thresholds (700, 10, 10) a young collection runs
every 700 net container allocations and, every 100 of those, a full one that traverses the
whole heap: at 500 nodes the collector took a fifth of all CPU time, and more than half of
a 200-node cluster's CPU at rest (docs/scale.md). A sim run raises the thresholds, so the
same garbage is found with a fraction of the traversals; objects are freed by reference
counting as before, and what only the collector frees (reference cycles) waits longer: the
peak RSS of the measured runs did not change. Nothing the simulation computes depends on
it. The previous thresholds come back when the run returns.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

SIM_GC_THRESHOLDS = (50_000, 20, 100)


@contextmanager
def collector_thresholds(thresholds: tuple[int, int, int] | None) -> Iterator[None]:
    """Run the body with ``gc.set_threshold(*thresholds)`` (None: leave them alone)."""
    if thresholds is None:
        yield
        return
    previous = gc.get_threshold()
    gc.set_threshold(*thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
