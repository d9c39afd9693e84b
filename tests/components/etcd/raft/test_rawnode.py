"""RawNode: the Ready cycle, bootstrap, restart from storage, proposals, status."""

from __future__ import annotations

import random

import pytest

from kubesim.components.etcd.raft import (
    ConfChange,
    ConfChangeType,
    Config,
    EntryType,
    HardState,
    MemoryStorage,
    Message,
    MessageType,
    ProposalDropped,
    RawNode,
    Ready,
    StateType,
    bootstrap,
)


def persist_and_advance(rn: RawNode, st: MemoryStorage) -> list[Ready]:
    """Run the Ready contract until quiet; apply conf changes. Returns the Readies."""
    out = []
    while rn.has_ready():
        rd = rn.ready()
        if rd.snapshot is not None:
            st.apply_snapshot(rd.snapshot)
        st.append(rd.entries)
        if rd.hard_state is not None:
            st.set_hard_state(rd.hard_state)
        for e in rd.committed_entries:
            if e.type == EntryType.CONF_CHANGE:
                rn.apply_conf_change(ConfChange.decode(e.data))
        rn.advance(rd)
        out.append(rd)
    return out


def single_node() -> tuple[RawNode, MemoryStorage]:
    st = MemoryStorage()
    bootstrap(st, [1])
    rn = RawNode(Config(id=1, rng=random.Random(1)), st)
    persist_and_advance(rn, st)
    return rn, st


def test_bootstrap_writes_committed_conf_changes() -> None:
    st = MemoryStorage()
    bootstrap(st, [1, 2, 3])
    assert st.last_index() == 3 and st.hard_state == HardState(1, 0, 3)
    with pytest.raises(ValueError):
        bootstrap(st, [1])
    rn = RawNode(Config(id=1), st)
    rd = rn.ready()
    assert [ConfChange.decode(e.data).node_id for e in rd.committed_entries] == [1, 2, 3]
    assert rd.entries == [] and rd.hard_state is None


def test_single_node_campaign_propose_commit() -> None:
    rn, st = single_node()
    rn.campaign()
    rds = persist_and_advance(rn, st)
    assert rds[0].soft_state is not None and rds[0].soft_state.raft_state == StateType.LEADER
    assert rds[0].must_sync and rds[0].hard_state == HardState(2, 1, 2)
    rn.propose(b"hello")
    rd = rn.ready()
    assert [e.data for e in rd.entries] == [b"hello"]
    assert [e.data for e in rd.committed_entries] == [b"hello"]
    assert rd.soft_state is None
    rn.advance(rd)
    st.append(rd.entries)
    assert not rn.has_ready()
    status = rn.status()
    assert status.applied == 3 and status.progress[1].match == 3


def test_read_index_single_node() -> None:
    rn, st = single_node()
    rn.campaign()
    persist_and_advance(rn, st)
    rn.read_index(b"ctx")
    rd = rn.ready()
    assert [(r.index, r.request_ctx) for r in rd.read_states] == [(2, b"ctx")]
    rn.advance(rd)
    assert not rn.has_ready()


def test_propose_without_leader_is_dropped() -> None:
    st = MemoryStorage()
    bootstrap(st, [1, 2, 3])
    rn = RawNode(Config(id=1), st)
    with pytest.raises(ProposalDropped):
        rn.propose(b"x")


def test_step_refuses_local_messages_and_ignores_unknown_responders() -> None:
    rn, _ = single_node()
    with pytest.raises(ValueError):
        rn.step(Message(MessageType.MsgHup, frm=2, to=1))
    rn.step(Message(MessageType.MsgAppResp, frm=9, to=1, term=5))
    assert rn.raft.term == 1


def test_restart_resumes_from_storage() -> None:
    rn, st = single_node()
    rn.campaign()
    persist_and_advance(rn, st)
    for i in range(5):
        rn.propose(b"v%d" % i)
    persist_and_advance(rn, st)
    st.create_snapshot(5, rn.raft.prs.conf_state(), b"snapdata")
    st.compact(5)
    rn2 = RawNode(Config(id=1, applied=5), st)
    r = rn2.raft
    assert r.term == 2 and r.vote == 1 and r.raft_log.committed == 7
    assert r.prs.voters == {1} and r.state == StateType.FOLLOWER
    rd = rn2.ready()
    assert [e.data for e in rd.committed_entries] == [b"v3", b"v4"]
    assert rd.hard_state is None  # nothing new to persist


def test_restart_unpersisted_entries_are_lost() -> None:
    rn, st = single_node()
    rn.campaign()
    persist_and_advance(rn, st)
    rn.propose(b"lost")
    rn.ready()  # crash before persisting
    rn2 = RawNode(Config(id=1), st)
    assert rn2.raft.raft_log.last_index() == 2


def test_add_node_then_new_member_catches_up() -> None:
    rn, st = single_node()
    rn.campaign()
    persist_and_advance(rn, st)
    rn.propose_conf_change(ConfChange(ConfChangeType.ADD_NODE, 2))
    rds = persist_and_advance(rn, st)
    assert rn.raft.prs.voters == {1, 2}
    st2 = MemoryStorage()
    rn2 = RawNode(Config(id=2, rng=random.Random(2)), st2)
    msgs = [m for rd in rds for m in rd.messages]
    nodes = {1: (rn, st), 2: (rn2, st2)}
    for _ in range(20):
        rn.tick()
        msgs += [m for rd in persist_and_advance(rn, st) for m in rd.messages]
        while msgs:
            m = msgs.pop(0)
            node, storage = nodes[m.to]
            node.step(m)
            msgs += [x for rd in persist_and_advance(node, storage) for x in rd.messages]
    assert rn2.raft.raft_log.committed == rn.raft.raft_log.committed == 3
    assert rn2.raft.prs.voters == {1, 2} and rn2.raft.lead == 1


def test_transfer_and_status() -> None:
    rn, _ = single_node()
    rn.campaign()
    s = rn.status()
    assert s.id == 1 and s.soft_state.raft_state == StateType.LEADER and s.lead_transferee == 0
    rn.report_unreachable(1)
    rn.report_snapshot(1, failed=False)
    rn.transfer_leadership(1)
    assert rn.status().lead_transferee == 0
