"""The differential scenario against our full Raft cluster: a 3-member etcd on the ray
runtime answers through any member's JSON gateway exactly as etcd 3.4 does (the golden
record, and a live etcd when one is installed); and a write through one member's gateway
is read back through another's."""

from __future__ import annotations

import json

import pytest

from kubesim.testing.etcd_clusters import ray_gateway_cluster as gateway_cluster
from tests.components.etcd.gateway.compare import assert_matches, assert_matches_golden
from tests.components.etcd.gateway.scenario import b64, post

pytestmark = pytest.mark.ray


@pytest.mark.parametrize("through", ["leader", "follower"])
def test_cluster_gateway_matches_the_golden_record(ray_local, tmp_path, through: str) -> None:
    with gateway_cluster(tmp_path / "ray") as cluster:
        assert_matches_golden(cluster.leader_url if through == "leader" else cluster.follower_url)


def test_cluster_gateway_matches_live_etcd(ray_local, tmp_path, real_etcd: str) -> None:
    with gateway_cluster(tmp_path / "ray") as cluster:
        assert_matches(cluster.follower_url, real_etcd)


def test_write_through_one_gateway_is_read_through_another(ray_local, tmp_path) -> None:
    with gateway_cluster(tmp_path / "ray") as cluster:
        writer, *readers = cluster.urls
        for i in range(5):
            value = f"v{i}"
            status, put = post(
                writer, "/v3/kv/put", json.dumps({"key": b64("shared"), "value": b64(value)})
            )
            assert status == 200, put
            written = int(put["header"]["revision"])
            for reader in readers:  # linearizable: no sleep, no retry
                status, got = post(reader, "/v3/kv/range", json.dumps({"key": b64("shared")}))
                assert status == 200, got
                assert int(got["header"]["revision"]) >= written
                assert [(kv["key"], kv["value"]) for kv in got["kvs"]] == [
                    (b64("shared"), b64(value))
                ]
                assert got["kvs"][0]["mod_revision"] == str(written)
