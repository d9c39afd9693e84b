"""The report of a cluster run: JSON for machines, rich tables for people.

`build` turns what the driver collected into the report: API availability per second
(writes and reads), the unavailability windows, latency percentiles, etcd leader
changes (from `etcd_server_leader_changes_seen_total` and from the leader seen each
second), and per fault: what it hit, the share of requests that succeeded while it
lasted, the outage it caused, how long until requests succeeded again, and the new etcd
leader if one took over. `print_report` and `print_comparison` render it.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from kubesim.cluster import availability as av
from kubesim.cluster.prober import READ, WRITE
from kubesim.cluster.spec import ClusterSpec
from kubesim.cluster.topology import Plan

TAIL = 10.0  # seconds at the end of a window (a fault's, the run's) whose availability says "still serving"


def build(spec: ClusterSpec, cluster: Plan, result: dict[str, Any]) -> dict[str, Any]:
    t0, duration = result["t0"], result["duration"]
    records = result["probe"]["requests"]
    monitor = result["monitor"]
    kinds = {"writes": av.of_kind(records, WRITE, t0), "reads": av.of_kind(records, READ, t0)}
    windows = {k: av.outages(v) for k, v in kinds.items()}
    disrupted = {k: av.disruptions(v) for k, v in kinds.items()}
    faults = sorted(result["faults"], key=lambda f: f["started"])
    starts = [f["started"] for f in faults]
    report: dict[str, Any] = {
        "spec": spec.name,
        "topology": cluster.topology,
        "runtime": spec.runtime.type,
        "seed": spec.runtime.seed,
        "etcd_members": len(cluster.etcd_peers),
        "apiservers": len(result["placed"].apiservers),
        "bootstrap_seconds": result["bootstrap_seconds"],
        "bootstrap": result["bootstrap"],
        "nodes": len(cluster.nodes),
        "duration": duration,
        "wall_seconds": result.get("wall_seconds"),
        "probe": {"writes_per_second": spec.probe.writes_per_second,
                  "reads_per_second": spec.probe.reads_per_second, "timeout": spec.probe.timeout},
        "availability": {},
        "faults": [],
        "etcd": {
            "leader_changes": max(result["leader_changes"].values(), default=0.0),
            "leader_changes_by_member": result["leader_changes"],
            "leaderless_seconds": monitor.leaderless_seconds("etcd"),
            "leaders": [[t, leader] for t, leader in _leader_runs(monitor.leaders["etcd"])],
        },
        "leaders": {component: [[t, leader] for t, leader in _leader_runs(seen)]
                    for component, seen in monitor.leaders.items()},
        "load_balancer": [[t - t0, replica, up] for t, replica, up in result["probe"]["backend_changes"]],
        "events": [[t, event, subject] for t, event, subject in result["events"]],
        "actor_errors": result["actor_errors"],
    }
    for kind, requests in kinds.items():
        oks = [latency for _t, latency, good in requests if good]
        report["availability"][kind] = {
            "sent": len(requests),
            "codes": av.codes(records, WRITE if kind == "writes" else READ),
            "succeeded": sum(1 for _t, _l, good in requests if good),
            "share": av.share(requests, 0.0, duration),
            "share_last_10s": av.share(requests, max(0.0, duration - TAIL), duration),
            "latency_p50": av.percentile(oks, 0.5),
            "latency_p99": av.percentile(oks, 0.99),
            "unavailable_seconds": sum(w.length(duration) for w in windows[kind]),
            "disrupted_seconds": sum(w.length(duration) for w in disrupted[kind]),
            "unavailable_windows": [w.to_dict() for w in windows[kind]],
            "disrupted_windows": [w.to_dict() for w in disrupted[kind]],
            "per_second": av.per_second(requests, duration),
        }
    for i, fault in enumerate(faults):
        start = fault["started"]
        until = min([s for s in starts[i + 1:] if s > start] + [duration])
        end = fault["ended"] if fault["ended"] is not None else until
        component = fault.get("component", "etcd")
        before = monitor.leader_at(component, start - 1e-9)
        entry = dict(fault)
        entry["leader_before"] = before
        new = monitor.first_new_leader(component, start, before, until)
        entry["new_leader"] = None if new is None else {"after": new[0], "member": new[1]}
        for kind, requests in kinds.items():
            during = [latency for t, latency, good in requests if good and start <= t < end]
            entry[kind] = {
                "share_during": av.share(requests, start, end),
                "latency_p50_during": av.percentile(during, 0.5),
                "latency_p99_during": av.percentile(during, 0.99),
                "share_last_10s": av.share(requests, max(start, end - TAIL), end),
                **av.recovery(windows[kind], disrupted[kind], start, until, duration, spec.probe.timeout),
            }
        report["faults"].append(entry)
    return report


Samples = list[tuple[str, dict[str, str], float]]


def counter_increase(before: float, after: float) -> float:
    """How much a counter grew between two samplings; a drop is a restart of the process
    (its counters start from zero again), as Prometheus' increase() reads it."""
    return after - before if after >= before else after


def metric_changes(start: Samples, end: Samples) -> dict[str, Any]:
    """What the metrics say happened between two samplings: etcd leader changes (the most
    any member saw), mean WAL fsync latency, failed proposals; at the end, who reports
    holding each Lease (`leader_election_master_status`) and how many nodes the node
    lifecycle controller counts unhealthy (the most any replica reports)."""
    def by_instance(samples: Samples, name: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for sample_name, labels, value in samples:
            if sample_name == name:
                key = labels.get("instance", "")
                out[key] = out.get(key, 0.0) + value
        return out

    def delta(name: str) -> dict[str, float]:
        before = by_instance(start, name)
        return {k: counter_increase(before.get(k, 0.0), v) for k, v in by_instance(end, name).items()}

    fsync_sum = sum(delta("etcd_disk_wal_fsync_duration_seconds_sum").values())
    fsync_count = sum(delta("etcd_disk_wal_fsync_duration_seconds_count").values())
    return {
        "etcd_leader_changes": max(delta("etcd_server_leader_changes_seen_total").values(), default=0.0),
        "etcd_wal_fsync_mean_seconds": fsync_sum / fsync_count if fsync_count else None,
        "etcd_wal_fsyncs": fsync_count,
        "etcd_proposals_failed": sum(delta("etcd_server_proposals_failed_total").values()),
        "lease_holders_at_end": _lease_holders(end),
        "unhealthy_nodes_at_end": max(by_instance(end, "node_collector_unhealthy_nodes_in_zone").values(),
                                      default=0.0),
    }


def _lease_holders(samples: Samples) -> dict[str, list[str]]:
    holders: dict[str, list[str]] = {}
    for name, labels, value in samples:
        if name == "leader_election_master_status" and value == 1.0:
            holders.setdefault(labels.get("name", ""), []).append(labels.get("instance", ""))
    return {lease: sorted(instances) for lease, instances in sorted(holders.items())}


def _leader_runs(leaders: list[tuple[float, str | None]]) -> list[tuple[float, str | None]]:
    """The leader observations, kept only where the leader changed."""
    runs: list[tuple[float, str | None]] = []
    for t, leader in leaders:
        if not runs or runs[-1][1] != leader:
            runs.append((t, leader))
    return runs


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _secs(value: float | None, never: str = "never") -> str:
    return never if value is None else f"{value:.1f}s"


def print_report(console: Console, report: dict[str, Any]) -> None:
    head = Table(title=f"{report['spec']}: {report['topology']} etcd on {report['runtime']}", show_header=False)
    writes, reads = report["availability"]["writes"], report["availability"]["reads"]
    rows = [
        ("etcd members / apiservers", f"{report['etcd_members']} / {report['apiservers']}"),
        ("bootstrap (simulated)", _secs(report["bootstrap_seconds"])),
        ("probed for", _secs(report["duration"])),
        ("writes ok", f"{writes['succeeded']:,}/{writes['sent']:,} ({_pct(writes['share'])})"),
        ("reads ok", f"{reads['succeeded']:,}/{reads['sent']:,} ({_pct(reads['share'])})"),
        ("write latency p50 / p99", f"{_ms(writes['latency_p50'])} / {_ms(writes['latency_p99'])}"),
        ("writes unavailable / disrupted", f"{_secs(writes['unavailable_seconds'])} / "
                                           f"{_secs(writes['disrupted_seconds'])}"),
        ("reads unavailable / disrupted", f"{_secs(reads['unavailable_seconds'])} / "
                                          f"{_secs(reads['disrupted_seconds'])}"),
        ("etcd leader changes (metric)", f"{report['etcd']['leader_changes']:g}"),
        ("etcd leaderless", _secs(report["etcd"]["leaderless_seconds"])),
    ]
    if report["actor_errors"]:
        rows.append(("actor errors", f"{len(report['actor_errors'])} (first: {report['actor_errors'][0]})"))
    for key, value in rows:
        head.add_row(key, value)
    console.print(head)
    if report["faults"]:
        console.print(faults_table(report))
    console.print(availability_table(report))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{1000 * value:.1f}ms"


def faults_table(report: dict[str, Any]) -> Table:
    table = Table(title="faults")
    for column in ("fault", "at", "targets", "leader", "writes ok", "writes down", "disrupted", "writes back",
                   "reads ok", "pods lost"):
        table.add_column(column)
    for f in report["faults"]:
        new = f["new_leader"]
        before = (f["leader_before"] or "-").split("/")[-1]
        leader = before + (f" -> {new['member'].split('/')[-1]} in {new['after']:.1f}s" if new else "")
        back = f["writes"]["time_to_recover"]
        table.add_row(
            f"{f['name']} ({f['type']})", _secs(f["started"]), ", ".join(t.split("/")[-1] for t in f["targets"]),
            leader, _pct(f["writes"]["share_during"]), _secs(f["writes"]["unavailable_seconds"]),
            _secs(f["writes"]["disrupted_seconds"]), "never" if back is None else f"after {back:.1f}s",
            _pct(f["reads"]["share_during"]), _pods(f.get("pods")))
    return table


def _pods(pods: dict[str, int] | None) -> str:
    if pods is None:
        return "-"
    return f"{pods['lost']}/{pods['on_nodes_hit']}, {pods['rescheduled_running']} rescheduled"


def availability_table(report: dict[str, Any], width: int = 10) -> Table:
    """Write and read availability, `width` seconds a column group, as a strip per kind."""
    table = Table(title="API availability per second (each cell: share of requests that succeeded)")
    table.add_column("second")
    table.add_column("writes")
    table.add_column("reads")
    writes = report["availability"]["writes"]["per_second"]
    reads = report["availability"]["reads"]["per_second"]
    for start in range(0, len(writes), width):
        table.add_row(f"{start}-{start + width - 1}", _strip(writes[start:start + width]),
                      _strip(reads[start:start + width]))
    return table


def _strip(seconds: list[list[float]]) -> str:
    """One character per second: full block at 100%, shades below, '.' at 0%."""
    out = []
    for _s, sent, _ok, share in seconds:
        if not sent:
            out.append(" ")
        elif share >= 1.0:
            out.append("█")
        elif share >= 0.5:
            out.append("▓")
        elif share > 0:
            out.append("░")
        else:
            out.append(".")
    return "".join(out)
