"""Test support: concurrent clients issuing KV operations against a sim etcd cluster under a
nemesis (partitions, crashes, restarts, loss, duplication, reordering), recorded as a
history for the linearizability checker."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

from kubesim.components.etcd.client import EtcdClient
from kubesim.components.etcd.errors import EtcdError
from kubesim.runtime.errors import CallTimeout
from kubesim.runtime.network import PartitionMode
from kubesim.runtime.sim import SimRuntime
from kubesim.testing.linearizability import Cas, Delete, Get, History, KVInput, Put
from tests.components.etcd.cluster_helpers import client


async def execute(c: EtcdClient, op: KVInput) -> Any:
    """Run one model operation through the client; its output in the model's terms."""
    match op:
        case Get(key):
            resp = await c.range({"key": key.encode()})
            return resp["kvs"][0]["value"].decode() if resp["kvs"] else None
        case Put(key, value):
            await c.put({"key": key.encode(), "value": str(value).encode()})
            return None
        case Delete(key):
            return (await c.delete_range({"key": key.encode()}))["deleted"]
        case Cas(key, expected, new):
            compare = (
                {"key": key.encode(), "target": "CREATE", "result": "EQUAL", "create_revision": 0}
                if expected is None
                else {
                    "key": key.encode(),
                    "target": "VALUE",
                    "result": "EQUAL",
                    "value": str(expected).encode(),
                }
            )
            resp = await c.txn(
                {
                    "compare": [compare],
                    "success": [{"request_put": {"key": key.encode(), "value": str(new).encode()}}],
                }
            )
            return resp["succeeded"]
    raise TypeError(op)


def random_op(rng: random.Random, keys: int, serial: list[int]) -> KVInput:
    key = f"k{rng.randrange(keys)}"
    roll = rng.random()
    serial[0] += 1
    if roll < 0.45:
        return Get(key)
    if roll < 0.8:
        return Put(key, str(serial[0]))
    if roll < 0.9:
        return Delete(key)
    expected = rng.choice([None, str(max(1, serial[0] - rng.randrange(1, 4)))])
    return Cas(key, expected, str(serial[0]))


@dataclass
class Nemesis:
    """Injects one fault at a time into the etcd machines, then heals everything."""

    rt: SimRuntime
    machines: list[str]
    rng: random.Random
    faults: int = 4

    async def run(self) -> None:
        for _ in range(self.faults):
            await self.rt.sleep(self.rng.uniform(0.5, 2.5))
            kind = self.rng.choice(["partition", "crash", "lossy", "one_way"])
            victim = self.rng.choice(self.machines)
            if kind == "partition":
                pid = self.rt.partition([victim], mode=self.rng.choice(list(PartitionMode)))
                await self.rt.sleep(self.rng.uniform(1, 4))
                self.rt.heal(pid)
            elif kind == "one_way":
                pid = self.rt.partition([victim], one_way=True, mode=PartitionMode.DROP)
                await self.rt.sleep(self.rng.uniform(1, 4))
                self.rt.heal(pid)
            elif kind == "crash":
                self.rt.crash_machine(victim)
                await self.rt.sleep(self.rng.uniform(0.5, 4))
                self.rt.restart_machine(victim)
            else:
                self.rt.network.set_faults(drop=0.1, duplicate=0.05, reorder=0.1)
                await self.rt.sleep(self.rng.uniform(1, 4))
                self.rt.network.set_faults(drop=0.0, duplicate=0.0, reorder=0.0)


async def record_history(
    rt: SimRuntime,
    clients: int,
    ops_per_client: int,
    seed: int,
    nemesis: Nemesis | None,
    keys: int = 3,
) -> History:
    """Run the workload beside the nemesis and return the recorded history: each client
    issues at least `ops_per_client` operations and keeps going while the nemesis runs."""
    history = History()
    serial = [0]
    running = [nemesis is not None]

    async def worker(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        c = client(rt, i)
        done = 0
        while done < ops_per_client or running[0]:
            op = random_op(rng, keys, serial)
            token = history.invoke(i, op, rt.now())
            done += 1
            try:
                out = await execute(c, op)
            except (EtcdError, CallTimeout):
                history.fail_unknown(token)  # a failed read changes nothing; a write may have happened
                continue
            history.complete(token, out, rt.now())
            await rt.sleep(rng.uniform(0, 0.2))

    async def faults() -> None:
        assert nemesis is not None
        await nemesis.run()
        running[0] = False

    tasks = [worker(i) for i in range(clients)]
    if nemesis is not None:
        tasks.append(faults())
    await asyncio.gather(*tasks)
    return history
