"""The etcd 3.4 protobuf messages the gateway speaks (`etcdserverpb`, `mvccpb`): field
names, numbers, types, oneofs and enums, in declaration order. One table drives JSON
decoding (jsonpb's names and type rules), JSON encoding and protobuf sizing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Enum:
    go_name: str  # as Go prints the type in errors
    names: tuple[str, ...]  # index = number


@dataclass(frozen=True)
class Field:
    name: str  # the proto (original) name: what etcd's gateway writes
    number: int
    kind: str  # bytes | int64 | uint64 | int32 | bool | string | enum | message
    repeated: bool = False
    oneof: str | None = None
    enum: Enum | None = None
    message: str | None = None

    @property
    def json_name(self) -> str:
        """protoc's lowerCamel json_name, which jsonpb also accepts on input."""
        head, *rest = self.name.split("_")
        return head + "".join(part[:1].upper() + part[1:] for part in rest)


ENUMS = {
    "SortOrder": Enum("etcdserverpb.RangeRequest_SortOrder", ("NONE", "ASCEND", "DESCEND")),
    "SortTarget": Enum(
        "etcdserverpb.RangeRequest_SortTarget", ("KEY", "VERSION", "CREATE", "MOD", "VALUE")
    ),
    "CompareResult": Enum(
        "etcdserverpb.Compare_CompareResult", ("EQUAL", "GREATER", "LESS", "NOT_EQUAL")
    ),
    "CompareTarget": Enum(
        "etcdserverpb.Compare_CompareTarget", ("VERSION", "CREATE", "MOD", "VALUE", "LEASE")
    ),
    "FilterType": Enum("etcdserverpb.WatchCreateRequest_FilterType", ("NOPUT", "NODELETE")),
    "EventType": Enum("mvccpb.Event_EventType", ("PUT", "DELETE")),
}
_SCALARS = {"bytes", "int64", "uint64", "int32", "bool", "string"}

# name=number:type, "*" before the type = repeated, "|group" after it = member of a oneof
_SPECS = {
    "RangeRequest": "key=1:bytes range_end=2:bytes limit=3:int64 revision=4:int64 sort_order=5:SortOrder"
    " sort_target=6:SortTarget serializable=7:bool keys_only=8:bool count_only=9:bool"
    " min_mod_revision=10:int64 max_mod_revision=11:int64 min_create_revision=12:int64"
    " max_create_revision=13:int64",
    "PutRequest": "key=1:bytes value=2:bytes lease=3:int64 prev_kv=4:bool ignore_value=5:bool ignore_lease=6:bool",
    "DeleteRangeRequest": "key=1:bytes range_end=2:bytes prev_kv=3:bool",
    "RequestOp": "request_range=1:RangeRequest|request request_put=2:PutRequest|request"
    " request_delete_range=3:DeleteRangeRequest|request request_txn=4:TxnRequest|request",
    "Compare": "result=1:CompareResult target=2:CompareTarget key=3:bytes version=4:int64|target_union"
    " create_revision=5:int64|target_union mod_revision=6:int64|target_union value=7:bytes|target_union"
    " lease=8:int64|target_union range_end=64:bytes",
    "TxnRequest": "compare=1:*Compare success=2:*RequestOp failure=3:*RequestOp",
    "CompactionRequest": "revision=1:int64 physical=2:bool",
    "LeaseGrantRequest": "TTL=1:int64 ID=2:int64",
    "LeaseRevokeRequest": "ID=1:int64",
    "LeaseKeepAliveRequest": "ID=1:int64",
    "LeaseTimeToLiveRequest": "ID=1:int64 keys=2:bool",
    "StatusRequest": "",
    "WatchRequest": "create_request=1:WatchCreateRequest|request_union"
    " cancel_request=2:WatchCancelRequest|request_union progress_request=3:WatchProgressRequest|request_union",
    "WatchCreateRequest": "key=1:bytes range_end=2:bytes start_revision=3:int64 progress_notify=4:bool"
    " filters=5:*FilterType prev_kv=6:bool watch_id=7:int64 fragment=8:bool",
    "WatchCancelRequest": "watch_id=1:int64",
    "WatchProgressRequest": "",
    "ResponseHeader": "cluster_id=1:uint64 member_id=2:uint64 revision=3:int64 raft_term=4:uint64",
    "KeyValue": "key=1:bytes create_revision=2:int64 mod_revision=3:int64 version=4:int64 value=5:bytes lease=6:int64",
    "RangeResponse": "header=1:ResponseHeader kvs=2:*KeyValue more=3:bool count=4:int64",
    "PutResponse": "header=1:ResponseHeader prev_kv=2:KeyValue",
    "DeleteRangeResponse": "header=1:ResponseHeader deleted=2:int64 prev_kvs=3:*KeyValue",
    "ResponseOp": "response_range=1:RangeResponse|response response_put=2:PutResponse|response"
    " response_delete_range=3:DeleteRangeResponse|response response_txn=4:TxnResponse|response",
    "TxnResponse": "header=1:ResponseHeader succeeded=2:bool responses=3:*ResponseOp",
    "CompactionResponse": "header=1:ResponseHeader",
    "LeaseGrantResponse": "header=1:ResponseHeader ID=2:int64 TTL=3:int64 error=4:string",
    "LeaseRevokeResponse": "header=1:ResponseHeader",
    "LeaseKeepAliveResponse": "header=1:ResponseHeader ID=2:int64 TTL=3:int64",
    "LeaseTimeToLiveResponse": "header=1:ResponseHeader ID=2:int64 TTL=3:int64 grantedTTL=4:int64 keys=5:*bytes",
    "StatusResponse": "header=1:ResponseHeader version=2:string dbSize=3:int64 leader=4:uint64 raftIndex=5:uint64"
    " raftTerm=6:uint64 raftAppliedIndex=7:uint64 errors=8:*string dbSizeInUse=9:int64 isLearner=10:bool",
    "WatchResponse": "header=1:ResponseHeader watch_id=2:int64 created=3:bool canceled=4:bool"
    " compact_revision=5:int64 cancel_reason=6:string fragment=7:bool events=11:*Event",
    "Event": "type=1:EventType kv=2:KeyValue prev_kv=3:KeyValue",
}


def _parse(spec: str) -> tuple[Field, ...]:
    fields = []
    for token in spec.split():
        name, rest = token.split("=")
        number, typ = rest.split(":")
        typ, _, oneof = typ.partition("|")
        repeated = typ.startswith("*")
        typ = typ.lstrip("*")
        if typ in _SCALARS:
            field = Field(name, int(number), typ, repeated, oneof or None)
        elif typ in ENUMS:
            field = Field(name, int(number), "enum", repeated, oneof or None, enum=ENUMS[typ])
        else:
            assert typ in _SPECS, typ
            field = Field(name, int(number), "message", repeated, oneof or None, message=typ)
        fields.append(field)
    return tuple(fields)


MESSAGES: dict[str, tuple[Field, ...]] = {name: _parse(spec) for name, spec in _SPECS.items()}
