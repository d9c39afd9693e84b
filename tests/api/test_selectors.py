"""Label selectors (string and LabelSelector form) and field selectors."""

from __future__ import annotations

import pytest

from kubesim.api import selectors
from kubesim.api.selectors import SelectorError, parse


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("a=b,c!=d,e in (x,y),!f,g", "a=b,c!=d,e in (x,y),!f,g"),
        ("z=1, a==2", "a==2,z=1"),
        ("x notin (b, a)", "x notin (a,b)"),
        ("a>3,b<4", "a>3,b<4"),
        ("a=", "a="),
        ("a in ()", "a in ()"),
        ("in=x", "in=x"),
        ("", ""),
    ],
)
def test_parse_canonical(text, canonical):
    assert str(parse(text)) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a==b,", "found '', expected: identifier after ','"),
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("a in (x", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a in x", "unable to parse requirement: found 'x' expected: '('"),
        ("a=(b", "unable to parse requirement: found '(', expected: identifier"),
        ("a>x", "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' "
                "operators, the value must be an integer"),
        ("-a=b", "unable to parse requirement: <nil>: Invalid value: \"-a\": name part must "
                 "consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
                 "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
                 "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"),
    ],
)
def test_parse_errors(text, message):
    with pytest.raises(SelectorError) as err:
        parse(text)
    assert str(err.value) == message


def test_matching():
    sel = parse("app=web,tier in (fe,be),!canary,env,rank>2")
    assert sel.matches({"app": "web", "tier": "fe", "env": "x", "rank": "3"})
    assert not sel.matches({"app": "web", "tier": "fe", "env": "x", "rank": "2"})
    assert not sel.matches({"app": "web", "tier": "fe", "env": "x", "rank": "3", "canary": ""})
    assert parse("a!=b").matches({}) and parse("a notin (b)").matches({"a": "c"})
    assert not parse("a=b").matches(None)
    assert parse("").matches({"any": "thing"}) and parse("").empty()
    assert selectors.selector_from_set({"b": "2", "a": "1"}).matches({"a": "1", "b": "2", "c": "3"})


def test_label_selector_form():
    sel = selectors.from_label_selector({
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe"]},
                             {"key": "canary", "operator": "DoesNotExist"}]})
    assert str(sel) == "app=web,!canary,tier in (fe)"
    assert sel.matches({"app": "web", "tier": "fe"})
    assert selectors.from_label_selector(None).matches({}) is False
    assert selectors.from_label_selector({}).matches({"x": "y"})
    with pytest.raises(SelectorError) as err:
        selectors.from_label_selector({"matchExpressions": [{"key": "a", "operator": "Foo"}]})
    assert str(err.value) == '"Foo" is not a valid label selector operator'


def test_validate_label_selector():
    path = selectors.field.new_path("spec", "selector")
    errs = selectors.validate_label_selector({"matchExpressions": [
        {"key": "a", "operator": "In"}, {"key": "b", "operator": "Exists", "values": ["x"]},
        {"key": "c", "operator": "Bogus"}]}, path)
    assert [str(e) for e in errs] == [
        "spec.selector.matchExpressions[0].values: Required value: must be specified when "
        "`operator` is 'In' or 'NotIn'",
        "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when "
        "`operator` is 'Exists' or 'DoesNotExist'",
        'spec.selector.matchExpressions[2].operator: Invalid value: "Bogus": not a valid selector operator']


def test_field_selectors():
    sel = selectors.parse_field_selector("spec.nodeName=n1,status.phase!=Failed", "", "Pod")
    pod = {"metadata": {"name": "p", "namespace": "d"}, "spec": {"nodeName": "n1"},
           "status": {"phase": "Running"}}
    fields = selectors.selectable_fields("", "Pod", pod)
    assert fields["spec.hostNetwork"] == "false" and fields["metadata.namespace"] == "d"
    assert sel.matches(fields)
    assert not selectors.parse_field_selector("spec.nodeName=", "", "Pod").matches(fields)
    assert str(selectors.parse_field_selector("b=x\\,y,a==1")) == "a=1,b=x\\,y"
    with pytest.raises(SelectorError) as err:
        selectors.parse_field_selector("foo=bar", "", "Pod")
    assert str(err.value) == "field label not supported: foo"
    with pytest.raises(SelectorError) as err:
        selectors.parse_field_selector("metadata.namespace=x", "", "Node")
    assert str(err.value) == "field label not supported: metadata.namespace"
    with pytest.raises(SelectorError) as err:
        selectors.parse_field_selector("a")
    assert str(err.value) == "invalid selector: 'a'; can't understand 'a'"
    assert selectors.parse_field_selector("metadata.name=x", "apps", "Deployment").matches(
        {"metadata.name": "x", "metadata.namespace": "d"})
    node = {"metadata": {"name": "n"}, "spec": {"unschedulable": True}}
    assert selectors.selectable_fields("", "Node", node, namespaced=False) == {
        "metadata.name": "n", "spec.unschedulable": "true"}
