"""Raft safety of whole etcd members on the sim runtime: randomized runs with partitions,
crashes, restarts, loss, duplication and reordering, checked after each run for one
leader per term, log matching, leader completeness, one applied entry per index
everywhere, and identical stores once the faults heal."""

from __future__ import annotations

import random
from typing import Any

import pytest

from kubesim.components.etcd.raft.invariants import (
    Applied,
    History,
    Leadership,
    LogEntry,
    check_all,
)
from kubesim.testing.linearizability import EtcdKVModel, check
from tests.components.etcd.cluster_helpers import client, sim_cluster
from tests.components.etcd.kv_workload import Nemesis, record_history

FAST_SEEDS = range(200)
SLOW_SEEDS = range(200, 1200)


class Recorder:
    def __init__(self) -> None:
        self.history = History()

    def __call__(self, event: tuple[Any, ...]) -> None:
        kind = event[0]
        if kind == "leader":
            _, node, term, log, floor = event
            self.history.leaderships.append(Leadership(node, term, log, floor))
        elif kind == "commit":
            self.history.commits.append(event[1:])
        else:
            _, node, incarnation, index, term, data = event
            self.history.applied.append(Applied(node, incarnation, LogEntry(index, term, data)))


def run_seed(seed: int) -> tuple[list[str], dict[str, Any]]:
    rng = random.Random(seed)
    size = rng.choice([3, 3, 5])
    recorder = Recorder()
    settings = {"snapshot_count": rng.choice([20, 50, 100_000]), "snapshot_catchup_entries": 5}
    rt, endpoints = sim_cluster(seed, size=size, clients=2, settings=settings, observer=recorder)
    machines = [e.split("/")[1] for e in endpoints]
    with rt:

        async def main(r):
            await r.sleep(2.0)
            nemesis = Nemesis(rt, machines, random.Random(seed + 1), faults=3)
            history = await record_history(rt, clients=2, ops_per_client=12, seed=seed, nemesis=nemesis)
            rt.heal()
            for m in machines:
                if rt.machine_is_down(m):
                    rt.restart_machine(m)
            # progress: after healing, one more write commits and every member applies it
            final = await client(rt).put({"key": b"final", "value": str(seed).encode()})
            revision = final["header"]["revision"]
            async def applied_everywhere() -> bool:
                return all(rt.actor(e).sm.store.revision >= revision for e in endpoints)

            await r.wait_until(applied_everywhere, timeout=30)
            return history

        history = rt.run(main)
        members = [rt.actor(e) for e in endpoints]
        recorder.history.logs = {m.id: {e.index: LogEntry(e.index, e.term, e.data) for e in m.raft_log()} for m in members}
        stores = {m.id: m.sm.store.range({"key": b"\0", "range_end": b"\0"})["kvs"] for m in members}
        violations = check_all(recorder.history)
        first = next(iter(stores.values()))
        violations += [f"store of member {mid} differs after healing" for mid, kvs in stores.items() if kvs != first]
        result = check(EtcdKVModel(), history.operations(), timeout=60)
        if not result.ok:
            violations.append(f"linearizability: {result.message}")
        stats = {
            "ops": len(history.operations()),
            "leaders": len(recorder.history.leaderships),
            "snapshots": sum(m._last_snap_index > 0 for m in members),
        }
        return violations, stats


@pytest.mark.parametrize("seed", FAST_SEEDS)
def test_raft_safety_randomized(seed):
    violations, _ = run_seed(seed)
    assert not violations, "\n".join(violations[:10])


@pytest.mark.slow
@pytest.mark.parametrize("seed", SLOW_SEEDS)
def test_raft_safety_randomized_slow(seed):
    violations, _ = run_seed(seed)
    assert not violations, "\n".join(violations[:10])
