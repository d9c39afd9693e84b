"""A synchronous test network of Raft state machines, after etcd's raft_test.go `network`:
messages are delivered depth-first until none are left, with per-link drops and cuts."""

from __future__ import annotations

import random

from kubesim.components.etcd.raft import (
    Config,
    ConfState,
    Entry,
    MemoryStorage,
    Message,
    MessageType,
    Raft,
    Snapshot,
    SnapshotMetadata,
)


def storage_with_peers(voters: list[int], learners: list[int] | None = None) -> MemoryStorage:
    """A storage whose (empty, index 0) snapshot carries the configuration, as etcd's tests do."""
    s = MemoryStorage()
    s._snapshot = Snapshot(SnapshotMetadata(conf_state=ConfState(tuple(voters), tuple(learners or ()))))
    return s


def new_raft(node: int, peers: list[int], election: int = 10, heartbeat: int = 1,
             storage: MemoryStorage | None = None, *, pre_vote: bool = False,
             check_quorum: bool = False, learners: list[int] | None = None, **kw: object) -> Raft:
    """A Raft with etcd's unit-test defaults (PreVote and CheckQuorum off unless asked)."""
    storage = storage if storage is not None else storage_with_peers(peers, learners)
    cfg = Config(id=node, election_tick=election, heartbeat_tick=heartbeat, pre_vote=pre_vote,
                 check_quorum=check_quorum, rng=random.Random(node), **kw)  # type: ignore[arg-type]
    return Raft(cfg, storage)


HOLE = object()
"""In a Network's node list: a node that swallows every message sent to it."""


def read_messages(r: Raft) -> list[Message]:
    msgs, r.msgs = r.msgs, []
    return msgs


class Network:
    def __init__(self, *rafts: object, pre_vote: bool = False, check_quorum: bool = False,
                 election: int = 10) -> None:
        """Node i+1 is rafts[i]: a Raft, None for a fresh one, or HOLE."""
        ids = list(range(1, len(rafts) + 1))
        self.peers: dict[int, Raft | None] = {}
        for node, r in zip(ids, rafts, strict=True):
            if r is HOLE:
                self.peers[node] = None
            elif r is None:
                self.peers[node] = new_raft(node, ids, election, pre_vote=pre_vote,
                                            check_quorum=check_quorum)
            else:
                assert isinstance(r, Raft)
                self.peers[node] = r
        self.dropm: dict[tuple[int, int], float] = {}
        self.ignorem: set[MessageType] = set()
        self.rng = random.Random(1)

    def raft(self, node: int) -> Raft:
        r = self.peers[node]
        assert r is not None
        return r

    def send(self, *msgs: Message) -> None:
        queue = list(msgs)
        while queue:
            m = queue.pop(0)
            p = self.peers.get(m.to)
            if p is None:
                continue
            p.step(m)
            queue.extend(self.filter(read_messages(p)))

    def filter(self, msgs: list[Message]) -> list[Message]:
        out = []
        for m in msgs:
            if m.type in self.ignorem:
                continue
            if m.type == MessageType.MsgHup:
                raise AssertionError("unexpected MsgHup")
            perc = self.dropm.get((m.frm, m.to), 0.0)
            if perc and self.rng.random() < perc:
                continue
            out.append(m)
        return out

    def drop(self, frm: int, to: int, perc: float) -> None:
        self.dropm[(frm, to)] = perc

    def cut(self, a: int, b: int) -> None:
        self.drop(a, b, 2.0)
        self.drop(b, a, 2.0)

    def isolate(self, node: int) -> None:
        for other in self.peers:
            if other != node:
                self.cut(node, other)

    def ignore(self, t: MessageType) -> None:
        self.ignorem.add(t)

    def recover(self) -> None:
        self.dropm = {}
        self.ignorem = set()


def hup(node: int) -> Message:
    return Message(MessageType.MsgHup, to=node, frm=node)


def prop(node: int, data: bytes = b"somedata") -> Message:
    return Message(MessageType.MsgProp, to=node, frm=node, entries=[Entry(data=data)])
