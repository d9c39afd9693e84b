"""The scenario against a real etcd 3.4: pins the gateway spec (etcd34_golden.json and
the key expectations below)."""

from __future__ import annotations

import json

from tests.components.etcd.gateway.scenario import GOLDEN, run_scenario, to_json

# call -> (status, body): the revisions, values and error bodies everything else relies on
KEY_EXPECTATIONS = {
    "put foo=baz prev_kv": (
        200,
        {
            "header": {"revision": "3"},
            "prev_kv": {
                "key": "Zm9v",
                "create_revision": "2",
                "mod_revision": "2",
                "version": "1",
                "value": "YmFy",
            },
        },
    ),
    "range prefix limit": (
        200,
        {
            "header": {"revision": "7"},
            "kvs": [
                {
                    "key": "YS8x",
                    "create_revision": "4",
                    "mod_revision": "4",
                    "version": "1",
                    "value": "dmEvMQ==",
                },
                {
                    "key": "YS8y",
                    "create_revision": "5",
                    "mod_revision": "5",
                    "version": "1",
                    "value": "dmEvMg==",
                },
            ],
            "more": True,
            "count": "3",
        },
    ),
    "range all count_only": (200, {"header": {"revision": "7"}, "count": "5"}),
    "txn failure": (
        200,
        {
            "header": {"revision": "9"},
            "responses": [
                {"response_put": {"header": {"revision": "9"}}},
                {"response_range": {"header": {"revision": "9"}}},
            ],
        },
    ),
    "txn 129 ops": (
        400,
        {
            "error": "etcdserver: too many operations in txn request",
            "message": "etcdserver: too many operations in txn request",
            "code": 3,
        },
    ),
    "deleterange prefix": (200, {"header": {"revision": "12"}, "deleted": "128"}),
    "range below compaction": (
        400,
        {
            "error": "etcdserver: mvcc: required revision has been compacted",
            "message": "etcdserver: mvcc: required revision has been compacted",
            "code": 11,
        },
    ),
    "range future revision": (
        400,
        {
            "error": "etcdserver: mvcc: required revision is a future revision",
            "message": "etcdserver: mvcc: required revision is a future revision",
            "code": 11,
        },
    ),
    "watch compacted rev 2": (
        200,
        [
            {"result": {"header": {"revision": "12"}, "created": True}},
            {"result": {"header": {}, "canceled": True, "compact_revision": "5"}},
        ],
    ),
    "lease grant ttl 1 auto": (200, {"header": {"revision": "12"}, "ID": "lease-1", "TTL": "2"}),
    "lease grant 1000 again": (
        412,
        {
            "error": "etcdserver: lease already exists",
            "message": "etcdserver: lease already exists",
            "code": 9,
        },
    ),
    "put unknown lease": (
        404,
        {
            "error": "etcdserver: requested lease not found",
            "message": "etcdserver: requested lease not found",
            "code": 5,
        },
    ),
    "timetolive keys": (
        200,
        {
            "header": {"revision": "14"},
            "ID": "1000",
            "TTL": "~granted",
            "grantedTTL": "60",
            "keys": ["bC8x", "bC8y"],
        },
    ),
    "keepalive revoked": (200, [{"result": {"header": {"revision": "15"}, "ID": "1000"}}]),
    "malformed json": (400, {"error": "unexpected EOF", "message": "unexpected EOF", "code": 3}),
    "bad base64": (
        400,
        {
            "error": "illegal base64 data at input byte 0",
            "message": "illegal base64 data at input byte 0",
            "code": 3,
        },
    ),
    "unknown field": (200, {"header": {"revision": "16"}}),
    "empty key range": (
        400,
        {
            "error": "etcdserver: key is not provided",
            "message": "etcdserver: key is not provided",
            "code": 3,
        },
    ),
    "put just over the request limit": (
        400,
        {
            "error": "etcdserver: request is too large",
            "message": "etcdserver: request is too large",
            "code": 3,
        },
    ),
    "put over the grpc limit": (
        429,
        {
            "error": "grpc: received message larger than max (2097162 vs. 2097152)",
            "message": "grpc: received message larger than max (2097162 vs. 2097152)",
            "code": 8,
        },
    ),
    "keepalive malformed": (
        500,
        [{"error": "unexpected EOF", "message": "unexpected EOF", "code": 2}],
    ),
}


def test_real_etcd_answers_the_scenario_as_pinned(real_etcd: str) -> None:
    results = to_json(run_scenario(real_etcd))
    by_call = {r["call"]: (r["status"], r["body"]) for r in results}
    for call, expected in KEY_EXPECTATIONS.items():
        assert by_call[call] == expected, call
    assert results == json.loads(GOLDEN.read_text())
