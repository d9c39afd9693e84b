"""The etcd v3 JSON gateway (grpc-gateway) of etcd 3.4, over any `EtcdBackend`.

    app = make_app(backend)               # an aiohttp Application
    runner, port = await serve(backend)   # bound to 127.0.0.1; runner.cleanup() stops it

Routes (POST; /v3beta/... too): kv/range, kv/put, kv/deleterange, kv/txn, kv/compaction,
watch, lease/grant, lease/revoke, lease/keepalive, lease/timetolive, the aliases
kv/lease/revoke and kv/lease/timetolive, maintenance/status. Other methods: 405 text
"Method Not Allowed"; other paths: 404 "Not Found".

What etcd 3.4.23's gateway does (probed with curl; this is the spec the code follows):

Responses: compact JSON, proto field names ("range_end", "ID", "TTL", "grantedTTL",
"dbSize", "raftAppliedIndex"), every default left out (0, false, "", empty bytes/lists;
PUT events have no "type"; watch_id 0 and a 0 header revision vanish), a present
message always written (a txn's inner txn has "header":{}), int64/uint64 as decimal
strings, bytes as padded standard base64, enums by name. The top-level header has
cluster_id, member_id, revision, raft_term; responses inside a txn carry only revision.

Requests: one JSON value is read, the rest of the body ignored; an empty or blank body
or `null` is an empty request. Field names: proto or lowerCamel ("rangeEnd"); unknown
fields ignored; `null` = default. int64 as number or string (" 2" is 2; "abc", "1.5",
"" fail with Go's json messages); enums as a name or any number (7 is accepted);
bytes: base64 with padding (CR/LF skipped), or an array of 0..255.
Decode errors: HTTP 400 {"error": m, "message": m, "code": 3} with Go's message, e.g.
"unexpected EOF", "invalid character 'o' in literal null (expecting 'u')",
"illegal base64 data at input byte 0", "json: cannot unmarshal number 1.5 into Go value
of type int64", "unknown value \"BOGUS\" for enum etcdserverpb.RangeRequest_SortOrder",
"json: cannot unmarshal array into Go value of type map[string]json.RawMessage".

Errors from etcd: the same body with the gRPC code; HTTP status by grpc-gateway 1.9's
table, where FailedPrecondition is 412 (lease already exists), not 400. Seen:
empty key -> 400 code 3 "etcdserver: key is not provided"; 129 txn ops -> 400 code 3
"etcdserver: too many operations in txn request" (128 pass); range or compaction at a
compacted revision -> 400 code 11 "etcdserver: mvcc: required revision has been
compacted"; future revision -> 400 code 11 "...is a future revision"; put with an
unknown lease / revoke of an unknown lease -> 404 code 5 "etcdserver: requested lease
not found"; TTL > 9e9 -> 400 code 11 "etcdserver: too large lease TTL".

Size limits: a proposal (put, deleterange, a txn with any write, compaction, lease
grant/revoke) whose raft request (request + 18 bytes here) exceeds 1.5 MiB -> 400 code 3
"etcdserver: request is too large" (a put of a 3-byte key passes with a 1,572,837-byte
value, fails with one more); reads are not checked. Any request whose protobuf size
exceeds the gRPC limit (1.5 MiB + 512 KiB) -> 429 code 8 "grpc: received message larger
than max (2097172 vs. 2097152)".

Leases: timetolive of an unknown lease is 200 with "TTL":"-1"; grant clamps small TTLs
to 2 s; lease IDs are chosen by the member unless given.

Streams (watch, keepalive): the body is a sequence of JSON requests; each response is a
chunk `{"result":{...}}` + "\n"; status and headers wait for the first chunk. A bad
first request -> HTTP 500 {"error","message","code":2} (Unknown); a bad later one ends
the sending side quietly. An error on the stream -> a last chunk
{"error":{"grpc_code","http_code","message","http_status"}} without newline.
Keepalive answers every request, then ends when the body does; an unknown or revoked
lease gets {"result":{"header":...,"ID":"n"}} (TTL 0). Watch stays open until the
client disconnects, whatever happens: watch IDs are per stream (0, 1, ...; a given one
is kept, a duplicate gets watch_id -1, created+canceled, cancel_reason "mvcc: duplicate
watch ID provided on the WatchStream"); a past start revision replays history; a
compacted one gives "created" and then {"header" (revision 0), "canceled":true,
"compact_revision":"c"}; a future one waits; progress_request gets watch_id -1; a
cancel_request gets {"watch_id", "canceled":true}; `{}` is ignored.
"""

from kubesim.components.etcd.gateway.server import make_app, serve

__all__ = ["make_app", "serve"]
