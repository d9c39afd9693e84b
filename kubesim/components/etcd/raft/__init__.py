"""etcd's Raft (go.etcd.io/etcd/raft v3.4) as a pure state machine: no I/O, no clock, no
threads. The member actor feeds it ticks and messages through `RawNode` and carries out
the `Ready` values it returns (persist, send, apply). All randomness comes from
`Config.rng`, so a seeded run replays exactly."""

from .log import RaftLog
from .progress import Inflights, Progress, ProgressState, ProgressTracker
from .raft import Config, ProposalDropped, Raft
from .rawnode import PeerProgress, RawNode, Ready, Status, bootstrap
from .read_only import ReadOnlyOption
from .storage import Compacted, MemoryStorage, SnapOutOfDate, StorageError, Unavailable
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
    SnapshotMetadata,
    SoftState,
    StateType,
)

__all__ = [
    "NONE", "Compacted", "ConfChange", "ConfChangeType", "ConfState", "Config", "Entry",
    "EntryType", "HardState", "Inflights", "MemoryStorage", "Message", "MessageType",
    "PeerProgress", "Progress", "ProgressState", "ProgressTracker", "ProposalDropped", "Raft",
    "RaftLog", "RawNode", "ReadOnlyOption", "ReadState", "Ready", "SnapOutOfDate", "Snapshot",
    "SnapshotMetadata", "SoftState", "StateType", "Status", "StorageError", "Unavailable",
    "bootstrap",
]
