"""Raft's value types, after etcd's raftpb (v3.4): messages, entries, hard/soft state,
snapshots, configuration changes and read states.

Every type converts to a compact wire form (`to_wire()`: nested lists of ints and bytes,
msgpack-able) and back (`from_wire()`). Node ids are ints; 0 means "no node".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import msgpack

NONE = 0
"""The node id that means "no node" (no leader, no vote)."""


class MessageType(IntEnum):
    MsgHup = 0
    MsgBeat = 1
    MsgProp = 2
    MsgApp = 3
    MsgAppResp = 4
    MsgVote = 5
    MsgVoteResp = 6
    MsgSnap = 7
    MsgHeartbeat = 8
    MsgHeartbeatResp = 9
    MsgUnreachable = 10
    MsgSnapStatus = 11
    MsgCheckQuorum = 12
    MsgTransferLeader = 13
    MsgTimeoutNow = 14
    MsgReadIndex = 15
    MsgReadIndexResp = 16
    MsgPreVote = 17
    MsgPreVoteResp = 18


class EntryType(IntEnum):
    NORMAL = 0
    CONF_CHANGE = 1


class ConfChangeType(IntEnum):
    ADD_NODE = 0
    REMOVE_NODE = 1
    ADD_LEARNER_NODE = 3


class StateType(IntEnum):
    FOLLOWER = 0
    CANDIDATE = 1
    LEADER = 2
    PRE_CANDIDATE = 3


ENTRY_OVERHEAD = 12
"""Bytes an entry costs beyond its data, for max_size_per_msg accounting."""


@dataclass(slots=True, frozen=True)
class Entry:
    term: int = 0
    index: int = 0
    type: EntryType = EntryType.NORMAL
    data: bytes = b""

    def size(self) -> int:
        return len(self.data) + ENTRY_OVERHEAD

    def to_wire(self) -> list[Any]:
        return [self.term, self.index, int(self.type), self.data]

    @classmethod
    def from_wire(cls, w: list[Any]) -> Entry:
        return cls(w[0], w[1], EntryType(w[2]), bytes(w[3]))


@dataclass(slots=True, frozen=True)
class HardState:
    term: int = 0
    vote: int = NONE
    commit: int = 0

    def is_empty(self) -> bool:
        return self.term == 0 and self.vote == NONE and self.commit == 0

    def to_wire(self) -> list[int]:
        return [self.term, self.vote, self.commit]

    @classmethod
    def from_wire(cls, w: list[int]) -> HardState:
        return cls(w[0], w[1], w[2])


@dataclass(slots=True, frozen=True)
class ConfState:
    voters: tuple[int, ...] = ()
    learners: tuple[int, ...] = ()

    def to_wire(self) -> list[list[int]]:
        return [list(self.voters), list(self.learners)]

    @classmethod
    def from_wire(cls, w: list[list[int]]) -> ConfState:
        return cls(tuple(w[0]), tuple(w[1]))


@dataclass(slots=True, frozen=True)
class SnapshotMetadata:
    index: int = 0
    term: int = 0
    conf_state: ConfState = field(default_factory=ConfState)

    def to_wire(self) -> list[Any]:
        return [self.index, self.term, self.conf_state.to_wire()]

    @classmethod
    def from_wire(cls, w: list[Any]) -> SnapshotMetadata:
        return cls(w[0], w[1], ConfState.from_wire(w[2]))


@dataclass(slots=True, frozen=True)
class Snapshot:
    metadata: SnapshotMetadata = field(default_factory=SnapshotMetadata)
    data: bytes = b""

    def is_empty(self) -> bool:
        return self.metadata.index == 0

    def to_wire(self) -> list[Any]:
        return [self.metadata.to_wire(), self.data]

    @classmethod
    def from_wire(cls, w: list[Any]) -> Snapshot:
        return cls(SnapshotMetadata.from_wire(w[0]), bytes(w[1]))


@dataclass(slots=True, frozen=True)
class ConfChange:
    type: ConfChangeType
    node_id: int
    context: bytes = b""

    def to_wire(self) -> list[Any]:
        return [int(self.type), self.node_id, self.context]

    @classmethod
    def from_wire(cls, w: list[Any]) -> ConfChange:
        return cls(ConfChangeType(w[0]), w[1], bytes(w[2]))

    def encode(self) -> bytes:
        """The bytes stored as the data of a CONF_CHANGE entry."""
        return msgpack.packb(self.to_wire())

    @classmethod
    def decode(cls, data: bytes) -> ConfChange:
        return cls.from_wire(msgpack.unpackb(data))


@dataclass(slots=True)
class Message:
    type: MessageType
    to: int = NONE
    frm: int = NONE
    term: int = 0
    log_term: int = 0
    index: int = 0
    entries: list[Entry] = field(default_factory=list)
    commit: int = 0
    reject: bool = False
    reject_hint: int = 0
    snapshot: Snapshot | None = None
    context: bytes = b""

    def to_wire(self) -> list[Any]:
        """A list in field order, with trailing default fields left off."""
        w: list[Any] = [
            int(self.type), self.to, self.frm, self.term, self.log_term, self.index,
            [e.to_wire() for e in self.entries], self.commit, self.reject, self.reject_hint,
            None if self.snapshot is None else self.snapshot.to_wire(), self.context,
        ]
        while len(w) > 1 and w[-1] == _MESSAGE_DEFAULTS[len(w) - 1]:
            w.pop()
        return w

    @classmethod
    def from_wire(cls, w: list[Any]) -> Message:
        w = list(w) + _MESSAGE_DEFAULTS[len(w):]
        return cls(
            MessageType(w[0]), w[1], w[2], w[3], w[4], w[5],
            [Entry.from_wire(e) for e in w[6]], w[7], bool(w[8]), w[9],
            None if w[10] is None else Snapshot.from_wire(w[10]), bytes(w[11]),
        )


_MESSAGE_DEFAULTS: list[Any] = [None, NONE, NONE, 0, 0, 0, [], 0, False, 0, None, b""]


@dataclass(slots=True, frozen=True)
class ReadState:
    """The commit index at which a ReadIndex request (identified by request_ctx) may be
    served, once the local applied index reaches it."""

    index: int
    request_ctx: bytes

    def to_wire(self) -> list[Any]:
        return [self.index, self.request_ctx]

    @classmethod
    def from_wire(cls, w: list[Any]) -> ReadState:
        return cls(w[0], bytes(w[1]))


@dataclass(slots=True, frozen=True)
class SoftState:
    """Volatile state worth reporting: who leads, and this node's role."""

    lead: int = NONE
    raft_state: StateType = StateType.FOLLOWER

    def to_wire(self) -> list[int]:
        return [self.lead, int(self.raft_state)]

    @classmethod
    def from_wire(cls, w: list[int]) -> SoftState:
        return cls(w[0], StateType(w[1]))
