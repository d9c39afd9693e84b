"""A scripted sequence of etcd v3 gateway calls, runnable against any base URL, and the
normalisation that removes only what legitimately differs between two clusters.

    results = run_scenario("http://127.0.0.1:2379")   # [(call, status, normalized body)]

A fresh single-key-space cluster is assumed: revisions are pinned from 1.
"""

from __future__ import annotations

import base64
import http.client
import json
import urllib.parse
from pathlib import Path
from typing import Any

Result = tuple[str, int, Any]
TIMEOUT = 10.0
MIB = 1024 * 1024
# StatusResponse fields that belong to one member and its disk
MEMBER_STATUS_FIELDS = (
    "dbSize",
    "dbSizeInUse",
    "leader",
    "raftIndex",
    "raftTerm",
    "raftAppliedIndex",
)


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def _connect(base_url: str) -> http.client.HTTPConnection:
    url = urllib.parse.urlsplit(base_url)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=TIMEOUT)


def post(base_url: str, path: str, body: str | bytes) -> tuple[int, Any]:
    """One unary call: the status and the JSON body (the raw text if it is not JSON)."""
    conn = _connect(base_url)
    try:
        conn.request("POST", path, body=body.encode() if isinstance(body, str) else body)
        resp = conn.getresponse()
        text = resp.read().decode()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(text)
    except ValueError:
        return resp.status, text


def stream(base_url: str, path: str, body: str, lines: int | None) -> tuple[int, list[Any]]:
    """A streaming call: the status and the first `lines` JSON chunks (all of them, up to
    the end of the response, if None); then hang up, as a watching client does."""
    conn = _connect(base_url)
    try:
        conn.request("POST", path, body=body.encode())
        resp = conn.getresponse()
        chunks: list[Any] = []
        while lines is None or len(chunks) < lines:
            line = resp.readline()
            if not line:
                break
            if line.strip():
                chunks.append(json.loads(line))
        return resp.status, chunks
    finally:
        conn.close()


def normalize(body: Any, leases: dict[str, str]) -> Any:
    """Drop cluster_id/member_id/raft_term from headers and the member's own status
    fields, name generated lease IDs (`leases`: ID -> "lease-N") and turn a remaining TTL
    within 2 s of the granted one into "~granted"; sort a TTL response's keys (etcd lists
    them in Go map order)."""
    if isinstance(body, list):
        return [normalize(item, leases) for item in body]
    if not isinstance(body, dict):
        return body
    out = {}
    for key, value in body.items():
        if key == "header" and isinstance(value, dict):
            value = {
                k: v for k, v in value.items() if k not in ("cluster_id", "member_id", "raft_term")
            }
        elif key in MEMBER_STATUS_FIELDS and "version" in body:
            continue
        elif key in ("ID", "lease") and value in leases:
            value = leases[value]
        out[key] = normalize(value, leases)
    if "grantedTTL" in out and 0 <= int(out["grantedTTL"]) - int(out.get("TTL", 0)) <= 2:
        out["TTL"] = "~granted"
    if "grantedTTL" in out and "keys" in out:
        out["keys"] = sorted(out["keys"])
    return out


def _txn_ops(count: int) -> str:
    return json.dumps(
        {
            "success": [
                {"request_put": {"key": b64(f"t/{i}"), "value": b64("v")}} for i in range(count)
            ]
        }
    )


def _put_of_size(value_bytes: int) -> str:
    return json.dumps({"key": b64("big"), "value": b64(b"x" * value_bytes)})


class Runner:
    """Makes the calls and records (call, status, normalized body) for each."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.results: list[Result] = []
        self.leases: dict[str, str] = {}

    def call(self, name: str, path: str, body: str | dict[str, Any]) -> Any:
        status, data = post(
            self.base_url, path, body if isinstance(body, str) else json.dumps(body)
        )
        if "grant" in path and status == 200 and "ID" in data and name.endswith("auto"):
            self.leases[data["ID"]] = f"lease-{len(self.leases) + 1}"
        self.results.append((name, status, normalize(data, self.leases)))
        return data

    def stream(self, name: str, path: str, body: str | dict[str, Any], lines: int | None) -> None:
        status, chunks = stream(
            self.base_url, path, body if isinstance(body, str) else json.dumps(body), lines
        )
        self.results.append((name, status, normalize(chunks, self.leases)))

    def watch(self, name: str, create: dict[str, Any], lines: int) -> None:
        self.stream(name, "/v3/watch", {"create_request": create}, lines)


def run_scenario(base_url: str) -> list[Result]:
    """Run every call in order; each result is (call, HTTP status, normalized body)."""
    runner = Runner(base_url)
    for step in (_kv, _txn, _compaction, _watch, _leases, _bad_input):
        step(runner)
    return runner.results


def _kv(r: Runner) -> None:
    r.call("range missing", "/v3/kv/range", {"key": b64("foo")})
    r.call("put foo=bar", "/v3/kv/put", {"key": b64("foo"), "value": b64("bar")})
    r.call(
        "put foo=baz prev_kv",
        "/v3/kv/put",
        {"key": b64("foo"), "value": b64("baz"), "prev_kv": True},
    )
    for key in ("a/1", "a/2", "a/3", "b"):
        r.call(f"put {key}", "/v3/kv/put", {"key": b64(key), "value": b64("v" + key)})
    r.call("range foo", "/v3/kv/range", {"key": b64("foo")})
    prefix = {"key": b64("a/"), "range_end": b64("a0")}
    r.call("range prefix limit", "/v3/kv/range", {**prefix, "limit": 2})
    r.call(
        "range prefix desc key",
        "/v3/kv/range",
        {**prefix, "sort_order": "DESCEND", "sort_target": "KEY", "limit": "2"},
    )
    r.call(
        "range prefix numeric enums", "/v3/kv/range", {**prefix, "sort_order": 2, "sort_target": 3}
    )
    r.call(
        "range all count_only",
        "/v3/kv/range",
        {"key": b64("\0"), "range_end": b64("\0"), "count_only": True},
    )
    r.call("range keys_only", "/v3/kv/range", {**prefix, "keys_only": True})
    r.call("range foo at rev 2", "/v3/kv/range", {"key": b64("foo"), "revision": "2"})
    r.call(
        "range camelCase unknown field",
        "/v3/kv/range",
        {"key": b64("a/"), "rangeEnd": b64("a0"), "bogus": 1, "countOnly": True},
    )
    r.call("range serializable", "/v3/kv/range", {"key": b64("b"), "serializable": True})


def _txn(r: Runner) -> None:
    r.call(
        "txn success",
        "/v3/kv/txn",
        {
            "compare": [
                {"key": b64("a/1"), "target": "VALUE", "result": "EQUAL", "value": b64("va/1")},
                {"key": b64("a/2"), "target": "MOD", "result": "LESS", "mod_revision": "100"},
            ],
            "success": [
                {"request_range": {"key": b64("a/"), "range_end": b64("a0")}},
                {"request_put": {"key": b64("a/9"), "value": b64("nine"), "prev_kv": True}},
                {"request_delete_range": {"key": b64("b"), "prev_kv": True}},
                {"request_txn": {"success": [{"request_range": {"key": b64("a/9")}}]}},
            ],
            "failure": [{"request_put": {"key": b64("fail"), "value": b64("x")}}],
        },
    )
    r.call(
        "txn failure",
        "/v3/kv/txn",
        {
            "compare": [
                {"key": b64("a/1"), "target": "VERSION", "result": "GREATER", "version": "5"}
            ],
            "success": [{"request_put": {"key": b64("s"), "value": b64("x")}}],
            "failure": [
                {"request_put": {"key": b64("fail"), "value": b64("x")}},
                {"request_range": {"key": b64("nokey")}},
            ],
        },
    )
    r.call("txn empty", "/v3/kv/txn", {})
    r.call(
        "txn numeric enums create",
        "/v3/kv/txn",
        {"compare": [{"key": b64("a/1"), "target": 1, "result": 3, "create_revision": 4}]},
    )
    r.call(
        "txn lease compare",
        "/v3/kv/txn",
        {"compare": [{"key": b64("a/1"), "target": "LEASE", "result": "EQUAL", "lease": "0"}]},
    )
    r.call(
        "txn compare over range",
        "/v3/kv/txn",
        {
            "compare": [
                {"key": b64("a/1"), "range_end": b64("a0"), "target": "VERSION", "version": "1"}
            ]
        },
    )
    r.call(
        "txn duplicate key",
        "/v3/kv/txn",
        {"success": [{"request_put": {"key": b64("k"), "value": b64("1")}}] * 2},
    )
    r.call("txn empty op", "/v3/kv/txn", {"success": [{}]})
    r.call("txn 128 ops", "/v3/kv/txn", _txn_ops(128))
    r.call("txn 129 ops", "/v3/kv/txn", _txn_ops(129))
    r.call("deleterange foo prev_kv", "/v3/kv/deleterange", {"key": b64("foo"), "prev_kv": True})
    r.call("deleterange foo again", "/v3/kv/deleterange", {"key": b64("foo")})
    r.call("deleterange prefix", "/v3/kv/deleterange", {"key": b64("t/"), "range_end": b64("t0")})


def _compaction(r: Runner) -> None:
    r.call("compact 5", "/v3/kv/compaction", {"revision": "5"})
    r.call("compact 5 again", "/v3/kv/compaction", {"revision": 5})
    r.call("compact future", "/v3/kv/compaction", {"revision": "1000"})
    r.call("range below compaction", "/v3/kv/range", {"key": b64("a/1"), "revision": "4"})
    r.call("range at compaction", "/v3/kv/range", {"key": b64("a/1"), "revision": "5"})
    r.call("range future revision", "/v3/kv/range", {"key": b64("a/1"), "revision": "1000"})


def _watch(r: Runner) -> None:
    prefix = {"key": b64("a/"), "range_end": b64("a0")}
    r.watch("watch prefix from rev 6", {**prefix, "start_revision": "6"}, 2)
    r.watch(
        "watch foo prev_kv from rev 6", {"key": b64("foo"), "start_revision": 6, "prev_kv": True}, 2
    )
    r.watch("watch compacted rev 2", {"key": b64("foo"), "start_revision": "2"}, 2)
    r.watch(
        "watch NOPUT filter",
        {"key": b64("\0"), "range_end": b64("\0"), "start_revision": "6", "filters": ["NOPUT"]},
        2,
    )
    r.watch("watch empty range", {"key": b64("z"), "range_end": b64("a")}, 1)
    r.stream(
        "watch given id, duplicate, auto, progress, cancel",
        "/v3/watch",
        "".join(
            json.dumps(m)
            for m in [
                {"create_request": {"key": b64("a/1"), "watch_id": "3"}},
                {"create_request": {"key": b64("a/2"), "watch_id": "3"}},
                {"create_request": {"key": b64("a/2")}},
                {"progress_request": {}},
                {"cancel_request": {"watch_id": "3"}},
                {"cancel_request": {"watch_id": "55"}},
            ]
        ),
        5,
    )


def _leases(r: Runner) -> None:
    r.call("lease grant 1000", "/v3/lease/grant", {"TTL": "60", "ID": "1000"})
    auto = r.call("lease grant ttl 1 auto", "/v3/lease/grant", {"TTL": 1})
    r.call("lease grant 1000 again", "/v3/lease/grant", {"TTL": 60, "ID": 1000})
    r.call("lease grant ttl too large", "/v3/lease/grant", {"TTL": "9000000001"})
    r.call("put l/1 lease", "/v3/kv/put", {"key": b64("l/1"), "value": b64("x"), "lease": "1000"})
    r.call("put l/2 lease", "/v3/kv/put", {"key": b64("l/2"), "value": b64("y"), "lease": 1000})
    r.call(
        "put unknown lease", "/v3/kv/put", {"key": b64("l/3"), "value": b64("z"), "lease": "777"}
    )
    r.call("range l/1", "/v3/kv/range", {"key": b64("l/1")})
    r.call("timetolive keys", "/v3/lease/timetolive", {"ID": "1000", "keys": True})
    r.call("kv/lease/timetolive alias", "/v3/kv/lease/timetolive", {"ID": "1000"})
    r.call("timetolive unknown", "/v3/lease/timetolive", {"ID": "777"})
    r.stream("keepalive twice", "/v3/lease/keepalive", '{"ID":"1000"}{"ID":"1000"}', None)
    r.call("lease revoke 1000", "/v3/lease/revoke", {"ID": "1000"})
    r.call("range l/ after revoke", "/v3/kv/range", {"key": b64("l/"), "range_end": b64("l0")})
    r.call("timetolive revoked", "/v3/lease/timetolive", {"ID": "1000"})
    r.call("lease revoke 1000 again", "/v3/lease/revoke", {"ID": "1000"})
    r.stream("keepalive revoked", "/v3/lease/keepalive", '{"ID":"1000"}', None)
    r.call("kv/lease/revoke alias", "/v3/kv/lease/revoke", {"ID": auto.get("ID", "0")})
    r.watch(
        "watch l/ prev_kv from rev 6",
        {"key": b64("l/"), "range_end": b64("l0"), "start_revision": "6", "prev_kv": True},
        2,
    )
    r.call("status", "/v3/maintenance/status", {})


def _bad_input(r: Runner) -> None:
    key = b64("a/1")
    r.call("malformed json", "/v3/kv/range", '{"key":')
    r.call("not json", "/v3/kv/range", "nonsense")
    r.call("trailing comma", "/v3/kv/range", f'{{"key":"{key}",}}')
    r.call("json array", "/v3/kv/range", "[]")
    r.call("empty body", "/v3/kv/range", "")
    r.call("trailing garbage ignored", "/v3/kv/range", f'{{"key":"{key}"}} trailing')
    r.call("bad base64", "/v3/kv/range", {"key": "!!!"})
    r.call("base64 missing padding", "/v3/kv/range", {"key": "Zm9"})
    r.call("base64 url alphabet", "/v3/kv/range", {"key": "YS8_"})
    r.call("base64 with newline", "/v3/kv/range", {"key": key + "\n"})
    r.call("unknown field", "/v3/kv/put", {"key": b64("u"), "value": b64("1"), "bogus": {"x": [1]}})
    r.call("bad enum name", "/v3/kv/range", {"key": key, "sort_order": "BOGUS"})
    r.call("bad enum type", "/v3/kv/range", {"key": key, "sort_order": True})
    r.call("int64 not a number", "/v3/kv/range", {"key": key, "limit": "abc"})
    r.call("int64 fraction", "/v3/kv/range", {"key": key, "limit": 1.5})
    r.call("int64 overflow", "/v3/kv/range", {"key": key, "limit": "99999999999999999999"})
    r.call("bool as string", "/v3/kv/range", {"key": key, "count_only": "true"})
    r.call("bytes as number", "/v3/kv/range", {"key": 5})
    r.call("empty key range", "/v3/kv/range", {"key": ""})
    r.call("no key put", "/v3/kv/put", {"value": b64("x")})
    r.call("no key deleterange", "/v3/kv/deleterange", {})
    r.call(
        "ignore_value with value",
        "/v3/kv/put",
        {"key": key, "value": b64("1"), "ignore_value": True},
    )
    r.call("compare list not a list", "/v3/kv/txn", {"compare": {}})
    # etcd's raft header holds a request ID (idutil: 16 bits of member ID << 48 | ms clock
    # << 8 | counter) whose varint is 7 to 10 bytes long depending on the member ID's bits:
    # 1,572,837 value bytes pass with the longest ID, 1,572,841 fail with the shortest
    r.call("put at the request limit", "/v3/kv/put", _put_of_size(1572837))
    r.call("put just over the request limit", "/v3/kv/put", _put_of_size(1572841))
    r.call("put over the grpc limit", "/v3/kv/put", _put_of_size(2 * MIB))
    r.call(
        "range with a huge key is not size checked",
        "/v3/kv/range",
        {"key": b64(b"k" * (MIB + MIB // 2))},
    )
    r.stream("keepalive malformed", "/v3/lease/keepalive", '{"ID":', None)
    r.stream("watch bad base64", "/v3/watch", {"create_request": {"key": "!"}}, None)


GOLDEN = Path(__file__).with_name("etcd34_golden.json")


def to_json(results: list[Result]) -> list[dict[str, Any]]:
    return [{"call": call, "status": status, "body": body} for call, status, body in results]


if __name__ == "__main__":
    # re-record the golden file from a real etcd 3.4: python -m tests.components.etcd.gateway.scenario
    from kubesim.testing.etcd_clusters import real_etcd_cluster

    with real_etcd_cluster("/usr/bin/etcd") as urls:
        GOLDEN.write_text(
            "[\n" + ",\n".join(json.dumps(r) for r in to_json(run_scenario(urls[0]))) + "\n]\n"
        )
