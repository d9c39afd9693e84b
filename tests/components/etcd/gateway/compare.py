"""Comparing two runs of the gateway scenario (ours and a real etcd's, or the golden record)."""

from __future__ import annotations

import json
from typing import Any

from tests.components.etcd.gateway.scenario import GOLDEN, run_scenario, to_json


def diff(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> str:
    """The calls whose results differ, both sides shown."""
    return "\n".join(
        f"{a['call']}:\n  ours {a['status']} {json.dumps(a['body'])[:500]}\n  etcd {b['status']} {json.dumps(b['body'])[:500]}"
        for a, b in zip(ours, theirs, strict=True)
        if a != b
    )


def golden() -> list[dict[str, Any]]:
    return json.loads(GOLDEN.read_text())


def assert_matches_golden(base_url: str) -> None:
    ours, expected = to_json(run_scenario(base_url)), golden()
    assert [r["call"] for r in ours] == [r["call"] for r in expected]
    assert ours == expected, diff(ours, expected)


def assert_matches(ours_url: str, theirs_url: str) -> None:
    ours, theirs = to_json(run_scenario(ours_url)), to_json(run_scenario(theirs_url))
    assert ours == theirs, diff(ours, theirs)
