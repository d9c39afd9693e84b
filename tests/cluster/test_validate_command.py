"""`kubesim validate SPEC`: the plan summary for a good cluster spec, one error line and
exit code 2 for a bad one, and `kubesim run` refuses a bad one the same way, starting nothing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from rich.table import Table

from kubesim.cli import main
from kubesim.cluster.summary import actors_table, faults_table, hosts_table, machines_table
from kubesim.cluster.topology import plan
from kubesim.specs import load_spec

EXAMPLES = Path(__file__).parents[2] / "examples"


def rows(table: Table) -> dict[str, list[str]]:
    """The rendered body rows of `table`, by first cell."""
    out = io.StringIO()
    Console(file=out, width=200).print(table)
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in out.getvalue().splitlines() if "│" in line]
    return {row[0]: row[1:] for row in cells}


def test_validate_prints_the_plan_summary(capsys):
    assert main(["validate", str(EXAMPLES / "cluster-small-stacked.yaml")]) == 0
    out = capsys.readouterr().out
    assert "small-stacked: stacked etcd, 3 members (quorum 2, survives 1 lost)" in " ".join(out.split())
    for title in ("machines by role and zone", "logical actors by kind", "node-agent host actors", "fault scenario"):
        assert title in out


def test_summary_tables_of_a_stacked_cluster():
    spec = load_spec(EXAMPLES / "cluster-small-stacked.yaml")
    p = plan(spec)
    machines = rows(machines_table(p))
    assert machines["control-plane"] == ["1", "1", "1", "3"]
    assert machines["worker"] == ["1", "1", "1", "3"]
    assert machines["load-balancer"] == ["1", "0", "0", "1"]
    assert "etcd" not in machines and machines["all"] == ["3", "2", "2", "7"]
    actors = rows(actors_table(p))
    assert actors["etcd"] == ["3", "3", "no", "own"]
    assert actors["scheduler"] == ["3", "3", "yes", "own"]
    assert actors["kubelet"] == ["6", "0", "no", "grouped"]
    assert actors["all"][0] == str(len(p.actors))
    hosts = rows(hosts_table(p))
    assert hosts["all"] == ["", "6", "6", ""]
    assert rows(faults_table(spec.faults))["lose-cp-0"] == ["crashMachine", "at 60s"]


def test_summary_tables_of_an_external_cluster():
    p = plan(load_spec(EXAMPLES / "cluster-small-external.yaml"))
    assert rows(machines_table(p))["etcd"] == ["1", "1", "1", "3"]
    assert rows(actors_table(p))["etcd"] == ["3", "0", "no", "own"]


def test_validate_bad_spec_is_one_line_and_exit_2(tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text("kind: Cluster\ncontrolPlane: {machines: 2}\n")
    assert main(["validate", str(spec)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"kubesim: error: {spec}: controlPlane.machines: must be odd and >= 1 for stacked etcd (got 2)"]


def test_validate_a_non_cluster_spec(capsys):
    assert main(["validate", str(EXAMPLES / "pingpong.yaml")]) == 0
    assert "a valid PingPong spec" in capsys.readouterr().out


@pytest.mark.parametrize(("patch", "expected"), [
    ({"controlPlane": {"machinez": 3}}, "controlPlane.machinez: Extra inputs are not permitted"),
    ({"controlPlane": {"topology": "external", "externalEtcd": {"machines": 2}}},
     "controlPlane.externalEtcd.machines: must be odd and >= 3 for external etcd (got 2)"),
    ({"nodePools": [{"name": "pool-a", "count": 3, "machine": {"pods": 0}}]},
     "nodePools[0].machine.pods: Input should be greater than or equal to 1"),
    ({"costModel": {"overrides": {"disk.fsnyc": 1}}}, "unknown key 'disk.fsnyc'"),
])
def test_run_refuses_a_bad_cluster_spec_without_starting_anything(tmp_path, capsys, patch, expected):
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump({"kind": "Cluster", "zones": ["zone-a", "zone-b", "zone-c"], **patch}))
    run_dir = tmp_path / "run"
    assert main(["run", str(spec), "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err
    assert not run_dir.exists()


def test_a_fault_the_runtime_cannot_carry_out_is_refused_before_anything_starts(tmp_path, capsys):
    spec = tmp_path / "ray.yaml"
    spec.write_text(yaml.safe_dump({
        "kind": "Cluster", "controlPlane": {"machines": 1}, "runtime": {"type": "ray"},
        "faults": [{"name": "slow", "type": "slowDisk", "machines": ["cp-0"], "fsyncFactor": 10, "at": "1s"}]}))
    run_dir = tmp_path / "run"
    assert main(["run", str(spec), "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "faults[0].type: slowDisk needs the sim runtime's network and disk model" in err[0]
    assert not run_dir.exists()


def test_submit_checks_the_spec_before_contacting_ray(tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump({"kind": "Cluster", "controlPlane": {"topology": "external",
                                                                         "externalEtcd": {"machines": 2}}}))
    # nothing listens on port 9: a spec error must come before any connection attempt
    assert main(["submit", str(spec), "--address", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "controlPlane.externalEtcd.machines: must be odd and >= 3" in err[0]


def test_validate_a_comparison_lists_its_runs(capsys):
    assert main(["validate", str(EXAMPLES / "ha-stacked-vs-external.yaml")]) == 0
    out = capsys.readouterr().out
    assert "2 variants x 3 scenarios" in out and out.count("stacked") >= 3 and out.count("external") >= 3
