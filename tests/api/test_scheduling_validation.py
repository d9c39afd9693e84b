"""A pod's affinity and topology spread constraints are validated on create with the field
paths and messages of pkg/apis/core/validation (v1.32); a malformed one is a 422."""

from __future__ import annotations

import asyncio

import pytest

from kubesim.api import defaults, status, validation
from kubesim.testing.fake_apiserver import FakeAPIServer


def pod(**spec):
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec}}
    return defaults.apply_defaults(obj)


def messages(obj):
    return [str(e) for e in validation.validate(obj)]


def node_affinity(*exprs, fields=()):
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": list(exprs), **({"matchFields": list(fields)} if fields else {})}]}}}


REQ = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
TERM0 = f"{REQ}.nodeSelectorTerms[0]"


def test_valid_affinities_pass():
    affinity = {
        **node_affinity({"key": "zone", "operator": "In", "values": ["a", "b"]},
                        {"key": "gpu", "operator": "Exists"},
                        {"key": "cores", "operator": "Gt", "values": ["8"]},
                        fields=[{"key": "metadata.name", "operator": "NotIn", "values": ["node-1"]}]),
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}],
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchExpressions": [
                    {"key": "app", "operator": "NotIn", "values": ["web"]}]},
                    "namespaces": ["prod"], "topologyKey": "topology.kubernetes.io/zone"}}]},
    }
    spread = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
               "minDomains": 3, "labelSelector": {"matchLabels": {"app": "db"}}, "matchLabelKeys": ["pod-template-hash"]}]
    assert messages(pod(affinity=affinity, topologySpreadConstraints=spread)) == []


@pytest.mark.parametrize("expr,error", [
    ({"key": "zone", "operator": "Near", "values": ["a"]},
     f'{TERM0}.matchExpressions[0].operator: Invalid value: "Near": not a valid selector operator'),
    ({"key": "zone", "operator": "In"},
     f"{TERM0}.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"),
    ({"key": "zone", "operator": "Exists", "values": ["a"]},
     f"{TERM0}.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or "
     "'DoesNotExist'"),
    ({"key": "cores", "operator": "Gt", "values": ["1", "2"]},
     f"{TERM0}.matchExpressions[0].values: Required value: must be specified single value when `operator` is "
     "'Lt' or 'Gt'"),
    ({"key": "bad key!", "operator": "Exists"},
     f'{TERM0}.matchExpressions[0].key: Invalid value: "bad key!": name part must consist of alphanumeric '
     "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
     "'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"),
])
def test_bad_node_selector_requirements(expr, error):
    assert messages(pod(affinity=node_affinity(expr))) == [error]


def test_required_values_must_be_label_values_but_preferred_ones_need_not():
    bad = {"key": "zone", "operator": "In", "values": ["not ok"]}
    errs = messages(pod(affinity=node_affinity(bad)))
    assert len(errs) == 1 and errs[0].startswith(f'{TERM0}.matchExpressions[0].values[0]: Invalid value: "not ok": ')
    preferred = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 0, "preference": {"matchExpressions": [bad]}}]}}
    assert messages(pod(affinity=preferred)) == [
        "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: "
        "Invalid value: 0: must be in the range 1-100"]


def test_gt_with_a_non_integer_is_admitted_as_upstream_does():
    # Upstream only counts the values of Gt/Lt; "eight" is a valid label value, so the pod is
    # created and its term matches no node (see the NodeAffinity filter tests).
    assert messages(pod(affinity=node_affinity({"key": "cores", "operator": "Gt", "values": ["eight"]}))) == []


def test_empty_node_selector_terms_and_bad_match_fields():
    empty = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}
    assert messages(pod(affinity=empty)) == [
        f"{REQ}.nodeSelectorTerms: Required value: must have at least one node selector term"]
    fields = node_affinity(fields=[{"key": "metadata.labels", "operator": "Exists"}])
    assert messages(pod(affinity=fields)) == [
        f'{TERM0}.matchFields[0].operator: Invalid value: "Exists": not a valid selector operator',
        f'{TERM0}.matchFields[0].key: Invalid value: "metadata.labels": not a valid field selector key']


def test_bad_pod_affinity_terms():
    anti = "spec.affinity.podAntiAffinity"
    affinity = {
        "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchExpressions": [{"key": "app", "operator": "Equals", "values": ["x"]}]},
             "topologyKey": ""}]},
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 101, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "x"}},
                                                "namespaces": ["Prod"], "topologyKey": "zone"}}]},
    }
    req = "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]"
    errs = messages(pod(affinity=affinity))
    assert errs[:3] == [
        f'{req}.labelSelector.matchExpressions[0].operator: Invalid value: "Equals": not a valid selector operator',
        f"{req}.topologyKey: Required value: can not be empty",
        f'{req}.topologyKey: Invalid value: "": name part must be non-empty']
    assert errs[4] == (f"{anti}.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 101: "
                       "must be in the range 1-100")
    assert errs[5].startswith(f"{anti}.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm"
                              '.namespace: Invalid value: "Prod": a lowercase RFC 1123 label')
    assert len(errs) == 6


def test_match_label_keys_rules():
    term = {"labelSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}], "matchLabels": {"app": "x"}},
            "matchLabelKeys": ["app", "tier"], "mismatchLabelKeys": ["tier"], "topologyKey": "zone"}
    path = "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]"
    assert messages(pod(affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}})) == [
        f'{path}[0]: Invalid value: "app": exists in both matchLabelKeys and labelSelector',
        f'{path}.matchLabelKeys[1]: Invalid value: "tier": exists in both matchLabelKeys and mismatchLabelKeys']


def test_bad_topology_spread_constraints():
    spread = [
        {"maxSkew": 0, "topologyKey": "", "whenUnsatisfiable": "Sometimes"},
        {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway", "minDomains": 2,
         "nodeTaintsPolicy": "Maybe"},
        {"maxSkew": 2, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"},
    ]
    p = "spec.topologySpreadConstraints"
    assert messages(pod(topologySpreadConstraints=spread)) == [
        f"{p}[0].maxSkew: Invalid value: 0: must be greater than zero",
        f"{p}[0].topologyKey: Required value: can not be empty",
        f'{p}[0].whenUnsatisfiable: Unsupported value: "Sometimes": supported values: "DoNotSchedule", '
        '"ScheduleAnyway"',
        f'{p}[1].{{topologyKey, whenUnsatisfiable}}: Duplicate value: "{{zone, ScheduleAnyway}}"',
        f"{p}[1].minDomains: Invalid value: 2: can only use minDomains if whenUnsatisfiable=DoNotSchedule, "
        "not ScheduleAnyway",
        f'{p}[1].nodeTaintsPolicy: Unsupported value: "Maybe": supported values: "Honor", "Ignore"']


def test_malformed_affinity_is_a_422_at_admission_and_nothing_is_stored():
    api = FakeAPIServer()
    bad = pod(affinity=node_affinity({"key": "zone", "operator": "Near", "values": ["a"]}))

    async def create():
        return await api.create("pods", bad)

    with pytest.raises(status.APIError) as err:
        asyncio.run(create())
    assert err.value.code == 422
    assert err.value.message == (
        f'Pod "p" is invalid: {TERM0}.matchExpressions[0].operator: Invalid value: "Near": '
        "not a valid selector operator")
    causes = err.value.status["details"]["causes"]
    assert causes == [{"reason": "FieldValueInvalid", "message": 'Invalid value: "Near": not a valid selector operator',
                       "field": f"{TERM0}.matchExpressions[0].operator"}]
    assert api.objects("pods") == []
