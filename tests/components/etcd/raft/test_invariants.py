"""The invariant checker reports broken histories (so a passing safety run means something)."""

from __future__ import annotations

from kubesim.components.etcd.raft.invariants import (
    Applied,
    History,
    Leadership,
    LogEntry,
    check_all,
    check_applied,
    check_election_safety,
    check_leader_completeness,
    check_log_matching,
    check_prefix_agreement,
    check_reads,
    commit_terms,
)


def e(index: int, term: int, data: bytes = b"") -> LogEntry:
    return LogEntry(index, term, data)


def test_two_leaders_in_one_term() -> None:
    v = check_election_safety([Leadership(1, 3, {}), Leadership(2, 3, {}), Leadership(1, 4, {})])
    assert len(v) == 1 and "term 3" in v[0]


def test_divergent_applied_entries() -> None:
    v = check_applied([Applied(1, 1, e(1, 1, b"a")), Applied(2, 1, e(1, 1, b"b"))])
    assert len(v) == 1 and "state machine safety" in v[0]


def test_out_of_order_apply() -> None:
    v = check_applied([Applied(1, 1, e(2, 1)), Applied(1, 1, e(1, 1))])
    assert v and "apply order" in v[0]
    # a restart (new incarnation) may apply again from the start
    assert check_applied([Applied(1, 1, e(2, 1)), Applied(1, 2, e(1, 1))]) == []


def test_log_matching_violation() -> None:
    logs = {1: {1: e(1, 1, b"x"), 2: e(2, 2)}, 2: {1: e(1, 1, b"y"), 2: e(2, 2)}}
    assert check_log_matching(logs)
    assert check_log_matching({1: {1: e(1, 1), 2: e(2, 2)}, 2: {1: e(1, 1), 2: e(2, 3)}}) == []


def test_leader_completeness_violation() -> None:
    h = History(commits=[(1, 2, 5)], applied=[Applied(1, 1, e(5, 2))],
                leaderships=[Leadership(2, 3, {4: 2})])
    assert commit_terms(h.commits)[5] == 2
    assert check_leader_completeness(h)
    h.leaderships = [Leadership(2, 3, {5: 2}), Leadership(3, 2, {})]
    assert check_leader_completeness(h) == []


def test_prefix_agreement_and_reads() -> None:
    assert check_prefix_agreement({1: [e(1, 1), e(2, 1)], 2: [e(1, 1)]}) == []
    assert check_prefix_agreement({1: [e(1, 1), e(2, 1)], 2: [e(1, 2)]})
    assert check_reads([(1, 5, 4)]) and check_reads([(1, 5, 5)]) == []


def test_check_all_collects_everything() -> None:
    h = History(leaderships=[Leadership(1, 1, {}), Leadership(2, 1, {})],
                applied=[Applied(1, 1, e(1, 1, b"a")), Applied(2, 1, e(1, 1, b"b"))],
                states={1: [e(1, 1, b"a")], 2: [e(1, 1, b"b")]})
    kinds = {v.split(":")[0] for v in check_all(h)}
    assert kinds == {"election safety", "state machine safety", "prefix agreement"}
