"""The measurements read from the components' Prometheus metrics, run by the load driver:
a snapshot at `start`, another at `gather`, and the increase between them, as
clusterloader2's Prometheus-based measurements query `increase(...[duration])`.

- APIResponsivenessPrometheus (cl2 slos/api_responsiveness_prometheus.go, its simple query):
  `histogram_quantile(q, sum(increase(apiserver_request_duration_seconds_bucket{verb!="WATCH",
  subresource!~"log|exec|portforward|attach|proxy"})) by (resource, subresource, verb, scope, le))`
  for q in 0.5/0.9/0.99, the call count and the slow-call count (above the threshold's
  bucket). SLO per (resource, subresource, verb, scope): p99 <= 1 s for scope `resource`
  (mutating calls and single-object reads), <= 5 s for `namespace` (namespace lists),
  <= 30 s for `cluster` (cluster-wide lists); `allowedSlowCalls` as in cl2.
- NetworkProgrammingLatency: p50/p90/p99 of kubeproxy_network_programming_duration_seconds
  over every kube-proxy (a work-in-progress SLI upstream: no threshold unless given).
- EtcdMetrics: etcd_disk_backend_commit_duration_seconds and
  etcd_disk_wal_fsync_duration_seconds quantiles, etcd_network_peer_round_trip_time_seconds,
  leader changes (etcd_server_leader_changes_seen_total increase) and the largest
  etcd_mvcc_db_total_size_in_bytes.
- SimulatorResourceUsage: the simulator's own CPU seconds, peak RSS and wall time against
  the simulated time that passed (kubesim's own; cl2's ResourceUsageSummary measures pods).
"""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from kubesim.loadgen.histogram import Histogram, Sample, aggregate, increase

Samples = Callable[[Sequence[str]], Awaitable[list[Sample]]]

REQUEST_DURATION = "apiserver_request_duration_seconds"
API_BY = ("resource", "subresource", "verb", "scope")
EXCLUDED_VERBS = {"WATCH", "WATCHLIST", "CONNECT"}
EXCLUDED_SUBRESOURCES = {"log", "exec", "portforward", "attach", "proxy"}
SCOPE_THRESHOLDS = {"resource": 1.0, "namespace": 5.0, "cluster": 30.0}
MUTATING = {"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"}
QUANTILES = (0.5, 0.9, 0.99)

PROGRAMMING = "kubeproxy_network_programming_duration_seconds"
ETCD_HISTOGRAMS = ("etcd_disk_backend_commit_duration_seconds", "etcd_disk_wal_fsync_duration_seconds",
                   "etcd_network_peer_round_trip_time_seconds")
LEADER_CHANGES = "etcd_server_leader_changes_seen"
DB_SIZE = "etcd_mvcc_db_total_size_in_bytes"


def _nan_to_none(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else value


def _quantiles(hist: Histogram) -> dict[str, float | None]:
    return {f"perc{round(q * 100)}": _nan_to_none(hist.quantile(q)) for q in QUANTILES}


def api_calls(delta: dict[tuple[str, ...], Histogram], allowed_slow_calls: int = 0,
              custom: dict[tuple[str, ...], float] | None = None) -> list[dict[str, Any]]:
    """One entry per (resource, subresource, verb, scope) with its quantiles, count,
    slowCount, threshold and verdict, slowest p99 first."""
    calls = []
    for key, hist in delta.items():
        res, sub, verb, scope = key
        if verb in EXCLUDED_VERBS or sub in EXCLUDED_SUBRESOURCES:
            continue
        threshold = (custom or {}).get(key, SCOPE_THRESHOLDS.get(scope, SCOPE_THRESHOLDS["cluster"]))
        fast = hist.count_at_most(threshold) if threshold in hist.buckets else hist.count
        quantiles = _quantiles(hist)
        p99 = quantiles["perc99"]
        slow = int(round(hist.count - fast))
        ok = (allowed_slow_calls > 0 and slow <= allowed_slow_calls) or p99 is None or p99 <= threshold
        calls.append({"resource": res, "subresource": sub, "verb": verb, "scope": scope, **quantiles,
                      "count": int(round(hist.count)), "slowCount": slow, "threshold": threshold,
                      "mutating": verb in MUTATING, "pass": ok,
                      "buckets": [[le, c] for le, c in hist.sorted_buckets()]})
    calls.sort(key=lambda c: -(c["perc99"] or 0.0))
    return calls


class APIResponsiveness:
    def __init__(self, samples: Samples) -> None:
        self.samples = samples
        self.before: dict[tuple[str, ...], Histogram] = {}

    async def start(self, _params: dict[str, Any]) -> None:
        self.before = aggregate(await self.samples([REQUEST_DURATION]), REQUEST_DURATION, API_BY)

    async def gather(self, params: dict[str, Any]) -> dict[str, Any]:
        after = aggregate(await self.samples([REQUEST_DURATION]), REQUEST_DURATION, API_BY)
        custom = {}
        for entry in params.get("customThresholds") or []:
            key = (entry.get("resource", ""), entry.get("subresource", ""), entry.get("verb", ""),
                   entry.get("scope", ""))
            custom[key] = float(entry["threshold"])
        calls = api_calls(increase(self.before, after), int(params.get("allowedSlowCalls", 0)), custom)
        slos = [{"name": f"{c['verb']} {c['resource']}{'/' + c['subresource'] if c['subresource'] else ''} "
                         f"({c['scope']}) p99", "threshold": c["threshold"], "value": c["perc99"], "pass": c["pass"]}
                for c in calls]
        return {"summary": {"calls": calls}, "slos": slos, "error": None}


class NetworkProgrammingLatency:
    def __init__(self, samples: Samples) -> None:
        self.samples = samples
        self.before: dict[tuple[str, ...], Histogram] = {}

    async def start(self, _params: dict[str, Any]) -> None:
        self.before = aggregate(await self.samples([PROGRAMMING]), PROGRAMMING, ())

    async def gather(self, params: dict[str, Any]) -> dict[str, Any]:
        after = aggregate(await self.samples([PROGRAMMING]), PROGRAMMING, ())
        delta = increase(self.before, after).get(())
        if delta is None:
            return {"summary": {"count": 0}, "slos": [], "error": None,
                    "note": "no kubeproxy_network_programming_duration_seconds observations (no kube-proxy reports it)"}
        summary = {**_quantiles(delta), "count": int(delta.count)}
        slos = []
        if "threshold" in params:
            threshold = float(params["threshold"])
            p99 = summary["perc99"]
            slos.append({"name": "network programming p99", "threshold": threshold, "value": p99,
                         "pass": p99 is not None and p99 <= threshold})
        return {"summary": summary, "slos": slos, "error": None}


class EtcdMetrics:
    def __init__(self, samples: Samples) -> None:
        self.samples = samples
        self.before: list[Sample] = []

    async def start(self, _params: dict[str, Any]) -> None:
        self.before = await self.samples([*ETCD_HISTOGRAMS, LEADER_CHANGES, DB_SIZE])

    async def gather(self, _params: dict[str, Any]) -> dict[str, Any]:
        after = await self.samples([*ETCD_HISTOGRAMS, LEADER_CHANGES, DB_SIZE])
        summary: dict[str, Any] = {}
        for name in ETCD_HISTOGRAMS:
            delta = increase(aggregate(self.before, name, ()), aggregate(after, name, ())).get(())
            summary[name] = {**_quantiles(delta), "count": int(delta.count)} if delta else {"count": 0}

        def leader_changes(samples: list[Sample]) -> dict[str, float]:
            return {labels.get("instance", ""): v for n, labels, v in samples if n == LEADER_CHANGES + "_total"}

        was, now = leader_changes(self.before), leader_changes(after)
        summary["leader_changes"] = max((v - was.get(k, 0.0) for k, v in now.items()), default=0.0)
        sizes = [v for n, _labels, v in after if n == DB_SIZE]
        summary["db_size_bytes"] = max(sizes, default=None)
        result: dict[str, Any] = {"summary": summary, "slos": [], "error": None}
        if not after:
            result["note"] = "no etcd metrics reachable (through a kubeconfig only the apiserver's /metrics is)"
        return result


class SimulatorResourceUsage:
    """The simulator process' own use: CPU seconds, peak RSS, wall and simulated time."""

    def __init__(self, sim_now: Callable[[], float]) -> None:
        self.sim_now = sim_now
        self.started: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @staticmethod
    def _cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    async def start(self, _params: dict[str, Any]) -> None:
        self.started = (time.perf_counter(), self._cpu(), self.sim_now())

    async def gather(self, _params: dict[str, Any]) -> dict[str, Any]:
        wall0, cpu0, sim0 = self.started
        wall, cpu, sim = time.perf_counter() - wall0, self._cpu() - cpu0, self.sim_now() - sim0
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        summary = {"wall_seconds": wall, "cpu_seconds": cpu, "simulated_seconds": sim,
                   "simulated_per_wall": sim / wall if wall > 0 else None, "peak_rss_bytes": peak_kib * 1024,
                   "cpu_utilisation": cpu / wall if wall > 0 else None}
        return {"summary": summary, "slos": [], "error": None}
