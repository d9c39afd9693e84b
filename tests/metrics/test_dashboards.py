"""The checked-in dashboards and Prometheus files: what the generator writes, valid
Grafana dashboard JSON, and valid Prometheus configuration and rules (promtool)."""

from __future__ import annotations

import json
import re
import subprocess
from itertools import combinations
from pathlib import Path

import pytest
import yaml

from kubesim.metrics.dashboards.catalogue import DASHBOARDS
from kubesim.metrics.dashboards.files import generated_files
from tests.conftest import require_binary

DASHBOARDS_DIR = Path(__file__).resolve().parents[2] / "dashboards"
BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__range"}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def checked_in() -> dict[str, dict]:
    return {board.filename: json.loads((DASHBOARDS_DIR / board.filename).read_text()) for board in DASHBOARDS}


def test_checked_in_files_are_the_generators_output():
    stale = [name for name, text in generated_files().items()
             if not (DASHBOARDS_DIR / name).exists() or (DASHBOARDS_DIR / name).read_text() != text]
    assert not stale, f"run `python -m kubesim.metrics.dashboards`: {stale} differ"


def test_every_json_file_in_dashboards_is_a_catalogue_dashboard():
    assert sorted(p.name for p in DASHBOARDS_DIR.glob("*.json")) == sorted(b.filename for b in DASHBOARDS)


@pytest.mark.parametrize("name", [b.filename for b in DASHBOARDS])
def test_dashboard_is_grafana_dashboard_json(name):
    board = checked_in()[name]
    assert board["schemaVersion"] == 41
    assert board["uid"].startswith("kubesim-") and len(board["uid"]) <= 40
    assert board["title"] and isinstance(board["tags"], list)
    variables = board["templating"]["list"]
    assert variables[0] == {**variables[0], "type": "datasource", "name": "datasource", "query": "prometheus"}
    names = [v["name"] for v in variables]
    assert len(names) == len(set(names))
    for v in variables[1:]:
        assert v["type"] == "query" and v["datasource"] == DATASOURCE
        assert v["includeAll"] and v["allValue"] == ".*"
        assert set(re.findall(r"\$(\w+)", v["query"])) <= set(names[: names.index(v["name"])])

    panels = board["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids)
    for p in panels:
        g = p["gridPos"]
        assert all(isinstance(g[k], int) for k in "hwxy")
        assert g["h"] >= 1 and g["w"] >= 1 and g["x"] >= 0 and g["y"] >= 0 and g["x"] + g["w"] <= 24
    for a, b in combinations(panels, 2):
        ga, gb = a["gridPos"], b["gridPos"]
        overlap = (ga["x"] < gb["x"] + gb["w"] and gb["x"] < ga["x"] + ga["w"]
                   and ga["y"] < gb["y"] + gb["h"] and gb["y"] < ga["y"] + ga["h"])
        assert not overlap, (a["title"], b["title"])
    assert panels[0]["type"] == "row" and panels[0]["gridPos"]["y"] == 0

    for p in panels:
        if p["type"] == "row":
            assert p["panels"] == [] and not p["collapsed"]
            continue
        assert p["type"] in {"timeseries", "stat"}
        assert p["datasource"] == DATASOURCE and p["title"] and p["description"]
        assert p["fieldConfig"]["defaults"]["unit"]
        ref_ids = [t["refId"] for t in p["targets"]]
        assert ref_ids and len(ref_ids) == len(set(ref_ids))
        for t in p["targets"]:
            assert t["datasource"] == DATASOURCE and t["expr"]
            used = set(re.findall(r"\$(\w+)", t["expr"]))
            assert used <= set(names) | BUILTIN_VARIABLES, (p["title"], used)


def test_rows_are_followed_by_their_panels_in_grid_order():
    for name, board in checked_in().items():
        positions = [(p["gridPos"]["y"], p["gridPos"]["x"]) for p in board["panels"]]
        assert positions == sorted(positions), name


def test_grafana_provisioning_files():
    datasources = yaml.safe_load((DASHBOARDS_DIR / "provisioning/datasources/kubesim.yml").read_text())
    assert datasources["apiVersion"] == 1
    [source] = datasources["datasources"]
    assert source["type"] == "prometheus" and source["url"].startswith("http://127.0.0.1:")
    providers = yaml.safe_load((DASHBOARDS_DIR / "provisioning/dashboards/kubesim.yml").read_text())
    [provider] = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]


def test_promtool_accepts_the_shipped_config_and_rules(tmp_path):
    promtool = require_binary("promtool")
    config = subprocess.run([promtool, "check", "config", str(DASHBOARDS_DIR / "prometheus/prometheus.yml")],
                            capture_output=True, text=True)
    assert config.returncode == 0, config.stdout + config.stderr
    assert "SUCCESS: 1 rule files found" in config.stdout + config.stderr
    rules = subprocess.run([promtool, "check", "rules", str(DASHBOARDS_DIR / "prometheus/kubesim.rules.yml")],
                           capture_output=True, text=True)
    assert rules.returncode == 0, rules.stdout + rules.stderr

