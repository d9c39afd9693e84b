"""What a leader knows of each follower (after etcd's raft/tracker): `Inflights` (the window
of un-acked MsgApp), `Progress` (match/next and the probe/replicate/snapshot state machine)
and `ProgressTracker` (the voters, learners, votes and quorum arithmetic)."""

from __future__ import annotations

from collections import deque
from enum import Enum, IntEnum

from .types import ConfState


class ProgressState(IntEnum):
    PROBE = 0
    REPLICATE = 1
    SNAPSHOT = 2


class VoteResult(Enum):
    PENDING = 0
    LOST = 1
    WON = 2


class Inflights:
    """The last indexes of the MsgApp sent and not yet acknowledged, oldest first; at most
    `size` of them (flow control for pipelined replication)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._buf: deque[int] = deque()

    def __len__(self) -> int:
        return len(self._buf)

    def add(self, index: int) -> None:
        if self.full():
            raise AssertionError("cannot add into a full inflights")
        self._buf.append(index)

    def free_le(self, to: int) -> None:
        """Forget the messages whose last index is <= to."""
        while self._buf and self._buf[0] <= to:
            self._buf.popleft()

    def free_first_one(self) -> None:
        if self._buf:
            self._buf.popleft()

    def full(self) -> bool:
        return len(self._buf) >= self.size

    def reset(self) -> None:
        self._buf.clear()


class Progress:
    def __init__(self, next_index: int, max_inflight: int, match: int = 0,
                 is_learner: bool = False) -> None:
        self.match = match
        self.next = next_index
        self.state = ProgressState.PROBE
        self.pending_snapshot = 0
        self.recent_active = False
        self.probe_sent = False
        self.is_learner = is_learner
        self.inflights = Inflights(max_inflight)

    def __repr__(self) -> str:
        return (f"Progress(match={self.match}, next={self.next}, state={self.state.name}, "
                f"pending_snapshot={self.pending_snapshot}, inflight={len(self.inflights)})")

    def _reset_state(self, state: ProgressState) -> None:
        self.probe_sent = False
        self.pending_snapshot = 0
        self.state = state
        self.inflights.reset()

    def become_probe(self) -> None:
        if self.state == ProgressState.SNAPSHOT:
            pending = self.pending_snapshot
            self._reset_state(ProgressState.PROBE)
            self.next = max(self.match + 1, pending + 1)
        else:
            self._reset_state(ProgressState.PROBE)
            self.next = self.match + 1

    def become_replicate(self) -> None:
        self._reset_state(ProgressState.REPLICATE)
        self.next = self.match + 1

    def become_snapshot(self, snapshot_index: int) -> None:
        self._reset_state(ProgressState.SNAPSHOT)
        self.pending_snapshot = snapshot_index

    def maybe_update(self, n: int) -> bool:
        """The follower acknowledged everything up to n; false if that is old news."""
        updated = False
        if self.match < n:
            self.match = n
            updated = True
            self.probe_sent = False
        self.next = max(self.next, n + 1)
        return updated

    def optimistic_update(self, n: int) -> None:
        self.next = n + 1

    def maybe_decr_to(self, rejected: int, last: int) -> bool:
        """A MsgApp at index `rejected` was refused; the follower's last index is `last`.
        Returns false if the rejection is stale."""
        if self.state == ProgressState.REPLICATE:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, last + 1), 1)
        self.probe_sent = False
        return True

    def is_paused(self) -> bool:
        if self.state == ProgressState.PROBE:
            return self.probe_sent
        if self.state == ProgressState.REPLICATE:
            return self.inflights.full()
        return True


class ProgressTracker:
    """The configuration (voters and learners), each member's Progress, and the votes
    of the current election. Quorum is a simple majority of the voters."""

    def __init__(self, max_inflight: int) -> None:
        self.max_inflight = max_inflight
        self.voters: set[int] = set()
        self.learners: set[int] = set()
        self.progress: dict[int, Progress] = {}
        self.votes: dict[int, bool] = {}

    def conf_state(self) -> ConfState:
        return ConfState(tuple(sorted(self.voters)), tuple(sorted(self.learners)))

    def is_singleton(self) -> bool:
        return len(self.voters) == 1

    def quorum(self) -> int:
        return len(self.voters) // 2 + 1

    def set_progress(self, node: int, match: int, next_index: int, is_learner: bool) -> None:
        (self.learners if is_learner else self.voters).add(node)
        self.progress[node] = Progress(next_index, self.max_inflight, match, is_learner)

    def promote(self, node: int) -> None:
        self.learners.discard(node)
        self.voters.add(node)
        self.progress[node].is_learner = False

    def remove(self, node: int) -> None:
        self.voters.discard(node)
        self.learners.discard(node)
        self.progress.pop(node, None)

    def committed(self) -> int:
        """The largest index that a majority of voters has matched."""
        if not self.voters:
            return 0
        matches = sorted((self.progress[v].match for v in self.voters), reverse=True)
        return matches[self.quorum() - 1]

    def quorum_active(self) -> bool:
        """Whether a majority of voters has been heard from recently."""
        active = sum(1 for v in self.voters if self.progress[v].recent_active)
        return active >= self.quorum()

    def vote_result(self, votes: dict[int, bool]) -> VoteResult:
        granted = sum(1 for v in self.voters if votes.get(v) is True)
        missing = sum(1 for v in self.voters if v not in votes)
        if granted >= self.quorum():
            return VoteResult.WON
        if granted + missing >= self.quorum():
            return VoteResult.PENDING
        return VoteResult.LOST

    def record_vote(self, node: int, granted: bool) -> None:
        self.votes.setdefault(node, granted)

    def tally_votes(self) -> tuple[int, int, VoteResult]:
        """(granted, rejected, result) among the voters' recorded votes."""
        granted = sum(1 for v in self.voters if self.votes.get(v) is True)
        rejected = sum(1 for v in self.voters if self.votes.get(v) is False)
        return granted, rejected, self.vote_result(self.votes)

    def reset_votes(self) -> None:
        self.votes = {}
