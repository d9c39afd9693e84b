"""etcd's client-visible errors: the exact messages and gRPC codes of etcd 3.4.

Values are copied from etcd v3.4 `etcdserver/api/v3rpc/rpctypes/error.go` and
`mvcc/kvstore.go`; the JSON gateway renders them as grpc-gateway does
(`{"error": msg, "message": msg, "code": grpc_code}`) with the HTTP status the gRPC
code maps to.
"""

from __future__ import annotations

from enum import IntEnum


class Code(IntEnum):
    """gRPC status codes (google.golang.org/grpc/codes)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


# grpc-gateway's HTTPStatusFromCode
HTTP_STATUS: dict[Code, int] = {
    Code.OK: 200,
    Code.CANCELLED: 408,
    Code.UNKNOWN: 500,
    Code.INVALID_ARGUMENT: 400,
    Code.DEADLINE_EXCEEDED: 504,
    Code.NOT_FOUND: 404,
    Code.ALREADY_EXISTS: 409,
    Code.PERMISSION_DENIED: 403,
    Code.RESOURCE_EXHAUSTED: 429,
    Code.FAILED_PRECONDITION: 412,  # grpc-gateway v1.9 (etcd 3.4), measured
    Code.ABORTED: 409,
    Code.OUT_OF_RANGE: 400,
    Code.UNIMPLEMENTED: 501,
    Code.INTERNAL: 500,
    Code.UNAVAILABLE: 503,
    Code.DATA_LOSS: 500,
    Code.UNAUTHENTICATED: 401,
}


class EtcdError(Exception):
    """An error an etcd client sees: a gRPC code and etcd's message."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = Code(code)
        self.message = message

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]

    def to_wire(self) -> dict[str, object]:
        return {"code": int(self.code), "message": self.message}

    @classmethod
    def from_wire(cls, data: dict[str, object]) -> EtcdError:
        return cls(Code(int(data["code"])), str(data["message"]))  # type: ignore[call-overload]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EtcdError) and (self.code, self.message) == (
            other.code,
            other.message,
        )

    def __hash__(self) -> int:
        return hash((self.code, self.message))

    def __repr__(self) -> str:
        return f"EtcdError({self.code.name}, {self.message!r})"


def _err(code: Code, message: str) -> EtcdError:
    return EtcdError(code, message)


# request validation
EMPTY_KEY = _err(Code.INVALID_ARGUMENT, "etcdserver: key is not provided")
KEY_NOT_FOUND = _err(Code.INVALID_ARGUMENT, "etcdserver: key not found")
VALUE_PROVIDED = _err(Code.INVALID_ARGUMENT, "etcdserver: value is provided")
LEASE_PROVIDED = _err(Code.INVALID_ARGUMENT, "etcdserver: lease is provided")
TOO_MANY_OPS = _err(Code.INVALID_ARGUMENT, "etcdserver: too many operations in txn request")
DUPLICATE_KEY = _err(Code.INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request")
REQUEST_TOO_LARGE = _err(Code.INVALID_ARGUMENT, "etcdserver: request is too large")
TOO_MANY_REQUESTS = _err(Code.RESOURCE_EXHAUSTED, "etcdserver: too many requests")

# mvcc
COMPACTED = _err(Code.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted")
FUTURE_REV = _err(Code.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision")
NO_SPACE = _err(Code.RESOURCE_EXHAUSTED, "etcdserver: mvcc: database space exceeded")

# leases
LEASE_NOT_FOUND = _err(Code.NOT_FOUND, "etcdserver: requested lease not found")
LEASE_EXIST = _err(Code.FAILED_PRECONDITION, "etcdserver: lease already exists")
LEASE_TTL_TOO_LARGE = _err(Code.OUT_OF_RANGE, "etcdserver: too large lease TTL")

# cluster membership
MEMBER_EXIST = _err(Code.FAILED_PRECONDITION, "etcdserver: member ID already exist")
PEER_URL_EXIST = _err(Code.FAILED_PRECONDITION, "etcdserver: Peer URLs already exists")
MEMBER_NOT_FOUND = _err(Code.NOT_FOUND, "etcdserver: member not found")
UNHEALTHY = _err(Code.UNAVAILABLE, "etcdserver: unhealthy cluster")

# leadership and availability
NO_LEADER = _err(Code.UNAVAILABLE, "etcdserver: no leader")
NOT_LEADER = _err(Code.FAILED_PRECONDITION, "etcdserver: not leader")
LEADER_CHANGED = _err(Code.UNAVAILABLE, "etcdserver: leader changed")
STOPPED = _err(Code.UNAVAILABLE, "etcdserver: server stopped")
TIMEOUT = _err(Code.UNAVAILABLE, "etcdserver: request timed out")
TIMEOUT_DUE_TO_LEADER_FAIL = _err(
    Code.UNAVAILABLE, "etcdserver: request timed out, possibly due to previous leader failure"
)
TIMEOUT_DUE_TO_CONNECTION_LOST = _err(
    Code.UNAVAILABLE, "etcdserver: request timed out, possibly due to connection lost"
)
NOT_CAPABLE = _err(Code.UNAVAILABLE, "etcdserver: not capable")
LEADER_TRANSFER_FAILED = _err(Code.UNAVAILABLE, "etcdserver: leadership transfer failed")
CORRUPT = _err(Code.DATA_LOSS, "etcdserver: corrupt cluster")
