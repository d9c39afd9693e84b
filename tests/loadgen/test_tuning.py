import asyncio
import random

import pytest

from kubesim.loadgen.tuning import execute


class FakeClock:
    """Virtual time for the tuning sets: sleeping advances it."""

    def __init__(self):
        self.t = 0.0

    async def sleep(self, seconds):
        await asyncio.sleep(0)  # what was started runs first, at the current time
        self.t += seconds


def run(spec, n):
    clock = FakeClock()
    starts, running, peak = [], [0], [0]

    def action():
        async def go():
            starts.append(clock.t)
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            running[0] -= 1
        return go()

    asyncio.run(execute(spec, [action] * n, clock.sleep, random.Random(1)))
    return starts, peak[0], clock.t


def test_qps_load_spaces_starts_uniformly():
    starts, _peak, _t = run({"kind": "qpsLoad", "qps": 4.0}, 5)
    assert starts == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])


def test_stepped_load_bursts():
    starts, _peak, _t = run({"kind": "steppedLoad", "burstSize": 2, "stepDelay": 3.0}, 5)
    assert starts == pytest.approx([0, 0, 3, 3, 6])


def test_randomized_load_averages_its_qps():
    starts, _peak, _t = run({"kind": "randomizedLoad", "averageQps": 10.0}, 2000)
    assert 2000 / starts[-1] == pytest.approx(10.0, rel=0.1)


def test_time_limited_loads_fit_their_limit():
    starts, _p, _t = run({"kind": "timeLimitedLoad", "timeLimit": 10.0}, 4)
    assert starts == pytest.approx([0, 2.5, 5, 7.5])


def test_parallelism_limited_load_caps_concurrency():
    _starts, peak, t = run({"kind": "parallelismLimitedLoad", "parallelismLimit": 3}, 20)
    assert peak == 3 and t == 0
