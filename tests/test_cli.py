"""The kubesim command: version, running a spec, and one clear line for a bad spec."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kubesim import __version__
from kubesim.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubesim.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_version():
    out = run_cli("version")
    assert out.returncode == 0 and out.stdout.strip() == f"kubesim {__version__}"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("kind: PingPong\nruntime: {type: kvm}\n", "runtime.type: Input should be 'sim' or 'ray'"),
        ("kind: PingPong\nworkload: {actors: 1}\n", "workload.actors: Input should be greater than or equal to 2"),
        ("kind: PingPong\nworkload: {actorz: 5}\n", "workload.actorz: Extra inputs are not permitted"),
        ("kind: Nope\n", "kind: unknown spec kind 'Nope'"),
        ("kind: PingPong\nruntime: [1, 2\n", "invalid YAML"),
        ("kind: PingPong\ncost_model: {overrides: {disk.fsync.median: -1}}\n", "disk.fsync.median"),
        ("kind: PingPong\ncost_model: {overrides: {disk.fsnyc: 1}}\n", "disk.fsnyc"),
    ],
)
def test_bad_spec_is_one_line_naming_file_and_field_exit_2(tmp_path, body, expected):
    spec = tmp_path / "bad.yaml"
    spec.write_text(body)
    out = run_cli("run", str(spec), "--run-dir", str(tmp_path / "run"))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert expected in lines[0]
    if "cost" not in body:
        assert str(spec) in lines[0]
    assert not (tmp_path / "run").exists(), "nothing may start for a bad spec"


def test_missing_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml: cannot read" in capsys.readouterr().err


def test_run_spec_on_sim_writes_report(tmp_path):
    spec = tmp_path / "pp.yaml"
    spec.write_text(
        "kind: PingPong\nname: small\nruntime: {type: sim, seed: 3}\n"
        "workload: {actors: 100, rounds: 2, hosts: 4, zones: 2}\n"
    )
    out = run_cli("run", str(spec), "--run-dir", str(tmp_path / "run"))
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["messages"] == 4 * 100 * 2
    assert report["runtime"] == "sim" and len(report["trace_hash"]) == 32
    snapshot = (tmp_path / "run" / "metrics" / "sim.prom").read_text()
    assert 'kubesim_pingpong_rounds_total{instance="coordinator"} 2.0' in snapshot
    assert "targets.json" in "".join(out.stdout.split())
