"""`as=Table` responses (meta.k8s.io/v1 Table), as kube-apiserver's
endpoints/handlers/response.go `transformResponseObject` makes them for `kubectl get`.

kubectl asks with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io,...`. Each row
carries the object as `includeObject` says: `Metadata` (the default: a
PartialObjectMetadata), `Object` (the whole object) or `None`.
"""

from __future__ import annotations

from typing import Any

from kubesim.api import status
from kubesim.components.apiserver.rest.printers import printer_for

TABLE_GROUPS = ("meta.k8s.io",)
TABLE_VERSIONS = ("v1", "v1beta1")
INCLUDE_OBJECT = ("None", "Object", "Metadata")


def table_version(accept: str) -> str | None:
    """The Table version the Accept header asks for first ("v1" or "v1beta1"), or None
    when the client did not ask for a Table (or only as a lower preference than plain JSON
    would be; the first acceptable entry wins, as negotiation does)."""
    for item in accept.split(","):
        parts = [p.strip() for p in item.split(";")]
        params = {p.split("=", 1)[0]: p.split("=", 1)[1] for p in parts[1:] if "=" in p}
        if params.get("as") == "Table":
            if params.get("g") in TABLE_GROUPS and params.get("v") in TABLE_VERSIONS:
                return params["v"]
            continue
        if parts[0] in ("application/json", "*/*", "application/*"):
            return None
    return None


def _row_object(obj: dict[str, Any], include: str, version: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{version}",
            "metadata": obj.get("metadata") or {}}


def include_object(query: dict[str, str]) -> str:
    """metav1.TableOptions.IncludeObject; 400 for an unknown policy."""
    value = query.get("includeObject", "") or "Metadata"
    if value not in INCLUDE_OBJECT:
        raise status.bad_request(
            f'includeObject must be one of "None", "Object", "Metadata", got "{value}"')
    return value


def to_table(group: str, kind: str, objects: list[dict[str, Any]], list_meta: dict[str, Any],
             now: float, version: str = "v1", include: str = "Metadata",
             headers: bool = True) -> dict[str, Any]:
    """A Table of `objects` (all of `kind`), with `list_meta` as its ListMeta. `now` (Unix
    seconds) is the server's clock for the Age columns; `headers=False` leaves the column
    definitions out (watch events after the first)."""
    columns, row_of = printer_for(group, kind)
    rows = []
    for obj in objects:
        cells, conditions = row_of(obj, now)
        row: dict[str, Any] = {"cells": cells}
        if conditions:
            row["conditions"] = conditions
        row_object = _row_object(obj, include, version)
        if row_object is not None:
            row["object"] = row_object
        rows.append(row)
    return {"kind": "Table", "apiVersion": f"meta.k8s.io/{version}", "metadata": list_meta,
            "columnDefinitions": columns if headers else [], "rows": rows}
