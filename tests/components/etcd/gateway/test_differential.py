"""Our gateway over the MVCC store answers the scenario exactly as etcd 3.4 does: as
recorded in etcd34_golden.json, and as a live etcd does when one is installed."""

from __future__ import annotations

from tests.components.etcd.gateway.compare import assert_matches, assert_matches_golden


def test_store_gateway_matches_the_golden_record(store_gateway: str) -> None:
    assert_matches_golden(store_gateway)


def test_store_gateway_matches_live_etcd(store_gateway: str, real_etcd: str) -> None:
    assert_matches(store_gateway, real_etcd)
