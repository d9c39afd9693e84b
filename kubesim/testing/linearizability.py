"""A linearizability checker for recorded histories of concurrent operations.

`check(model, history)` decides whether the operations in `history` can be ordered so
that (a) each operation takes effect atomically at one instant between its call and its
return, and (b) the sequence of effects is legal for the sequential `model`. It is the
Wing & Gong backtracking search with Lowe's memoization of (linearized set, state) pairs,
as in Porcupine (github.com/anishathalye/porcupine): call and return events form a
doubly linked list; linearizing an operation lifts both of its events out of the list;
the search may only linearize an operation whose call precedes the first remaining
return, and backtracks when it reaches that return.

An operation whose outcome is unknown (the client timed out or lost its connection) has
`ret = math.inf` and `output = UNKNOWN`: it may take effect at any instant after its call
or never. Models must accept any output for it; the search treats it as optional, so a
history is linearizable once every operation with a known outcome is linearized (an
unknown operation left out is one that never took effect, or took effect after all the
others, which no known outcome can observe).

A model may split a history into independent sub-histories (`Model.partition`); by the
locality of linearizability (Herlihy & Wing) the history is linearizable iff each is.
`EtcdKVModel` models the etcd KV operations of a test client and partitions by key.
"""

from __future__ import annotations

import enum
import math
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Hashable, MutableMapping, Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Any


class Unknown(enum.Enum):
    """Type of the `UNKNOWN` output sentinel."""

    UNKNOWN = "unknown"

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = Unknown.UNKNOWN
"""Output of an operation whose outcome the client never learned (its `ret` is `math.inf`)."""


@dataclass(frozen=True)
class Operation:
    """One operation of a history: `client` called it at `call` with `input` and saw
    `output` at `ret`; `ret = math.inf, output = UNKNOWN` when the outcome is unknown."""

    client: int
    call: float
    ret: float
    input: Any
    output: Any

    @property
    def known(self) -> bool:
        """Whether the client saw the outcome."""
        return self.output is not UNKNOWN


class Model(ABC):
    """A sequential specification: states must be hashable and compare by value."""

    @abstractmethod
    def init(self) -> Hashable:
        """The initial state."""

    @abstractmethod
    def step(self, state: Hashable, input: Any, output: Any) -> tuple[bool, Hashable]:
        """Apply `input` to `state`: whether `output` is legal (any output is legal when
        it is `UNKNOWN`) and the state after the operation."""

    def partition(self, history: Sequence[Operation]) -> list[list[Operation]]:
        """Split `history` into sub-histories on independent parts of the state."""
        return [list(history)]

    def describe_operation(self, input: Any, output: Any) -> str:
        """A human-readable rendering of one operation, for failure messages."""
        return f"{input!r} -> {output!r}"


@dataclass(frozen=True)
class CheckResult:
    """Outcome of `check`.

    When `ok`, `linearization` holds one witness order per partition (unknown operations
    that need not have taken effect are absent). Otherwise `longest_prefix` is the longest
    linearizable prefix found in a failing partition, `state` the model state after it,
    and `unplaced` the operations that could go next (their calls precede the earliest
    pending return) of which none leads to a linearization. `timed_out` means the search
    was cut short: the result is not ok but inconclusive. `str(result)` explains it.
    """

    ok: bool
    linearization: list[list[Operation]] = field(default_factory=list)
    longest_prefix: list[Operation] = field(default_factory=list)
    unplaced: list[Operation] = field(default_factory=list)
    state: Any = None
    timed_out: bool = False
    message: str = ""

    def __str__(self) -> str:
        return self.message


class _Timeout(Exception):
    pass


@dataclass
class _Failure:
    prefix: list[int]
    state: Hashable
    unplaced: list[int]


def _search(model: Model, ops: list[Operation], deadline: float) -> list[int] | _Failure:
    """Linearize one partition: a witness (indices into `ops`) or the longest dead end."""
    events = sorted(
        [(op.call, 0, i) for i, op in enumerate(ops)] + [(op.ret, 1, i) for i, op in enumerate(ops)]
    )  # calls before returns at equal times: such operations count as concurrent
    # node 0 is the list head; node k + 1 is events[k]; -1 ends the list
    size = len(events) + 1
    nxt = [*range(1, size), -1]
    prv = [-1, *range(size - 1)]
    op_of = [-1] + [i for _, _, i in events]
    ret_node = [0] * len(ops)
    for node, (_, kind, i) in enumerate(events, start=1):
        if kind:
            ret_node[i] = node
    is_call = [False] + [kind == 0 for _, kind, _ in events]

    state = model.init()
    linearized = 0
    pending_known = sum(op.known for op in ops)
    stack: list[tuple[int, Hashable]] = []  # (call node, state before it)
    seen: set[tuple[int, Hashable]] = set()
    best: _Failure | None = None
    node, steps = nxt[0], 0
    while True:
        steps += 1
        if not pending_known:
            return [op_of[n] for n, _ in stack]
        if steps & 1023 == 0 and time.monotonic() > deadline:
            raise _Timeout
        if is_call[node]:
            i = op_of[node]
            op = ops[i]
            legal, new_state = model.step(state, op.input, op.output)
            if legal:
                bits = linearized | (1 << i)
                if (bits, new_state) not in seen:
                    seen.add((bits, new_state))
                    stack.append((node, state))
                    state, linearized = new_state, bits
                    pending_known -= op.known
                    for n in (node, ret_node[i]):  # lift the call and return events
                        nxt[prv[n]] = nxt[n]
                        if nxt[n] != -1:
                            prv[nxt[n]] = prv[n]
                    node = nxt[0]
                    continue
            node = nxt[node]
            continue
        # reached a return: every candidate before it failed, so backtrack
        if best is None or len(stack) > len(best.prefix):
            candidates, n = [], nxt[0]
            while n != node:
                candidates.append(op_of[n])
                n = nxt[n]
            best = _Failure([op_of[n] for n, _ in stack], state, candidates)
        if not stack:
            return best
        node, state = stack.pop()
        i = op_of[node]
        linearized &= ~(1 << i)
        pending_known += ops[i].known
        for n in (ret_node[i], node):  # unlift, in reverse order of lifting
            nxt[prv[n]] = n
            if nxt[n] != -1:
                prv[nxt[n]] = n
        node = nxt[node]


def _validate(op: Operation) -> None:
    if not math.isfinite(op.call) or not op.call <= op.ret:
        raise ValueError(f"operation needs a finite call time and ret >= call: {op}")
    if (op.ret == math.inf) != (op.output is UNKNOWN):
        raise ValueError(f"an operation has ret=inf exactly when its output is UNKNOWN: {op}")


def _render(model: Model, op: Operation) -> str:
    ret = "?" if op.ret == math.inf else f"{op.ret:g}"
    return (
        f"client {op.client} [{op.call:g}, {ret}] {model.describe_operation(op.input, op.output)}"
    )


def _explain(
    model: Model, failure: _Failure, ops: list[Operation], part: int, parts: int, shown: int = 10
) -> str:
    prefix = [ops[i] for i in failure.prefix]
    lines = [
        f"history is not linearizable: in partition {part + 1} of {parts} ({len(ops)} operations)"
        f" the longest linearizable prefix has {len(prefix)} operations",
    ]
    if len(prefix) > shown:
        lines.append(f"  ... {len(prefix) - shown} earlier operations")
    lines += [f"  {_render(model, op)}" for op in prefix[-shown:]]
    lines.append(f"leaving state {failure.state!r}, from which none of these can go next:")
    lines += [f"  {_render(model, ops[i])}" for i in failure.unplaced]
    return "\n".join(lines)


def check(model: Model, history: Sequence[Operation], timeout: float | None = None) -> CheckResult:
    """Check that `history` is linearizable with respect to `model`, giving up after
    `timeout` seconds (the result is then not ok, with `timed_out` set)."""
    for op in history:
        _validate(op)
    deadline = math.inf if timeout is None else time.monotonic() + timeout
    parts = [p for p in model.partition(history) if p]
    witness = []
    for k, ops in enumerate(parts):
        try:
            found = _search(model, ops, deadline)
        except _Timeout:
            return CheckResult(
                ok=False,
                timed_out=True,
                message=f"inconclusive: the check timed out after {timeout}s in partition"
                f" {k + 1} of {len(parts)} ({len(ops)} operations)",
            )
        if isinstance(found, _Failure):
            return CheckResult(
                ok=False,
                longest_prefix=[ops[i] for i in found.prefix],
                unplaced=[ops[i] for i in found.unplaced],
                state=found.state,
                message=_explain(model, found, ops, k, len(parts)),
            )
        witness.append([ops[i] for i in found])
    return CheckResult(ok=True, linearization=witness, message="history is linearizable")


class History:
    """Records operations as a test client issues them.

    `invoke` before sending a request, then `complete` with the reply or `fail_unknown`
    when the outcome cannot be known (timeout, lost connection). Operations still pending
    when `operations()` is called count as unknown.
    """

    def __init__(self) -> None:
        self._pending: dict[int, tuple[int, float, Any]] = {}
        self._done: list[Operation] = []
        self._tokens = count()

    def invoke(self, client: int, input: Any, now: float) -> int:
        """Record a call; returns the token to complete it with."""
        token = next(self._tokens)
        self._pending[token] = (client, now, input)
        return token

    def complete(self, token: int, output: Any, now: float) -> None:
        """Record the reply to the call `token`."""
        client, call, input = self._pending.pop(token)
        self._done.append(Operation(client, call, now, input, output))

    def fail_unknown(self, token: int) -> None:
        """Record that the call `token` may or may not have taken effect."""
        client, call, input = self._pending.pop(token)
        self._done.append(Operation(client, call, math.inf, input, UNKNOWN))

    def operations(self) -> list[Operation]:
        """All recorded operations, pending ones with an unknown outcome."""
        pending = [Operation(c, t, math.inf, i, UNKNOWN) for c, t, i in self._pending.values()]
        return self._done + pending


# etcd KV operations; values must not be None (None stands for an absent key)


@dataclass(frozen=True)
class Get:
    """Range of one key: returns its value, or None if absent."""

    key: str

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.key,)

    def apply(self, values: MutableMapping[str, Hashable]) -> Hashable | None:
        return values.get(self.key)


@dataclass(frozen=True)
class Put:
    """Put of one key: returns None."""

    key: str
    value: Hashable

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.key,)

    def apply(self, values: MutableMapping[str, Hashable]) -> None:
        values[self.key] = self.value


@dataclass(frozen=True)
class Delete:
    """DeleteRange of one key: returns the number of keys deleted (0 or 1)."""

    key: str

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.key,)

    def apply(self, values: MutableMapping[str, Hashable]) -> int:
        return int(values.pop(self.key, None) is not None)


@dataclass(frozen=True)
class Cas:
    """Txn `if value(key) == expected then put(key, new)`; `expected = None` compares
    create_revision == 0 (the key is absent). Returns whether it succeeded."""

    key: str
    expected: Hashable | None
    new: Hashable

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.key,)

    def apply(self, values: MutableMapping[str, Hashable]) -> bool:
        if values.get(self.key) != self.expected:
            return False
        values[self.key] = self.new
        return True


@dataclass(frozen=True)
class Txn:
    """Txn over several keys: if every `(key, expected)` compare holds (None: absent), do
    every `(key, value)` put. Returns whether it succeeded."""

    compares: tuple[tuple[str, Hashable | None], ...]
    puts: tuple[tuple[str, Hashable], ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(k for k, _ in self.compares + self.puts))

    def apply(self, values: MutableMapping[str, Hashable]) -> bool:
        if any(values.get(k) != expected for k, expected in self.compares):
            return False
        values.update(self.puts)
        return True


KVInput = Get | Put | Delete | Cas | Txn


class EtcdKVModel(Model):
    """etcd's KV store as seen by a test client issuing `KVInput` operations.

    The state is a sorted tuple of (key, value) items. `partition` puts operations in the
    same sub-history when they touch connected keys: per key, unless multi-key `Txn`s tie
    keys together.
    """

    def init(self) -> tuple[tuple[str, Hashable], ...]:
        return ()

    def step(
        self, state: tuple[tuple[str, Hashable], ...], input: KVInput, output: Any
    ) -> tuple[bool, tuple[tuple[str, Hashable], ...]]:
        values = dict(state)
        result = input.apply(values)
        if output is not UNKNOWN and output != result:
            return False, state
        return True, tuple(sorted(values.items()))

    def partition(self, history: Sequence[Operation]) -> list[list[Operation]]:
        parent: dict[str, str] = {}

        def root(key: str) -> str:
            while parent.setdefault(key, key) != key:
                key = parent[key] = parent[parent[key]]
            return key

        for op in history:
            first, *rest = op.input.keys
            for key in rest:
                parent[root(key)] = root(first)
        groups: defaultdict[str, list[Operation]] = defaultdict(list)
        for op in history:
            groups[root(op.input.keys[0])].append(op)
        return list(groups.values())

    def describe_operation(self, input: KVInput, output: Any) -> str:
        out = "?" if output is UNKNOWN else repr(output)
        match input:
            case Get(key):
                return f"get({key!r}) -> {out}"
            case Put(key, value):
                return f"put({key!r}, {value!r}) -> {out}"
            case Delete(key):
                return f"delete({key!r}) -> {out}"
            case Cas(key, expected, new):
                return f"cas({key!r}, {expected!r} -> {new!r}) -> {out}"
            case Txn(compares, puts):
                return f"txn(if {dict(compares)!r} then put {dict(puts)!r}) -> {out}"
        return super().describe_operation(input, output)
