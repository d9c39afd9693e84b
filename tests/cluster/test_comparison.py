"""The stacked-vs-external study (examples/ha-stacked-vs-external.yaml) on sim: losing the
machine(s) of one etcd member keeps writes going after a new leader in both topologies,
losing two stops them; and a comparison spec's errors name the YAML field that holds them."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from kubesim.cli import main
from kubesim.cluster.comparison import run_comparison
from kubesim.specs import SpecFileError, parse_spec

EXAMPLE = Path(__file__).parents[2] / "examples" / "ha-stacked-vs-external.yaml"
FALL_TIMES_INTER = 3 * 2.0  # the default apiserver health check: HAProxy fall 3, inter 2s


def example() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


@pytest.fixture(scope="module")
def study_report(tmp_path_factory) -> dict:
    """The example's first two scenarios, each run 40 s."""
    data = example()
    data["scenarios"] = [s for s in data["scenarios"] if s["name"] in ("lose-one", "lose-two")]
    data["cluster"]["duration"] = "40s"
    data["cluster"]["probe"] = {"writesPerSecond": 5, "readsPerSecond": 5, "timeout": "10s"}
    return run_comparison(parse_spec(data, str(EXAMPLE)), tmp_path_factory.mktemp("study"), None)


def rows(report: dict, scenario: str) -> dict[str, dict]:
    return {r["variant"]: r for r in report["comparison"] if r["scenario"] == scenario}


def test_losing_one_of_three_keeps_writes_after_a_new_leader(study_report):
    lost = rows(study_report, "lose-one")
    assert set(lost) == {"stacked", "external"}
    for variant, row in lost.items():
        [machine] = row["targets"]
        assert machine.startswith("cp-" if variant == "stacked" else "etcd-")
        assert machine == row["leader_before"].split("/")[-1].replace("etcd-", "cp-" if variant == "stacked"
                                                                        else "etcd-")
        assert row["new_leader"] is not None and row["new_leader"]["member"] != row["leader_before"]
        # the election shows: writes failed, or waited for the new leader
        assert row["writes_unavailable_seconds"] > 0 or row["writes_latency_p99_during"] >= 1.0
        assert row["writes_ok_last_10s"] == 1.0 and row["serving_writes_at_end"]
        assert row["etcd_leader_changes"] >= 1
    # stacked lost an apiserver with the member: the LB sends it requests until its checks fail
    assert lost["stacked"]["writes_time_to_recover"] >= FALL_TIMES_INTER
    assert lost["external"]["writes_time_to_recover"] < FALL_TIMES_INTER
    assert lost["external"]["reads_ok_during"] > lost["stacked"]["reads_ok_during"]


def test_losing_two_of_three_stops_writes(study_report):
    for row in rows(study_report, "lose-two").values():
        assert len(row["targets"]) == 2
        assert row["new_leader"] is None
        assert row["writes_ok_during"] == 0.0 and not row["serving_writes_at_end"]
        assert row["writes_time_to_recover"] is None
        assert row["writes_unavailable_seconds"] >= 40 - 15 - 1
        assert row["reads_ok_during"] == 0.0  # quorum reads need the quorum too


def test_figures_come_from_the_run(study_report):
    """Per-second availability of each run adds up to its probe counts, and differs by topology."""
    for run in study_report["runs"]:
        writes = run["report"]["availability"]["writes"]
        assert sum(s[1] for s in writes["per_second"]) == writes["sent"]
        assert sum(s[2] for s in writes["per_second"]) == writes["succeeded"]
    lose_one = [r["report"]["availability"]["writes"]["succeeded"] for r in study_report["runs"]
                if r["scenario"] == "lose-one"]
    assert lose_one[0] != lose_one[1]


@pytest.mark.parametrize(("patch", "where"), [
    (lambda d: d["scenarios"][1]["faults"][0].update(etcdMachines=4), "scenarios[1].faults[0].etcdMachines"),
    (lambda d: d["variants"][1]["cluster"]["controlPlane"]["externalEtcd"].update(machines=2),
     "variants[1].cluster.controlPlane.externalEtcd.machines"),
    (lambda d: d["cluster"]["controlPlane"].update(machines=0), "cluster.controlPlane.machines"),
    (lambda d: d["cluster"].update(faults=[]), "cluster.faults"),
    (lambda d: d["variants"][1].update(name="stacked"), "variants[1].name"),
])
def test_errors_name_the_yaml_field(patch, where):
    data = copy.deepcopy(example())
    patch(data)
    with pytest.raises(SpecFileError) as err:
        parse_spec(data, "study.yaml")
    assert str(err.value).startswith(f"study.yaml: {where}: "), str(err.value)


def test_cli_bad_comparison_exits_2_and_starts_nothing(tmp_path, capsys):
    data = example()
    data["variants"][1]["cluster"]["controlPlane"]["externalEtcd"]["machines"] = 2
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump(data))
    assert main(["run", str(spec), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "externalEtcd.machines: must be odd and >= 3" in err[0]
    assert not (tmp_path / "run").exists()


def test_cli_runs_a_cluster_and_writes_the_report(tmp_path, capsys):
    spec = tmp_path / "c.yaml"
    spec.write_text(yaml.safe_dump({
        "kind": "Cluster", "name": "c", "controlPlane": {"machines": 1}, "duration": "5s",
        "faults": [{"name": "k", "type": "killLeader", "component": "etcd", "at": "2s"}]}))
    assert main(["run", str(spec), "--run-dir", str(tmp_path / "run"), "--report", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report == json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["faults"][0]["targets"] == ["etcd/etcd-0"]
    # one member, killed: no leader, nothing succeeds after 2 s
    assert report["availability"]["writes"]["per_second"][-1][3] == 0.0
    assert "report written to" in capsys.readouterr().out


@pytest.mark.slow
def test_example_through_the_cli(tmp_path):
    """The acceptance command: `kubesim run examples/ha-stacked-vs-external.yaml`."""
    assert main(["run", str(EXAMPLE), "--run-dir", str(tmp_path / "run")]) == 0
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    for variant in ("stacked", "external"):
        assert rows(report, "lose-one")[variant]["serving_writes_at_end"]
        assert not rows(report, "lose-two")[variant]["serving_writes_at_end"]
        back = rows(report, "lose-two-and-recover")[variant]
        assert back["serving_writes_at_end"] and back["writes_time_to_recover"] >= 30.0


@pytest.mark.slow
def test_laptop_example_loses_and_reschedules_pods(tmp_path):
    assert main(["run", str(EXAMPLE.parent / "cluster-laptop.yaml"), "--run-dir", str(tmp_path / "run")]) == 0
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    [fault] = report["faults"]
    assert fault["pods"]["lost"] == fault["pods"]["on_nodes_hit"] > 0
    assert fault["pods"]["rescheduled_running"] == fault["pods"]["lost"]
