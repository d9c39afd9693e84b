"""Message-by-message tests of the Raft state machine, after etcd's raft_test.go and
raft_paper_test.go."""

from __future__ import annotations

import pytest

from kubesim.components.etcd.raft import (
    NONE,
    ConfChange,
    ConfChangeType,
    ConfState,
    Entry,
    EntryType,
    Message,
    MessageType,
    ProgressState,
    ProposalDropped,
    ReadState,
    Snapshot,
    SnapshotMetadata,
    StateType,
)
from kubesim.components.etcd.raft.raft import CAMPAIGN_TRANSFER

from .network import HOLE, Network, hup, new_raft, prop, read_messages, storage_with_peers

MT = MessageType
L, F, C, P = StateType.LEADER, StateType.FOLLOWER, StateType.CANDIDATE, StateType.PRE_CANDIDATE


def states(nt: Network) -> list[StateType]:
    return [nt.raft(i).state for i in sorted(nt.peers) if nt.peers[i] is not None]


# ----- election ----------------------------------------------------------------------

@pytest.mark.parametrize("pre_vote", [False, True])
def test_leader_election(pre_vote: bool) -> None:
    nt = Network(None, None, None, pre_vote=pre_vote)
    nt.send(hup(1))
    assert states(nt) == [L, F, F]
    assert nt.raft(1).term == 1

    # a candidate without a quorum of reachable voters does not win
    nt = Network(None, HOLE, HOLE, pre_vote=pre_vote)
    nt.send(hup(1))
    assert nt.raft(1).state == (P if pre_vote else C)
    assert nt.raft(1).term == (0 if pre_vote else 1)


def test_randomized_election_timeout_in_range() -> None:
    r = new_raft(1, [1, 2, 3], election=10)
    seen = set()
    for _ in range(200):
        r._reset(r.term)
        seen.add(r.randomized_election_timeout)
    assert min(seen) >= 10 and max(seen) < 20 and len(seen) > 5


def test_follower_campaigns_after_election_timeout() -> None:
    r = new_raft(1, [1, 2, 3])
    for _ in range(2 * r.election_timeout):
        r.tick()
    assert r.state == C and r.term == 1
    votes = read_messages(r)
    assert sorted(m.to for m in votes if m.type == MT.MsgVote) == [2, 3]


def test_leader_sends_heartbeats_every_heartbeat_tick() -> None:
    nt = Network(None, None, None)
    nt.send(hup(1))
    r = nt.raft(1)
    read_messages(r)
    r.tick()
    assert sorted((m.type, m.to) for m in read_messages(r)) == [(MT.MsgHeartbeat, 2), (MT.MsgHeartbeat, 3)]


def test_vote_only_for_up_to_date_log() -> None:
    r = new_raft(1, [1, 2])
    r.raft_log.append([Entry(2, 1)])
    # a candidate whose last term is older is refused
    r.step(Message(MT.MsgVote, frm=2, to=1, term=3, index=5, log_term=1))
    assert read_messages(r)[-1].reject
    r.step(Message(MT.MsgVote, frm=2, to=1, term=3, index=1, log_term=2))
    m = read_messages(r)[-1]
    assert not m.reject and r.vote == 2
    # one vote per term
    r.step(Message(MT.MsgVote, frm=3, to=1, term=3, index=1, log_term=2))
    assert read_messages(r)[-1].reject


def test_prevote_blocks_disruptive_rejoining_node() -> None:
    nt = Network(None, None, None, pre_vote=True)
    nt.send(hup(1))
    nt.isolate(3)
    # node 3 keeps timing out, but its PreVotes never succeed: its term stays put
    for _ in range(5):
        nt.send(hup(3))
    assert nt.raft(3).term == 1 and nt.raft(3).state == P
    nt.send(prop(1))
    nt.recover()
    nt.send(hup(3))  # the majority's logs are longer: PreVote refused, nobody changes term
    assert nt.raft(1).state == L and nt.raft(1).term == 1
    assert nt.raft(3).state == F


def test_without_prevote_rejoining_node_disrupts() -> None:
    nt = Network(None, None, None)
    nt.send(hup(1))
    nt.isolate(3)
    nt.send(hup(3), hup(3))
    assert nt.raft(3).term == 3
    nt.recover()
    nt.send(hup(3))
    # its higher-term vote request deposes the working leader
    assert nt.raft(1).state == F and nt.raft(1).term == 4


def test_check_quorum_leader_steps_down() -> None:
    nt = Network(None, None, None, check_quorum=True)
    nt.send(hup(1))
    r = nt.raft(1)
    nt.isolate(1)
    for _ in range(2 * r.election_timeout + 1):
        r.tick()
    assert r.state == F and r.lead == NONE


def test_check_quorum_lease_ignores_votes() -> None:
    nt = Network(None, None, None, check_quorum=True)
    nt.send(hup(1))
    f = nt.raft(2)
    # 2 just heard from its leader: a vote for a higher term is ignored outright
    f.step(Message(MT.MsgVote, frm=3, to=2, term=5, index=10, log_term=5))
    assert f.term == 1 and read_messages(f) == []
    # unless it is a leadership transfer
    f.step(Message(MT.MsgVote, frm=3, to=2, term=5, index=10, log_term=5, context=CAMPAIGN_TRANSFER))
    assert f.term == 5 and f.vote == 3


def test_candidate_falls_back_on_append_from_leader() -> None:
    r = new_raft(1, [1, 2, 3])
    r.become_candidate()
    r.step(Message(MT.MsgApp, frm=2, to=1, term=1))
    assert r.state == F and r.lead == 2


def test_stale_leader_learns_newer_term_from_app_resp() -> None:
    r = new_raft(1, [1, 2, 3], check_quorum=True)
    r.term = 5
    r.step(Message(MT.MsgApp, frm=2, to=1, term=3))
    m = read_messages(r)[-1]
    assert m.type == MT.MsgAppResp and m.term == 5 and m.to == 2


# ----- replication ---------------------------------------------------------------------

def test_log_replication_and_commit() -> None:
    nt = Network(None, None, None)
    nt.send(hup(1))
    nt.send(prop(1, b"a"), prop(2, b"b"))  # 2 forwards its proposal to the leader
    for i in (1, 2, 3):
        log = nt.raft(i).raft_log
        assert log.committed == 3
        assert [e.data for e in log.all_entries()] == [b"", b"a", b"b"]


def test_follower_resolves_conflicting_entries() -> None:
    """Figure 7: the leader overwrites a follower's uncommitted conflicting suffix."""
    lead = new_raft(1, [1, 2])
    lead.raft_log.append([Entry(1, 1), Entry(1, 2), Entry(3, 3)])
    lead.term = 3
    follower = new_raft(2, [1, 2])
    follower.raft_log.append([Entry(1, 1), Entry(2, 2), Entry(2, 3), Entry(2, 4)])
    follower.term = 2
    nt = Network(lead, follower)
    nt.send(hup(1))
    want = [(e.index, e.term) for e in lead.raft_log.all_entries()]
    assert [(e.index, e.term) for e in follower.raft_log.all_entries()] == want
    assert follower.raft_log.committed == lead.raft_log.committed == 4


def test_reject_then_probe_backs_off_to_hint() -> None:
    r = new_raft(1, [1, 2])
    r.raft_log.append([Entry(1, i) for i in range(1, 11)])
    r.become_candidate()
    r.become_leader()
    read_messages(r)
    r.prs.progress[2].next = 12
    r.step(Message(MT.MsgAppResp, frm=2, to=1, term=r.term, index=11, reject=True, reject_hint=3))
    assert r.prs.progress[2].next == 4
    m = read_messages(r)[-1]
    assert m.type == MT.MsgApp and m.index == 3


def test_commit_only_entries_of_current_term() -> None:
    """Figure 8: a leader does not commit an older-term entry by counting replicas."""
    r = new_raft(1, [1, 2, 3])
    r.raft_log.append([Entry(1, 1), Entry(2, 2)])
    r.term = 2
    r.become_candidate()  # term 3
    r.become_leader()  # appends its empty entry at index 3
    read_messages(r)
    r.step(Message(MT.MsgAppResp, frm=2, to=1, term=3, index=2))
    assert r.raft_log.committed == 0  # index 2 is of term 2: not committed by counting
    r.step(Message(MT.MsgAppResp, frm=2, to=1, term=3, index=3))
    assert r.raft_log.committed == 3  # committing index 3 commits 2 indirectly


def test_batching_respects_max_size_per_msg() -> None:
    r = new_raft(1, [1, 2], max_size_per_msg=250)
    r.become_candidate()
    r.become_leader()
    pr = r.prs.progress[2]
    pr.probe_sent = True  # paused: proposals pile up
    for _ in range(9):
        r.step(prop(1, b"x" * 100))
    assert not [m for m in read_messages(r) if m.type == MT.MsgApp]
    pr.maybe_update(1)
    pr.become_replicate()
    while r.maybe_send_append(2, send_if_empty=False):
        pass
    apps = read_messages(r)
    # each entry costs 112 bytes: two fit in 250, three do not
    assert [len(m.entries) for m in apps] == [2, 2, 2, 2, 1]
    assert [e.index for m in apps for e in m.entries] == list(range(2, 11))


def test_pipelining_is_bounded_by_inflights() -> None:
    r = new_raft(1, [1, 2], max_inflight_msgs=3)
    r.become_candidate()
    r.become_leader()
    pr = r.prs.progress[2]
    pr.become_replicate()
    read_messages(r)
    for _ in range(5):
        r.step(prop(1))
    apps = [m for m in read_messages(r) if m.type == MT.MsgApp]
    assert len(apps) == 3 and pr.is_paused()
    # an ack frees the window and the leader sends the rest
    r.step(Message(MT.MsgAppResp, frm=2, to=1, term=r.term, index=apps[-1].entries[-1].index))
    more = [m for m in read_messages(r) if m.type == MT.MsgApp and m.entries]
    assert more and more[-1].entries[-1].index == r.raft_log.last_index()


def test_probe_state_sends_one_message_until_acked() -> None:
    r = new_raft(1, [1, 2])
    r.become_candidate()
    r.become_leader()
    read_messages(r)
    assert r.prs.progress[2].state == ProgressState.PROBE
    r.step(prop(1))
    r.step(prop(1))
    assert len([m for m in read_messages(r) if m.type == MT.MsgApp]) == 1
    # a heartbeat response unpauses the probe
    r.step(Message(MT.MsgHeartbeatResp, frm=2, to=1, term=r.term))
    assert [m.type for m in read_messages(r)] == [MT.MsgApp]


def test_unreachable_moves_replicate_to_probe() -> None:
    nt = Network(None, None)
    nt.send(hup(1))
    r = nt.raft(1)
    assert r.prs.progress[2].state == ProgressState.REPLICATE
    r.step(Message(MT.MsgUnreachable, frm=2, to=1))
    assert r.prs.progress[2].state == ProgressState.PROBE


# ----- read index ----------------------------------------------------------------------

def test_read_index_on_leader_needs_heartbeat_quorum() -> None:
    nt = Network(None, None, None)
    nt.send(hup(1))
    r = nt.raft(1)
    nt.ignore(MT.MsgHeartbeatResp)
    nt.send(Message(MT.MsgReadIndex, to=1, frm=1, entries=[Entry(data=b"ctx1")]))
    assert r.read_states == []
    nt.recover()
    nt.send(Message(MT.MsgReadIndex, to=1, frm=1, entries=[Entry(data=b"ctx2")]))
    # the quorum ack for ctx2 also releases the earlier ctx1
    assert r.read_states == [ReadState(1, b"ctx1"), ReadState(1, b"ctx2")]


def test_read_index_forwarded_from_follower() -> None:
    nt = Network(None, None, None)
    nt.send(hup(1))
    nt.send(prop(1))
    nt.send(Message(MT.MsgReadIndex, to=2, frm=2, entries=[Entry(data=b"q")]))
    assert nt.raft(2).read_states == [ReadState(2, b"q")]
    assert nt.raft(1).read_states == []


def test_read_index_waits_for_commit_in_term() -> None:
    r = new_raft(1, [1, 2, 3])
    r.become_candidate()
    r.become_leader()
    read_messages(r)
    r.step(Message(MT.MsgReadIndex, frm=1, entries=[Entry(data=b"early")]))
    assert not [m for m in read_messages(r) if m.type == MT.MsgHeartbeat]
    r.step(Message(MT.MsgAppResp, frm=2, to=1, term=r.term, index=1))
    assert r.raft_log.committed == 1
    hbs = [m for m in read_messages(r) if m.type == MT.MsgHeartbeat]
    assert hbs and hbs[0].context == b"early"
    r.step(Message(MT.MsgHeartbeatResp, frm=2, to=1, term=r.term, context=b"early"))
    assert r.read_states == [ReadState(1, b"early")]


def test_read_index_dropped_without_leader() -> None:
    r = new_raft(2, [1, 2, 3])
    r.step(Message(MT.MsgReadIndex, frm=2, entries=[Entry(data=b"q")]))
    assert r.msgs == [] and r.read_states == []


# ----- leadership transfer ---------------------------------------------------------------

def test_leader_transfer_to_up_to_date_node() -> None:
    nt = Network(None, None, None, check_quorum=True, pre_vote=True)
    nt.send(hup(1))
    nt.send(Message(MT.MsgTransferLeader, to=1, frm=2))
    assert nt.raft(1).state == F and nt.raft(2).state == L
    assert nt.raft(2).term == 2 and nt.raft(1).lead == 2


def test_leader_transfer_to_lagging_node_catches_it_up_first() -> None:
    nt = Network(None, None, None)
    nt.send(hup(1))
    nt.isolate(3)
    nt.send(prop(1))
    nt.recover()
    lead = nt.raft(1)
    nt.ignore(MT.MsgApp)
    nt.send(Message(MT.MsgTransferLeader, to=1, frm=3))
    assert lead.lead_transferee == 3 and lead.state == L
    with pytest.raises(ProposalDropped):
        lead.step(prop(1))
    nt.recover()
    nt.send(Message(MT.MsgHeartbeat, to=3, frm=1, term=lead.term))
    assert nt.raft(3).state == L and lead.state == F


def test_leader_transfer_aborts_after_election_timeout() -> None:
    nt = Network(None, None, None)
    nt.send(hup(1))
    nt.isolate(3)
    lead = nt.raft(1)
    nt.send(Message(MT.MsgTransferLeader, to=1, frm=3))
    assert lead.lead_transferee == 3
    for _ in range(lead.election_timeout):
        lead.tick()
    assert lead.lead_transferee == NONE and lead.state == L


def test_transfer_to_self_or_learner_is_ignored() -> None:
    r = new_raft(1, [1, 2], learners=[3])
    r.become_candidate()
    r.become_leader()
    r.step(Message(MT.MsgTransferLeader, frm=1, to=1))
    r.step(Message(MT.MsgTransferLeader, frm=3, to=1))
    assert r.lead_transferee == NONE


# ----- snapshots -------------------------------------------------------------------------

def test_snapshot_sent_to_lagging_follower() -> None:
    nt = Network(None, None, None)
    nt.send(hup(1))
    nt.isolate(3)
    for _ in range(5):
        nt.send(prop(1))
    lead = nt.raft(1)
    st = lead.raft_log.storage
    st.append(lead.raft_log.unstable_entries())
    lead.raft_log.stable_to(lead.raft_log.last_index(), lead.term)
    lead.raft_log.applied_to(lead.raft_log.committed)
    st.create_snapshot(lead.raft_log.applied, ConfState((1, 2, 3)), b"state")
    st.compact(lead.raft_log.applied)
    nt.recover()
    lead.prs.progress[3].recent_active = True
    lead.prs.progress[3].become_probe()
    lead.prs.progress[3].next = 2
    lead.send_append(3)
    msgs = read_messages(lead)
    assert msgs[0].type == MT.MsgSnap and msgs[0].snapshot is not None
    assert lead.prs.progress[3].state == ProgressState.SNAPSHOT
    nt.send(*msgs)
    f = nt.raft(3)
    assert f.raft_log.committed == 6 and f.raft_log.unstable.snapshot is not None
    # the follower's ack ends the snapshot state
    assert lead.prs.progress[3].state == ProgressState.REPLICATE
    assert lead.prs.progress[3].match == 6


def test_snapshot_failure_report_goes_back_to_probe() -> None:
    r = new_raft(1, [1, 2])
    r.become_candidate()
    r.become_leader()
    pr = r.prs.progress[2]
    pr.become_snapshot(11)
    r.step(Message(MT.MsgSnapStatus, frm=2, to=1, reject=True))
    assert pr.state == ProgressState.PROBE and pr.pending_snapshot == 0 and pr.next == 1
    assert pr.probe_sent  # wait for a heartbeat response before probing again
    pr.become_snapshot(11)
    r.step(Message(MT.MsgSnapStatus, frm=2, to=1))
    assert pr.state == ProgressState.PROBE and pr.next == 12


def test_follower_restores_snapshot_and_config() -> None:
    r = new_raft(1, [1, 2])
    snap = Snapshot(SnapshotMetadata(11, 11, ConfState((1, 2, 3))), b"d")
    r.step(Message(MT.MsgSnap, frm=2, to=1, term=2, snapshot=snap))
    assert r.raft_log.committed == 11 and r.raft_log.last_index() == 11
    assert r.prs.voters == {1, 2, 3}
    assert read_messages(r)[-1].index == 11
    # an older or known snapshot is not restored again
    assert not r.restore(snap)


def test_snapshot_not_containing_self_is_refused() -> None:
    r = new_raft(1, [1, 2])
    snap = Snapshot(SnapshotMetadata(11, 11, ConfState((2, 3))), b"d")
    assert not r.restore(snap)


# ----- membership --------------------------------------------------------------------------

def test_add_and_remove_node() -> None:
    r = new_raft(1, [1])
    r.apply_conf_change(ConfChange(ConfChangeType.ADD_NODE, 2))
    assert r.prs.voters == {1, 2}
    cs = r.apply_conf_change(ConfChange(ConfChangeType.REMOVE_NODE, 2))
    assert cs.voters == (1,)


def test_add_learner_then_promote() -> None:
    r = new_raft(1, [1])
    cs = r.apply_conf_change(ConfChange(ConfChangeType.ADD_LEARNER_NODE, 2))
    assert cs.learners == (2,) and cs.voters == (1,)
    cs = r.apply_conf_change(ConfChange(ConfChangeType.ADD_NODE, 2))
    assert cs.voters == (1, 2) and cs.learners == ()


def test_learner_does_not_campaign() -> None:
    r = new_raft(2, [1], learners=[2])
    for _ in range(30):
        r.tick()
    assert r.state == F and r.msgs == []


def test_only_one_pending_conf_change() -> None:
    r = new_raft(1, [1, 2])
    r.raft_log.append([Entry(1, 1)])
    r.become_candidate()
    r.become_leader()
    cc = Entry(type=EntryType.CONF_CHANGE, data=ConfChange(ConfChangeType.ADD_NODE, 3).encode())
    # the leader's own uncommitted tail may hold a conf change: wait for it to apply
    r.step(Message(MT.MsgProp, frm=1, entries=[cc]))
    assert r.raft_log.all_entries()[-1].type == EntryType.NORMAL
    r.raft_log.commit_to(3)
    r.raft_log.applied_to(3)
    r.step(Message(MT.MsgProp, frm=1, entries=[cc, cc]))
    ents = r.raft_log.all_entries()
    assert [e.type for e in ents[-2:]] == [EntryType.CONF_CHANGE, EntryType.NORMAL]
    assert r.pending_conf_index == ents[-2].index


def test_no_campaign_with_unapplied_conf_change() -> None:
    r = new_raft(1, [1, 2])
    r.raft_log.append([Entry(1, 1, EntryType.CONF_CHANGE, b"")])
    r.raft_log.commit_to(1)
    r.step(hup(1))
    assert r.state == F


def test_removing_follower_commits_with_smaller_quorum() -> None:
    r = new_raft(1, [1, 2, 3])
    r.become_candidate()
    r.become_leader()
    r.step(Message(MT.MsgAppResp, frm=2, to=1, term=r.term, index=1))
    r.step(prop(1))
    assert r.raft_log.committed == 1
    r.apply_conf_change(ConfChange(ConfChangeType.REMOVE_NODE, 2))
    r.apply_conf_change(ConfChange(ConfChangeType.REMOVE_NODE, 3))
    assert r.raft_log.committed == 2


def test_removed_leader_steps_down_and_others_elect() -> None:
    nt = Network(None, None, None)
    nt.send(hup(1))
    for i in (1, 2, 3):
        nt.raft(i).apply_conf_change(ConfChange(ConfChangeType.REMOVE_NODE, 1))
    lead = nt.raft(1)
    assert lead.state == F and lead.lead == NONE and not lead.promotable()
    with pytest.raises(ProposalDropped):
        lead.step(prop(1))
    nt.send(*read_messages(lead))
    nt.send(hup(2))
    assert nt.raft(2).state == L and nt.raft(2).prs.voters == {2, 3}


def test_removed_node_leaving_transfer_aborts() -> None:
    nt = Network(None, None, None)
    nt.send(hup(1))
    nt.isolate(3)
    nt.send(Message(MT.MsgTransferLeader, to=1, frm=3))
    lead = nt.raft(1)
    assert lead.lead_transferee == 3
    lead.apply_conf_change(ConfChange(ConfChangeType.REMOVE_NODE, 3))
    assert lead.lead_transferee == NONE


def test_storage_with_peers_helper_sets_config() -> None:
    assert storage_with_peers([1, 2]).initial_state()[1].voters == (1, 2)
