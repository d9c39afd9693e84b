"""etcd benchmark: committed puts/s and put latency (p50/p99) with 1, 16 and 256
concurrent clients, through the v3 JSON gateway of (a) a 3-member kubesim etcd on the ray
runtime and (b) a 3-member real etcd 3.4 (/usr/bin/etcd) on 127.0.0.1, with the same
client code, in the same run, so the kubesim/real ratios hold on a noisy machine.

The client: one aiohttp session with a connection pool as large as the number of
clients; each client loops POST /v3/kv/put of a 16-byte key (unique per put) and a
256-byte value for a fixed duration after a short warm-up; only 200 answers that carry a
revision count. All clients talk to the leader's endpoint in both clusters (so a put is
not forwarded first), found with /v3/maintenance/status.

    python -m bench.etcd_bench                 # print the figures
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import urllib.error
import urllib.request
from typing import Any

import aiohttp

from kubesim.testing.etcd_clusters import etcd_version, ray_gateway_cluster, real_etcd_cluster

LEVELS = (1, 16, 256)
KEY_BYTES = 16
VALUE_BYTES = 256
WARMUP_SECONDS = 2.0
SECONDS_PER_LEVEL = 10.0
ETCD_BINARY = "/usr/bin/etcd"
START_TIMEOUT = 60.0


# ---------------------------------------------------------------------------- the client
def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


async def _put_load(url: str, clients: int, seconds: float, warmup: float, tag: str) -> dict[str, Any]:
    """`clients` concurrent put loops against `url` for `warmup` + `seconds`; the
    figures of the puts started after the warm-up."""
    value = base64.b64encode(b"v" * VALUE_BYTES).decode()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    connector = aiohttp.TCPConnector(limit=clients, limit_per_host=clients)
    timeout = aiohttp.ClientTimeout(total=30)
    loop = asyncio.get_running_loop()
    started = loop.time()
    measure_from = started + warmup
    stop_at = measure_from + seconds

    async def client(i: int, session: aiohttp.ClientSession) -> None:
        seq = 0
        while True:
            sent = loop.time()
            if sent >= stop_at:
                return
            key = f"{tag}{i:03d}{seq:09d}"[-KEY_BYTES:].rjust(KEY_BYTES, "k").encode()
            seq += 1
            body = json.dumps({"key": base64.b64encode(key).decode(), "value": value})
            try:
                async with session.post(url + "/v3/kv/put", data=body) as resp:
                    data = await resp.read()
                    good = resp.status == 200 and b'"revision"' in data
                    problem = None if good else f"{resp.status} {data[:120]!r}"
            except (TimeoutError, aiohttp.ClientError) as exc:
                problem = type(exc).__name__
            done = loop.time()
            if sent < measure_from:
                continue
            if problem is None:
                latencies.append(done - sent)
            else:
                errors[problem] = errors.get(problem, 0) + 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(client(i, session) for i in range(clients)))
    wall = loop.time() - measure_from
    latencies.sort()
    return {
        "clients": clients,
        "puts": len(latencies),
        "errors": sum(errors.values()),
        **({"error_kinds": errors} if errors else {}),
        "seconds": wall,
        "puts_per_second": len(latencies) / wall,
        "p50": _percentile(latencies, 0.50),
        "p99": _percentile(latencies, 0.99),
    }


def _levels(url: str, tag: str, levels: tuple[int, ...], seconds: float) -> dict[str, Any]:
    out = {}
    for clients in levels:
        figures = asyncio.run(_put_load(url, clients, seconds, WARMUP_SECONDS, f"{tag}{clients}"))
        print(f"  {tag} {clients:>3} clients: {figures['puts_per_second']:8.1f} puts/s  "
              f"p50 {figures['p50'] * 1e3:7.2f} ms  p99 {figures['p99'] * 1e3:7.2f} ms  "
              f"errors {figures['errors']}", flush=True)
        out[str(clients)] = figures
    return out


def _post(url: str, path: str, body: dict[str, Any], timeout: float = 2.0) -> dict[str, Any]:
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.load(resp)


def _leader_url(urls: list[str]) -> str:
    """The endpoint whose member is the leader (status: header.member_id == leader)."""
    for url in urls:
        status = _post(url, "/v3/maintenance/status", {})
        if status["header"]["member_id"] == status.get("leader"):
            return url
    raise RuntimeError(f"no leader among {urls}")


# ---------------------------------------------------------------------------- the section
def _ratios(ours: dict[str, Any], real: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for level, o in ours.items():
        r = real[level]
        out[level] = {
            key: (o[key] / r[key] if r[key] else None) for key in ("puts_per_second", "p50", "p99")
        }
    return out


def etcd(levels: tuple[int, ...] = LEVELS, seconds: float = SECONDS_PER_LEVEL) -> dict[str, Any]:
    """The bench section: both clusters, every level, and kubesim/real ratios."""
    with ray_gateway_cluster() as cluster:
        leader = _leader_url(cluster.urls)
        print(f"  kubesim: gateways {cluster.urls}, leader {leader}", flush=True)
        ours = _levels(leader, "kubesim", levels, seconds)
    with real_etcd_cluster(ETCD_BINARY, 3) as urls:
        leader = _leader_url(urls)
        print(f"  real etcd: clients {urls}, leader {leader}", flush=True)
        real = _levels(leader, "real", levels, seconds)
    return {
        "setup": {
            "members": 3,
            "key_bytes": KEY_BYTES,
            "value_bytes": VALUE_BYTES,
            "seconds_per_level": seconds,
            "warmup_seconds": WARMUP_SECONDS,
            "client": "aiohttp, one connection per client, POST /v3/kv/put to the leader's endpoint",
            "kubesim": "3 members on the ray runtime (one Ray actor each), v3 JSON gateway",
            "real": f"{etcd_version(ETCD_BINARY)} x3 on 127.0.0.1, default flags, v3 JSON gateway",
        },
        "kubesim": ours,
        "real": real,
        "kubesim_over_real": _ratios(ours, real),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=SECONDS_PER_LEVEL)
    parser.add_argument("--levels", type=int, nargs="*", default=list(LEVELS))
    parser.add_argument("--only", choices=("kubesim", "real"))
    args = parser.parse_args()
    from kubesim.runtime.ray.local import ensure_ray

    started = ensure_ray()
    try:
        levels = tuple(args.levels)
        if args.only == "kubesim":
            with ray_gateway_cluster() as cluster:
                _levels(_leader_url(cluster.urls), "kubesim", levels, args.seconds)
        elif args.only == "real":
            with real_etcd_cluster(ETCD_BINARY, 3) as urls:
                _levels(_leader_url(urls), "real", levels, args.seconds)
        else:
            print(json.dumps(etcd(levels, args.seconds), indent=2))
    finally:
        if started:
            import ray

            ray.shutdown()


if __name__ == "__main__":
    main()
