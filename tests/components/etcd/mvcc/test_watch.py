"""WatchHub: live events, catch-up from history, compaction, filters, cancel, progress."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kubesim.components.etcd.mvcc.machine import StateMachine


def summary(out):
    """(stream, watch_id, header revision, [(type, key, mod_revision)]) per response."""
    return [
        (
            s,
            r["watch_id"],
            r["header"]["revision"],
            [(e["type"], e["kv"]["key"], e["kv"]["mod_revision"]) for e in r["events"]],
        )
        for s, r in out
    ]


def put(sm, key, value=b"v", **kw):
    return sm.apply("put", {"key": key, "value": value, **kw})


def test_created_response_and_live_events():
    sm = StateMachine()
    put(sm, b"a")  # 2
    sm.pump()
    created = sm.hub.create({"key": b"a"}, stream=1)
    assert created == {
        "header": {"revision": 2},
        "watch_id": 0,
        "created": True,
        "canceled": False,
        "compact_revision": 0,
        "cancel_reason": "",
        "fragment": False,
        "events": [],
    }
    assert sm.hub.create({"key": b"b"}, stream=1)["watch_id"] == 1
    assert sm.hub.create({"key": b"b"}, stream=2)["watch_id"] == 0
    put(sm, b"a", b"x")  # 3
    sm.apply(
        "txn",
        {"success": [{"request_put": {"key": b"b"}}, {"request_delete_range": {"key": b"a"}}]},
    )  # 4
    out = sm.pump()
    assert summary(out) == [
        (1, 0, 3, [("PUT", b"a", 3)]),
        (1, 0, 4, [("DELETE", b"a", 4)]),
        (1, 1, 4, [("PUT", b"b", 4)]),
        (2, 0, 4, [("PUT", b"b", 4)]),
    ]
    event = out[0][1]["events"][0]
    assert event == {
        "type": "PUT",
        "kv": {
            "key": b"a",
            "create_revision": 2,
            "mod_revision": 3,
            "version": 2,
            "value": b"x",
            "lease": 0,
        },
        "prev_kv": None,
    }
    assert out[1][1]["events"][0]["kv"] == {
        "key": b"a",
        "create_revision": 0,
        "mod_revision": 4,
        "version": 0,
        "value": b"",
        "lease": 0,
    }


def test_catch_up_then_live_without_loss_or_duplicates():
    sm = StateMachine()
    for i in range(5):
        put(sm, b"k", b"%d" % i)  # 2..6
    sm.pump()
    assert sm.hub.create({"key": b"k", "start_revision": 3})["header"] == {"revision": 6}
    put(sm, b"k", b"late")  # 7, applied before the pump
    out = sm.pump()
    assert summary(out) == [(0, 0, 7, [("PUT", b"k", r) for r in (3, 4, 5, 6, 7)])]
    put(sm, b"k")  # 8
    assert summary(sm.pump()) == [(0, 0, 8, [("PUT", b"k", 8)])]
    assert not sm.hub.has_unsynced()


def test_catch_up_in_batches_of_revisions():
    sm = StateMachine()
    for _ in range(5):
        put(sm, b"k")  # 2..6
    sm.hub.create({"key": b"k", "start_revision": 2})
    sm.store.drain_events()
    assert summary(sm.hub.sync(max_revs=2)) == [(0, 0, 6, [("PUT", b"k", 2), ("PUT", b"k", 3)])]
    assert sm.hub.has_unsynced()
    put(sm, b"k")  # 7: the unsynced watcher gets it from history, not live
    assert summary(sm.hub.notify(sm.store.drain_events())) == []
    assert summary(sm.hub.sync(max_revs=2)) == [(0, 0, 7, [("PUT", b"k", 4), ("PUT", b"k", 5)])]
    assert summary(sm.hub.sync(max_revs=2)) == [(0, 0, 7, [("PUT", b"k", 6), ("PUT", b"k", 7)])]
    assert summary(sm.hub.sync(max_revs=2)) == []
    assert not sm.hub.has_unsynced()


def test_future_start_revision_waits():
    sm = StateMachine()
    sm.hub.create({"key": b"k", "start_revision": 4})
    put(sm, b"k")  # 2
    put(sm, b"k")  # 3
    put(sm, b"k")  # 4
    assert summary(sm.pump()) == [(0, 0, 4, [("PUT", b"k", 4)])]


def test_compacted_start_revision():
    sm = StateMachine()
    for i in range(5):
        put(sm, b"k%d" % i)  # 2..6
    sm.apply("compact", {"revision": 4})
    sm.pump()
    created = sm.hub.create({"key": b"k", "range_end": b"l", "start_revision": 3})
    assert created["created"] and not created["canceled"]
    out = sm.pump()
    assert out == [
        (
            0,
            {
                "header": {"revision": 0},
                "watch_id": 0,
                "created": False,
                "canceled": True,
                "compact_revision": 4,
                "cancel_reason": "",
                "fragment": False,
                "events": [],
            },
        )
    ]
    assert len(sm.hub) == 0
    # the compact revision itself can still be watched from
    sm.hub.create({"key": b"k", "range_end": b"l", "start_revision": 4})
    assert summary(sm.pump()) == [
        (0, 1, 6, [("PUT", b"k2", 4), ("PUT", b"k3", 5), ("PUT", b"k4", 6)])
    ]


def test_ranges_prefixes_and_from_key():
    sm = StateMachine()
    sm.hub.create({"key": b"/a/", "range_end": b"/a0"})  # prefix /a/
    sm.hub.create({"key": b"/b", "range_end": b"\0"})  # >= /b
    sm.hub.create({})  # key "" -> "\0", single key
    sm.hub.create({"key": b"", "range_end": b"\0"})  # everything
    for key in (b"/a/x", b"/a", b"/b", b"/c/d", b"\0"):
        put(sm, key)
    got = {}
    for _, r in sm.pump():
        got.setdefault(r["watch_id"], []).extend(e["kv"]["key"] for e in r["events"])
    assert got == {
        0: [b"/a/x"],
        1: [b"/b", b"/c/d"],
        2: [b"\0"],
        3: [b"/a/x", b"/a", b"/b", b"/c/d", b"\0"],
    }


def test_range_watchers_that_come_and_go_see_exactly_the_keys_written_while_they_exist():
    """The range watchers of a key are remembered between writes of it: a watcher created
    or cancelled after the key was first written must count from then on."""
    sm = StateMachine()
    first = sm.hub.create({"key": b"/a/", "range_end": b"/a0"})["watch_id"]
    put(sm, b"/a/x")
    sm.pump()
    second = sm.hub.create({"key": b"/a/", "range_end": b"/a0"})["watch_id"]
    put(sm, b"/a/x")
    assert summary(sm.pump()) == [(0, first, 3, [("PUT", b"/a/x", 3)]),
                                  (0, second, 3, [("PUT", b"/a/x", 3)])]
    sm.hub.cancel(first)
    put(sm, b"/a/x")
    assert summary(sm.pump()) == [(0, second, 4, [("PUT", b"/a/x", 4)])]


def test_filters_and_prev_kv():
    sm = StateMachine()
    put(sm, b"k", b"1")  # 2
    sm.hub.create({"key": b"k", "filters": ["NOPUT"], "prev_kv": True})
    sm.hub.create({"key": b"k", "filters": ["NODELETE"]})
    sm.pump()
    put(sm, b"k", b"2")  # 3
    sm.apply("delete_range", {"key": b"k"})  # 4
    put(sm, b"k", b"3")  # 5
    out = sm.pump()
    assert summary(out) == [
        (0, 1, 3, [("PUT", b"k", 3)]),
        (0, 0, 4, [("DELETE", b"k", 4)]),
        (0, 1, 5, [("PUT", b"k", 5)]),
    ]
    assert out[0][1]["events"][0]["prev_kv"] is None  # no prev_kv asked
    assert out[1][1]["events"][0]["prev_kv"]["value"] == b"2"


def test_prev_kv_in_catch_up_respects_compaction():
    sm = StateMachine()
    put(sm, b"k", b"1")  # 2
    put(sm, b"k", b"2")  # 3
    put(sm, b"k", b"3")  # 4
    sm.apply("compact", {"revision": 3})
    sm.hub.create({"key": b"k", "start_revision": 3, "prev_kv": True})
    events = sm.pump()[0][1]["events"]
    # rev 3's previous value (at 2) is compacted away; rev 4's (at 3) is readable
    assert [(e["kv"]["mod_revision"], e["prev_kv"] and e["prev_kv"]["value"]) for e in events] == [
        (3, None),
        (4, b"2"),
    ]


def test_cancel_and_bad_creates():
    sm = StateMachine()
    sm.hub.create({"key": b"k", "watch_id": 5})
    dup = sm.hub.create({"key": b"k", "watch_id": 5})
    assert (dup["watch_id"], dup["created"], dup["canceled"]) == (-1, True, True)
    assert dup["cancel_reason"] == "mvcc: duplicate watch ID provided on the WatchStream"
    bad = sm.hub.create({"key": b"b", "range_end": b"a"})
    assert (bad["watch_id"], bad["canceled"], bad["cancel_reason"]) == (
        -1,
        True,
        "mvcc: watcher range is empty",
    )
    assert sm.hub.create({"key": b"k"})["watch_id"] == 0
    put(sm, b"k")
    resp = sm.hub.cancel(5)
    assert (resp["watch_id"], resp["canceled"], resp["header"]) == (5, True, {"revision": 2})
    assert sm.hub.cancel(5) is None
    assert [r["watch_id"] for _, r in sm.pump()] == [0]
    sm.hub.close_stream(0)
    assert len(sm.hub) == 0


def test_progress():
    sm = StateMachine()
    put(sm, b"x")
    assert sm.hub.progress()["watch_id"] == -1
    assert sm.hub.progress()["header"] == {"revision": 2}
    sm.hub.create({"key": b"a", "progress_notify": True})
    sm.hub.create({"key": b"b", "progress_notify": True})
    sm.hub.create({"key": b"c"})
    sm.hub.create({"key": b"a", "progress_notify": True, "start_revision": 1})  # unsynced
    assert summary(sm.hub.progress_tick()) == [(0, 0, 2, []), (0, 1, 2, [])]
    put(sm, b"a")  # 3
    assert summary(sm.pump()) == [(0, 0, 3, [("PUT", b"a", 3)]), (0, 3, 3, [("PUT", b"a", 3)])]
    # a watcher that got events since the last tick is skipped once
    assert summary(sm.hub.progress_tick()) == [(0, 1, 3, [])]
    assert summary(sm.hub.progress_tick()) == [(0, 0, 3, []), (0, 1, 3, []), (0, 3, 3, [])]


def test_request_progress_answers_only_a_synced_watcher():
    sm = StateMachine()
    put(sm, b"a")  # 2
    put(sm, b"b")  # 3
    sm.pump()
    sm.hub.create({"key": b"a", "range_end": b"z"}, stream=1)  # 0: synced
    sm.hub.create({"key": b"a", "range_end": b"z", "start_revision": 2}, stream=1)  # 1: behind
    sm.hub.create({"key": b"a", "start_revision": 9}, stream=1)  # 2: waits for the future
    assert summary(sm.hub.request_progress(0, stream=1)) == [(1, 0, 3, [])]
    assert sm.hub.request_progress(1, stream=1) == []  # its events would come after
    assert sm.hub.request_progress(2, stream=1) == []
    assert sm.hub.request_progress(7, stream=1) == []  # no such watcher
    sm.pump()  # catches watcher 1 up
    assert summary(sm.hub.request_progress(1, stream=1)) == [(1, 1, 3, [])]


def test_restore_makes_watchers_catch_up():
    leader = StateMachine()
    follower = StateMachine()
    follower.hub.create({"key": b"k", "range_end": b"l"})
    follower.hub.create({"key": b"k", "range_end": b"l", "start_revision": 6})
    for i in range(3):
        put(leader, b"k%d" % i)  # 2..4
    follower.restore(leader.snapshot())
    assert summary(follower.pump()) == [
        (0, 0, 4, [("PUT", b"k0", 2), ("PUT", b"k1", 3), ("PUT", b"k2", 4)])
    ]
    put(follower, b"k9")  # 5
    assert summary(follower.pump()) == [(0, 0, 5, [("PUT", b"k9", 5)])]
    put(follower, b"k8")  # 6: the watcher from 6 still waited for it
    assert summary(follower.pump()) == [(0, 0, 6, [("PUT", b"k8", 6)]), (0, 1, 6, [("PUT", b"k8", 6)])]


KEYS = [b"a", b"b", b"c"]

ops = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(KEYS)),
    st.tuples(st.just("delete"), st.sampled_from(KEYS)),
    st.tuples(st.just("watch"), st.integers(min_value=0, max_value=30)),
    st.tuples(st.just("sync"), st.integers(min_value=1, max_value=3)),
    st.tuples(st.just("notify"), st.just(0)),
    st.tuples(st.just("compact"), st.integers(min_value=0, max_value=30)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(ops, max_size=60))
def test_every_watcher_sees_exactly_the_history_from_its_start(script):
    """Watchers created at random start revisions, with notify and sync calls interleaved
    at random with writes and compactions, get each event of their key at most once, in
    order; they miss none, except a compacted start (canceled) or a DELETE at exactly a
    revision that was compacted to before the watcher caught up (etcd drops those
    tombstones)."""
    sm = StateMachine()
    log = []  # every event ever: (type, key, rev)
    pending = []  # drained but not yet notified
    received: dict[int, list] = {}
    starts: dict[int, tuple[int, bytes]] = {}
    canceled: dict[int, int] = {}
    compactions = set()

    def collect(out):
        for _, r in out:
            if r["canceled"]:
                canceled[r["watch_id"]] = r["compact_revision"]
            received[r["watch_id"]].extend(
                (e["type"], e["kv"]["key"], e["kv"]["mod_revision"]) for e in r["events"]
            )

    for op, arg in script:
        if op == "put":
            put(sm, arg)
        elif op == "delete":
            sm.apply("delete_range", {"key": arg})
        elif op == "watch":
            key = KEYS[arg % 3]
            start = arg % (sm.store.revision + 2)
            wid = sm.hub.create({"key": key, "start_revision": start})["watch_id"]
            received[wid] = []
            starts[wid] = (start or sm.store.revision + 1, key)
        elif op == "sync":
            for _ in range(arg):
                collect(sm.hub.sync(max_revs=2))
        elif op == "notify":
            collect(sm.hub.notify(pending))
            pending = []
        elif 0 < arg <= sm.store.revision and arg > sm.store.compact_revision:
            sm.apply("compact", {"revision": arg})
            compactions.add(arg)
        new = sm.store.drain_events()
        log.extend((e.type, e.kv.key, e.kv.mod_revision) for e in new)
        pending.extend(new)
    collect(sm.hub.notify(pending))
    while sm.hub.has_unsynced():
        collect(sm.hub.sync(max_revs=2))

    for wid, (start, key) in starts.items():
        got = received[wid]
        expected = [e for e in log if e[1] == key and e[2] >= start]
        assert got == [e for e in expected if e in got], (
            "out of order, duplicated or foreign events"
        )
        if wid in canceled:
            assert start < canceled[wid]
            continue
        required = [e for e in expected if not (e[0] == "DELETE" and e[2] in compactions)]
        assert set(required) <= set(got)
        if not compactions:
            assert got == expected
