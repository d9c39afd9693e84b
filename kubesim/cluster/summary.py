"""The plan summary `kubesim validate` prints: machines by role and zone, actors by kind,
host actors by pool and zone, and the fault scenario."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table

from kubesim.cluster import names
from kubesim.cluster.comparison import ClusterComparison
from kubesim.cluster.faults import Fault
from kubesim.cluster.spec import ClusterSpec
from kubesim.cluster.topology import Plan, plan

ROLES = (names.ROLE_CONTROL_PLANE, names.ROLE_ETCD, names.ROLE_LOAD_BALANCER, names.ROLE_WORKER)


def print_plan(console: Console, spec: ClusterSpec, plan: Plan) -> None:
    members = len(plan.etcd_peers)
    quorum = plan.etcd_quorum()
    console.print(
        f"[bold]{plan.name}[/bold]: {plan.topology} etcd, {members} member{'s' if members != 1 else ''} "
        f"(quorum {quorum}, survives {members - quorum} lost); zones {', '.join(plan.zones)}; "
        f"runtime {spec.runtime.type} (seed {spec.runtime.seed}, {plan.nodes_per_host} nodes per host actor)"
    )
    console.print(machines_table(plan))
    console.print(actors_table(plan))
    console.print(hosts_table(plan))
    if spec.faults:
        console.print(faults_table(spec.faults))


def machines_table(plan: Plan) -> Table:
    counts = Counter((pm.machine.role, pm.machine.zone) for pm in plan.machines)
    table = Table(title="machines by role and zone")
    table.add_column("role")
    for zone in plan.zones:
        table.add_column(zone, justify="right")
    table.add_column("total", justify="right")
    for role in ROLES:
        row = [counts[role, zone] for zone in plan.zones]
        if sum(row):
            table.add_row(role, *(f"{n:,}" for n in row), f"{sum(row):,}")
    table.add_row("all", *(f"{sum(counts[r, z] for r in ROLES):,}" for z in plan.zones), f"{len(plan.machines):,}")
    return table


def actors_table(plan: Plan) -> Table:
    table = Table(title="logical actors by kind")
    table.add_column("kind", no_wrap=True)
    table.add_column("count", justify="right")
    table.add_column("static pods", justify="right")
    table.add_column("leader-elected")
    table.add_column("host actor")
    kinds: dict[str, list[int]] = {}
    for actor in plan.actors:
        row = kinds.setdefault(actor.address.kind, [0, 0, 0, 0])
        row[0] += 1
        row[1] += actor.static_pod is not None
        row[2] += actor.leader_elected
        row[3] += actor.host is not None
    for kind, (count, static, elected, grouped) in kinds.items():
        hosted = "grouped" if grouped == count else "own" if not grouped else "mixed"
        table.add_row(kind, f"{count:,}", f"{static:,}", "yes" if elected else "no", hosted)
    table.add_row("all", f"{len(plan.actors):,}", "", "", "")
    return table


def hosts_table(plan: Plan) -> Table:
    table = Table(title=f"node-agent host actors (at most {plan.nodes_per_host} nodes each)")
    table.add_column("pool")
    table.add_column("zone")
    for column in ("host actors", "nodes", "nodes per host"):
        table.add_column(column, justify="right")
    groups: dict[tuple[str, str], list[int]] = {}
    for host in plan.hosts:
        groups.setdefault((host.pool, host.zone), []).append(len(host.nodes))
    for (pool, zone), sizes in groups.items():
        low, high = min(sizes), max(sizes)
        table.add_row(pool, zone, f"{len(sizes):,}", f"{sum(sizes):,}", f"{low}" if low == high else f"{low}-{high}")
    table.add_row("all", "", f"{len(plan.hosts):,}", f"{len(plan.nodes):,}", "")
    return table


def faults_table(faults: list[Fault]) -> Table:
    table = Table(title="fault scenario")
    for column in ("name", "type", "trigger"):
        table.add_column(column)
    for fault in faults:
        if fault.on is None:
            trigger = f"at {fault.at:g}s"
        else:
            about = fault.on.fault or fault.on.component
            trigger = f"on {fault.on.event} of {about}" + (f" + {fault.on.delay:g}s" if fault.on.delay else "")
        table.add_row(fault.name, fault.type, trigger)
    return table


def print_runs(console: Console, study: ClusterComparison) -> None:
    """The runs a ClusterComparison makes: each variant through each scenario."""
    table = Table(title=f"{study.name}: {len(study.variants)} variants x {len(study.scenarios)} scenarios")
    for column in ("run", "topology", "control plane", "etcd members", "nodes", "faults"):
        table.add_column(column)
    for _variant, _scenario, run in study.runs():
        cluster = plan(run)
        table.add_row(run.name, cluster.topology, str(run.control_plane.machines), str(len(cluster.etcd_peers)),
                      f"{len(cluster.nodes):,}", ", ".join(f"{f.name} ({f.type})" for f in run.faults))
    console.print(table)
