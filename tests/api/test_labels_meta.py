"""Label validation, names, generateName, uids, timestamps, object metadata validation."""

from __future__ import annotations

import random

from kubesim.api import labels, meta
from kubesim.api.field import new_path

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


def test_dns_names():
    assert labels.is_dns1123_subdomain("example.com") == []
    assert labels.is_dns1123_subdomain("Foo_bar") == [SUBDOMAIN_MSG]
    assert labels.is_dns1123_subdomain("a" * 254)[0] == "must be no more than 253 characters"
    assert labels.is_dns1123_label("my-name") == []
    assert labels.is_dns1123_label("Foo") == [LABEL_MSG]
    assert labels.is_dns1123_label("a.b") == ["must not contain dots"]
    assert labels.is_dns1123_label("abc\n") == [LABEL_MSG]
    assert labels.is_dns1035_label("1abc") == [
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
        "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
        "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"]


def test_label_keys_and_values():
    assert labels.is_qualified_name("app.kubernetes.io/name") == []
    assert labels.is_qualified_name("-a") == [NAME_PART_MSG]
    assert labels.is_qualified_name("/a") == ["prefix part must be non-empty"]
    assert labels.is_qualified_name("a/") == ["name part must be non-empty", NAME_PART_MSG]
    assert labels.is_qualified_name("a/b/c")[0].startswith("a qualified name must consist of")
    assert labels.is_valid_label_value("") == []
    assert labels.is_valid_label_value("a" * 64)[0] == "must be no more than 63 characters"
    errs = labels.validate_labels({"ok": "-bad"}, new_path("metadata", "labels"))
    assert [str(e) for e in errs] == [
        'metadata.labels: Invalid value: "-bad": a valid label must be an empty string or consist '
        "of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
        "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
        "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]


def test_annotation_size_limit():
    big = {"a": "x" * (256 * 1024)}
    errs = labels.validate_annotations(big, new_path("metadata", "annotations"))
    assert [str(e) for e in errs] == ["metadata.annotations: Too long: may not be more than 262144 bytes"]
    assert labels.validate_annotations({"A_b": "x"}, new_path("m")) == []  # case-insensitive keys


def test_generate_name_uid_and_time_are_deterministic():
    a, b = random.Random(7), random.Random(7)
    name = meta.generate_name("web-", a)
    assert name == meta.generate_name("web-", b)
    assert name.startswith("web-") and len(name) == 9
    assert set(name[4:]) <= set(meta.GENERATE_NAME_ALPHABET)
    assert len(meta.generate_name("x" * 80, a)) == 63
    meta.generate_name("x" * 80, b)
    uid = meta.new_uid(a)
    assert uid == meta.new_uid(b) and uid[14] == "4"
    assert meta.timestamp(0) == "1970-01-01T00:00:00Z"
    assert meta.timestamp(1700000000.9) == "2023-11-14T22:13:20Z"
    assert meta.micro_timestamp(1.5) == "1970-01-01T00:00:01.500000Z"
    assert meta.parse_timestamp("2023-11-14T22:13:20Z") == 1700000000


def test_object_meta_create():
    errs = meta.validate_object_meta({"name": "Foo_bar"}, False, meta.name_is_dns_subdomain)
    assert [str(e) for e in errs] == [f'metadata.name: Invalid value: "Foo_bar": {SUBDOMAIN_MSG}']
    errs = meta.validate_object_meta({}, True, meta.name_is_dns_subdomain)
    assert [str(e) for e in errs] == [
        "metadata.name: Required value: name or generateName is required",
        "metadata.namespace: Required value"]
    errs = meta.validate_object_meta({"name": "n", "namespace": "x"}, False, meta.name_is_dns_label)
    assert [str(e) for e in errs] == ["metadata.namespace: Forbidden: not allowed on this type"]
    assert meta.validate_object_meta({"generateName": "web-", "name": "web-abcde",
                                      "namespace": "d"}, True, meta.name_is_dns_subdomain) == []


def test_owner_references_and_finalizers():
    refs = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "a", "uid": "1", "controller": True},
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "b", "uid": "2", "controller": True},
            {"apiVersion": "", "kind": "", "name": "", "uid": ""}]
    errs = [str(e) for e in meta.validate_owner_references(refs, new_path("metadata", "ownerReferences"))]
    assert errs == [
        'metadata.ownerReferences: Invalid value: "ReplicaSet/a": Only one reference can have '
        'Controller set to true. Found "true" in references for ReplicaSet/a and ReplicaSet/b',
        'metadata.ownerReferences.apiVersion: Invalid value: "": version must not be empty',
        'metadata.ownerReferences.kind: Invalid value: "": kind must not be empty',
        'metadata.ownerReferences.name: Invalid value: "": name must not be empty',
        'metadata.ownerReferences.uid: Invalid value: "": uid must not be empty']
    assert meta.controller_of({"metadata": {"ownerReferences": refs}})["name"] == "a"
    errs = meta.validate_finalizers(["orphan", "foregroundDeletion"], new_path("metadata", "finalizers"))
    assert [str(e) for e in errs] == [
        'metadata.finalizers: Invalid value: []string{"orphan", "foregroundDeletion"}: '
        "finalizer orphan and foregroundDeletion cannot be both set"]


def test_object_meta_update():
    old = {"name": "a", "namespace": "d", "uid": "u", "resourceVersion": "5",
           "deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": ["x/y"]}
    new = {**old, "name": "b", "finalizers": ["x/y", "x/z"]}
    assert [str(e) for e in meta.validate_object_meta_update(new, old)] == [
        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being "
        'deleted, found new finalizers []string{"x/z"}',
        'metadata.name: Invalid value: "b": field is immutable']
    assert meta.is_being_deleted({"metadata": old})
