"""apiserver benchmark: requests/s and p50/p99 latency by verb (create, get, list, update,
patch, delete) and watch-event delivery, through one kube-apiserver replica and through
three, on the ray runtime with one etcd member (so etcd's Raft round trips between members
are not in the figures; the `etcd` section measures those).

The load comes from one `ApiLoad` actor (kubesim/workloads/apiserver_load.py) on its own Ray
actor: CLIENTS ApiserverClients with WORKERS_PER_CLIENT concurrent loops each, on the
in-cluster message fast path; each client sticks to a replica it picked at random, as
in-cluster clients spread over replicas. Every phase runs SECONDS; `list` reads a namespace
of LIST_OBJECTS ConfigMaps; the watch phase opens WATCHERS watches and writes
WATCH_EVENTS ConfigMaps, and an event's latency runs from its create being sent to the
event reaching a watcher. Requests authenticate with the admin's token, so API Priority
and Fairness classifies them as kubectl's are. Everything shares this machine's cores, so
the three-replica figures show what replicas cost as much as what they add.

    python -m bench.apiserver_bench          # print the figures
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from kubesim.components.apiserver.cluster import admin_token_entry, place_control_plane
from kubesim.runtime.actor import ActorSpec
from kubesim.runtime.address import Address, Machine
from kubesim.workloads.apiserver_load import VERBS, ApiLoad

REPLICAS = (1, 3)
ETCD_MEMBERS = 1
CLIENTS = 8
WORKERS_PER_CLIENT = 4
SECONDS = 5.0
LIST_OBJECTS = 100
WATCHERS = 8
WATCH_EVENTS = 500
WATCH_TIMEOUT = 60.0  # after the writes, for every watcher to see every event
TOKEN = "bench-admin-token"
LOAD = Address("apiload", "load")
START_TIMEOUT = 120.0


def _one(replicas: int) -> dict[str, Any]:
    from kubesim.runtime.ray.runtime import RayRuntime

    rt = RayRuntime(seed=1)
    try:
        plane = place_control_plane(rt, apiservers=replicas, etcd_members=ETCD_MEMBERS,
                                    settings={"tokens": [admin_token_entry(TOKEN)]})
        rt.add_machine(Machine(LOAD.name, "zone-a", "client"))
        rt.spawn(ActorSpec(LOAD, ApiLoad, LOAD.name, kwargs={
            "replicas": plane.apiservers, "clients": CLIENTS,
            "workers_per_client": WORKERS_PER_CLIENT, "list_objects": LIST_OBJECTS,
            "client_options": {"token": TOKEN}}))
        rt.start()

        async def run(r: Any) -> dict[str, Any]:
            async def ready() -> bool:
                answers = [await r.ask(a, ["ready"], timeout=10.0) for a in plane.apiservers]
                return all(a is True for a in answers)

            await r.wait_until(ready, START_TIMEOUT, poll=0.2)
            out: dict[str, Any] = {}
            for verb in VERBS:
                out[verb] = await r.ask(LOAD, ["phase", verb, SECONDS], timeout=SECONDS + 120)
            out["watch_event_delivery"] = await r.ask(
                LOAD, ["watch", WATCHERS, WATCH_EVENTS, WATCH_TIMEOUT], timeout=WATCH_TIMEOUT + 120)
            connected = await r.ask(LOAD, ["replicas"])
            out["clients_per_replica"] = {a: connected.count(a) for a in plane.apiservers}
            return out

        return rt.run(run)
    finally:
        rt.close()


def apiserver() -> dict[str, Any]:
    """The bench/run.py section."""
    out: dict[str, Any] = {
        "etcd_members": ETCD_MEMBERS,
        "load_average_at_start": os.getloadavg()[0],
        "note": "one etcd member: no Raft replication in these figures; ray runtime on this "
                "machine's cores, shared by etcd, every replica and the load actor",
        "clients": CLIENTS, "concurrency": CLIENTS * WORKERS_PER_CLIENT,
        "seconds_per_verb": SECONDS, "list_objects": LIST_OBJECTS,
    }
    for replicas in REPLICAS:
        out[f"replicas_{replicas}"] = _one(replicas)
    one, three = out["replicas_1"], out["replicas_3"]
    out["rps_ratio_3_to_1"] = {
        verb: round(three[verb]["requests_per_second"] / one[verb]["requests_per_second"], 2)
        for verb in VERBS if one[verb]["requests_per_second"]}
    return out


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    from kubesim.runtime.ray.local import ensure_ray

    ensure_ray()
    print(json.dumps(apiserver(), indent=2))


if __name__ == "__main__":
    main()
