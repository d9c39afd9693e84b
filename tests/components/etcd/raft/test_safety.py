"""Randomized safety: seeded 3- and 5-node clusters under drops, duplicates, reordering,
partitions, crashes/restarts, proposals, reads, transfers and compactions (see harness.py)."""

from __future__ import annotations

from collections import Counter

import pytest

from .harness import Cluster, Faults

SEEDS = range(200)


@pytest.mark.parametrize("nodes", [3, 5])
def test_safety_under_faults(nodes: int) -> None:
    failures = {}
    seen: Counter[str] = Counter()
    for seed in SEEDS:
        c = Cluster(seed, Faults(nodes=nodes, chaos_ticks=120))
        violations = c.run()
        seen.update(c.stats)
        if violations:
            failures[seed] = violations[:3]
    assert failures == {}
    # the runs did exercise the interesting paths
    for what in ("MsgSnap", "MsgTimeoutNow", "MsgPreVote", "MsgVote", "MsgReadIndex", "crash",
                 "compact"):
        assert seen[what] > 0, what


def test_run_is_deterministic() -> None:
    a, b = Cluster(7, Faults()), Cluster(7, Faults())
    a.run()
    b.run()
    assert a.history.applied == b.history.applied and a.stats == b.stats
