"""The linearizability checker and the etcd KV model."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Hashable, Sequence
from dataclasses import replace
from itertools import permutations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubesim.testing.linearizability import (
    UNKNOWN,
    Cas,
    Delete,
    EtcdKVModel,
    Get,
    History,
    Model,
    Operation,
    Put,
    Txn,
    check,
)

INF = math.inf
KV = EtcdKVModel()


def op(client: int, call: float, ret: float, input, output) -> Operation:
    return Operation(client, call, ret, input, output)


def assert_valid_witness(model: Model, history: Sequence[Operation], result) -> None:
    """The witness is a legal sequential run, respects real time, and has every known op."""
    assert result.ok, str(result)
    placed = [o for part in result.linearization for o in part]
    assert sorted(map(id, placed)) == sorted({id(o) for o in placed})
    assert {id(o) for o in history if o.known} <= {id(o) for o in placed}
    for part in result.linearization:
        state = model.init()
        for o in part:
            legal, state = model.step(state, o.input, o.output)
            assert legal, o
        for i, earlier in enumerate(part):
            assert all(not later.ret < earlier.call for later in part[i + 1 :])


# --- small histories -------------------------------------------------------------


def test_sequential_history_is_linearizable():
    h = [
        op(0, 0, 1, Get("a"), None),
        op(0, 2, 3, Put("a", "1"), None),
        op(1, 4, 5, Get("a"), "1"),
        op(1, 6, 7, Cas("a", "1", "2"), True),
        op(0, 8, 9, Cas("a", "1", "3"), False),
        op(0, 10, 11, Delete("a"), 1),
        op(1, 12, 13, Delete("a"), 0),
        op(1, 14, 15, Cas("a", None, "4"), True),
        op(0, 16, 17, Get("a"), "4"),
    ]
    result = check(KV, h)
    assert_valid_witness(KV, h, result)
    assert [o.call for o in result.linearization[0]] == [o.call for o in h]


def test_concurrent_history_is_linearizable():
    h = [
        op(0, 0, 10, Put("a", "1"), None),
        op(1, 1, 2, Get("a"), None),  # before the put takes effect
        op(2, 3, 4, Get("a"), "1"),  # after it, although the put is still in flight
        op(1, 5, 6, Get("a"), "1"),
        op(3, 0, 20, Put("b", "x"), None),
        op(4, 11, 12, Get("b"), None),
    ]
    assert_valid_witness(KV, h, check(KV, h))


def test_equal_timestamps_count_as_concurrent():
    h = [op(0, 0, 5, Put("a", "1"), None), op(1, 5, 6, Get("a"), None)]
    assert check(KV, h).ok


def test_stale_read_after_completed_write_fails():
    stale = op(1, 4, 5, Get("a"), "1")
    h = [
        op(0, 0, 1, Put("a", "1"), None),
        op(0, 2, 3, Put("a", "2"), None),
        stale,
    ]
    result = check(KV, h)
    assert not result.ok and not result.timed_out
    assert [o.input for o in result.longest_prefix] == [Put("a", "1"), Put("a", "2")]
    assert result.unplaced == [stale]
    assert result.state == (("a", "2"),)
    assert "get('a') -> '1'" in str(result)


def test_reads_seeing_concurrent_writes_in_opposite_orders_fail():
    writes = [op(0, 0, 10, Put("a", "1"), None), op(1, 0, 10, Put("a", "2"), None)]
    reader_a = [op(2, 1, 2, Get("a"), "1"), op(2, 3, 4, Get("a"), "2")]
    reader_b = [op(3, 1, 2, Get("a"), "2"), op(3, 3, 4, Get("a"), "1")]
    assert check(KV, writes + reader_a).ok
    assert check(KV, writes + reader_b).ok
    assert not check(KV, writes + reader_a + reader_b).ok


def test_create_if_absent_cas_cannot_succeed_twice():
    h = [
        op(0, 0, 5, Cas("lock", None, "me"), True),
        op(1, 1, 6, Cas("lock", None, "you"), True),
    ]
    result = check(KV, h)
    assert not result.ok
    assert len(result.longest_prefix) == 1 and len(result.unplaced) == 1
    assert check(KV, [h[0], replace(h[1], output=False)]).ok


def test_multi_key_txn_is_atomic_across_its_keys():
    txn = op(0, 0, 10, Txn((("x", None),), (("x", "1"), ("y", "1"))), True)
    torn = [op(1, 1, 2, Get("x"), "1"), op(1, 3, 4, Get("y"), None)]
    assert not check(KV, [txn, *torn]).ok
    assert check(KV, [txn, op(1, 1, 2, Get("y"), None), op(1, 3, 4, Get("x"), "1")]).ok


def test_partition_groups_keys_connected_by_txns():
    t = op(0, 0, 1, Txn((("a", None),), (("b", "1"),)), True)
    h = [op(0, 0, 1, Get("a"), None), op(0, 0, 1, Get("c"), None), t, op(0, 0, 1, Get("b"), None)]
    parts = KV.partition(h)
    assert sorted(len(p) for p in parts) == [1, 3]
    assert [h[1]] in parts


# --- unknown outcomes ----------------------------------------------------------------


def test_unknown_write_that_took_effect_is_accepted():
    h = [op(0, 0, INF, Put("a", "1"), UNKNOWN), op(1, 5, 6, Get("a"), "1")]
    assert_valid_witness(KV, h, check(KV, h))


def test_unknown_write_that_never_took_effect_is_accepted():
    h = [op(0, 0, INF, Put("a", "1"), UNKNOWN), op(1, 5, 6, Get("a"), None)]
    result = check(KV, h)
    assert_valid_witness(KV, h, result)
    assert result.linearization == [[h[1]]]


def test_unknown_write_takes_effect_late_or_never_but_only_once():
    put = op(0, 0, INF, Put("a", "1"), UNKNOWN)
    assert check(KV, [put, op(1, 5, 6, Get("a"), None), op(1, 7, 8, Get("a"), "1")]).ok
    assert not check(KV, [put, op(1, 5, 6, Get("a"), "1"), op(1, 7, 8, Get("a"), None)]).ok


def test_unknown_write_cannot_take_effect_before_its_call():
    h = [op(1, 0, 1, Get("a"), "1"), op(0, 2, INF, Put("a", "1"), UNKNOWN)]
    assert not check(KV, h).ok


def test_unknown_cas_is_evaluated_against_the_state_it_lands_in():
    h = [
        op(0, 0, 1, Put("a", "1"), None),
        op(1, 2, INF, Cas("a", "0", "2"), UNKNOWN),  # compare fails wherever it lands
        op(2, 3, 4, Get("a"), "2"),
    ]
    assert not check(KV, h).ok
    assert check(KV, [*h[:1], replace(h[1], input=Cas("a", "1", "2")), h[2]]).ok


def test_invalid_operations_are_rejected():
    with pytest.raises(ValueError):
        check(KV, [op(0, 2, 1, Get("a"), None)])
    with pytest.raises(ValueError):
        check(KV, [op(0, 0, 1, Get("a"), UNKNOWN)])
    with pytest.raises(ValueError):
        check(KV, [op(0, 0, INF, Get("a"), None)])


def test_history_recorder():
    h = History()
    put = h.invoke(0, Put("a", "1"), now=0.0)
    get = h.invoke(1, Get("a"), now=0.5)
    lost = h.invoke(2, Put("a", "2"), now=0.7)
    h.complete(put, None, now=1.0)
    h.complete(get, "1", now=2.0)
    h.fail_unknown(lost)
    h.invoke(3, Delete("a"), now=3.0)  # still pending: unknown
    ops = h.operations()
    assert ops[:3] == [
        Operation(0, 0.0, 1.0, Put("a", "1"), None),
        Operation(1, 0.5, 2.0, Get("a"), "1"),
        Operation(2, 0.7, INF, Put("a", "2"), UNKNOWN),
    ]
    assert ops[3] == Operation(3, 3.0, INF, Delete("a"), UNKNOWN)
    assert check(KV, ops).ok


def test_memoization_makes_refuting_concurrent_writes_fast():
    # without memoizing (linearized set, state) the search would try all 12! orders
    h = [op(i, 0, 10, Put("a", i), None) for i in range(12)] + [op(99, 11, 12, Get("a"), -1)]
    result = check(KV, h, timeout=10)
    assert not result.ok and not result.timed_out
    assert len(result.longest_prefix) == 12 and result.unplaced == [h[-1]]


def test_timeout_is_reported_as_inconclusive():
    # 40 concurrent writes and a read of a value none wrote: exponentially many subsets
    h = [op(i, 0, 10, Put("a", i), None) for i in range(40)] + [op(99, 11, 12, Get("a"), -1)]
    result = check(KV, h, timeout=0.05)
    assert not result.ok and result.timed_out
    assert "timed out" in str(result)


# --- a simulated single-copy register ----------------------------------------------


def simulate(
    rng: random.Random, n_ops: int, clients: int, keys: int, unknown_rate: float = 0.02
) -> list[Operation]:
    """Each client issues ops back to back; each takes effect atomically at a random point
    of its interval on one in-memory copy. Every write writes a fresh value."""
    slots = []  # (point, client, call, ret, unknown, takes_effect)
    per_client = n_ops // clients
    for c in range(clients):
        t = rng.uniform(0, 1)
        for _ in range(per_client):
            call, ret = t, t + rng.uniform(0.1, 3.0)
            unknown = rng.random() < unknown_rate
            slots.append((rng.uniform(call, ret), c, call, ret, unknown, rng.random() < 0.5))
            t = ret + rng.uniform(0, 0.5)
    values: dict[str, Hashable] = {}
    fresh = iter(range(10**9))
    history = []
    for _, c, call, ret, unknown, takes_effect in sorted(slots):
        key = f"k{rng.randrange(keys)}"
        kind = rng.random()
        if kind < 0.4:
            inp = Get(key)
        elif kind < 0.7:
            inp = Put(key, f"v{next(fresh)}")
        elif kind < 0.8:
            inp = Delete(key)
        else:
            old = values.get(key) if rng.random() < 0.6 else f"v{rng.randrange(10)}"
            inp = Cas(key, old, f"v{next(fresh)}")
        if unknown:
            if takes_effect:
                inp.apply(values)
            history.append(Operation(c, call, INF, inp, UNKNOWN))
        else:
            history.append(Operation(c, call, ret, inp, inp.apply(values)))
    return sorted(history, key=lambda o: o.call)


def make_stale(history: list[Operation]) -> tuple[list[Operation], Operation]:
    """Mutate one read to return a value that was definitely overwritten before it began."""
    known = [o for o in history if o.known]
    for read in known:
        if not isinstance(read.input, Get):
            continue
        key = read.input.key
        for w in known:
            overwrites = isinstance(w.input, Put | Delete) or (
                isinstance(w.input, Cas) and w.output
            )
            if w.input.key != key or not overwrites or not w.ret < read.call:
                continue
            for p in known:
                if isinstance(p.input, Put) and p.input.key == key and p.ret < w.call:
                    stale = replace(read, output=p.input.value)
                    return [stale if o is read else o for o in history], stale
    raise AssertionError("no read to make stale")


def test_thousand_op_register_history_checks_fast_and_stale_read_fails():
    history = simulate(random.Random(7), n_ops=1000, clients=8, keys=10)
    assert len(history) == 1000
    start = time.perf_counter()
    result = check(KV, history)
    elapsed = time.perf_counter() - start
    assert_valid_witness(KV, history, result)
    assert len(result.linearization) == 10
    assert elapsed < 3.0, f"took {elapsed:.2f}s"

    mutated, stale = make_stale(history)
    start = time.perf_counter()
    result = check(KV, mutated)
    elapsed = time.perf_counter() - start
    assert not result.ok and not result.timed_out
    assert stale in result.unplaced, str(result)
    assert elapsed < 3.0, f"took {elapsed:.2f}s"


def test_thousand_op_history_on_one_key_without_partitioning():
    history = simulate(random.Random(11), n_ops=1000, clients=8, keys=1)
    assert_valid_witness(KV, history, check(KV, history, timeout=10))
    mutated, _ = make_stale(history)
    assert not check(KV, mutated, timeout=10).ok


# --- property: atomic execution inside the interval is always accepted ----------------

KEYS = ("a", "b")
VALUES = st.integers(0, 3)
INPUTS = st.one_of(
    st.builds(Get, st.sampled_from(KEYS)),
    st.builds(Put, st.sampled_from(KEYS), VALUES),
    st.builds(Delete, st.sampled_from(KEYS)),
    st.builds(Cas, st.sampled_from(KEYS), st.none() | VALUES, VALUES),
    st.builds(
        Txn,
        st.lists(st.tuples(st.sampled_from(KEYS), st.none() | VALUES), max_size=2).map(tuple),
        st.lists(st.tuples(st.sampled_from(KEYS), VALUES), min_size=1, max_size=2).map(tuple),
    ),
)
SPECS = st.lists(
    st.tuples(
        st.integers(0, 20),  # call
        st.integers(0, 6),  # duration
        st.floats(0, 1),  # where in the interval it takes effect
        INPUTS,
        st.sampled_from(["known"] * 4 + ["unknown, applied", "unknown, lost"]),
    ),
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(SPECS)
def test_atomic_execution_inside_intervals_is_linearizable(specs):
    values: dict[str, Hashable] = {}
    history = []
    timed = sorted(
        (call + duration * where, c, call, duration, inp, outcome)
        for c, (call, duration, where, inp, outcome) in enumerate(specs)
    )
    for _, client, call, duration, inp, outcome in timed:  # in order of taking effect
        if outcome == "known":
            history.append(Operation(client, call, call + duration, inp, inp.apply(values)))
        else:
            if outcome == "unknown, applied":
                inp.apply(values)
            history.append(Operation(client, call, INF, inp, UNKNOWN))
    result = check(KV, history, timeout=30)
    assert_valid_witness(KV, history, result)


def brute_force(history: list[Operation]) -> bool:
    """Try every order of every subset holding all known ops (tiny histories only)."""
    known = [o for o in history if o.known]
    unknown = [o for o in history if not o.known]
    for mask in range(1 << len(unknown)):
        chosen = known + [o for i, o in enumerate(unknown) if mask >> i & 1]
        for order in permutations(chosen):
            if any(b.ret < a.call for i, a in enumerate(order) for b in order[i + 1 :]):
                continue
            state = KV.init()
            for o in order:
                legal, state = KV.step(state, o.input, o.output)
                if not legal:
                    break
            else:
                return True
    return False


OUTPUTS = {Get: st.none() | VALUES, Put: st.none(), Delete: st.integers(0, 1)}


@st.composite
def arbitrary_history(draw) -> list[Operation]:
    history = []
    for client in range(draw(st.integers(0, 6))):
        call = draw(st.integers(0, 8))
        inp = draw(INPUTS)
        if draw(st.integers(0, 4)) == 0:
            history.append(Operation(client, call, INF, inp, UNKNOWN))
        else:
            out = draw(OUTPUTS.get(type(inp), st.booleans()))
            history.append(Operation(client, call, call + draw(st.integers(0, 4)), inp, out))
    return history


@settings(max_examples=400, deadline=None)
@given(arbitrary_history())
def test_agrees_with_brute_force_on_arbitrary_small_histories(history):
    assert check(KV, history).ok == brute_force(history)
