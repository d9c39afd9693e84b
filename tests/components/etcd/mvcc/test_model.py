"""The store against a plain model: every key's full history as a list, never compacted.

Hypothesis drives puts, deletes, txns (compare on one key, branch writes), compactions
and snapshot round trips; ranges at arbitrary revisions, with ranges, limits and sorting,
must agree with the model, or fail with COMPACTED / FUTURE_REV exactly when it should.
"""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from kubesim.components.etcd import errors
from kubesim.components.etcd.mvcc.store import KVStore

KEYS = [b"a", b"ab", b"b", b"c", b"d\x00", b"d\xff"]
keys_st = st.sampled_from(KEYS)
values_st = st.sampled_from([b"", b"0", b"1", b"zz"])


class Model:
    def __init__(self) -> None:
        self.rev = 1
        self.compacted = -1
        self.hist: dict[bytes, list[tuple[int, bytes | None]]] = {}

    def kv(self, key: bytes, rev: int) -> dict | None:
        """The KeyValue dict of key at rev, computed from the full history."""
        entries = [(r, v) for r, v in self.hist.get(key, []) if r <= rev]
        if not entries or entries[-1][1] is None:
            return None
        generation = []
        for r, v in entries:
            generation = [] if v is None else generation + [r]
        return {
            "key": key,
            "create_revision": generation[0],
            "mod_revision": generation[-1],
            "version": len(generation),
            "value": entries[-1][1],
            "lease": 0,
        }

    def range(self, key: bytes, end: bytes | None, rev: int) -> list[dict]:
        if end is None:
            selected = [key]
        else:
            selected = sorted(k for k in self.hist if k >= key and (end == b"" or k < end))
        return [kv for k in selected if (kv := self.kv(k, rev)) is not None]

    def write(self, changes: list[tuple[bytes, bytes | None]]) -> None:
        """Apply one transaction's changes (None = delete) at the next revision."""
        live = [
            (k, v)
            for k, v in changes
            if v is not None or self.kv(k, self.rev + len(changes)) is not None
        ]
        if not live:
            return
        self.rev += 1
        for k, v in live:
            self.hist.setdefault(k, []).append((self.rev, v))


def end_of(range_end: bytes) -> bytes | None:
    return None if not range_end else (b"" if range_end == b"\0" else range_end)


class StoreVsModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = KVStore()
        self.model = Model()

    @rule(key=keys_st, value=values_st)
    def put(self, key, value):
        resp = self.store.put({"key": key, "value": value, "prev_kv": True})
        prev = self.model.kv(key, self.model.rev)
        self.model.write([(key, value)])
        assert resp == {"header": {"revision": self.model.rev}, "prev_kv": prev}

    @rule(key=keys_st, range_end=st.sampled_from([b"", b"\0", b"b", b"d"]))
    def delete(self, key, range_end):
        victims = self.model.range(key, end_of(range_end), self.model.rev)
        resp = self.store.delete_range({"key": key, "range_end": range_end, "prev_kv": True})
        self.model.write([(kv["key"], None) for kv in victims])
        assert resp == {
            "header": {"revision": self.model.rev},
            "deleted": len(victims),
            "prev_kvs": victims,
        }

    @rule(
        key=keys_st,
        what=st.sampled_from(["VERSION", "MOD", "VALUE"]),
        result=st.sampled_from(["EQUAL", "NOT_EQUAL", "GREATER", "LESS"]),
        operand=st.integers(min_value=0, max_value=4),
        then_keys=st.lists(keys_st, unique=True, max_size=3),
        else_keys=st.lists(keys_st, unique=True, max_size=3),
        value=values_st,
    )
    def txn(self, key, what, result, operand, then_keys, else_keys, value):
        cur = self.model.kv(key, self.model.rev)
        field, operand_value = {
            "VERSION": ("version", operand),
            "MOD": ("mod_revision", self.model.rev - operand),
            "VALUE": ("value", [b"", b"0", b"1", b"zz", b"2"][operand]),
        }[what]
        if cur is None and what == "VALUE":
            ok = False
        else:
            actual = (cur or {"version": 0, "mod_revision": 0})[field]
            ok = {
                "EQUAL": actual == operand_value,
                "NOT_EQUAL": actual != operand_value,
                "GREATER": actual > operand_value,
                "LESS": actual < operand_value,
            }[result]
        # then: puts; else: deletes, each followed by a read of the key
        success = [{"request_put": {"key": k, "value": value}} for k in then_keys]
        failure = [{"request_delete_range": {"key": k}} for k in else_keys]
        failure.append({"request_range": {"key": b"a", "range_end": b"\0"}})
        compare = {"key": key, "target": what, "result": result, field: operand_value}
        resp = self.store.txn({"compare": [compare], "success": success, "failure": failure})
        if ok:
            self.model.write([(k, value) for k in then_keys])
        else:
            self.model.write([(k, None) for k in else_keys])
        assert resp["succeeded"] is ok
        assert resp["header"] == {"revision": self.model.rev}
        if not ok:
            assert resp["responses"][-1]["response_range"]["kvs"] == self.model.range(
                b"a", b"", self.model.rev
            )

    @rule(back=st.integers(min_value=0, max_value=6))
    def compact(self, back):
        rev = self.model.rev - back
        if rev <= self.model.compacted:
            with pytest.raises(type(errors.COMPACTED)) as e:
                self.store.compact({"revision": rev})
            assert e.value == errors.COMPACTED
            return
        self.store.compact({"revision": rev})
        self.model.compacted = rev

    @precondition(lambda self: self.model.rev % 5 == 0)
    @rule()
    def snapshot_round_trip(self):
        copy = KVStore()
        copy.restore(self.store.snapshot())
        self.store = copy

    @rule(
        key=keys_st,
        range_end=st.sampled_from([b"", b"\0", b"b", b"d", b"d\x80"]),
        back=st.integers(min_value=-1, max_value=8),
        limit=st.integers(min_value=0, max_value=3),
        descend=st.booleans(),
    )
    def read(self, key, range_end, back, limit, descend):
        rev = self.model.rev - back
        req = {"key": key, "range_end": range_end, "revision": rev, "limit": limit}
        if descend:
            req["sort_order"] = "DESCEND"
        if rev > self.model.rev or (0 < rev < self.model.compacted):
            err = errors.FUTURE_REV if rev > self.model.rev else errors.COMPACTED
            with pytest.raises(type(err)) as e:
                self.store.range(req)
            assert e.value == err
            return
        expected = self.model.range(key, end_of(range_end), rev if rev > 0 else self.model.rev)
        count = len(expected)
        if descend:
            expected.reverse()
        more = 0 < limit < count
        if limit:
            expected = expected[:limit]
        assert self.store.range(req) == {
            "header": {"revision": self.model.rev},
            "kvs": expected,
            "more": more,
            "count": count,
        }

    @invariant()
    def revisions_agree(self):
        assert self.store.revision == self.model.rev
        assert self.store.compact_revision == self.model.compacted
        assert self.store.keys_total() == len(self.model.range(b"\0", b"", self.model.rev))


StoreVsModel.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_store_matches_model = StoreVsModel.TestCase
