"""Raft's safety properties as pure checks over what a test observed of each node.

A test (the in-memory harness here, or the member-level simulation) records into a
`History`: who became leader in which term and with what log, each (term, commit) a node
reported, each entry it applied, and at the end every node's log and state machine
contents. Each `check_*` function returns a list of human-readable violations (empty when
the property holds); `check_all` runs them all.

Properties (Raft paper, Figure 3): election safety (at most one leader per term), log
matching (same index and term imply identical prefixes), leader completeness (an entry
committed in term t is in the log of every leader of a term > t), state machine safety
(no two nodes apply different entries at one index; a node applies in index order; the
state machines are prefixes of one another), and linearizable ReadIndex.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LogEntry:
    index: int
    term: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Leadership:
    """`node` became leader of `term` holding `log` (index -> term) above `floor`, the index
    up to which its log was compacted into a snapshot."""

    node: int
    term: int
    log: Mapping[int, int]
    floor: int = 0


@dataclass(frozen=True, slots=True)
class Applied:
    """`node`, in its `incarnation`-th life (restarts count up), applied `entry`."""

    node: int
    incarnation: int
    entry: LogEntry


@dataclass(slots=True)
class History:
    leaderships: list[Leadership] = field(default_factory=list)
    commits: list[tuple[int, int, int]] = field(default_factory=list)
    """(node, term, commit) as reported together by a node."""
    applied: list[Applied] = field(default_factory=list)
    logs: dict[int, dict[int, LogEntry]] = field(default_factory=dict)
    """Each node's log at the end (index -> entry)."""
    states: dict[int, Sequence[LogEntry]] = field(default_factory=dict)
    """Each node's state machine at the end: the entries it holds, in applied order."""
    reads: list[tuple[int, int, int]] = field(default_factory=list)
    """(node, min_index, index) per ReadState: the highest index known committed anywhere
    when the read was requested, and the read index Raft answered."""


def check_election_safety(leaderships: Sequence[Leadership]) -> list[str]:
    by_term: dict[int, set[int]] = defaultdict(set)
    for ld in leaderships:
        by_term[ld.term].add(ld.node)
    return [f"election safety: term {t} has leaders {sorted(ns)}"
            for t, ns in sorted(by_term.items()) if len(ns) > 1]


def check_log_matching(logs: Mapping[int, Mapping[int, LogEntry]]) -> list[str]:
    """If two logs hold an entry with the same index and term, they agree up to it."""
    out: list[str] = []
    nodes = sorted(logs)
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            la, lb = logs[a], logs[b]
            common = sorted(set(la) & set(lb), reverse=True)
            top = next((k for k in common if la[k].term == lb[k].term), None)
            if top is None:
                continue
            for k in common:
                if k <= top and la[k] != lb[k]:
                    out.append(f"log matching: nodes {a} and {b} agree at index {top} "
                               f"but differ at {k}: {la[k]} vs {lb[k]}")
                    break
    return out


def commit_terms(commits: Sequence[tuple[int, int, int]]) -> dict[int, int]:
    """For each index, the lowest term in which some node reported it committed: an upper
    bound of the term in which it was committed."""
    best: dict[int, int] = {}
    for _node, term, commit in commits:
        if commit and best.get(commit, term + 1) > term:
            best[commit] = term
    out: dict[int, int] = {}
    low: int | None = None
    for index in range(max(best, default=0), 0, -1):
        if index in best and (low is None or best[index] < low):
            low = best[index]
        if low is not None:
            out[index] = low
    return out


def check_leader_completeness(history: History) -> list[str]:
    committed: dict[int, LogEntry] = {a.entry.index: a.entry for a in history.applied}
    cterm = commit_terms(history.commits)
    out: list[str] = []
    for ld in history.leaderships:
        for index, entry in sorted(committed.items()):
            if index <= ld.floor or cterm.get(index, ld.term) >= ld.term:
                continue
            if ld.log.get(index) != entry.term:
                out.append(f"leader completeness: {entry} committed by term {cterm[index]} "
                           f"is not in the log of node {ld.node}, leader of term {ld.term}")
    return out


def check_applied(applied: Sequence[Applied]) -> list[str]:
    """Every index is applied with the same entry everywhere; each life of a node applies
    in increasing index order."""
    out: list[str] = []
    first: dict[int, Applied] = {}
    last: dict[tuple[int, int], int] = {}
    for a in applied:
        seen = first.setdefault(a.entry.index, a)
        if seen.entry != a.entry:
            out.append(f"state machine safety: index {a.entry.index} applied as {seen.entry} "
                       f"by node {seen.node} but as {a.entry} by node {a.node}")
        key = (a.node, a.incarnation)
        if key in last and a.entry.index <= last[key]:
            out.append(f"apply order: node {a.node} applied {a.entry.index} after {last[key]}")
        last[key] = a.entry.index
    return out


def check_prefix_agreement(states: Mapping[int, Sequence[LogEntry]]) -> list[str]:
    """Every state machine is a prefix of the longest one."""
    if not states:
        return []
    longest_node = max(states, key=lambda n: len(states[n]))
    longest = states[longest_node]
    out = []
    for node, st in sorted(states.items()):
        if list(st) != list(longest[:len(st)]):
            k = next(i for i, (x, y) in enumerate(zip(st, longest, strict=False)) if x != y)
            out.append(f"prefix agreement: node {node} diverges from node {longest_node} "
                       f"at position {k}: {st[k]} vs {longest[k]}")
    return out


def check_reads(reads: Sequence[tuple[int, int, int]]) -> list[str]:
    """Linearizable reads: a read index covers everything committed before the request."""
    return [f"read index: node {node} got read index {index} but {need} was already committed"
            for node, need, index in reads if index < need]


def check_all(history: History) -> list[str]:
    return (check_election_safety(history.leaderships)
            + check_log_matching(history.logs)
            + check_leader_completeness(history)
            + check_applied(history.applied)
            + check_prefix_agreement(history.states)
            + check_reads(history.reads))
