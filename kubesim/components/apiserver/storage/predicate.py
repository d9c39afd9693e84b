"""``storage.SelectionPredicate``: which objects a list or watch selects.

Label and field selectors from :mod:`kubesim.api.selectors`; an object's field set is the
kind's ``GetAttrs`` (:func:`kubesim.api.selectors.selectable_fields`).
:meth:`Predicate.single_namespace` lets a list or watch narrow the keys it looks at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubesim.api import selectors
from kubesim.api.kinds import Kind
from kubesim.api.selectors import FieldSelector, LabelSelector
from kubesim.components.apiserver.storage.options import ListOptions

Obj = dict[str, Any]
Attrs = tuple[dict[str, str], dict[str, str]]


@dataclass(frozen=True)
class Predicate:
    kind: Kind
    label: LabelSelector = selectors.EVERYTHING
    field: FieldSelector = FieldSelector()

    @classmethod
    def of(cls, kind: Kind, options: ListOptions) -> Predicate:
        return cls(kind, options.label_selector, options.field_selector)

    def empty(self) -> bool:
        return self.label.empty() and self.field.empty()

    def attrs(self, obj: Obj) -> Attrs:
        """(labels, fields) of an object, as matched against."""
        labels = obj.get("metadata", {}).get("labels") or {}
        fields = selectors.selectable_fields(self.kind.group, self.kind.kind, obj,
                                             self.kind.namespaced)
        return labels, fields

    def matches_attrs(self, attrs: Attrs) -> bool:
        return self.label.matches(attrs[0]) and self.field.matches(attrs[1])

    def matches(self, obj: Obj) -> bool:
        return self.empty() or self.matches_attrs(self.attrs(obj))

    def single_namespace(self) -> str | None:
        """``MatchesSingleNamespace``: the one namespace ``metadata.namespace=x`` restricts
        the selection to, if any."""
        for req in self.field.requirements:
            if req.field == "metadata.namespace" and not req.negate:
                return req.value
        return None
