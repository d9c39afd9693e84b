"""The Indexer: keys, the namespace index, custom indices, replace."""

from __future__ import annotations

import pytest

from kubesim.components.client.store import (
    NAMESPACE_INDEX,
    DeletedFinalStateUnknown,
    Indexer,
    meta_namespace_key,
    pod_node_name_index,
    split_meta_namespace_key,
)


def pod(name: str, ns: str = "default", node: str | None = None, rv: str = "1") -> dict:
    obj: dict = {"kind": "Pod", "metadata": {"name": name, "namespace": ns, "resourceVersion": rv}}
    obj["spec"] = {"nodeName": node} if node else {}
    return obj


def test_keys():
    assert meta_namespace_key(pod("web", "prod")) == "prod/web"
    assert meta_namespace_key({"metadata": {"name": "node-1"}}) == "node-1"
    assert (
        meta_namespace_key(DeletedFinalStateUnknown("prod/web", pod("web", "prod"))) == "prod/web"
    )
    assert split_meta_namespace_key("prod/web") == ("prod", "web")
    assert split_meta_namespace_key("node-1") == ("", "node-1")
    with pytest.raises(KeyError):
        meta_namespace_key({"metadata": {}})


def test_namespace_index_and_crud():
    idx = Indexer()
    idx.add(pod("a", "ns1"))
    idx.add(pod("b", "ns1"))
    idx.add(pod("c", "ns2"))
    assert [p["metadata"]["name"] for p in idx.by_index(NAMESPACE_INDEX, "ns1")] == ["a", "b"]
    assert idx.list_keys() == ["ns1/a", "ns1/b", "ns2/c"]
    assert idx.get_by_key("ns2/c")["metadata"]["name"] == "c"
    assert idx.get(pod("c", "ns2")) is idx.get_by_key("ns2/c")
    idx.delete(pod("a", "ns1"))
    assert idx.index_keys(NAMESPACE_INDEX, "ns1") == ["ns1/b"]
    idx.delete(DeletedFinalStateUnknown("ns1/b", pod("b", "ns1")))
    assert idx.by_index(NAMESPACE_INDEX, "ns1") == []
    assert idx.list_index_values(NAMESPACE_INDEX) == ["ns2"]
    idx.delete(pod("missing"))  # no error
    assert len(idx) == 1 and "ns2/c" in idx


def test_pods_by_node_index_follows_updates():
    idx = Indexer({"nodeName": pod_node_name_index})
    idx.add(pod("a", node="n1"))
    idx.add(pod("b", node="n1"))
    idx.add(pod("pending"))
    assert idx.index_keys("nodeName", "n1") == ["default/a", "default/b"]
    assert idx.index_keys("nodeName", "") == ["default/pending"]
    idx.update(pod("pending", node="n2", rv="2"))  # bound
    idx.update(pod("b", node="n2", rv="2"))
    assert idx.index_keys("nodeName", "n1") == ["default/a"]
    assert idx.index_keys("nodeName", "n2") == ["default/b", "default/pending"]
    assert "" not in idx.list_index_values("nodeName")
    assert [p["metadata"]["name"] for p in idx.index("nodeName", pod("x", node="n2"))] == [
        "b",
        "pending",
    ]
    with pytest.raises(KeyError):
        idx.by_index("nope", "x")


def test_add_indexers_indexes_existing_objects_and_refuses_duplicates():
    idx = Indexer()
    idx.add(pod("a", node="n1"))
    idx.add_indexers({"nodeName": pod_node_name_index})
    assert idx.index_keys("nodeName", "n1") == ["default/a"]
    with pytest.raises(ValueError):
        idx.add_indexers({NAMESPACE_INDEX: pod_node_name_index})


def test_multi_value_index():
    def by_label_values(obj: dict) -> list[str]:
        return sorted((obj["metadata"].get("labels") or {}).values())

    idx = Indexer({"labels": by_label_values})
    obj = pod("a")
    obj["metadata"]["labels"] = {"app": "web", "tier": "front"}
    idx.add(obj)
    assert idx.index_keys("labels", "web") == ["default/a"]
    assert idx.index_keys("labels", "front") == ["default/a"]


def test_replace_rebuilds_indices_and_records_resource_version():
    idx = Indexer({"nodeName": pod_node_name_index})
    idx.add(pod("old", node="n1"))
    idx.replace([pod("a", node="n2"), pod("b", "other", node="n2")], "42")
    assert idx.list_keys() == ["default/a", "other/b"]
    assert idx.index_keys("nodeName", "n1") == []
    assert idx.index_keys("nodeName", "n2") == ["default/a", "other/b"]
    assert idx.index_keys(NAMESPACE_INDEX, "other") == ["other/b"]
    assert idx.resource_version == "42"
