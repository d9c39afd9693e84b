"""Wire forms of the value types; MemoryStorage; the log; progress and quorum arithmetic."""

from __future__ import annotations

import msgpack
import pytest

from kubesim.components.etcd.raft import (
    Compacted,
    ConfChange,
    ConfChangeType,
    ConfState,
    Entry,
    EntryType,
    HardState,
    Inflights,
    MemoryStorage,
    Message,
    MessageType,
    Progress,
    ProgressState,
    ProgressTracker,
    RaftLog,
    ReadState,
    SnapOutOfDate,
    Snapshot,
    SnapshotMetadata,
    SoftState,
    StateType,
    Unavailable,
)
from kubesim.components.etcd.raft.progress import VoteResult
from kubesim.components.etcd.raft.storage import limit_size


def roundtrip(x):  # type: ignore[no-untyped-def]
    return type(x).from_wire(msgpack.unpackb(msgpack.packb(x.to_wire())))


def test_wire_roundtrips() -> None:
    snap = Snapshot(SnapshotMetadata(5, 2, ConfState((1, 2), (3,))), b"data")
    values = [
        Entry(1, 2, EntryType.CONF_CHANGE, b"x"), HardState(3, 1, 7), ConfState((1, 2, 3)),
        snap, ReadState(4, b"ctx"), SoftState(2, StateType.LEADER),
        ConfChange(ConfChangeType.REMOVE_NODE, 3, b"c"),
        Message(MessageType.MsgApp, to=2, frm=1, term=3, log_term=2, index=4,
                entries=[Entry(3, 5, data=b"d")], commit=4),
        Message(MessageType.MsgSnap, to=2, frm=1, term=3, snapshot=snap),
        Message(MessageType.MsgHeartbeatResp, to=1, frm=2, term=3, context=b"rd"),
    ]
    for v in values:
        assert roundtrip(v) == v
    assert ConfChange.decode(ConfChange(ConfChangeType.ADD_NODE, 9).encode()).node_id == 9
    # trailing default fields are left off the wire
    assert Message(MessageType.MsgBeat, to=1).to_wire() == [1, 1]


def test_memory_storage() -> None:
    s = MemoryStorage()
    s.append([Entry(1, i) for i in range(1, 6)])
    assert (s.first_index(), s.last_index(), s.term(3)) == (1, 5, 1)
    s.append([Entry(2, 4)])  # truncates the conflicting suffix
    assert s.last_index() == 4 and s.term(4) == 2
    s.create_snapshot(3, ConfState((1,)), b"s")
    s.compact(3)
    assert s.first_index() == 4 and s.term(3) == 1
    with pytest.raises(Compacted):
        s.term(2)
    with pytest.raises(Compacted):
        s.entries(3, 5)
    with pytest.raises(Unavailable):
        s.term(9)
    with pytest.raises(SnapOutOfDate):
        s.create_snapshot(2, None, b"")
    s.apply_snapshot(Snapshot(SnapshotMetadata(10, 3, ConfState((1, 2))), b"t"))
    assert (s.first_index(), s.last_index()) == (11, 10)
    assert s.initial_state()[1].voters == (1, 2)
    with pytest.raises(SnapOutOfDate):
        s.apply_snapshot(Snapshot(SnapshotMetadata(9, 3)))


def test_limit_size_keeps_at_least_one() -> None:
    ents = [Entry(1, i, data=b"x" * 100) for i in range(1, 5)]
    assert len(limit_size(ents, 1)) == 1
    assert len(limit_size(ents, 224)) == 2
    assert len(limit_size(ents, None)) == 4


def test_log_append_conflict_and_unstable() -> None:
    s = MemoryStorage()
    s.append([Entry(1, 1), Entry(1, 2)])
    log = RaftLog(s)
    assert log.maybe_append(2, 1, 3, [Entry(2, 3), Entry(2, 4)]) == 4
    assert log.committed == 3 and [e.index for e in log.unstable_entries()] == [3, 4]
    assert log.maybe_append(2, 9, 3, []) is None  # no match at (2, 9)
    assert log.find_conflict([Entry(1, 2), Entry(3, 3)]) == 3
    with pytest.raises(AssertionError):
        log.maybe_append(2, 1, 3, [Entry(3, 3)])  # would overwrite a committed entry
    s.append(log.unstable_entries())
    log.stable_to(4, 2)
    assert log.unstable_entries() == [] and log.unstable.offset == 5
    assert [e.index for e in log.next_ents()] == [1, 2, 3]
    log.applied_to(3)
    assert not log.has_next_ents()
    assert log.is_up_to_date(4, 2) and log.is_up_to_date(1, 3) and not log.is_up_to_date(9, 1)


def test_log_slice_across_storage_and_unstable_with_size() -> None:
    s = MemoryStorage()
    s.append([Entry(1, i, data=b"x" * 88) for i in range(1, 4)])  # 100 bytes each
    log = RaftLog(s)
    log.append([Entry(1, i, data=b"x" * 88) for i in range(4, 7)])
    assert [e.index for e in log.slice(2, 6)] == [2, 3, 4, 5]
    assert [e.index for e in log.slice(2, 6, 250)] == [2, 3]
    assert [e.index for e in log.slice(3, 6, 250)] == [3, 4]
    assert log.entries(7) == []


def test_inflights_and_progress() -> None:
    ins = Inflights(2)
    ins.add(3)
    ins.add(5)
    assert ins.full()
    ins.free_le(3)
    assert len(ins) == 1 and not ins.full()
    ins.free_first_one()
    assert len(ins) == 0

    pr = Progress(next_index=5, max_inflight=4, match=3)
    assert not pr.maybe_decr_to(2, 2)  # stale rejection in probe
    assert pr.maybe_decr_to(4, 1) and pr.next == 2
    pr.maybe_update(4)
    pr.become_replicate()
    assert pr.next == 5 and not pr.maybe_decr_to(3, 10)
    pr.become_snapshot(20)
    assert pr.is_paused() and pr.state == ProgressState.SNAPSHOT
    pr.become_probe()
    assert pr.next == 21


def test_tracker_quorum() -> None:
    t = ProgressTracker(8)
    for n, match in [(1, 5), (2, 3), (3, 1)]:
        t.set_progress(n, match, match + 1, is_learner=False)
    t.set_progress(4, 9, 10, is_learner=True)
    assert t.committed() == 3  # the learner does not count
    t.record_vote(1, True)
    assert t.tally_votes() == (1, 0, VoteResult.PENDING)
    t.record_vote(2, False)
    t.record_vote(3, False)
    assert t.tally_votes()[2] == VoteResult.LOST
    assert t.vote_result({1: True, 3: True}) == VoteResult.WON
    t.progress[2].recent_active = True
    assert not t.quorum_active()
    t.progress[3].recent_active = True
    assert t.quorum_active()
    assert t.conf_state() == ConfState((1, 2, 3), (4,))
