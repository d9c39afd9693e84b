"""Priority: resolving priority from PriorityClasses, and the single global default."""

from __future__ import annotations

import asyncio

import pytest

from kubesim.api.status import APIError
from kubesim.components.apiserver.admission.priority import Priority
from tests.components.apiserver.admission.fakes import (
    PRIORITY_CLASSES,
    FakeStore,
    create,
    pod,
    priority_class,
    update,
)


def _store(*classes):
    store = FakeStore()
    for pc in classes:
        store.put(PRIORITY_CLASSES, pc)
    return store


def _admit(store, obj):
    asyncio.run(Priority(store).admit(create(obj, "pods")))
    return obj["spec"]


def test_no_class_and_no_default_gives_zero():
    spec = _admit(_store(priority_class("high", 1000)), pod())
    assert (spec["priority"], spec["preemptionPolicy"]) == (0, "PreemptLowerPriority")
    assert "priorityClassName" not in spec


def test_named_class_sets_value_and_policy():
    spec = _admit(_store(priority_class("high", 1000, policy="Never")),
                  pod(priorityClassName="high"))
    assert (spec["priority"], spec["preemptionPolicy"]) == (1000, "Never")


def test_global_default_applies_and_the_lowest_of_several_wins():
    store = _store(priority_class("b-default", 50, global_default=True),
                   priority_class("a-default", 10, global_default=True, policy="Never"),
                   priority_class("high", 1000))
    spec = _admit(store, pod())
    assert (spec["priorityClassName"], spec["priority"], spec["preemptionPolicy"]) == \
        ("a-default", 10, "Never")


def test_unknown_class_is_403():
    with pytest.raises(APIError) as err:
        _admit(_store(), pod("web", priorityClassName="nope"))
    assert err.value.code == 403 and err.value.reason == "Forbidden"
    assert err.value.message == 'pods "web" is forbidden: no PriorityClass with name nope was found'


def test_priority_in_spec_must_match_the_class():
    store = _store(priority_class("high", 1000))
    assert _admit(store, pod(priorityClassName="high", priority=1000))["priority"] == 1000
    with pytest.raises(APIError) as err:
        _admit(store, pod("web", priorityClassName="high", priority=5))
    assert err.value.message == (
        'pods "web" is forbidden: the integer value of priority (5) must not be provided in pod '
        "spec; priority admission controller computed 1000 from the given PriorityClass name")
    with pytest.raises(APIError) as err:
        _admit(store, pod("web", priorityClassName="high", preemptionPolicy="Never"))
    assert err.value.message == (
        'pods "web" is forbidden: the string value of PreemptionPolicy (Never) must not be '
        "provided in pod spec; priority admission controller computed PreemptLowerPriority from "
        "the given PriorityClass name")


def test_update_keeps_the_stored_priority():
    old = pod()
    old["spec"].update(priority=7, preemptionPolicy="Never")
    new = pod()
    asyncio.run(Priority(_store()).admit(update(new, old, "pods")))
    assert (new["spec"]["priority"], new["spec"]["preemptionPolicy"]) == (7, "Never")


def test_subresources_are_ignored():
    attrs = create(pod(priorityClassName="nope"), "pods")
    attrs.subresource = "status"
    asyncio.run(Priority(_store()).admit(attrs))
    assert "priority" not in attrs.object["spec"]


def test_only_one_global_default_class():
    store = _store(priority_class("a", 10, global_default=True))
    plugin = Priority(store)
    second = priority_class("b", 20, global_default=True)
    with pytest.raises(APIError) as err:
        asyncio.run(plugin.validate(create(second, "priorityclasses", "scheduling.k8s.io")))
    assert err.value.code == 403
    assert err.value.message == ('priorityclasses.scheduling.k8s.io "b" is forbidden: PriorityClass a '
                                 "is already marked as default. Only one default can exist")
    with pytest.raises(APIError):
        asyncio.run(plugin.validate(update(second, priority_class("b", 20), "priorityclasses",
                                           "scheduling.k8s.io")))
    same = priority_class("a", 15, global_default=True)
    asyncio.run(plugin.validate(update(same, priority_class("a", 10, True), "priorityclasses",
                                       "scheduling.k8s.io")))
    asyncio.run(plugin.validate(create(priority_class("c", 5), "priorityclasses",
                                       "scheduling.k8s.io")))
