"""The ray runtime: the same workload as on sim, batching, metrics over HTTP, host restarts."""

from __future__ import annotations

import json
import urllib.request

import pytest

from kubesim.runtime import ActorSpec, Address, Machine
from kubesim.runtime.ray.runtime import RayRuntime
from kubesim.workloads import pingpong
from tests.runtime.helpers import Recorder

pytestmark = pytest.mark.ray


def test_pingpong_on_ray_with_metrics_endpoints(ray_local, tmp_path):
    rt = RayRuntime(seed=1, run_dir=tmp_path)
    try:
        pingpong.place(rt, members=400, rounds=2, hosts=4, zones=2)
        result = rt.run(lambda r: r.ask(pingpong.COORDINATOR, {"op": "run"}, timeout=120))
        assert result["messages"] == 4 * 400 * 2
        targets = rt.run(lambda r: r.write_targets())
        groups = json.loads(targets.read_text())
        assert len(groups) == 5  # 4 pools + the coordinator's own Ray actor
        bodies = {
            g["labels"]["kubesim_host"]: urllib.request.urlopen(f"http://{g['targets'][0]}/metrics").read().decode()
            for g in groups
        }
        assert all(g["targets"][0].startswith("127.0.0.1:") for g in groups)
        assert 'kubesim_pingpong_rounds_total{instance="coordinator"} 2.0' in bodies["pingpong-coordinator"]
        pool = bodies["pool-0"]
        assert 'kubesim_batch_size_count{host="pool-0"}' in pool
        assert 'kubesim_messages_received_total{host="pool-0"}' in pool
        infos = rt.run(lambda r: r.host_info())
        assert sum(i["actors"] for i in infos.values()) == 401 + len(infos)  # + one driver proxy each
        assert all(not i["errors"] for i in infos.values())
    finally:
        rt.close()


def test_killed_host_actor_restarts_and_its_actors_are_told(ray_local, tmp_path):
    rt = RayRuntime(seed=1, run_dir=tmp_path)
    rt.add_machine(Machine("m1"))
    rt.add_machine(Machine("m2"))
    a, b = Address("test", "a"), Address("test", "b")
    rt.spawn(ActorSpec(a, Recorder, "m1", host="h1"))
    rt.spawn(ActorSpec(b, Recorder, "m2", host="h2"))
    try:

        async def main(r):
            await r.ask(b, {"op": "append", "data": b"kept|"})
            assert await r.ask(b, {"op": "fsync"}) == "synced"
            await r.ask(b, {"op": "append", "data": b"lost"})
            await r.kill_host("h2")

            async def back() -> bool:
                try:
                    info = (await r.host_info())["h2"]
                except Exception:
                    return False
                return info["incarnation"] == 1

            await r.wait_until(back, timeout=60, poll=0.5)
            reply = await r.ask(a, {"op": "call", "to": str(b), "body": "after restart"})
            return await r.ask(b, {"op": "read"}), reply

        data, reply = rt.run(main)
        assert data == b"kept|"
        assert reply == {"echo": "after restart"}
    finally:
        rt.close()


def test_spawn_live_adds_an_actor_on_a_new_host(ray_local, tmp_path):
    rt = RayRuntime(seed=1, run_dir=tmp_path)
    rt.add_machine(Machine("m1"))
    a, c = Address("test", "a"), Address("test", "c")
    rt.spawn(ActorSpec(a, Recorder, "m1", host="h1"))
    try:

        async def main(r):
            await r.spawn_live(ActorSpec(c, Recorder, "m1", host="h3"))
            return await r.ask(a, {"op": "call", "to": str(c), "body": 42})

        assert rt.run(main) == {"echo": 42}
    finally:
        rt.close()


def test_host_per_machine_puts_a_machines_actors_in_one_host_actor(ray_local, tmp_path):
    rt = RayRuntime(seed=1, run_dir=tmp_path, host_per_machine=True)
    for machine in ("m1", "m2"):
        rt.add_machine(Machine(machine))
    a, b, c, d = (Address("test", n) for n in "abcd")
    rt.spawn(ActorSpec(a, Recorder, "m1"))
    rt.spawn(ActorSpec(b, Recorder, "m1"))
    rt.spawn(ActorSpec(c, Recorder, "m2"))
    rt.spawn(ActorSpec(d, Recorder, "m2", host="pool-h0"))  # a named host group stays its own
    try:

        async def main(r):
            infos = await r.host_info()
            answers = [await r.ask(x, {"op": "call", "to": str(y), "body": i})
                       for i, (x, y) in enumerate([(a, b), (a, c), (c, d), (d, a)])]
            return sorted((name, info["actors"]) for name, info in infos.items()), answers

        hosts, answers = rt.run(main)
        assert hosts == [("machine-m1", 3), ("machine-m2", 2), ("pool-h0", 2)]  # + each host's driver proxy
        assert answers == [{"echo": i} for i in range(4)]
    finally:
        rt.close()
