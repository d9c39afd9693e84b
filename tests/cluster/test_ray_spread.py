"""The Ray-cluster plan: `examples/cluster-envelope-5000-ray16.yaml` packs its 5,000 nodes
into host actors that divide evenly over 16 Ray machines, and the ray runtime deals host
actors evenly over the machines of a Ray cluster. The spread is checked on a fake multi-node Ray
(`ray.cluster_utils.Cluster`: a head and three more raylets on this machine, each with a
custom resource naming it), in a child process so the session's local Ray is left alone.

    python -m tests.cluster.test_ray_spread   # the child: prints {host actor: Ray machine}
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from kubesim.cluster.topology import plan
from kubesim.specs import load_spec

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "examples" / "cluster-envelope-5000-ray16.yaml"
RAY_MACHINES = 16
FAKE_RAY_NODES = 4
HOSTS_PER_FAKE_NODE = 3


def test_the_16_machine_plan_divides_the_node_hosts_evenly() -> None:
    cluster = plan(load_spec(SPEC))
    pool_hosts = [h for h in cluster.hosts if h.pool == "pool-a"]
    assert len(cluster.nodes) == 5000 + 3  # the workers and the three control-plane machines
    assert len(pool_hosts) % RAY_MACHINES == 0, len(pool_hosts)
    assert max(len(h.nodes) for h in pool_hosts) == cluster.nodes_per_host
    assert sum(len(h.nodes) for h in pool_hosts) == 5000
    assert Counter(h.zone for h in pool_hosts) == {"zone-a": 80, "zone-b": 80, "zone-c": 80}


@pytest.mark.ray
def test_host_actors_spread_over_the_machines_of_a_ray_cluster() -> None:
    proc = subprocess.run([sys.executable, "-m", "tests.cluster.test_ray_spread"], cwd=ROOT,
                          capture_output=True, text=True, timeout=540)
    assert proc.returncode == 0, proc.stderr[-3000:]
    placed: dict[str, str] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(placed) == FAKE_RAY_NODES * HOSTS_PER_FAKE_NODE
    per_machine = Counter(placed.values())
    assert set(per_machine) == {f"ray-machine-{i}" for i in range(FAKE_RAY_NODES)}, per_machine
    # dealt round robin: every machine takes its share exactly
    assert set(per_machine.values()) == {HOSTS_PER_FAKE_NODE}, per_machine


def _spread() -> dict[str, str]:
    """Start a fake 4-machine Ray, place the spec's first host groups on it through the ray
    runtime (one logical actor each), and say on which Ray machine each host actor runs."""
    import ray
    from ray._private.utils import get_ray_address_file
    from ray.cluster_utils import Cluster

    from kubesim.runtime.actor import ActorSpec
    from kubesim.runtime.address import Address, Machine
    from kubesim.runtime.ray.runtime import RayRuntime
    from kubesim.workloads.blast import Sink

    # Starting a head writes its address into /tmp/ray/ray_current_cluster, where any other
    # `ray.init()` on this machine would find and join this fake cluster: put back what was
    # there at once. (Ray rewrites a 127.0.0.1 address to the machine's IP when connecting,
    # so the fake cluster keeps Ray's default node address.)
    address_file = Path(get_ray_address_file(None))
    before = address_file.read_text() if address_file.exists() else None
    temp = tempfile.mkdtemp(prefix="ksf", dir="/tmp")  # short: Ray's socket paths have a length limit
    try:
        fake = Cluster(initialize_head=True, head_node_args={
            "temp_dir": temp, "include_dashboard": False, "num_cpus": 1, "resources": {"ray-machine-0": 1}})
    finally:
        if before is None:
            address_file.unlink(missing_ok=True)
        else:
            address_file.write_text(before)
    try:
        for i in range(1, FAKE_RAY_NODES):
            fake.add_node(num_cpus=1, resources={f"ray-machine-{i}": 1})
        fake.wait_for_nodes()
        ray.init(address=fake.address)
        machine_of = {n["NodeID"]: next(r for r in n["Resources"] if r.startswith("ray-machine-"))
                      for n in ray.nodes() if n["Alive"]}
        groups = [h for h in plan(load_spec(SPEC)).hosts if h.pool == "pool-a"]
        rt = RayRuntime(seed=1)
        try:
            for group in groups[:FAKE_RAY_NODES * HOSTS_PER_FAKE_NODE]:
                node = group.nodes[0]
                rt.add_machine(Machine(node, zone=group.zone))
                rt.spawn(ActorSpec(Address("agent", node), Sink, node, host=group.name))
            rt.start()
            infos = ray.get([h.info.remote() for h in rt.hosts.values()])
            return {info["name"]: machine_of[info["node_id"]] for info in infos}
        finally:
            rt.close()
    finally:
        ray.shutdown()
        fake.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(_spread()))
