"""The proof workload at its full size on the sim runtime: 10,000 actors on 8 machines."""

from __future__ import annotations

from kubesim.runtime.sim import SimRuntime
from kubesim.workloads import pingpong


def test_ten_thousand_actors_on_sim():
    with SimRuntime(seed=11) as rt:
        pingpong.place(rt, members=10_000, rounds=2, hosts=8, zones=2)
        result = rt.run(lambda r: r.ask(pingpong.COORDINATOR, {"op": "run"}, timeout=600))
        assert result["messages"] == 80_000
        # members sit in two zones: some pings cross zones, so the p99 round trip
        # exceeds twice the same-zone median one-way latency
        assert result["rtt_p99"] > 2 * rt.cost.latency("network.same_zone").median
        assert rt.trace.events == 80_000 + 2  # and the driver's ask and its reply
