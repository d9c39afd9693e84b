"""`kind: ClusterComparison`: one cluster, several variants of it (e.g. stacked and
external etcd), each run through the same fault scenarios, and the report side by side.

    kind: ClusterComparison
    name: ha-stacked-vs-external
    cluster: {zones: [...], controlPlane: {machines: 3}, duration: 60s}   # a Cluster, no kind
    variants:
    - {name: stacked, cluster: {controlPlane: {topology: stacked}}}
    - {name: external, cluster: {controlPlane: {topology: external}}}
    scenarios:
    - {name: lose-one, faults: [{name: lose, type: crashMachine, etcdMachines: 1, at: 20s}]}

Each run is the base `cluster`, with the variant's `cluster` merged over it (mappings
key by key, anything else replaced) and the scenario's `faults`, validated as a Cluster
spec: a problem is reported at the field of the YAML that holds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator
from rich.console import Console
from rich.table import Table

from kubesim.cluster.fields import CamelModel, DnsLabel
from kubesim.cluster.spec import ClusterSpec
from kubesim.specs import SpecProblem


class Variant(CamelModel):
    name: DnsLabel
    cluster: dict[str, Any] = {}


class Scenario(CamelModel):
    name: DnsLabel
    faults: Annotated[list[dict[str, Any]], Field(min_length=1)]


class ClusterComparison(CamelModel):
    kind: Literal["ClusterComparison"]
    name: DnsLabel
    cluster: dict[str, Any] = {}
    variants: Annotated[list[Variant], Field(min_length=1)]
    scenarios: Annotated[list[Scenario], Field(min_length=1)]

    @model_validator(mode="after")
    def _runs_are_clusters(self) -> ClusterComparison:
        for key in ("kind", "faults", "name"):
            if key in self.cluster:
                raise SpecProblem(f"cluster.{key}", "is set by the comparison (its name, variants and scenarios)")
        for i, variant in enumerate(self.variants):
            for key in ("kind", "faults", "name"):
                if key in variant.cluster:
                    raise SpecProblem(f"variants[{i}].cluster.{key}", "is set by the comparison")
        for kind, items in (("variants", self.variants), ("scenarios", self.scenarios)):
            seen: set[str] = set()
            for i, item in enumerate(items):
                if item.name in seen:
                    raise SpecProblem(f"{kind}[{i}].name", f"Duplicate value: {item.name!r}")
                seen.add(item.name)
        self.runs()  # every combination must be a valid cluster
        return self

    def run_name(self, variant: Variant, scenario: Scenario) -> str:
        return f"{variant.name}-{scenario.name}"

    def runs(self) -> list[tuple[Variant, Scenario, ClusterSpec]]:
        out = []
        for i, variant in enumerate(self.variants):
            for j, scenario in enumerate(self.scenarios):
                data = merge(self.cluster, variant.cluster)
                data.update(kind="Cluster", name=self.run_name(variant, scenario), faults=scenario.faults)
                try:
                    spec = ClusterSpec.model_validate(data)
                except ValidationError as exc:
                    err = exc.errors()[0]
                    raise SpecProblem(self._where(err["loc"], i, j, variant), err["msg"]) from None
                except SpecProblem as problem:
                    raise SpecProblem(self._where(tuple(_split(problem.path)), i, j, variant),
                                      problem.message) from None
                out.append((variant, scenario, spec))
        return out

    def _where(self, loc: tuple[Any, ...], i: int, j: int, variant: Variant) -> str:
        """The YAML field a Cluster field path comes from: the scenario's faults, the
        variant's cluster when it sets that field, else the base cluster."""
        path = _join(loc)
        if loc and loc[0] == "faults":
            return f"scenarios[{j}].{path}"
        node: Any = variant.cluster
        for part in loc:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                return f"cluster.{path}"
        return f"variants[{i}].cluster.{path}"


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` merged into a copy of `base`: mappings key by key, anything else replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _join(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _split(path: str) -> list[Any]:
    """`faults[0].machines` -> ["faults", 0, "machines"]."""
    parts: list[Any] = []
    for piece in path.replace("]", "").split("."):
        name, *indexes = piece.split("[")
        if name:
            parts.append(name)
        parts += [int(k) for k in indexes]
    return parts


def run_comparison(study: ClusterComparison, run_dir: Path, console: Console | None) -> dict[str, Any]:
    """Run every variant through every scenario; the combined report."""
    from kubesim.cluster.report import print_report
    from kubesim.cluster.run import run_cluster

    runs = []
    for variant, scenario, spec in study.runs():
        if console is not None:
            console.rule(f"{variant.name}: {scenario.name}")
        report = run_cluster(spec, run_dir / study.run_name(variant, scenario), console)
        if console is not None:
            print_report(console, report)
        runs.append({"variant": variant.name, "scenario": scenario.name, "report": report})
    order = {s.name: i for i, s in enumerate(study.scenarios)}
    runs.sort(key=lambda run: order[run["scenario"]])  # stable: variants stay in their order
    return {"kind": "ClusterComparison", "spec": study.name, "runtime": study.runs()[0][2].runtime.type,
            "variants": [v.name for v in study.variants], "scenarios": [s.name for s in study.scenarios],
            "runs": runs, "comparison": comparison_rows(runs)}


def comparison_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per run, the figures the side-by-side shows (taken from its first fault)."""
    rows = []
    for run in runs:
        report = run["report"]
        fault = report["faults"][0] if report["faults"] else None
        row: dict[str, Any] = {"variant": run["variant"], "scenario": run["scenario"],
                               "topology": report["topology"]}
        if fault is not None:
            row.update(
                targets=fault["targets"],
                leader_before=fault["leader_before"],
                new_leader=fault["new_leader"],
                writes_ok_during=fault["writes"]["share_during"],
                writes_ok_last_10s=fault["writes"]["share_last_10s"],
                writes_latency_p99_during=fault["writes"]["latency_p99_during"],
                writes_unavailable_seconds=fault["writes"]["unavailable_seconds"],
                writes_time_to_recover=fault["writes"]["time_to_recover"],
                reads_ok_during=fault["reads"]["share_during"],
                reads_unavailable_seconds=fault["reads"]["unavailable_seconds"],
            )
        row["writes_ok_last_10s_of_run"] = report["availability"]["writes"]["share_last_10s"]
        row["serving_writes_at_end"] = row["writes_ok_last_10s_of_run"] == 1.0
        row["etcd_leader_changes"] = report["etcd"]["leader_changes"]
        rows.append(row)
    return rows


def print_comparison(console: Console, report: dict[str, Any]) -> None:
    table = Table(title=f"{report['spec']}: side by side ({report['runtime']})")
    for column in ("scenario", "variant", "machines lost", "etcd leader", "writes ok", "write p99", "writes down",
                   "writes back", "reads ok", "writes at end"):
        table.add_column(column)
    for row in report["comparison"]:
        if "targets" not in row:
            continue
        new = row["new_leader"]
        leader = _short(row["leader_before"]) + (f" -> {_short(new['member'])} in {new['after']:.1f}s" if new else
                                                  ", no new leader")
        back = row["writes_time_to_recover"]
        table.add_row(row["scenario"], row["variant"], ", ".join(row["targets"]), leader,
                      _pct(row["writes_ok_during"]), _secs(row["writes_latency_p99_during"]),
                      f"{row['writes_unavailable_seconds']:.1f}s",
                      "never" if back is None else f"after {back:.1f}s", _pct(row["reads_ok_during"]),
                      "[green]served[/green]" if row["serving_writes_at_end"] else "[red]stopped[/red]")
    console.print(table)
    console.print("writes ok / reads ok: share of probe requests that succeeded while the fault lasted; "
                  "write p99: latency of the writes that succeeded meanwhile; writes down: time in which every write failed; writes back: from the fault until "
                  "writes stopped failing; writes at end: the run's last 10 s.")


def _short(address: str | None) -> str:
    return "-" if address is None else address.split("/")[-1]


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"
