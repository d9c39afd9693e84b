"""Tuning sets: how a phase's operations are spread over time, as clusterloader2's
pkg/tuningset does it. Each starts the actions in order, sleeping between starts, and
waits for all of them:

- qpsLoad {qps}: 1/qps between starts;
- randomizedLoad {averageQps}: a random 0..2/averageQps between starts;
- steppedLoad {burstSize, stepDelay}: stepDelay after every burstSize starts;
- parallelismLimitedLoad {parallelismLimit}: no sleeping, at most that many running;
- timeLimitedLoad {timeLimit}: timeLimit/len(actions) between starts;
- randomizedTimeLimitedLoad {timeLimit}: each action starts at a random time in [0, timeLimit).

`sleep` and `random` come from the caller (virtual time and the actor's seeded stream on
`sim`), so the same tuning set replays exactly.
"""

from __future__ import annotations

import asyncio
import random as _random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

Action = Callable[[], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


async def execute(spec: dict[str, Any], actions: Sequence[Action], sleep: Sleep,
                  rng: _random.Random) -> None:
    """Run `actions` under the tuning set `spec` (TuningSet.spec(): {"kind": ..., params})."""
    kind = spec["kind"]
    if not actions:
        return
    tasks: list[asyncio.Task[None]] = []

    def start(action: Action) -> None:
        tasks.append(asyncio.ensure_future(action()))

    if kind == "parallelismLimitedLoad":
        limit = asyncio.Semaphore(int(spec["parallelismLimit"]))

        async def limited(action: Action) -> None:
            async with limit:
                await action()

        await asyncio.gather(*(limited(a) for a in actions))
        return
    if kind == "randomizedTimeLimitedLoad":
        limit = float(spec["timeLimit"])

        async def later(action: Action, delay: float) -> None:
            await sleep(delay)
            await action()

        await asyncio.gather(*(later(a, rng.random() * limit) for a in actions))
        return
    for i, action in enumerate(actions):
        start(action)
        if kind == "qpsLoad":
            await sleep(1.0 / float(spec["qps"]))
        elif kind == "randomizedLoad":
            await sleep(2 * rng.random() / float(spec["averageQps"]))
        elif kind == "steppedLoad":
            if (i + 1) % int(spec["burstSize"]) == 0:
                await sleep(float(spec["stepDelay"]))
        elif kind == "timeLimitedLoad":
            await sleep(float(spec["timeLimit"]) / len(actions))
        else:
            raise ValueError(f"unknown tuning set kind {kind!r}")
    await asyncio.gather(*tasks)
