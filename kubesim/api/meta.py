"""Object metadata: names, generateName, uids, timestamps, owner references, finalizers.

Randomness comes only from a passed ``random.Random`` and time only from a passed ``now``
(seconds since the epoch), so a seeded run produces the same names and uids every time.
:func:`validate_object_meta` and :func:`validate_object_meta_update` are apimachinery's
``ValidateObjectMeta`` / ``ValidateObjectMetaUpdate`` over plain dict metadata.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kubesim.api import field, labels

# apimachinery util/rand: consonants and digits that cannot spell bad words.
GENERATE_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
GENERATE_NAME_RANDOM_LENGTH = 5
MAX_GENERATED_NAME_LENGTH = 63 - GENERATE_NAME_RANDOM_LENGTH

FINALIZER_ORPHAN_DEPENDENTS = "orphan"
FINALIZER_DELETE_DEPENDENTS = "foregroundDeletion"
FIELD_IMMUTABLE = "field is immutable"

NameValidator = Callable[[str, bool], list[str]]


def _mask_trailing_dash(name: str) -> str:
    return name[:-1] + "a" if len(name) > 1 and name.endswith("-") else name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    """``NameIsDNSSubdomain``; with ``prefix`` a trailing '-' is allowed (generateName)."""
    return labels.is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    """``NameIsDNSLabel`` (namespaces)."""
    return labels.is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    """``NameIsDNS1035Label`` (services)."""
    return labels.is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def generate_name(base: str, rng: random.Random) -> str:
    """``SimpleNameGenerator.GenerateName``: base (cut to 58) plus 5 random characters."""
    base = base[:MAX_GENERATED_NAME_LENGTH]
    return base + "".join(rng.choice(GENERATE_NAME_ALPHABET)
                          for _ in range(GENERATE_NAME_RANDOM_LENGTH))


def new_uid(rng: random.Random) -> str:
    """A version-4 UUID drawn from ``rng``."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def timestamp(now: float) -> str:
    """metav1.Time as served: RFC 3339 in UTC with whole seconds, e.g. 2024-05-01T12:00:00Z."""
    return datetime.fromtimestamp(int(now), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_timestamp(now: float) -> str:
    """metav1.MicroTime (leases, events.k8s.io): RFC 3339 with microseconds."""
    micros = round(now * 1_000_000)
    dt = datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 timestamp as written by :func:`timestamp`."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def controller_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The owner reference with ``controller: true``, if any (``metav1.GetControllerOf``)."""
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def is_being_deleted(obj: dict[str, Any]) -> bool:
    return bool(obj.get("metadata", {}).get("deletionTimestamp"))


# -- validation ----------------------------------------------------------------------------


def validate_owner_references(refs: list[dict[str, Any]] | None, path: field.Path) -> field.ErrorList:
    """``ValidateOwnerReferences``: required fields, events may not own, one controller."""
    errs: field.ErrorList = []
    first_controller = ""
    for ref in refs or []:
        api_version = ref.get("apiVersion", "")
        kind = ref.get("kind", "")
        group, _, version = api_version.rpartition("/")
        if not version:
            errs.append(field.invalid(path.child("apiVersion"), api_version, "version must not be empty"))
        if not kind:
            errs.append(field.invalid(path.child("kind"), kind, "kind must not be empty"))
        if not ref.get("name"):
            errs.append(field.invalid(path.child("name"), ref.get("name", ""), "name must not be empty"))
        if not ref.get("uid"):
            errs.append(field.invalid(path.child("uid"), ref.get("uid", ""), "uid must not be empty"))
        if group == "" and version == "v1" and kind == "Event":
            errs.append(field.invalid(path, field.GoLiteral(_go_owner_ref(ref)),
                                      "/v1, Kind=Event is disallowed from being an owner"))
        if ref.get("controller"):
            current = f"{kind}/{ref.get('name', '')}"
            if first_controller:
                errs.append(field.invalid(
                    path, first_controller,
                    "Only one reference can have Controller set to true. Found \"true\" in "
                    f"references for {first_controller} and {current}"))
            else:
                first_controller = current
    return errs


def _go_owner_ref(ref: dict[str, Any]) -> str:
    def ptr_bool(key: str) -> str:
        return f"(*bool)({'true' if ref[key] else 'false'})" if key in ref else "(*bool)(nil)"
    return (f'v1.OwnerReference{{APIVersion:{field.go_quote(ref.get("apiVersion", ""))}, '
            f'Kind:{field.go_quote(ref.get("kind", ""))}, Name:{field.go_quote(ref.get("name", ""))}, '
            f'UID:{field.go_quote(ref.get("uid", ""))}, Controller:{ptr_bool("controller")}, '
            f'BlockOwnerDeletion:{ptr_bool("blockOwnerDeletion")}}}')


def validate_finalizers(finalizers: list[str] | None, path: field.Path) -> field.ErrorList:
    """``ValidateFinalizers``: qualified names; orphan and foregroundDeletion are exclusive."""
    finalizers = finalizers or []
    errs: field.ErrorList = []
    for name in finalizers:
        errs.extend(field.invalid(path, name, msg) for msg in labels.is_qualified_name(name))
    if FINALIZER_ORPHAN_DEPENDENTS in finalizers and FINALIZER_DELETE_DEPENDENTS in finalizers:
        errs.append(field.invalid(path, finalizers,
                                  f"finalizer {FINALIZER_ORPHAN_DEPENDENTS} and "
                                  f"{FINALIZER_DELETE_DEPENDENTS} cannot be both set"))
    return errs


def validate_nonnegative(value: int, path: field.Path) -> field.ErrorList:
    if value < 0:
        return [field.invalid(path, value, "must be greater than or equal to 0")]
    return []


def validate_immutable(new: Any, old: Any, path: field.Path) -> field.ErrorList:
    """``ValidateImmutableField``: ``<path>: Invalid value: <new>: field is immutable``."""
    return [] if new == old else [field.invalid(path, new, FIELD_IMMUTABLE)]


def validate_object_meta(meta: dict[str, Any], namespaced: bool, name_fn: NameValidator,
                         path: field.Path | None = None) -> field.ErrorList:
    """``ValidateObjectMeta`` for a create."""
    path = path or field.new_path("metadata")
    errs: field.ErrorList = []
    generate = meta.get("generateName") or ""
    if generate:
        errs.extend(field.invalid(path.child("generateName"), generate, msg)
                    for msg in name_fn(generate, True))
    name = meta.get("name") or ""
    if not name:
        errs.append(field.required(path.child("name"), "name or generateName is required"))
    else:
        errs.extend(field.invalid(path.child("name"), name, msg) for msg in name_fn(name, False))
    namespace = meta.get("namespace") or ""
    if namespaced:
        if not namespace:
            errs.append(field.required(path.child("namespace")))
        else:
            errs.extend(field.invalid(path.child("namespace"), namespace, msg)
                        for msg in name_is_dns_label(namespace, False))
    elif namespace:
        errs.append(field.forbidden(path.child("namespace"), "not allowed on this type"))
    errs.extend(validate_nonnegative(meta.get("generation", 0), path.child("generation")))
    errs.extend(labels.validate_labels(meta.get("labels"), path.child("labels")))
    errs.extend(labels.validate_annotations(meta.get("annotations"), path.child("annotations")))
    errs.extend(validate_owner_references(meta.get("ownerReferences"), path.child("ownerReferences")))
    errs.extend(validate_finalizers(meta.get("finalizers"), path.child("finalizers")))
    return errs


def validate_object_meta_update(new: dict[str, Any], old: dict[str, Any],
                                path: field.Path | None = None) -> field.ErrorList:
    """``ValidateObjectMetaUpdate``: identity fields immutable, no new finalizers once deleting."""
    path = path or field.new_path("metadata")
    errs: field.ErrorList = []
    if old.get("deletionTimestamp"):
        added = sorted(set(new.get("finalizers") or []) - set(old.get("finalizers") or []))
        if added:
            errs.append(field.forbidden(
                path.child("finalizers"),
                "no new finalizers can be added if the object is being deleted, found new "
                f"finalizers {field.go_value(added)}"))
    if not new.get("resourceVersion"):
        errs.append(field.invalid(path.child("resourceVersion"), new.get("resourceVersion", ""),
                                  "must be specified for an update"))
    if new.get("generation", 0) < old.get("generation", 0):
        errs.append(field.invalid(path.child("generation"), new.get("generation", 0),
                                  "must not be decremented"))
    for key in ("name", "namespace", "uid", "creationTimestamp"):
        errs.extend(validate_immutable(new.get(key, ""), old.get(key, ""), path.child(key)))
    for key in ("deletionTimestamp", "deletionGracePeriodSeconds"):
        if new.get(key) != old.get(key):
            errs.append(field.invalid(path.child(key), new.get(key), FIELD_IMMUTABLE))
    errs.extend(labels.validate_labels(new.get("labels"), path.child("labels")))
    errs.extend(labels.validate_annotations(new.get("annotations"), path.child("annotations")))
    errs.extend(validate_owner_references(new.get("ownerReferences"), path.child("ownerReferences")))
    errs.extend(validate_finalizers(new.get("finalizers"), path.child("finalizers")))
    return errs
