"""The workqueue: client-go's dedup/processing rules, delays, rate limiters, metrics."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubesim.components.client.workqueue import (
    DURATION_BUCKETS,
    BucketRateLimiter,
    DelayingQueue,
    ItemExponentialFailureRateLimiter,
    Queue,
    RateLimitingQueue,
    default_controller_rate_limiter,
)
from kubesim.runtime.metrics import MetricsRegistry
from tests.components.client.conftest import FakeClock


def test_fifo_and_dedup(clock):
    q: Queue[str] = Queue(clock)
    for item in ["a", "b", "a", "c", "b"]:
        q.add(item)
    assert len(q) == 3
    assert [q.get(), q.get(), q.get()] == ["a", "b", "c"]
    assert q.get() is None


def test_add_while_processing_is_requeued_on_done_never_concurrent(clock):
    q: Queue[str] = Queue(clock)
    q.add("a")
    assert q.get() == "a"
    q.add("a")
    q.add("a")
    assert len(q) == 0 and q.get() is None  # not handed out while being processed
    q.add("b")
    assert q.get() == "b"
    q.done("a")
    assert len(q) == 1
    assert q.get() == "a"
    q.done("a")
    q.done("b")
    assert len(q) == 0 and q.get() is None


def test_done_without_readd_does_not_requeue(clock):
    q: Queue[str] = Queue(clock)
    q.add("a")
    q.get()
    q.done("a")
    assert len(q) == 0


def test_notify_signals_when_an_item_becomes_available(clock):
    signals = []
    q: Queue[str] = Queue(clock, notify=lambda: signals.append(clock()))
    q.add("a")
    q.add("a")  # dedup: no second signal
    assert signals == [0.0]
    q.get()
    q.add("a")  # processing: not available yet
    assert signals == [0.0]
    clock.advance(1)
    q.done("a")
    assert signals == [0.0, 1.0]


def test_shut_down_drains_queued_items_and_ignores_new_adds(clock):
    q: DelayingQueue[str] = DelayingQueue(clock)
    q.add("a")
    q.add("b")
    q.add_after("c", 1)
    assert q.get() == "a"
    q.shut_down()
    q.add("d")
    q.add_after("e", 0)
    assert q.shutting_down and not q.drained
    clock.advance(5)
    assert q.next_ready_at() is None
    assert q.get() == "b"
    assert q.get() is None
    q.done("a")
    assert not q.drained
    q.done("b")
    assert q.drained


def test_add_after_waits_then_keeps_the_earliest_time(clock):
    q: DelayingQueue[str] = DelayingQueue(clock)
    q.add_after("x", 5)
    q.add_after("x", 3)  # sooner: wins
    q.add_after("x", 4)  # later: ignored
    assert q.next_ready_at() == 3
    assert q.waiting() == 1
    clock.advance(2.999)
    assert len(q) == 0 and q.get() is None
    clock.advance(0.001)
    assert q.get() == "x"
    assert q.waiting() == 0 and q.next_ready_at() is None
    clock.advance(10)
    assert q.get() is None  # the superseded 5 s entry does not fire again


def test_add_after_zero_adds_now(clock):
    q: DelayingQueue[str] = DelayingQueue(clock)
    q.add_after("x", 0)
    q.add_after("y", -1)
    assert [q.get(), q.get()] == ["x", "y"]


def test_due_items_enter_in_time_order_before_later_adds(clock):
    q: DelayingQueue[str] = DelayingQueue(clock)
    q.add_after("late", 2)
    q.add_after("early", 1)
    clock.advance(3)
    q.add("now")  # both delayed items were due before this add
    assert [q.get(), q.get(), q.get()] == ["early", "late", "now"]


def test_poll_and_notify_for_delayed_items(clock):
    signals = []
    q: DelayingQueue[str] = DelayingQueue(clock, notify=lambda: signals.append(clock()))
    q.add_after("x", 0.25)
    assert signals == []
    clock.t = q.next_ready_at()
    q.poll()
    assert signals == [0.25]


def test_exponential_failure_rate_limiter_doubles_caps_and_forgets():
    rl = ItemExponentialFailureRateLimiter(0.005, 1000.0)
    assert [rl.when("a") for _ in range(5)] == [0.005, 0.01, 0.02, 0.04, 0.08]
    assert rl.num_requeues("a") == 5
    assert rl.when("b") == 0.005  # per item
    for _ in range(30):
        rl.when("a")
    assert rl.when("a") == 1000.0
    for _ in range(2000):
        rl.when("a")
    assert rl.when("a") == 1000.0  # no overflow
    rl.forget("a")
    assert rl.num_requeues("a") == 0
    assert rl.when("a") == 0.005


def test_bucket_rate_limiter_burst_then_qps(clock):
    rl = BucketRateLimiter(qps=10, burst=100, clock=clock)
    assert all(rl.when(i) == 0 for i in range(100))
    assert rl.when("x") == pytest.approx(0.1)
    assert rl.when("y") == pytest.approx(0.2)
    clock.advance(1.0)  # 10 tokens back: the debt of 2 is paid, 8 left
    assert all(rl.when(i) == 0 for i in range(8))
    assert rl.when("z") == pytest.approx(0.1)


def test_default_controller_rate_limiter_is_max_of_both(clock):
    rl = default_controller_rate_limiter(clock)
    assert [rl.when("a") for _ in range(3)] == [0.005, 0.01, 0.02]
    for i in range(97):
        rl.when(f"other-{i}")  # bucket now empty
    # item "b": exponential says 5 ms, the bucket says 0.1 s
    assert rl.when("b") == pytest.approx(0.1)
    assert rl.num_requeues("a") == 3
    rl.forget("a")
    assert rl.num_requeues("a") == 0


def test_rate_limited_requeue_worked_example(clock):
    q: RateLimitingQueue[str] = RateLimitingQueue(clock, "deployment")
    q.add("ns/web")
    for expected in [0.005, 0.01, 0.02, 0.04]:
        item = q.get()
        assert item == "ns/web"
        q.add_rate_limited(item)  # reconcile failed
        q.done(item)
        start = clock()
        assert q.next_ready_at() == pytest.approx(start + expected)
        clock.t = start + expected * 0.999
        assert q.get() is None
        clock.t = q.next_ready_at()
    assert q.num_requeues("ns/web") == 4
    item = q.get()
    q.forget(item)  # reconcile succeeded
    q.done(item)
    assert q.num_requeues("ns/web") == 0
    q.add_rate_limited("ns/web")
    assert q.next_ready_at() == pytest.approx(clock() + 0.005)


def _sample(reg: MetricsRegistry, name: str, **labels: str) -> float | None:
    return reg.registry.get_sample_value(name, {"instance": "kcm", "name": "q", **labels})


def test_metrics_follow_client_go(clock):
    reg = MetricsRegistry()
    q: RateLimitingQueue[str] = RateLimitingQueue(
        clock, "q", metrics=reg.handle({"instance": "kcm"})
    )
    q.add("a")
    q.add("a")
    q.add("b")
    assert _sample(reg, "workqueue_adds_total") == 2
    assert _sample(reg, "workqueue_depth") == 2
    clock.advance(0.5)
    assert q.get() == "a"
    assert _sample(reg, "workqueue_depth") == 1
    assert _sample(reg, "workqueue_queue_duration_seconds_sum") == pytest.approx(0.5)
    q.add("a")  # re-added while processing: counted in depth, as in client-go
    assert _sample(reg, "workqueue_adds_total") == 3
    assert _sample(reg, "workqueue_depth") == 2
    clock.advance(2.0)
    q.update_unfinished_work()
    assert _sample(reg, "workqueue_unfinished_work_seconds") == pytest.approx(2.0)
    assert _sample(reg, "workqueue_longest_running_processor_seconds") == pytest.approx(2.0)
    q.done("a")
    assert _sample(reg, "workqueue_work_duration_seconds_sum") == pytest.approx(2.0)
    assert _sample(reg, "workqueue_work_duration_seconds_count") == 1
    q.update_unfinished_work()
    assert _sample(reg, "workqueue_unfinished_work_seconds") == 0
    q.add_rate_limited("c")
    q.add_after("d", 1)
    assert _sample(reg, "workqueue_retries_total") == 2
    assert _sample(reg, "workqueue_queue_duration_seconds_bucket", le="1e-08") == 0
    assert _sample(reg, "workqueue_queue_duration_seconds_bucket", le="1.0") == 1
    assert len(DURATION_BUCKETS) == 10
    assert DURATION_BUCKETS[0] == pytest.approx(1e-8) and DURATION_BUCKETS[-1] == pytest.approx(10)


def test_delayed_add_queue_duration_counts_from_when_it_was_due(clock):
    reg = MetricsRegistry()
    q: DelayingQueue[str] = DelayingQueue(clock, "q", metrics=reg.handle({"instance": "kcm"}))
    q.add_after("a", 1.0)
    clock.advance(3.0)  # polled late: the item has waited in the queue since t=1
    q.get()
    assert _sample(reg, "workqueue_queue_duration_seconds_sum") == pytest.approx(2.0)


_items = st.sampled_from(["a", "b", "c", "d"])
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), _items),
        st.tuples(st.just("add_after"), _items, st.sampled_from([0.0, 0.01, 0.5, 2.0])),
        st.tuples(st.just("add_rate_limited"), _items),
        st.tuples(st.just("forget"), _items),
        st.tuples(st.just("get")),
        st.tuples(st.just("done"), st.integers(0, 3)),
        st.tuples(st.just("advance"), st.sampled_from([0.001, 0.01, 0.3, 1.0])),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(_ops)
def test_no_item_processed_concurrently_and_every_add_is_processed(ops):
    clock = FakeClock()
    q: RateLimitingQueue[str] = RateLimitingQueue(clock)
    processing: list[str] = []  # model
    needs: dict[str, bool] = {}  # added since it was last handed out
    due: dict[str, float] = {}  # the model's pending delayed adds

    def promote() -> None:
        for item, at in list(due.items()):
            if at <= clock():
                del due[item]
                needs[item] = True

    def get() -> str | None:
        item = q.get()
        if item is None:
            # liveness: nothing was ready
            assert not any(n and i not in processing for i, n in needs.items())
            return None
        assert item not in processing, "handed out while being processed"
        assert needs.get(item), "handed out without being added"
        processing.append(item)
        needs[item] = False
        return item

    def add_after(item: str, delay: float) -> None:
        if delay <= 0:
            needs[item] = True
        else:
            due[item] = min(due.get(item, float("inf")), clock() + delay)

    for op in ops:
        kind = op[0]
        if kind == "add":
            q.add(op[1])
            needs[op[1]] = True
        elif kind == "add_after":
            q.add_after(op[1], op[2])
            add_after(op[1], op[2])
        elif kind == "add_rate_limited":
            delay = q.rate_limiter.when(op[1])
            q.add_after(op[1], delay)
            add_after(op[1], delay)
        elif kind == "forget":
            q.forget(op[1])
        elif kind == "get":
            get()
        elif kind == "done" and processing:
            q.done(processing.pop(op[1] % len(processing)))
        elif kind == "advance":
            clock.advance(op[1])
            promote()

    # drain: let every delay pass, then work until the queue is empty
    clock.advance(5000)
    promote()
    for item in list(processing):
        processing.remove(item)
        q.done(item)
    while (item := get()) is not None:
        processing.remove(item)
        q.done(item)
    assert not any(needs.values())
    assert len(q) == 0 and q.waiting() == 0
