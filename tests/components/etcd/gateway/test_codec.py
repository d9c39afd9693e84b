"""The Go-compatible JSON, base64 and protobuf-size rules, case by case as probed on
etcd 3.4.23 (each expected message is what its gateway answered)."""

from __future__ import annotations

import pytest

from kubesim.components.etcd.gateway.codec import (
    DecodeError,
    decode,
    encode,
    go_b64decode,
    proto_size,
    raft_request_size,
)
from kubesim.components.etcd.gateway.gojson import GoJSONError, decode_next, dumps_string, unmarshal


def _decode(body: bytes, message: str = "RangeRequest") -> dict:
    parsed = decode_next(body, 0, final=True)
    return decode(parsed and parsed[0], message)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"key":', "unexpected EOF"),
        (b"nonsense", "invalid character 'o' in literal null (expecting 'u')"),
        (b"{key:1}", "invalid character 'k' looking for beginning of object key string"),
        (b'{"key" "YS8x"}', "invalid character '\"' after object key"),
        (b'{"key":tru}', "invalid character '}' in literal true (expecting 'e')"),
        (b'{"key":"a\\q"}', "invalid character 'q' in string escape code"),
        (b'{"key":"\\u12g4"}', "invalid character 'g' in \\u hexadecimal character escape"),
        (b'{"key":"\x01"}', "invalid character '\\x01' in string literal"),
        (b"'", "invalid character '\\'' looking for beginning of value"),
        (b'{"limit":01}', "invalid character '1' after object key:value pair"),
        (b'{"limit":[1 2]}', "invalid character '2' after array element"),
        (b'{"limit":-}', "invalid character '}' in numeric literal"),
        (b'{"limit":1.}', "invalid character '}' after decimal point in numeric literal"),
        (b'{"limit":1e}', "invalid character '}' in exponent of numeric literal"),
    ],
)
def test_syntax_errors_read_like_go(body: bytes, error: str) -> None:
    with pytest.raises(GoJSONError) as info:
        _decode(body)
    assert str(info.value) == error


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"[]", "json: cannot unmarshal array into Go value of type map[string]json.RawMessage"),
        (b'{"key":"Zm9"}', "illegal base64 data at input byte 0"),
        (b'{"key":"YS8_"}', "illegal base64 data at input byte 3"),
        (b'{"key":5}', "json: cannot unmarshal number into Go value of type []uint8"),
        (b'{"key":[97,300]}', "json: cannot unmarshal number 300 into Go value of type uint8"),
        (b'{"limit":"abc"}', "invalid character 'a' looking for beginning of value"),
        (b'{"limit":"0x10"}', "invalid character 'x' after top-level value"),
        (b'{"limit":""}', "unexpected end of JSON input"),
        (b'{"limit":"\\u0031"}', "invalid character '\\\\' looking for beginning of value"),
        (b'{"limit":1e2}', "json: cannot unmarshal number 1e2 into Go value of type int64"),
        (b'{"count_only":1}', "json: cannot unmarshal number into Go value of type bool"),
        (b'{"sort_order":"1"}', 'unknown value "1" for enum etcdserverpb.RangeRequest_SortOrder'),
        (
            b'{"sort_order":1.5}',
            "json: cannot unmarshal number 1.5 into Go value of type etcdserverpb.RangeRequest_SortOrder",
        ),
    ],
)
def test_type_errors_read_like_jsonpb(body: bytes, error: str) -> None:
    with pytest.raises(DecodeError) as info:
        _decode(body)
    assert str(info.value) == error


def test_watch_filters_errors_and_values() -> None:
    with pytest.raises(
        DecodeError,
        match='invalid target "slice" for enum etcdserverpb.WatchCreateRequest_FilterType',
    ):
        _decode(b'{"create_request":{"filters":"NOPUT"}}', "WatchRequest")
    req = _decode(b'{"create_request":{"filters":[1,"NOPUT"]}}', "WatchRequest")
    assert req["create_request"]["filters"] == ["NODELETE", "NOPUT"]


def test_lenient_inputs_decode_as_etcd_reads_them() -> None:
    req = _decode(
        b'{"key":"YS8x\\n","rangeEnd":"YTA=","limit":" 2","sort_order":7,"revision":null,"x":1} junk'
    )
    assert (req["key"], req["range_end"], req["limit"], req["sort_order"], req["revision"]) == (
        b"a/1",
        b"a0",
        2,
        7,
        0,
    )
    assert _decode(b"   ") == _decode(b"null") == _decode(b"{}")
    assert _decode(b'{"key":[97,98]}')["key"] == b"ab"


def test_oneofs_are_present_only_when_given() -> None:
    txn = _decode(
        b'{"compare":[{"key":"YQ==","target":"MOD","mod_revision":"3"}],"success":[{"requestPut":{"key":"YQ=="}}]}',
        "TxnRequest",
    )
    assert txn["compare"][0]["mod_revision"] == 3 and "version" not in txn["compare"][0]
    assert list(txn["success"][0]) == ["request_put"] and txn["failure"] == []


def test_go_base64_edge_cases() -> None:
    assert go_b64decode(b"YQ=\n=") == b"a"
    for bad, offset in [(b"YQ==YQ==", 4), (b"Y===", 1), (b"YQ=", 3), (b"YQ=x", 2)]:
        with pytest.raises(DecodeError, match=f"at input byte {offset}$"):
            go_b64decode(bad)


def test_unmarshal_rejects_trailing_values() -> None:
    assert unmarshal(b" 2 ").value == "2"
    with pytest.raises(GoJSONError, match="after top-level value"):
        unmarshal(b"1 2")


def test_encoding_leaves_out_defaults_but_keeps_present_messages() -> None:
    resp = {
        "header": {"cluster_id": 1, "member_id": 2, "revision": 3, "raft_term": 0},
        "succeeded": True,
        "responses": [
            {"response_txn": {"header": {"revision": 0}, "succeeded": False, "responses": []}}
        ],
    }
    assert encode(resp, "TxnResponse") == (
        '{"header":{"cluster_id":"1","member_id":"2","revision":"3"},"succeeded":true,'
        '"responses":[{"response_txn":{"header":{}}}]}'
    )
    event = {
        "header": {"revision": 0},
        "events": [
            {"type": "DELETE", "kv": {"key": b"k", "mod_revision": 4}},
            {"type": "PUT", "kv": {"key": b"k", "value": b""}},
        ],
    }
    assert (
        encode(event, "WatchResponse")
        == '{"header":{},"events":[{"type":"DELETE","kv":{"key":"aw==","mod_revision":"4"}},{"kv":{"key":"aw=="}}]}'
    )


def test_strings_are_escaped_like_go() -> None:
    assert (
        dumps_string('<a href="x">&\u2028\x08\n')
        == '"\\u003ca href=\\"x\\"\\u003e\\u0026\\u2028\\u0008\\n"'
    )


def test_protobuf_sizes_match_etcd_limits() -> None:
    # probed: a put of key "big" passes with 1,572,837 value bytes (raft size 1,572,864)
    put = {"key": b"big", "value": b"x" * 1572837}
    assert raft_request_size("put", proto_size(put, "PutRequest")) == 1536 * 1024
    assert (
        proto_size({"key": b"big", "value": b"x" * 2097162}, "PutRequest") == 2097172
    )  # gRPC said so
    assert (
        proto_size({"compare": [{"key": b"a", "version": 0}]}, "TxnRequest") == 7
    )  # a set oneof counts
