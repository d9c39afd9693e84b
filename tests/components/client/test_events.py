"""The informer: list, watch events, resync, relist after 410 Gone."""

from __future__ import annotations

import pytest

from kubesim.components.client.events import EventHandler, Informer
from kubesim.components.client.store import DeletedFinalStateUnknown, Indexer, pod_node_name_index


def pod(name: str, rv: str, node: str = "") -> dict:
    return {
        "metadata": {"name": name, "namespace": "default", "resourceVersion": rv},
        "spec": {"nodeName": node} if node else {},
    }


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def handler(self) -> EventHandler:
        return EventHandler(
            on_add=lambda o: self.events.append(("add", _name(o))),
            on_update=lambda old, new: self.events.append(
                ("update", _name(new), _rv(old), _rv(new))
            ),
            on_delete=lambda o: self.events.append(("delete", o)),
        )

    def take(self) -> list[tuple]:
        out, self.events = self.events, []
        return out


def _name(obj: dict) -> str:
    return obj["metadata"]["name"]


def _rv(obj: dict) -> str:
    return obj["metadata"]["resourceVersion"]


def test_list_then_watch_events():
    inf = Informer(Indexer({"node": pod_node_name_index}))
    rec = Recorder()
    inf.add_event_handler(rec.handler())
    assert inf.relist_resource_version() == "0"
    inf.on_list([pod("a", "5"), pod("b", "7")], "10", now=0.0)
    assert inf.has_synced and inf.resource_version == "10"
    assert rec.take() == [("add", "a"), ("add", "b")]

    assert inf.on_watch_event("ADDED", pod("c", "11"))
    assert inf.on_watch_event("MODIFIED", pod("a", "12", node="n1"))
    assert inf.indexer.index_keys("node", "n1") == ["default/a"]
    deleted = pod("b", "13")
    assert inf.on_watch_event("DELETED", deleted)
    assert inf.on_watch_event("BOOKMARK", {"metadata": {"resourceVersion": "20"}})
    assert rec.take() == [
        ("add", "c"),
        ("update", "a", "5", "12"),
        ("delete", deleted),
    ]
    assert inf.indexer.list_keys() == ["default/a", "default/c"]
    assert inf.resource_version == "20"
    assert inf.relist_resource_version() == "20"


def test_added_for_a_cached_key_is_an_update_and_unknown_delete_is_ignored():
    inf = Informer()
    rec = Recorder()
    inf.add_event_handler(rec.handler())
    inf.on_list([pod("a", "1")], "1", now=0.0)
    rec.take()
    inf.on_watch_event("ADDED", pod("a", "2"))
    inf.on_watch_event("DELETED", pod("ghost", "3"))
    assert rec.take() == [("update", "a", "1", "2")]
    assert inf.resource_version == "3"


def test_relist_after_410_gone_deletes_vanished_objects_with_final_state_unknown():
    inf = Informer()
    rec = Recorder()
    inf.add_event_handler(rec.handler())
    inf.on_list([pod("a", "1"), pod("b", "2"), pod("c", "3")], "3", now=0.0)
    rec.take()
    last_b = inf.indexer.get_by_key("default/b")

    # the watch fell too far behind: the apiserver answers 410 Gone
    gone = {"kind": "Status", "status": "Failure", "reason": "Expired", "code": 410}
    assert inf.on_watch_event("ERROR", gone) is False
    assert inf.relist_resource_version() == ""  # consistent read from etcd

    # meanwhile b was deleted, c modified, d created
    inf.on_list([pod("a", "1"), pod("c", "9"), pod("d", "8")], "10", now=50.0)
    events = rec.take()
    assert ("update", "c", "3", "9") in events
    assert ("add", "d") in events
    assert ("delete", DeletedFinalStateUnknown("default/b", last_b)) in events
    assert not any(e[0] == "update" and e[1] == "a" for e in events)  # unchanged: no resync
    assert len(events) == 3
    assert events[-1][0] == "delete"  # as DeltaFIFO.Replace: listed items first
    assert inf.indexer.list_keys() == ["default/a", "default/c", "default/d"]
    assert inf.resource_version == "10" and inf.relist_resource_version() == "10"


def test_other_watch_errors_relist_from_the_last_resource_version():
    inf = Informer()
    inf.on_list([], "7", now=0.0)
    assert inf.on_watch_event("ERROR", {"kind": "Status", "code": 500}) is False
    assert inf.relist_resource_version() == "7"
    with pytest.raises(ValueError):
        inf.on_watch_event("WHATEVER", {})


def test_resync_redelivers_every_object_as_an_update():
    inf = Informer(resync_period=30.0)
    rec = Recorder()
    inf.add_event_handler(rec.handler())
    assert inf.tick(0.0) is None  # not synced yet
    inf.on_list([pod("a", "1"), pod("b", "2")], "2", now=5.0)
    rec.take()
    assert inf.tick(34.9) == 35.0
    assert rec.take() == []
    assert inf.tick(35.0) == 65.0
    assert rec.take() == [("update", "a", "1", "1"), ("update", "b", "2", "2")]
    assert inf.tick(70.0) == 100.0
    assert len(rec.take()) == 2
    # with resync on, a relist also re-delivers unchanged objects
    inf.on_list([pod("a", "1")], "3", now=80.0)
    events = rec.take()
    assert events[0] == ("update", "a", "1", "1")
    assert events[1][0] == "delete"


def test_resync_off_by_default():
    inf = Informer()
    inf.on_list([pod("a", "1")], "1", now=0.0)
    assert inf.tick(1e9) is None


def test_late_handler_gets_adds_for_cached_objects():
    inf = Informer()
    inf.on_list([pod("a", "1"), pod("b", "2")], "2", now=0.0)
    rec = Recorder()
    inf.add_event_handler(rec.handler())
    assert rec.take() == [("add", "a"), ("add", "b")]
    inf.add_event_handler(EventHandler())  # all callbacks optional
    inf.on_watch_event("MODIFIED", pod("a", "3"))
    inf.on_watch_event("DELETED", pod("a", "4"))
    assert [e[0] for e in rec.take()] == ["update", "delete"]
