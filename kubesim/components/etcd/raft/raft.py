"""The Raft state machine (after etcd's raft/raft.go, v3.4): `Config`, and `Raft`, which
consumes messages (`step`) and clock ticks (`tick`) and produces outgoing messages, read
states and log changes. No I/O: the RawNode hands the results to the application.

Beyond the paper it implements PreVote, CheckQuorum (with leader leases on votes), flow
controlled pipelined replication, ReadIndex, leadership transfer, snapshots and
one-at-a-time membership changes, as etcd does.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace

from .log import RaftLog
from .progress import ProgressState, ProgressTracker, VoteResult
from .read_only import ReadOnly, ReadOnlyOption
from .storage import Compacted, MemoryStorage, Unavailable
from .types import (
    NONE,
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

CAMPAIGN_PRE_ELECTION = b"CampaignPreElection"
CAMPAIGN_ELECTION = b"CampaignElection"
CAMPAIGN_TRANSFER = b"CampaignTransfer"


class ProposalDropped(Exception):
    """The proposal was not accepted: no known leader, or a leadership transfer in progress."""


@dataclass(slots=True)
class Config:
    id: int
    election_tick: int = 10
    heartbeat_tick: int = 1
    applied: int = 0
    max_size_per_msg: int = 1 << 20
    max_committed_size_per_ready: int | None = None
    """Bytes of committed entries per Ready; None means max_size_per_msg."""
    max_inflight_msgs: int = 256
    check_quorum: bool = True
    pre_vote: bool = True
    read_only_option: ReadOnlyOption = ReadOnlyOption.SAFE
    rng: random.Random | None = None
    """Source of the randomized election timeouts; None means random.Random(id)."""

    def validate(self) -> None:
        if self.id == NONE:
            raise ValueError("cannot use none as id")
        if self.heartbeat_tick <= 0:
            raise ValueError("heartbeat tick must be greater than 0")
        if self.election_tick <= self.heartbeat_tick:
            raise ValueError("election tick must be greater than heartbeat tick")
        if self.max_inflight_msgs <= 0:
            raise ValueError("max inflight messages must be greater than 0")
        if self.read_only_option == ReadOnlyOption.LEASE_BASED and not self.check_quorum:
            raise ValueError("check_quorum must be enabled when read_only_option is LEASE_BASED")


def vote_resp_type(t: MessageType) -> MessageType:
    return MT.MsgVoteResp if t == MT.MsgVote else MT.MsgPreVoteResp


class Raft:
    def __init__(self, config: Config, storage: MemoryStorage) -> None:
        config.validate()
        self.id = config.id
        self.rng = config.rng if config.rng is not None else random.Random(config.id)
        committed_size = config.max_committed_size_per_ready or config.max_size_per_msg
        self.raft_log = RaftLog(storage, committed_size)
        self.max_msg_size = config.max_size_per_msg
        self.prs = ProgressTracker(config.max_inflight_msgs)
        self.election_timeout = config.election_tick
        self.heartbeat_timeout = config.heartbeat_tick
        self.check_quorum = config.check_quorum
        self.pre_vote = config.pre_vote
        self.read_only = ReadOnly(config.read_only_option)

        self.term = 0
        self.vote = NONE
        self.lead = NONE
        self.state = StateType.FOLLOWER
        self.is_learner = False
        self.lead_transferee = NONE
        self.pending_conf_index = 0
        self.msgs: list[Message] = []
        self.read_states: list[ReadState] = []
        self.pending_read_index_messages: list[Message] = []
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_election_timeout = 0
        self._tick: Callable[[], None] = self._tick_election
        self._step: Callable[[Message], None] = self._step_follower

        hs, cs = storage.initial_state()
        self._restore_conf(cs)
        if not hs.is_empty():
            self._load_state(hs)
        if config.applied > 0:
            self.raft_log.applied_to(config.applied)
        self.become_follower(self.term, NONE)

    # ----- state -------------------------------------------------------------------

    def soft_state(self) -> SoftState:
        return SoftState(self.lead, self.state)

    def hard_state(self) -> HardState:
        return HardState(self.term, self.vote, self.raft_log.committed)

    def _load_state(self, hs: HardState) -> None:
        if hs.commit < self.raft_log.committed or hs.commit > self.raft_log.last_index():
            raise AssertionError(f"commit {hs.commit} is out of range "
                                 f"[{self.raft_log.committed}, {self.raft_log.last_index()}]")
        self.raft_log.committed = hs.commit
        self.term = hs.term
        self.vote = hs.vote

    def _restore_conf(self, cs: ConfState) -> None:
        nxt = self.raft_log.last_index() + 1
        for v in cs.voters:
            self.prs.set_progress(v, 0, nxt, is_learner=False)
        for lrn in cs.learners:
            self.prs.set_progress(lrn, 0, nxt, is_learner=True)
        self.is_learner = self.id in self.prs.learners

    def promotable(self) -> bool:
        pr = self.prs.progress.get(self.id)
        return pr is not None and not pr.is_learner

    def past_election_timeout(self) -> bool:
        return self.election_elapsed >= self.randomized_election_timeout

    def _reset_randomized_election_timeout(self) -> None:
        self.randomized_election_timeout = (
            self.election_timeout + self.rng.randrange(self.election_timeout))

    def _reset(self, term: int) -> None:
        if self.term != term:
            self.term = term
            self.vote = NONE
        self.lead = NONE
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self._reset_randomized_election_timeout()
        self.lead_transferee = NONE
        self.prs.reset_votes()
        last = self.raft_log.last_index()
        for node, pr in list(self.prs.progress.items()):
            self.prs.set_progress(node, last if node == self.id else 0, last + 1, pr.is_learner)
        self.pending_conf_index = 0
        self.read_only = ReadOnly(self.read_only.option)
        self.pending_read_index_messages = []

    def become_follower(self, term: int, lead: int) -> None:
        self._step = self._step_follower
        self._reset(term)
        self._tick = self._tick_election
        self.lead = lead
        self.state = StateType.FOLLOWER

    def become_candidate(self) -> None:
        if self.state == StateType.LEADER:
            raise AssertionError("invalid transition [leader -> candidate]")
        self._step = self._step_candidate
        self._reset(self.term + 1)
        self._tick = self._tick_election
        self.vote = self.id
        self.state = StateType.CANDIDATE

    def become_pre_candidate(self) -> None:
        if self.state == StateType.LEADER:
            raise AssertionError("invalid transition [leader -> pre-candidate]")
        # a pre-candidate changes neither its term nor its vote
        self._step = self._step_candidate
        self.prs.reset_votes()
        self._tick = self._tick_election
        self.lead = NONE
        self.state = StateType.PRE_CANDIDATE

    def become_leader(self) -> None:
        if self.state == StateType.FOLLOWER:
            raise AssertionError("invalid transition [follower -> leader]")
        self._step = self._step_leader
        self._reset(self.term)
        self._tick = self._tick_heartbeat
        self.lead = self.id
        self.state = StateType.LEADER
        self.prs.progress[self.id].become_replicate()
        # conservatively assume the uncommitted tail may hold a conf change
        self.pending_conf_index = self.raft_log.last_index()
        self._append_entry([Entry()])

    # ----- sending -----------------------------------------------------------------

    def _send(self, m: Message) -> None:
        m.frm = self.id
        if m.type in (MT.MsgVote, MT.MsgVoteResp, MT.MsgPreVote, MT.MsgPreVoteResp):
            if m.term == 0:
                raise AssertionError(f"term should be set when sending {m.type.name}")
        else:
            if m.term != 0:
                raise AssertionError(f"term should not be set when sending {m.type.name}")
            # proposals and read requests forwarded to the leader are local messages there
            if m.type not in (MT.MsgProp, MT.MsgReadIndex):
                m.term = self.term
        self.msgs.append(m)

    def send_append(self, to: int) -> None:
        self.maybe_send_append(to, send_if_empty=True)

    def maybe_send_append(self, to: int, send_if_empty: bool) -> bool:
        """Send `to` the entries it lacks (or a snapshot if they are compacted)."""
        pr = self.prs.progress[to]
        if pr.is_paused():
            return False
        try:
            term = self.raft_log.term(pr.next - 1)
            ents = self.raft_log.entries(pr.next, self.max_msg_size)
        except (Compacted, Unavailable):
            return self._send_snapshot(to)
        if not ents and not send_if_empty:
            return False
        m = Message(MT.MsgApp, to=to, index=pr.next - 1, log_term=term, entries=ents,
                    commit=self.raft_log.committed)
        if ents:
            if pr.state == ProgressState.REPLICATE:
                last = ents[-1].index
                pr.optimistic_update(last)
                pr.inflights.add(last)
            elif pr.state == ProgressState.PROBE:
                pr.probe_sent = True
        self._send(m)
        return True

    def _send_snapshot(self, to: int) -> bool:
        """The entries `to` needs are compacted: send the snapshot instead."""
        pr = self.prs.progress[to]
        if not pr.recent_active:
            return False
        snap = self.raft_log.snapshot()
        if snap.is_empty():
            raise AssertionError("need non-empty snapshot")
        pr.become_snapshot(snap.metadata.index)
        self._send(Message(MT.MsgSnap, to=to, snapshot=snap))
        return True

    def send_heartbeat(self, to: int, ctx: bytes) -> None:
        # a follower may not have the leader's log up to its commit index yet
        commit = min(self.prs.progress[to].match, self.raft_log.committed)
        self._send(Message(MT.MsgHeartbeat, to=to, commit=commit, context=ctx))

    def _peers(self) -> list[int]:
        return [p for p in sorted(self.prs.progress) if p != self.id]

    def bcast_append(self) -> None:
        for p in self._peers():
            self.send_append(p)

    def bcast_heartbeat(self) -> None:
        self.bcast_heartbeat_with_ctx(self.read_only.last_pending_request_ctx())

    def bcast_heartbeat_with_ctx(self, ctx: bytes) -> None:
        for p in self._peers():
            self.send_heartbeat(p, ctx)

    def send_timeout_now(self, to: int) -> None:
        self._send(Message(MT.MsgTimeoutNow, to=to))

    def abort_leader_transfer(self) -> None:
        self.lead_transferee = NONE

    # ----- log ---------------------------------------------------------------------

    def maybe_commit(self) -> bool:
        return self.raft_log.maybe_commit(self.prs.committed(), self.term)

    def committed_entry_in_current_term(self) -> bool:
        return self.raft_log.term_or_zero(self.raft_log.committed) == self.term

    def _append_entry(self, es: list[Entry]) -> None:
        li = self.raft_log.last_index()
        es = [replace(e, term=self.term, index=li + 1 + i) for i, e in enumerate(es)]
        li = self.raft_log.append(es)
        self.prs.progress[self.id].maybe_update(li)
        # the leader counts itself; etcd lets it persist in parallel with replication
        self.maybe_commit()

    # ----- ticks -------------------------------------------------------------------

    def tick(self) -> None:
        self._tick()

    def _tick_election(self) -> None:
        self.election_elapsed += 1
        if self.promotable() and self.past_election_timeout():
            self.election_elapsed = 0
            self.step(Message(MT.MsgHup, frm=self.id))

    def _tick_heartbeat(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.election_elapsed >= self.election_timeout:
            self.election_elapsed = 0
            if self.check_quorum:
                self.step(Message(MT.MsgCheckQuorum, frm=self.id))
            # a transfer that did not finish within an election timeout is abandoned
            if self.state == StateType.LEADER and self.lead_transferee != NONE:
                self.abort_leader_transfer()
        if self.state != StateType.LEADER:
            return
        if self.heartbeat_elapsed >= self.heartbeat_timeout:
            self.heartbeat_elapsed = 0
            self.step(Message(MT.MsgBeat, frm=self.id))

    # ----- elections ---------------------------------------------------------------

    def _hup(self, kind: bytes) -> None:
        if self.state == StateType.LEADER:
            return
        if not self.promotable():
            return
        try:
            unapplied = self.raft_log.slice(self.raft_log.applied + 1, self.raft_log.committed + 1)
        except Compacted:
            unapplied = []
        if any(e.type == EntryType.CONF_CHANGE for e in unapplied):
            # campaigning could mean counting votes under a configuration about to change
            return
        self._campaign(kind)

    def _campaign(self, kind: bytes) -> None:
        if kind == CAMPAIGN_PRE_ELECTION:
            self.become_pre_candidate()
            vote_msg = MT.MsgPreVote
            term = self.term + 1  # the term we would campaign for
        else:
            self.become_candidate()
            vote_msg = MT.MsgVote
            term = self.term
        if self._poll(self.id, True) == VoteResult.WON:
            # a single-voter cluster wins at once
            if kind == CAMPAIGN_PRE_ELECTION:
                self._campaign(CAMPAIGN_ELECTION)
            else:
                self.become_leader()
            return
        ctx = CAMPAIGN_TRANSFER if kind == CAMPAIGN_TRANSFER else b""
        for v in sorted(self.prs.voters):
            if v == self.id:
                continue
            self._send(Message(vote_msg, to=v, term=term, index=self.raft_log.last_index(),
                               log_term=self.raft_log.last_term(), context=ctx))

    def _poll(self, node: int, granted: bool) -> VoteResult:
        self.prs.record_vote(node, granted)
        return self.prs.tally_votes()[2]

    # ----- step --------------------------------------------------------------------

    def step(self, m: Message) -> None:
        """Consume one message. Raises ProposalDropped for a proposal that cannot be taken."""
        if m.term == 0:
            pass  # local message
        elif m.term > self.term:
            if m.type in (MT.MsgVote, MT.MsgPreVote):
                force = m.context == CAMPAIGN_TRANSFER
                in_lease = (self.check_quorum and self.lead != NONE
                            and self.election_elapsed < self.election_timeout)
                if not force and in_lease:
                    # we heard from a live leader within the minimum election timeout:
                    # do not let a partitioned node disrupt it
                    return
            if m.type == MT.MsgPreVote:
                pass  # never change our term in response to a PreVote
            elif m.type == MT.MsgPreVoteResp and not m.reject:
                pass  # the term in a granted PreVoteResp is the one we would campaign for
            elif m.type in (MT.MsgApp, MT.MsgHeartbeat, MT.MsgSnap):
                self.become_follower(m.term, m.frm)
            else:
                self.become_follower(m.term, NONE)
        elif m.term < self.term:
            if (self.check_quorum or self.pre_vote) and m.type in (MT.MsgHeartbeat, MT.MsgApp):
                # a stale leader (e.g. after a partition) learns of the newer term this way;
                # otherwise, with PreVote/CheckQuorum, it could never be told
                self._send(Message(MT.MsgAppResp, to=m.frm))
            elif m.type == MT.MsgPreVote:
                self._send(Message(MT.MsgPreVoteResp, to=m.frm, term=self.term, reject=True))
            return

        if m.type == MT.MsgHup:
            self._hup(CAMPAIGN_PRE_ELECTION if self.pre_vote else CAMPAIGN_ELECTION)
        elif m.type in (MT.MsgVote, MT.MsgPreVote):
            can_vote = (self.vote == m.frm
                        or (self.vote == NONE and self.lead == NONE)
                        or (m.type == MT.MsgPreVote and m.term > self.term))
            if can_vote and self.raft_log.is_up_to_date(m.index, m.log_term):
                self._send(Message(vote_resp_type(m.type), to=m.frm, term=m.term))
                if m.type == MT.MsgVote:
                    self.election_elapsed = 0
                    self.vote = m.frm
            else:
                self._send(Message(vote_resp_type(m.type), to=m.frm, term=self.term, reject=True))
        else:
            self._step(m)

    def _step_leader(self, m: Message) -> None:
        if m.type == MT.MsgBeat:
            self.bcast_heartbeat()
            return
        if m.type == MT.MsgCheckQuorum:
            self.prs.progress[self.id].recent_active = True
            if not self.prs.quorum_active():
                self.become_follower(self.term, NONE)
            for node, pr in self.prs.progress.items():
                if node != self.id:
                    pr.recent_active = False
            return
        if m.type == MT.MsgProp:
            self._propose(m)
            return
        if m.type == MT.MsgReadIndex:
            if not self.prs.is_singleton() and not self.committed_entry_in_current_term():
                # the commit index is only known to be current once an entry of this term
                # is committed: hold the request until then
                self.pending_read_index_messages.append(m)
                return
            self._serve_read_index(m)
            return

        pr = self.prs.progress.get(m.frm)
        if pr is None:
            return
        if m.type == MT.MsgAppResp:
            pr.recent_active = True
            if m.reject:
                if pr.maybe_decr_to(m.index, m.reject_hint):
                    if pr.state == ProgressState.REPLICATE:
                        pr.become_probe()
                    self.send_append(m.frm)
                return
            old_paused = pr.is_paused()
            if not pr.maybe_update(m.index):
                return
            if pr.state == ProgressState.PROBE:
                pr.become_replicate()
            elif pr.state == ProgressState.SNAPSHOT and pr.match >= pr.pending_snapshot:
                pr.become_probe()
                pr.become_replicate()
            elif pr.state == ProgressState.REPLICATE:
                pr.inflights.free_le(m.index)
            if self.maybe_commit():
                self._release_pending_read_index_messages()
                self.bcast_append()
            elif old_paused:
                self.send_append(m.frm)
            # pipeline: keep sending while the window allows and there is more
            while self.maybe_send_append(m.frm, send_if_empty=False):
                pass
            if m.frm == self.lead_transferee and pr.match == self.raft_log.last_index():
                self.send_timeout_now(m.frm)
        elif m.type == MT.MsgHeartbeatResp:
            pr.recent_active = True
            pr.probe_sent = False
            if pr.state == ProgressState.REPLICATE and pr.inflights.full():
                pr.inflights.free_first_one()
            if pr.match < self.raft_log.last_index():
                self.send_append(m.frm)
            if self.read_only.option != ReadOnlyOption.SAFE or not m.context:
                return
            acks = self.read_only.recv_ack(m.frm, m.context)
            if self.prs.vote_result(acks) != VoteResult.WON:
                return
            for rs in self.read_only.advance(m.context):
                self._respond_read(rs.req, rs.index)
        elif m.type == MT.MsgSnapStatus:
            if pr.state != ProgressState.SNAPSHOT:
                return
            if m.reject:
                pr.pending_snapshot = 0
            pr.become_probe()
            # wait for a heartbeat response before probing: the follower may still be busy
            pr.probe_sent = True
        elif m.type == MT.MsgUnreachable:
            if pr.state == ProgressState.REPLICATE:
                pr.become_probe()
        elif m.type == MT.MsgTransferLeader:
            self._transfer_leadership(m.frm, pr.is_learner, pr.match)

    def _propose(self, m: Message) -> None:
        if not m.entries:
            raise AssertionError("stepped empty MsgProp")
        if self.lead_transferee != NONE:
            raise ProposalDropped(f"leadership is being transferred to {self.lead_transferee}")
        ents = list(m.entries)
        for i, e in enumerate(ents):
            if e.type != EntryType.CONF_CHANGE:
                continue
            if self.pending_conf_index > self.raft_log.applied:
                # one conf change at a time: later ones become empty entries
                ents[i] = Entry()
            else:
                self.pending_conf_index = self.raft_log.last_index() + i + 1
        self._append_entry(ents)
        self.bcast_append()

    def _serve_read_index(self, m: Message) -> None:
        if self.prs.is_singleton():
            self._respond_read(m, self.raft_log.committed)
        elif self.read_only.option == ReadOnlyOption.SAFE:
            ctx = m.entries[0].data
            self.read_only.add_request(self.raft_log.committed, m)
            self.read_only.recv_ack(self.id, ctx)
            self.bcast_heartbeat_with_ctx(ctx)
        else:
            self._respond_read(m, self.raft_log.committed)

    def _respond_read(self, req: Message, index: int) -> None:
        if req.frm in (NONE, self.id):
            self.read_states.append(ReadState(index, req.entries[0].data))
        else:
            self._send(Message(MT.MsgReadIndexResp, to=req.frm, index=index, entries=req.entries))

    def _release_pending_read_index_messages(self) -> None:
        if not self.committed_entry_in_current_term():
            return
        msgs, self.pending_read_index_messages = self.pending_read_index_messages, []
        for m in msgs:
            self._serve_read_index(m)

    def _transfer_leadership(self, transferee: int, is_learner: bool, match: int) -> None:
        if is_learner:
            return
        if self.lead_transferee != NONE:
            if self.lead_transferee == transferee:
                return  # the same transfer is already under way
            self.abort_leader_transfer()
        if transferee == self.id:
            return
        # the transfer must finish within one election timeout
        self.election_elapsed = 0
        self.lead_transferee = transferee
        if match == self.raft_log.last_index():
            self.send_timeout_now(transferee)
        else:
            self.send_append(transferee)

    def _step_candidate(self, m: Message) -> None:
        my_vote_resp = (MT.MsgPreVoteResp if self.state == StateType.PRE_CANDIDATE
                        else MT.MsgVoteResp)
        if m.type == MT.MsgProp:
            raise ProposalDropped("no leader: this node is campaigning")
        if m.type == MT.MsgApp:
            self.become_follower(m.term, m.frm)
            self._handle_append_entries(m)
        elif m.type == MT.MsgHeartbeat:
            self.become_follower(m.term, m.frm)
            self._handle_heartbeat(m)
        elif m.type == MT.MsgSnap:
            self.become_follower(m.term, m.frm)
            self._handle_snapshot(m)
        elif m.type == my_vote_resp:
            res = self._poll(m.frm, not m.reject)
            if res == VoteResult.WON:
                if self.state == StateType.PRE_CANDIDATE:
                    self._campaign(CAMPAIGN_ELECTION)
                else:
                    self.become_leader()
                    self.bcast_append()
            elif res == VoteResult.LOST:
                # a PreVoteResp carries a future term: keep ours
                self.become_follower(self.term, NONE)

    def _step_follower(self, m: Message) -> None:
        if m.type == MT.MsgProp:
            if self.lead == NONE:
                raise ProposalDropped("no leader")
            m.to = self.lead
            self._send(m)
        elif m.type == MT.MsgApp:
            self.election_elapsed = 0
            self.lead = m.frm
            self._handle_append_entries(m)
        elif m.type == MT.MsgHeartbeat:
            self.election_elapsed = 0
            self.lead = m.frm
            self._handle_heartbeat(m)
        elif m.type == MT.MsgSnap:
            self.election_elapsed = 0
            self.lead = m.frm
            self._handle_snapshot(m)
        elif m.type == MT.MsgTransferLeader:
            if self.lead != NONE:
                m.to = self.lead
                self._send(m)
        elif m.type == MT.MsgTimeoutNow:
            if self.promotable():
                # the leader chose us: campaign now, skipping PreVote and leases
                self._campaign(CAMPAIGN_TRANSFER)
        elif m.type == MT.MsgReadIndex:
            # without a leader the request is dropped; the application retries
            if self.lead != NONE:
                m.to = self.lead
                self._send(m)
        elif m.type == MT.MsgReadIndexResp:
            if len(m.entries) == 1:
                self.read_states.append(ReadState(m.index, m.entries[0].data))

    def _handle_append_entries(self, m: Message) -> None:
        if m.index < self.raft_log.committed:
            self._send(Message(MT.MsgAppResp, to=m.frm, index=self.raft_log.committed))
            return
        last_new = self.raft_log.maybe_append(m.index, m.log_term, m.commit, m.entries)
        if last_new is not None:
            self._send(Message(MT.MsgAppResp, to=m.frm, index=last_new))
        else:
            self._send(Message(MT.MsgAppResp, to=m.frm, index=m.index, reject=True,
                               reject_hint=self.raft_log.last_index()))

    def _handle_heartbeat(self, m: Message) -> None:
        self.raft_log.commit_to(m.commit)
        self._send(Message(MT.MsgHeartbeatResp, to=m.frm, context=m.context))

    def _handle_snapshot(self, m: Message) -> None:
        assert m.snapshot is not None
        if self.restore(m.snapshot):
            self._send(Message(MT.MsgAppResp, to=m.frm, index=self.raft_log.last_index()))
        else:
            self._send(Message(MT.MsgAppResp, to=m.frm, index=self.raft_log.committed))

    def restore(self, s: Snapshot) -> bool:
        """Adopt a snapshot from the leader; false if it brings nothing new."""
        meta = s.metadata
        if meta.index <= self.raft_log.committed:
            return False
        if self.raft_log.match_term(meta.index, meta.term):
            # we have the snapshot's last entry: just fast-forward the commit index
            self.raft_log.commit_to(meta.index)
            return False
        cs = meta.conf_state
        if self.id not in cs.voters and self.id not in cs.learners:
            return False
        self.raft_log.restore(s)
        self.prs = ProgressTracker(self.prs.max_inflight)
        self._restore_conf(cs)
        return True

    # ----- membership ----------------------------------------------------------------

    def apply_conf_change(self, cc: ConfChange) -> ConfState:
        if cc.type == ConfChangeType.ADD_NODE:
            self._add_node(cc.node_id, is_learner=False)
        elif cc.type == ConfChangeType.ADD_LEARNER_NODE:
            self._add_node(cc.node_id, is_learner=True)
        else:
            self._remove_node(cc.node_id)
        return self.prs.conf_state()

    def _add_node(self, node: int, is_learner: bool) -> None:
        pr = self.prs.progress.get(node)
        if pr is None:
            self.prs.set_progress(node, 0, self.raft_log.last_index() + 1, is_learner)
        elif pr.is_learner and not is_learner:
            self.prs.promote(node)
        else:
            return  # already there in that role (a learner is never demoted)
        if node == self.id:
            self.is_learner = is_learner
        # count the new member as active, or CheckQuorum might step us down at once
        self.prs.progress[node].recent_active = True

    def _remove_node(self, node: int) -> None:
        self.prs.remove(node)
        if not self.prs.voters and not self.prs.learners:
            return
        if self.state != StateType.LEADER:
            return
        if node == self.id:
            # tell the others how far we committed, then stop leading
            self.bcast_append()
            self.become_follower(self.term, NONE)
            return
        # the quorum may have shrunk
        if self.maybe_commit():
            self._release_pending_read_index_messages()
            self.bcast_append()
        if self.lead_transferee == node:
            self.abort_leader_transfer()
