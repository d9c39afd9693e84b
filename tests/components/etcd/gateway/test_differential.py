"""Our gateway over the MVCC store answers the scenario exactly as etcd 3.4 does: as
recorded in etcd34_golden.json, and as a live etcd does when one is installed."""

from __future__ import annotations

import json
from typing import Any

from tests.components.etcd.gateway.scenario import GOLDEN, run_scenario, to_json


def _diff(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{a['call']}:\n  ours {a['status']} {json.dumps(a['body'])[:500]}\n  etcd {b['status']} {json.dumps(b['body'])[:500]}"
        for a, b in zip(ours, theirs, strict=True)
        if a != b
    )


def test_store_gateway_matches_the_golden_record(store_gateway: str) -> None:
    ours, golden = to_json(run_scenario(store_gateway)), json.loads(GOLDEN.read_text())
    assert [r["call"] for r in ours] == [r["call"] for r in golden]
    assert ours == golden, _diff(ours, golden)


def test_store_gateway_matches_live_etcd(store_gateway: str, real_etcd: str) -> None:
    ours, theirs = to_json(run_scenario(store_gateway)), to_json(run_scenario(real_etcd))
    assert ours == theirs, _diff(ours, theirs)
