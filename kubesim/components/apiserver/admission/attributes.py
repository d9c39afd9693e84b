"""Admission attributes: what a plugin knows about the request it admits.

After ``k8s.io/apiserver/pkg/admission/attributes.go`` (``attributesRecord``) and
``errors.go`` (:func:`forbidden`, which is ``admission.NewForbidden``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kubesim.api import status

Obj = dict[str, Any]


class Operation(StrEnum):
    """``admission.Operation``."""

    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    CONNECT = "CONNECT"


@dataclass(frozen=True)
class UserInfo:
    """``user.Info`` of the requester."""

    name: str = ""
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Attributes:
    """One request as admission sees it.

    ``resource`` is the plural resource of the URL ("pods"), ``kind`` the kind the request
    carries ("Pod"; "Binding" for pods/binding; also set on DELETE). ``object`` is the
    incoming object, which the mutating phase changes in place; ``old_object`` the stored
    one (UPDATE, DELETE).
    """

    operation: Operation
    resource: str
    group: str = ""
    version: str = "v1"
    kind: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    object: Obj | None = None
    old_object: Obj | None = None
    user: UserInfo = field(default_factory=UserInfo)
    dry_run: bool = False

    @property
    def group_resource(self) -> str:
        """``GroupResource.String()``: ``deployments.apps``, ``pods``."""
        return status.qualified(self.resource, self.group)

    def is_kind(self, group: str, kind: str) -> bool:
        """Whether the object's group/kind is ``group``/``kind`` (``GetKind().GroupKind()``)."""
        return (self.group, self.kind) == (group, kind)


def forbidden(attrs: Attributes, message: str) -> status.APIError:
    """``admission.NewForbidden``: 403 naming the request's resource and object.

    The name is the request's, else the object's ``metadata.name``, else "Unknown".
    """
    name = attrs.name
    if not name:
        meta = (attrs.object or {}).get("metadata") or {}
        name = meta.get("name") or "Unknown"
    return status.forbidden(attrs.resource, name, message, attrs.group)
