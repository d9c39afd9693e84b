"""The application's handle on Raft (after etcd's raft/rawnode.go): `RawNode` drives a `Raft`
and batches its output into `Ready` values; `Status` reports its state; `bootstrap`
prepares the storage of a new cluster's founding members.

The Ready contract, as in etcd: (1) persist `snapshot` (storage.apply_snapshot), `entries`
(storage.append) and `hard_state` (storage.set_hard_state), syncing if `must_sync`;
(2) send `messages`; (3) apply `snapshot` then `committed_entries` to the state machine,
calling `apply_conf_change` for CONF_CHANGE entries; (4) call `advance(ready)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .progress import ProgressState
from .raft import Config, ProposalDropped, Raft
from .storage import MemoryStorage
from .types import (
    ConfChange,
    ConfChangeType,
    ConfState,
    Entry,
    EntryType,
    HardState,
    Message,
    MessageType,
    ReadState,
    Snapshot,
    SoftState,
    StateType,
)

MT = MessageType

LOCAL_MESSAGES = frozenset({MT.MsgHup, MT.MsgBeat, MT.MsgUnreachable, MT.MsgSnapStatus,
                            MT.MsgCheckQuorum})
RESPONSE_MESSAGES = frozenset({MT.MsgAppResp, MT.MsgVoteResp, MT.MsgHeartbeatResp,
                               MT.MsgUnreachable, MT.MsgPreVoteResp})


@dataclass(slots=True)
class Ready:
    soft_state: SoftState | None = None
    """The new soft state, or None if unchanged."""
    hard_state: HardState | None = None
    """The hard state to persist, or None if unchanged."""
    read_states: list[ReadState] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    """Entries to persist before sending messages."""
    snapshot: Snapshot | None = None
    """A snapshot to persist and apply, or None."""
    committed_entries: list[Entry] = field(default_factory=list)
    """Entries to apply to the state machine (they are already persisted, or in `entries`)."""
    messages: list[Message] = field(default_factory=list)
    """Messages to send once entries, hard state and snapshot are persisted."""
    must_sync: bool = False
    """Whether the writes must be synced to disk (new entries, term or vote)."""


@dataclass(slots=True, frozen=True)
class PeerProgress:
    """A copy of what the leader knows of one peer."""

    match: int
    next: int
    state: ProgressState
    recent_active: bool
    paused: bool
    pending_snapshot: int
    is_learner: bool


@dataclass(slots=True, frozen=True)
class Status:
    id: int
    hard_state: HardState
    soft_state: SoftState
    applied: int
    lead_transferee: int
    progress: dict[int, PeerProgress]
    """Per peer (this node included), only on the leader; empty otherwise."""


def must_sync(st: HardState, prev: HardState, entsnum: int) -> bool:
    return entsnum != 0 or st.vote != prev.vote or st.term != prev.term


def bootstrap(storage: MemoryStorage, peers: list[int]) -> None:
    """Prepare an empty storage for a founding member of a new cluster, as etcd does: one
    committed ADD_NODE conf change entry per peer (term 1, indexes 1..n) and the hard state
    (term 1, commit n). The members learn their configuration by applying those entries
    from their first Ready; a member added later starts from an empty storage instead."""
    if not peers:
        raise ValueError("must provide at least one peer to bootstrap")
    if storage.last_index() != 0:
        raise ValueError("can't bootstrap a nonempty storage")
    ents = [Entry(1, i + 1, EntryType.CONF_CHANGE, ConfChange(ConfChangeType.ADD_NODE, p).encode())
            for i, p in enumerate(peers)]
    storage.append(ents)
    storage.set_hard_state(HardState(term=1, vote=0, commit=len(ents)))


class RawNode:
    def __init__(self, config: Config, storage: MemoryStorage) -> None:
        self.raft = Raft(config, storage)
        self._prev_soft_state = self.raft.soft_state()
        self._prev_hard_state = self.raft.hard_state()

    # ----- input -------------------------------------------------------------------

    def tick(self) -> None:
        """Advance the logical clock by one tick (heartbeat_tick/election_tick are in ticks)."""
        self.raft.tick()

    def campaign(self) -> None:
        """Start an election now (with a PreVote round first if pre_vote)."""
        self.raft.step(Message(MT.MsgHup))

    def propose(self, data: bytes) -> None:
        """Propose data to be appended; raises ProposalDropped if it cannot be taken now.
        Acceptance is no promise of commitment: watch committed_entries."""
        self.raft.step(Message(MT.MsgProp, frm=self.raft.id, entries=[Entry(data=data)]))

    def propose_conf_change(self, cc: ConfChange) -> None:
        """Propose a membership change; it takes effect when the application, applying the
        committed entry, calls apply_conf_change. While one is pending, the leader turns
        further ones into empty entries."""
        self.raft.step(Message(MT.MsgProp, frm=self.raft.id,
                               entries=[Entry(type=EntryType.CONF_CHANGE, data=cc.encode())]))

    def apply_conf_change(self, cc: ConfChange) -> ConfState:
        return self.raft.apply_conf_change(cc)

    def step(self, m: Message) -> None:
        """Feed a message received from a peer. Local message types are refused; responses
        from nodes not in the configuration are ignored; a forwarded proposal that cannot be
        taken is dropped (its proposer times out and retries, as in etcd)."""
        if m.type in LOCAL_MESSAGES:
            raise ValueError(f"cannot step local message {m.type.name} received from the network")
        if m.type in RESPONSE_MESSAGES and m.frm not in self.raft.prs.progress:
            return
        try:
            self.raft.step(m)
        except ProposalDropped:
            pass

    def read_index(self, ctx: bytes) -> None:
        """Request a linearizable read; a ReadState(index, ctx) appears in a later Ready once
        leadership is confirmed. Dropped silently if there is no leader: retry on timeout."""
        self.raft.step(Message(MT.MsgReadIndex, entries=[Entry(data=ctx)]))

    def transfer_leadership(self, to: int) -> None:
        self.raft.step(Message(MT.MsgTransferLeader, frm=to))

    def report_unreachable(self, node: int) -> None:
        """The transport failed to deliver to `node`: the leader stops pipelining to it."""
        self.raft.step(Message(MT.MsgUnreachable, frm=node))

    def report_snapshot(self, node: int, failed: bool) -> None:
        """Report the outcome of sending a MsgSnap to `node`."""
        self.raft.step(Message(MT.MsgSnapStatus, frm=node, reject=failed))

    # ----- output ------------------------------------------------------------------

    def has_ready(self) -> bool:
        r = self.raft
        if r.soft_state() != self._prev_soft_state:
            return True
        hs = r.hard_state()
        if not hs.is_empty() and hs != self._prev_hard_state:
            return True
        return bool(r.raft_log.has_pending_snapshot() or r.raft_log.unstable.entries
                    or r.raft_log.has_next_ents() or r.msgs or r.read_states)

    def ready(self) -> Ready:
        """Everything that happened since the last Ready; hand it back with advance()."""
        r = self.raft
        log = r.raft_log
        rd = Ready(entries=log.unstable_entries(), committed_entries=log.next_ents(),
                   messages=r.msgs, read_states=r.read_states)
        soft = r.soft_state()
        if soft != self._prev_soft_state:
            rd.soft_state = soft
            self._prev_soft_state = soft
        hs = r.hard_state()
        if hs != self._prev_hard_state:
            rd.hard_state = hs
        if log.has_pending_snapshot():
            rd.snapshot = log.unstable.snapshot
        rd.must_sync = must_sync(hs, self._prev_hard_state, len(rd.entries))
        r.msgs = []
        r.read_states = []
        return rd

    def advance(self, rd: Ready) -> None:
        """The application persisted and applied `rd`."""
        if rd.hard_state is not None:
            self._prev_hard_state = rd.hard_state
        log = self.raft.raft_log
        if rd.committed_entries:
            log.applied_to(rd.committed_entries[-1].index)
        elif rd.snapshot is not None:
            log.applied_to(rd.snapshot.metadata.index)
        if rd.entries:
            e = rd.entries[-1]
            log.stable_to(e.index, e.term)
        if rd.snapshot is not None:
            log.stable_snap_to(rd.snapshot.metadata.index)

    def status(self) -> Status:
        r = self.raft
        progress: dict[int, PeerProgress] = {}
        if r.state == StateType.LEADER:
            progress = {
                node: PeerProgress(pr.match, pr.next, pr.state, pr.recent_active,
                                   pr.is_paused(), pr.pending_snapshot, pr.is_learner)
                for node, pr in r.prs.progress.items()
            }
        return Status(r.id, r.hard_state(), r.soft_state(), r.raft_log.applied,
                      r.lead_transferee, progress)
