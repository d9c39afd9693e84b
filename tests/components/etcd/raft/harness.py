"""A randomized, seeded, in-memory cluster of RawNodes for checking Raft's safety.

The network drops, duplicates and reorders messages and can be partitioned; nodes crash
(losing everything not persisted from a Ready, possibly between persisting and sending)
and restart from their storage; clients propose, and nodes compact their logs into
snapshots. Every message crosses the wire as msgpack of `to_wire()`. After the chaos all
faults heal and a final proposal must be applied everywhere. The observations go into an
`invariants.History` for the checks.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

import msgpack

from kubesim.components.etcd.raft import (
    ConfChange,
    Config,
    ConfState,
    EntryType,
    MemoryStorage,
    Message,
    MessageType,
    ProposalDropped,
    RawNode,
    Ready,
    StateType,
    bootstrap,
)
from kubesim.components.etcd.raft.invariants import (
    Applied,
    History,
    Leadership,
    LogEntry,
    check_all,
)


@dataclass(slots=True)
class Faults:
    nodes: int = 3
    chaos_ticks: int = 80
    heal_ticks: int = 100
    deliveries_per_tick: int = 3
    p_drop: float = 0.05
    p_dup: float = 0.03
    reorder: bool = True
    p_partition: float = 0.04
    p_crash: float = 0.02
    p_restart: float = 0.15
    p_crash_mid_ready: float = 0.003
    p_propose: float = 0.4
    p_compact: float = 0.05
    p_transfer: float = 0.01
    p_read: float = 0.1


@dataclass(slots=True)
class SimNode:
    id: int
    storage: MemoryStorage
    raw: RawNode | None = None
    incarnation: int = 0
    app: list[LogEntry] = field(default_factory=list)
    conf_state: ConfState = field(default_factory=ConfState)


def encode_state(app: list[LogEntry]) -> bytes:
    return msgpack.packb([[e.index, e.term, e.data] for e in app])


def decode_state(data: bytes) -> list[LogEntry]:
    return [LogEntry(i, t, bytes(d)) for i, t, d in msgpack.unpackb(data)] if data else []


class Cluster:
    def __init__(self, seed: int, faults: Faults) -> None:
        self.rng = random.Random(seed)
        self.f = faults
        self.ids = list(range(1, faults.nodes + 1))
        self.nodes: dict[int, SimNode] = {}
        self.inflight: list[bytes] = []
        self.partition: set[int] = set()
        self.history = History()
        self._led: set[tuple[int, int]] = set()
        self._proposed = 0
        self._max_commit = 0
        self._read_need: dict[bytes, int] = {}
        self.stats: Counter[str] = Counter()
        """Messages delivered by type name, plus crashes, restarts and compactions."""
        for i in self.ids:
            storage = MemoryStorage()
            bootstrap(storage, self.ids)
            self.nodes[i] = SimNode(i, storage)
            self.start(i)

    # ----- node life ---------------------------------------------------------------

    def start(self, node_id: int) -> None:
        n = self.nodes[node_id]
        snap = n.storage.snapshot()
        n.app = decode_state(snap.data)
        n.conf_state = snap.metadata.conf_state
        cfg = Config(id=node_id, applied=snap.metadata.index,
                     rng=random.Random(self.rng.getrandbits(32)))
        n.raw = RawNode(cfg, n.storage)
        n.incarnation += 1

    def crash(self, node_id: int) -> None:
        self.stats["crash"] += 1
        self.nodes[node_id].raw = None

    def live(self) -> list[int]:
        return [i for i in self.ids if self.nodes[i].raw is not None]

    # ----- processing --------------------------------------------------------------

    def observe(self, n: SimNode) -> None:
        assert n.raw is not None
        r = n.raw.raft
        self.history.commits.append((n.id, r.term, r.raft_log.committed))
        self._max_commit = max(self._max_commit, r.raft_log.committed)
        if r.state == StateType.LEADER and (n.id, r.term) not in self._led:
            self._led.add((n.id, r.term))
            log = {e.index: e.term for e in r.raft_log.all_entries()}
            self.history.leaderships.append(
                Leadership(n.id, r.term, log, r.raft_log.first_index() - 1))

    def handle_ready(self, n: SimNode) -> None:
        """Persist, send, apply, advance: the Ready contract, with an occasional crash
        after persisting and before sending."""
        assert n.raw is not None
        self.observe(n)
        while n.raw is not None and n.raw.has_ready():
            rd = n.raw.ready()
            self.persist(n, rd)
            for rs in rd.read_states:
                self.history.reads.append((n.id, self._read_need[rs.request_ctx], rs.index))
            if self.rng.random() < self.f.p_crash_mid_ready:
                self.crash(n.id)
                return
            self.inflight.extend(msgpack.packb(m.to_wire()) for m in rd.messages)
            self.apply(n, rd)
            n.raw.advance(rd)

    def persist(self, n: SimNode, rd: Ready) -> None:
        if rd.snapshot is not None:
            n.storage.apply_snapshot(rd.snapshot)
        n.storage.append(rd.entries)
        if rd.hard_state is not None:
            n.storage.set_hard_state(rd.hard_state)

    def apply(self, n: SimNode, rd: Ready) -> None:
        assert n.raw is not None
        if rd.snapshot is not None:
            n.app = decode_state(rd.snapshot.data)
            n.conf_state = rd.snapshot.metadata.conf_state
        for e in rd.committed_entries:
            le = LogEntry(e.index, e.term, e.data)
            n.app.append(le)
            self.history.applied.append(Applied(n.id, n.incarnation, le))
            if e.type == EntryType.CONF_CHANGE:
                n.conf_state = n.raw.apply_conf_change(ConfChange.decode(e.data))

    def deliver(self, wire: bytes, lost: bool) -> None:
        """Deliver one message, unless lost or cut off. Like etcd's transport, tell the
        sender how a snapshot went, and that a peer is unreachable when a message is cut off."""
        m = Message.from_wire(msgpack.unpackb(wire))
        n = self.nodes[m.to]
        cut = n.raw is None or (m.frm in self.partition) != (m.to in self.partition)
        if m.type == MessageType.MsgSnap or cut:
            sender = self.nodes[m.frm]
            if sender.raw is not None:
                if m.type == MessageType.MsgSnap:
                    sender.raw.report_snapshot(m.to, failed=lost or cut)
                else:
                    sender.raw.report_unreachable(m.to)
                self.handle_ready(sender)
        if lost or cut or n.raw is None:
            return
        self.stats[m.type.name] += 1
        n.raw.step(m)
        self.handle_ready(n)

    def deliver_round(self, lossy: bool) -> None:
        batch, self.inflight = self.inflight, []
        if self.f.reorder and lossy:
            self.rng.shuffle(batch)
        for wire in batch:
            if lossy and self.rng.random() < self.f.p_dup:
                self.inflight.append(wire)
            self.deliver(wire, lost=lossy and self.rng.random() < self.f.p_drop)

    def tick(self) -> None:
        for i in self.live():
            n = self.nodes[i]
            assert n.raw is not None
            n.raw.tick()
            self.handle_ready(n)

    # ----- client actions ----------------------------------------------------------

    def propose(self, node_id: int, data: bytes) -> bool:
        n = self.nodes[node_id]
        if n.raw is None:
            return False
        try:
            n.raw.propose(data)
        except ProposalDropped:
            return False
        self.handle_ready(n)
        return True

    def read(self, node_id: int) -> None:
        n = self.nodes[node_id]
        assert n.raw is not None
        ctx = b"r%d" % len(self._read_need)
        self._read_need[ctx] = self._max_commit
        n.raw.read_index(ctx)
        self.handle_ready(n)

    def compact(self, node_id: int) -> None:
        n = self.nodes[node_id]
        snap_index = n.storage.snapshot().metadata.index
        applied = n.app[-1].index if n.app else 0
        if applied <= snap_index:
            return
        self.stats["compact"] += 1
        n.storage.create_snapshot(applied, n.conf_state, encode_state(n.app))
        n.storage.compact(max(snap_index + 1, applied - self.rng.randrange(3)))

    def leader(self) -> int | None:
        for i in self.live():
            raw = self.nodes[i].raw
            assert raw is not None
            if raw.raft.state == StateType.LEADER:
                return i
        return None

    # ----- the run -----------------------------------------------------------------

    def chaos_tick(self) -> None:
        f, rng = self.f, self.rng
        if rng.random() < f.p_partition:
            k = rng.randrange(len(self.ids))
            self.partition = set(rng.sample(self.ids, k))
        for i in self.ids:
            if self.nodes[i].raw is None:
                if rng.random() < f.p_restart:
                    self.start(i)
            elif rng.random() < f.p_crash:
                self.crash(i)
        if rng.random() < f.p_propose and self.live():
            self._proposed += 1
            self.propose(rng.choice(self.live()), b"v%d" % self._proposed)
        if rng.random() < f.p_compact and self.live():
            self.compact(rng.choice(self.live()))
        if rng.random() < f.p_read and self.live():
            self.read(rng.choice(self.live()))
        if rng.random() < f.p_transfer and (lead := self.leader()) is not None:
            raw = self.nodes[lead].raw
            assert raw is not None
            raw.transfer_leadership(rng.choice([i for i in self.ids if i != lead]))
            self.handle_ready(self.nodes[lead])
        self.tick()
        for _ in range(f.deliveries_per_tick):
            self.deliver_round(lossy=True)

    def heal_until_final(self, data: bytes) -> bool:
        """Heal everything, then propose `data` until every node applied it."""
        self.partition = set()
        for i in self.ids:
            if self.nodes[i].raw is None:
                self.start(i)
        self.f.p_crash_mid_ready = 0.0
        for t in range(self.f.heal_ticks):
            if t % 20 == 0 and (lead := self.leader()) is not None:
                self.propose(lead, data)
            self.tick()
            for _ in range(self.f.deliveries_per_tick):
                self.deliver_round(lossy=False)
            if all(any(e.data == data for e in self.nodes[i].app) for i in self.ids):
                return True
        return False

    def run(self) -> list[str]:
        """Chaos, then healing; returns every invariant violation (empty if all is well)."""
        for _ in range(self.f.chaos_ticks):
            self.chaos_tick()
        progress = self.heal_until_final(b"final")
        for i in self.ids:
            n = self.nodes[i]
            assert n.raw is not None
            log = n.raw.raft.raft_log
            self.history.logs[i] = {e.index: LogEntry(e.index, e.term, e.data)
                                    for e in log.all_entries()}
            self.history.states[i] = list(n.app)
        out = check_all(self.history)
        if not progress:
            out.append("progress: the final proposal was not applied everywhere after healing")
        return out
