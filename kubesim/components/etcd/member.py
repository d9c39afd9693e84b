"""The etcd member actor: Raft, its WAL and snapshots, the MVCC state machine, leases,
watches and the client-facing service, as etcd 3.4's `etcdserver` arranges them.

The Raft core is pure (`raft/`); this actor drives it: it ticks it every heartbeat
interval, steps it with peers' messages, and handles each `Ready` in order: persist
entries and hard state to the WAL (and fsync, for the modelled time), send messages,
apply committed entries to the state machine, answer the proposals and linearizable
reads waiting on them, then `advance`. A restarted member rebuilds everything from its
snapshot and WAL. Any member takes writes (Raft forwards proposals to the leader);
lease renewals and TTL queries are forwarded to the leader, as in etcd.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import msgpack

from kubesim.components.etcd import errors, sessions
from kubesim.components.etcd.backend import writes
from kubesim.components.etcd.errors import EtcdError
from kubesim.components.etcd.membership import Members
from kubesim.components.etcd.metrics import EtcdMetrics
from kubesim.components.etcd.mvcc import StateMachine
from kubesim.components.etcd.mvcc.store import check_delete_range, check_put, check_range, check_txn
from kubesim.components.etcd.raft import (
    NONE,
    ConfChange,
    ConfChangeType,
    Config,
    ConfState,
    Entry,
    EntryType,
    HardState,
    MemoryStorage,
    Message,
    MessageType,
    ProposalDropped,
    RawNode,
    Ready,
    Snapshot,
    StateType,
    bootstrap,
)
from kubesim.components.etcd.reads import ReadIndexBatcher
from kubesim.components.etcd.sessions import AppliedRequests
from kubesim.components.etcd.settings import EtcdSettings
from kubesim.components.etcd.wal import WAL, recover
from kubesim.components.etcd.watches import WatchServer
from kubesim.components.etcd.wire import Reply, err, ok, unwrap
from kubesim.runtime.actor import Actor
from kubesim.runtime.address import Address
from kubesim.runtime.errors import CallTimeout, RemoteError

VERSION = "3.4.23"
SYNC_WATCHERS_INTERVAL = 0.1  # mvcc watchable_store.go syncWatchersLoop waitDuration
# operations that go through Raft; everything else is served locally or by the leader
_PROPOSED = frozenset(
    {"put", "delete_range", "txn", "compact", "lease_grant", "lease_revoke", "alarm_disarm"}
)
_LEADER_ONLY = frozenset({"lease_keepalive", "lease_timetolive", "lease_leases"})
_MAX_LEASE_TTL = 9_000_000_000


class EtcdMember(Actor):
    """One etcd member. `peers` maps Raft ids to actor addresses of the initial cluster;
    `join=True` starts an empty member that waits to be added by `member add`."""

    def __init__(
        self,
        member_id: int,
        cluster_id: int,
        peers: dict[int, str],
        settings: dict[str, Any] | None = None,
        join: bool = False,
        observer: Callable[[tuple[Any, ...]], None] | None = None,
    ) -> None:
        if join and not peers:
            raise ValueError(
                "a joining member needs the cluster's member addresses"
                " (etcd's --initial-cluster with --initial-cluster-state=existing)"
            )
        self.id = member_id
        self.cluster_id = cluster_id
        self.initial_peers = {int(k): v for k, v in peers.items()}
        self.settings_overrides = settings or {}
        self.join = join
        self._observe = observer  # tests: sees leaderships, commits and applies (sim only)
        self.removed = False
        self.lead = NONE
        self.state = StateType.FOLLOWER
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._request_ids = itertools.count(1)
        self._lease_ids = itertools.count(1)
        self._revoking: set[int] = set()
        self._wake = asyncio.Event()
        self._last_snap_index = 0

    # ------------------------------------------------------------------ start
    def on_start(self) -> Any:
        ctx = self.ctx
        self.settings = EtcdSettings.from_cost(ctx.cost, **self.settings_overrides)
        self.metrics = EtcdMetrics(ctx.metrics)
        self.sm = StateMachine(self.settings.quota_bytes, self.settings.max_txn_ops)
        self.members = Members(self.initial_peers)
        self.applied_requests = AppliedRequests()
        self.watches = WatchServer(self.sm, ctx.send, self._header)
        self.wal = WAL(ctx.storage)
        self.mem = MemoryStorage()
        self.conf_state = ConfState()
        applied = self._recover()
        self.node = RawNode(
            Config(
                id=self.id,
                election_tick=self.settings.election_ticks,
                heartbeat_tick=1,
                applied=applied,
                rng=ctx.random,
            ),
            self.mem,
        )
        self.applied = applied
        self.reads = ReadIndexBatcher(self._issue_read_index, ctx.incarnation)
        ctx.call_every(self.settings.heartbeat_interval, self._tick)
        ctx.call_every(self.settings.lease_check_interval, self._revoke_expired)
        ctx.call_every(self.settings.election_timeout, self.reads.retry)
        ctx.call_every(self.settings.peer_probe_interval, self._probe_peers)
        ctx.call_every(0.1, self._backend_commit)
        ctx.call_every(self.settings.watch_progress_interval, self._progress_notify)
        ctx.call_every(10.0, lambda: self.watches.expire(self.ctx.now()))
        ctx.call_every(SYNC_WATCHERS_INTERVAL, self._sync_watchers)
        self._dirty_backend = False
        ctx.spawn(self._ready_loop())
        self._kick()
        if self.settings.gateway_port is not None:
            return self._serve_gateway(self.settings.gateway_port)
        return None

    def _recover(self) -> int:
        """Load snapshot and WAL into Raft storage and the state machine; the applied index."""
        found = recover(self.ctx.storage)
        if found.empty:
            self.wal.create(self.id, self.cluster_id)
            if not self.join:
                bootstrap(self.mem, sorted(self.initial_peers))
                last = self.mem.last_index()
                self.wal.save(self.mem.initial_state()[0], self.mem.entries(1, last + 1))
            return 0
        applied = 0
        if found.snapshot is not None:
            snap = found.snapshot
            self.mem.apply_snapshot(snap)
            self._restore_state(snap)
            applied = snap.metadata.index
            self._last_snap_index = applied
        if found.hard_state is not None:
            self.mem.set_hard_state(found.hard_state)
        self.mem.append(found.entries)
        return applied

    def _restore_state(self, snap: Snapshot) -> None:
        state = msgpack.unpackb(snap.data, raw=False)
        self.sm.restore(state["kv"])
        self.members = Members.from_wire(state["members"])
        self.applied_requests = AppliedRequests.from_wire(state["applied_requests"])
        self.conf_state = snap.metadata.conf_state

    async def _serve_gateway(self, port: int) -> None:
        from kubesim.components.etcd.gateway import serve
        from kubesim.components.etcd.local import MemberBackend

        self._gateway, self.gateway_port = await serve(MemberBackend(self), port)

    # ------------------------------------------------------------------ raft loop
    def _kick(self) -> None:
        self._wake.set()

    def _tick(self) -> None:
        if not self.removed:
            self.node.tick()
            self._kick()

    async def _ready_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.node.has_ready():
                await self._handle_ready(self.node.ready())

    async def _handle_ready(self, rd: Ready) -> None:
        if rd.soft_state is not None:
            self._on_soft_state(rd.soft_state.lead, rd.soft_state.raft_state)
        leader = self.state == StateType.LEADER
        if leader:  # a leader may write its log in parallel with replicating it
            self._send(rd.messages)
        if rd.snapshot is not None and not rd.snapshot.is_empty():
            await self._install_snapshot(rd.snapshot)
        self.wal.save(rd.hard_state, rd.entries)
        if rd.must_sync:
            started = self.ctx.now()
            await self.wal.sync()
            self.metrics.wal_fsync.observe(self.ctx.now() - started)
        if rd.hard_state is not None:
            self.mem.set_hard_state(rd.hard_state)
            self.metrics.proposals_committed.set(rd.hard_state.commit)
        self.mem.append(rd.entries)
        if self._observe is not None:
            self._observe_ready(rd)
        if not leader:
            self._send(rd.messages)
        for entry in rd.committed_entries:
            self._apply(entry)
        for rs in rd.read_states:
            self.reads.on_read_state(rs.request_ctx, rs.index, self.applied)
        self.reads.on_applied(self.applied)
        self.node.advance(rd)
        await self._maybe_snapshot()

    def _on_soft_state(self, lead: int, state: StateType) -> None:
        was_leader = self.state == StateType.LEADER
        if lead != self.lead and lead != NONE:
            self.metrics.leader_changes.inc()
        self.lead, self.state = lead, state
        self.metrics.has_leader.set(1 if lead != NONE else 0)
        self.metrics.is_leader.set(1 if state == StateType.LEADER else 0)
        if state == StateType.LEADER and not was_leader:
            self.sm.store.lessor.promote(self.ctx.now())
        elif was_leader and state != StateType.LEADER:
            self.sm.store.lessor.demote()
            self._revoking.clear()

    def _send(self, messages: list[Message]) -> None:
        batches: dict[int, list[Any]] = {}
        for m in messages:
            to = self.members.address(m.to)
            if to is None:
                continue
            if m.type == MessageType.MsgSnap:
                self.ctx.spawn(self._send_snapshot(to, m))
            else:
                batches.setdefault(m.to, []).append(m.to_wire())
        for to_id, wires in batches.items():
            self.ctx.send(self.members.address(to_id), ["raft", wires])  # type: ignore[arg-type]

    async def _send_snapshot(self, to: str, m: Message) -> None:
        try:
            await self.ctx.call(
                to, ["snap", m.to_wire()], timeout=10 * self.settings.election_timeout
            )
            failed = False
        except (CallTimeout, RemoteError):
            failed = True
        if not self.removed:
            self.node.report_snapshot(m.to, failed)
            self._kick()

    async def _install_snapshot(self, snap: Snapshot) -> None:
        self.wal.save_snapshot(snap)
        await self.wal.sync_snapshot()
        self.mem.apply_snapshot(snap)
        self._restore_state(snap)
        self.applied = snap.metadata.index
        self._last_snap_index = snap.metadata.index
        self.wal.rewrite(self.id, self.cluster_id, snap, self.mem.initial_state()[0], [])
        await self.wal.sync()

    async def _maybe_snapshot(self) -> None:
        if self.applied - self._last_snap_index <= self.settings.snapshot_count:
            return
        index = self.applied
        data = msgpack.packb(
            {
                "kv": self.sm.snapshot(),
                "members": self.members.to_wire(),
                "applied_requests": self.applied_requests.to_wire(),
            },
            use_bin_type=True,
        )
        snap = self.mem.create_snapshot(index, self.conf_state, data)
        self.wal.save_snapshot(snap)
        await self.wal.sync_snapshot()
        self._last_snap_index = index
        compact_to = index - self.settings.snapshot_catchup_entries
        if compact_to > self.mem.first_index():
            self.mem.compact(compact_to)
        hard_state = self.mem.initial_state()[0]
        entries = self.mem.entries(self.mem.first_index(), self.mem.last_index() + 1, None)
        self.wal.rewrite(self.id, self.cluster_id, snap, hard_state, entries)
        await self.wal.sync()

    def _observe_ready(self, rd: Ready) -> None:
        assert self._observe is not None
        if rd.soft_state is not None and rd.soft_state.raft_state == StateType.LEADER:
            term = self.node.status().hard_state.term
            log = {e.index: e.term for e in self.raft_log()}
            self._observe(("leader", self.id, term, log, self.mem.first_index() - 1))
        if rd.hard_state is not None:
            self._observe(("commit", self.id, rd.hard_state.term, rd.hard_state.commit))
        for e in rd.committed_entries:
            self._observe(("apply", self.id, self.ctx.incarnation, e.index, e.term, e.data))

    # ------------------------------------------------------------------ apply
    def _apply(self, entry: Entry) -> None:
        if entry.type == EntryType.CONF_CHANGE:
            self._apply_conf_change(entry)
        elif entry.data:
            origin, request_id, op, req = msgpack.unpackb(entry.data, raw=False)
            if self.applied_requests.first_time(origin, request_id):
                try:
                    result: Any = self.sm.apply(op, req, self.ctx.now())
                except EtcdError as e:
                    result = e
                if op == "lease_revoke":
                    self._revoking.discard(int(req["ID"]))
                self._dirty_backend = True
                if origin == self.id:
                    self._resolve(request_id, result)
        self.applied = entry.index
        self.metrics.proposals_applied.set(entry.index)
        self.watches.dispatch(self.sm.pump())
        self.metrics.db_size.set(self.sm.store.db_size())
        self.metrics.keys.set(self.sm.store.keys_total())

    def _sync_watchers(self) -> None:
        """mvcc syncWatchersLoop: unsynced watchers catch up (watchBatchMaxRevs revisions at
        a time) even while nothing is written."""
        if self.sm.hub.has_unsynced():
            self.watches.dispatch(self.sm.hub.sync())

    def _apply_conf_change(self, entry: Entry) -> None:
        cc = ConfChange.decode(entry.data)
        origin, request_id, address = (
            msgpack.unpackb(cc.context, raw=False) if cc.context else (0, 0, "")
        )
        self.conf_state = self.node.apply_conf_change(cc)
        if cc.type == ConfChangeType.ADD_NODE and address:
            self.members.add(cc.node_id, address)
        elif cc.type == ConfChangeType.REMOVE_NODE:
            self.members.remove(cc.node_id)
            if cc.node_id == self.id:
                self.removed = True
        if origin == self.id:
            self._resolve(request_id, self._member_list_response())

    def _resolve(self, request_id: int, result: Any) -> None:
        future = self._waiting.pop(request_id, None)
        self.metrics.proposals_pending.set(len(self._waiting))
        if future is None or future.done():
            return
        if isinstance(result, EtcdError):
            future.set_exception(result)
        else:
            future.set_result(result)

    # ------------------------------------------------------------------ proposals
    async def _wait(self, request_id: int, future: asyncio.Future[Any]) -> Any:
        term = self.node.status().hard_state.term

        def expire() -> None:
            if not future.done():
                self._waiting.pop(request_id, None)
                self.metrics.proposals_failed.inc()
                changed = self.node.status().hard_state.term != term
                future.set_exception(
                    errors.TIMEOUT_DUE_TO_LEADER_FAIL if changed else errors.TIMEOUT
                )

        timer = self.ctx.call_later(self.settings.request_timeout, expire)
        try:
            return await future
        finally:
            timer.cancel()

    def _new_waiter(self) -> tuple[int, asyncio.Future[Any]]:
        request_id = sessions.request_id(self.ctx.incarnation, next(self._request_ids))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        self.metrics.proposals_pending.set(len(self._waiting))
        return request_id, future

    async def propose(self, op: str, req: dict[str, Any]) -> dict[str, Any]:
        self._check_serving()
        request_id, future = self._new_waiter()
        data = msgpack.packb([self.id, request_id, op, req], use_bin_type=True)
        if _request_size(op, req, data) > self.settings.max_request_bytes:
            self._waiting.pop(request_id)
            raise errors.REQUEST_TOO_LARGE
        try:
            self.node.propose(data)
        except ProposalDropped:
            self._waiting.pop(request_id)
            self.metrics.proposals_failed.inc()
            raise errors.NO_LEADER if self.lead == NONE else errors.LEADER_CHANGED from None
        self._kick()
        return await self._wait(request_id, future)

    async def change_membership(
        self, cc_type: ConfChangeType, node_id: int, address: str
    ) -> dict[str, Any]:
        self._check_serving()
        if cc_type == ConfChangeType.ADD_NODE and self.members.address(node_id) is not None:
            raise errors.MEMBER_EXIST
        if cc_type == ConfChangeType.REMOVE_NODE and self.members.address(node_id) is None:
            raise errors.MEMBER_NOT_FOUND
        request_id, future = self._new_waiter()
        context = msgpack.packb([self.id, request_id, address], use_bin_type=True)
        try:
            self.node.propose_conf_change(ConfChange(cc_type, node_id, context))
        except ProposalDropped:
            self._waiting.pop(request_id)
            raise errors.NO_LEADER if self.lead == NONE else errors.LEADER_CHANGED from None
        self._kick()
        return await self._wait(request_id, future)

    def _check_serving(self) -> None:
        if self.removed:
            raise errors.STOPPED

    def _issue_read_index(self, request_ctx: bytes) -> None:
        if not self.removed:
            self.node.read_index(request_ctx)
            self._kick()

    async def linearizable_barrier(self) -> None:
        """Wait until this member has applied everything committed before the call."""
        self._check_serving()
        future = self.reads.wait()
        timer = self.ctx.call_later(
            self.settings.request_timeout,
            lambda: future.done() or future.set_exception(errors.TIMEOUT),
        )
        try:
            await future
        finally:
            timer.cancel()

    # ------------------------------------------------------------------ the service
    async def serve(self, op: str, req: dict[str, Any]) -> dict[str, Any]:
        """One KV / lease / maintenance request, as etcd's v3 server handles it."""
        self._check_serving()
        _CHECKS.get(op, _no_check)(req, self.settings.max_txn_ops)
        if op == "range":
            if not req.get("serializable"):
                await self.linearizable_barrier()
            return self._header(self.sm.read(req))
        if op == "txn" and not writes(op, req):
            await self.linearizable_barrier()
            return self._header(self.sm.store.txn(req))
        if op == "lease_grant":
            req = dict(req)
            if int(req.get("TTL", 0)) > _MAX_LEASE_TTL:
                raise errors.LEASE_TTL_TOO_LARGE
            if not req.get("ID"):
                req["ID"] = self._new_lease_id()
        if op in _PROPOSED:
            return self._header(await self.propose(op, req))
        if op in _LEADER_ONLY:
            return await self._leader_only(op, req)
        if op == "status":
            return self._status()
        raise EtcdError(errors.Code.UNIMPLEMENTED, f"unknown method {op}")

    async def _leader_only(self, op: str, req: dict[str, Any]) -> dict[str, Any]:
        if self.state == StateType.LEADER:
            if op == "lease_keepalive":
                ttl = self.sm.store.lessor.renew(int(req["ID"]), self.ctx.now())
                return self._header({"ID": int(req["ID"]), "TTL": ttl})
            if op == "lease_timetolive":
                lessor = self.sm.store.lessor
                return self._header(
                    lessor.time_to_live(int(req["ID"]), bool(req.get("keys")), self.ctx.now())
                )
            return self._header(
                {"leases": [{"ID": lease.id} for lease in self.sm.store.lessor.leases()]}
            )
        leader = self.members.address(self.lead)
        if leader is None:
            raise errors.NO_LEADER
        try:
            reply = await self.ctx.call(
                leader, ["kv", op, req], timeout=self.settings.request_timeout
            )
        except (CallTimeout, RemoteError):
            raise errors.TIMEOUT from None
        return unwrap(reply)

    def _new_lease_id(self) -> int:
        # etcd's idutil: member id prefix in the high bits, a time-based counter below
        prefix = (self.id & 0x7FFF) << 48
        suffix = (int(self.ctx.now() * 1000) << 8) + next(self._lease_ids)
        return prefix | (suffix & 0xFFFF_FFFF_FFFF)

    def _header(self, resp: dict[str, Any]) -> dict[str, Any]:
        header = resp.setdefault("header", {})
        header.setdefault("revision", self.sm.store.revision)
        header["cluster_id"] = self.cluster_id
        header["member_id"] = self.id
        header["raft_term"] = self.node.raft.term  # the term etcd's server keeps (s.Term()), not a Status
        return resp

    def _status(self) -> dict[str, Any]:
        hs: HardState = self.node.status().hard_state
        return self._header(
            {
                "version": VERSION,
                "dbSize": self.sm.store.db_size(),
                "leader": self.lead,
                "raftIndex": hs.commit,
                "raftTerm": hs.term,
                "raftAppliedIndex": self.applied,
                "errors": [f"memberID:{self.id} alarm:NOSPACE "] if self.sm.store.alarms else [],
                "dbSizeInUse": self.sm.store.db_size_in_use(),
                "isLearner": False,
            }
        )

    def _member_list_response(self) -> dict[str, Any]:
        return self._header({"members": self.members.describe()})

    # ------------------------------------------------------------------ timers
    def _progress_notify(self) -> None:
        self.watches.dispatch(self.sm.hub.progress_tick())

    def _revoke_expired(self) -> None:
        if self.state != StateType.LEADER:
            return
        for lease_id in self.sm.store.lessor.expired(self.ctx.now()):
            if lease_id not in self._revoking:
                self._revoking.add(lease_id)
                self.ctx.spawn(self._revoke(lease_id))

    async def _revoke(self, lease_id: int) -> None:
        try:
            await self.propose("lease_revoke", {"ID": lease_id})
        except EtcdError:
            self._revoking.discard(lease_id)

    def _backend_commit(self) -> None:
        """bbolt's batch commit every 100 ms when anything changed (modelled time)."""
        if self._dirty_backend:
            self._dirty_backend = False
            self.metrics.backend_commit.observe(
                self.ctx.cost.sample("disk.backend_commit", self.ctx.random)
            )

    def _probe_peers(self) -> None:
        for peer_id, address in self.members.items():
            if peer_id != self.id:
                self.ctx.spawn(self._probe(peer_id, address))

    async def _probe(self, peer_id: int, address: str) -> None:
        started = self.ctx.now()
        try:
            await self.ctx.call(address, ["ping"], timeout=self.settings.election_timeout)
        except (CallTimeout, RemoteError):
            return
        self.metrics.peer_rtt.labels(To=format(peer_id, "x")).observe(self.ctx.now() - started)

    # ------------------------------------------------------------------ messages
    def receive(self, sender: Address, message: Any) -> Any:
        kind = message[0]
        if kind == "raft":
            for wire in message[1]:
                self.node.step(Message.from_wire(wire))
            self._kick()
            return None
        if kind == "snap":
            self.node.step(Message.from_wire(message[1]))
            self._kick()
            return "ok"
        if kind == "ping":
            return "pong"
        if kind == "gateway":  # where this member serves the v3 JSON gateway (None: nowhere)
            return getattr(self, "gateway_port", None)
        return self._reply(self._handle_call(sender, message))

    def _handle_call(self, sender: Address, message: list[Any]) -> Any:
        kind = message[0]
        if kind == "kv":
            return self.serve(message[1], message[2])
        if kind == "watch":
            return _done(self.watches.handle(str(sender), message[1:], self.ctx.now()))
        if kind == "member":
            verb = message[1]
            if verb == "add":
                return self.change_membership(
                    ConfChangeType.ADD_NODE, int(message[2]), str(message[3])
                )
            if verb == "remove":
                return self.change_membership(ConfChangeType.REMOVE_NODE, int(message[2]), "")
            return _done(self._member_list_response())
        raise ValueError(f"etcd member: unknown message {kind!r}")

    @staticmethod
    async def _reply(pending: Any) -> Reply:
        try:
            return ok(await pending)
        except EtcdError as e:
            return err(e)

    # ------------------------------------------------------------------ inspection (tests, harness)
    def raft_status(self) -> Any:
        return self.node.status()

    def raft_log(self) -> list[Entry]:
        """The entries this member holds (from its first index on)."""
        first, last = self.mem.first_index(), self.mem.last_index()
        return self.mem.entries(first, last + 1, None) if last >= first else []


async def _done(value: Any) -> Any:
    return value


# the protobuf request each proposed op carries in etcd's InternalRaftRequest
_PROTO_REQUESTS = {
    "put": "PutRequest",
    "delete_range": "DeleteRangeRequest",
    "txn": "TxnRequest",
    "compact": "CompactionRequest",
    "lease_grant": "LeaseGrantRequest",
    "lease_revoke": "LeaseRevokeRequest",
}


def _request_size(op: str, req: dict[str, Any], data: bytes) -> int:
    """The size etcd checks against --max-request-bytes: the proposal's InternalRaftRequest
    marshalled as protobuf (not our msgpack entry, which is larger); `data`'s length for
    an op without a protobuf request here."""
    message = _PROTO_REQUESTS.get(op)
    if message is None:
        return len(data)
    from kubesim.components.etcd.gateway.codec import proto_size, raft_request_size

    return raft_request_size(op, proto_size(req, message))


def _no_check(req: dict[str, Any], max_ops: int) -> None:
    return None


# etcd's request checks before anything is proposed (v3rpc/key.go)
_CHECKS = {
    "range": lambda req, max_ops: check_range(req),
    "put": lambda req, max_ops: check_put(req),
    "delete_range": lambda req, max_ops: check_delete_range(req),
    "txn": check_txn,
}
