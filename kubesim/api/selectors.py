"""Label selectors (string and metav1.LabelSelector form) and field selectors.

Label selectors follow apimachinery's ``labels`` package: :func:`parse` accepts
``"a=b,c!=d,e in (x,y),!f,g,h>3"`` and raises :class:`SelectorError` with the same messages
as ``labels.Parse``; requirements are kept sorted by key and print back canonically.
:func:`from_label_selector` is ``metav1.LabelSelectorAsSelector``.

Field selectors follow ``fields.ParseSelector``; :func:`parse_field_selector` takes the kind
so unsupported fields fail like the apiserver (``field label not supported: foo``), and
:func:`selectable_fields` gives the values an object is matched on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubesim.api import field, labels

IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "in", "notin", "=", "==", "!="
EXISTS, DOES_NOT_EXIST, GREATER_THAN, LESS_THAN = "exists", "!", "gt", "lt"
_BINARY_OPERATORS = [IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN]
_SYMBOL_TOKENS = {"(", ")", ",", "!", "=", "==", "!=", ">", "<"}
_SPECIAL = set("=!(),<>")
_WHITESPACE = set(" \t\r\n")


class SelectorError(ValueError):
    """An unparsable or invalid selector; the message is apimachinery's error text."""


@dataclass(frozen=True)
class Requirement:
    """One label requirement: key, operator and its (sorted) values."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, label_set: dict[str, str]) -> bool:
        op, present = self.operator, self.key in label_set
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            return present and label_set[self.key] in self.values
        if op in (NOT_IN, NOT_EQUALS):
            return not present or label_set[self.key] not in self.values
        if op == EXISTS:
            return present
        if op == DOES_NOT_EXIST:
            return not present
        if not present:
            return False
        try:
            have, want = int(label_set[self.key]), int(self.values[0])
        except ValueError:
            return False
        return have > want if op == GREATER_THAN else have < want

    def __str__(self) -> str:
        if self.operator == EXISTS:
            return self.key
        if self.operator == DOES_NOT_EXIST:
            return "!" + self.key
        values = ",".join(sorted(self.values))
        if self.operator in (IN, NOT_IN):
            return f"{self.key} {self.operator} ({values})"
        symbol = {GREATER_THAN: ">", LESS_THAN: "<"}.get(self.operator, self.operator)
        return f"{self.key}{symbol}{values}"


@dataclass(frozen=True)
class LabelSelector:
    """An AND of requirements; ``nothing=True`` is ``labels.Nothing()`` (matches no object)."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, label_set: dict[str, str] | None) -> bool:
        if self.nothing:
            return False
        label_set = label_set or {}
        return all(r.matches(label_set) for r in self.requirements)

    def empty(self) -> bool:
        """True for ``labels.Everything()``."""
        return not self.nothing and not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(nothing=True)


def new_requirement(key: str, operator: str, values: list[str],
                    path: field.Path | None = None) -> Requirement:
    """``labels.NewRequirement``: validates key, operator arity and values."""
    path = path or field.new_path()
    errs: field.ErrorList = []
    key_errs = labels.is_qualified_name(key)
    if key_errs:
        errs.append(field.invalid(path.child("key"), key, "; ".join(key_errs)))
    values_path = path.child("values")
    if operator in (IN, NOT_IN) and not values:
        errs.append(field.invalid(values_path, values,
                                  "for 'in', 'notin' operators, values set can't be empty"))
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS) and len(values) != 1:
        errs.append(field.invalid(values_path, values,
                                  "exact-match compatibility requires one single value"))
    elif operator in (EXISTS, DOES_NOT_EXIST) and values:
        errs.append(field.invalid(values_path, values,
                                  "values set must be empty for exists and does not exist"))
    elif operator in (GREATER_THAN, LESS_THAN):
        if len(values) != 1:
            errs.append(field.invalid(values_path, values,
                                      "for 'Gt', 'Lt' operators, exactly one value is required"))
        for i, value in enumerate(values):
            if not _is_int64(value):
                errs.append(field.invalid(values_path.index(i), value,
                                          "for 'Gt', 'Lt' operators, the value must be an integer"))
    elif operator not in (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, EXISTS, DOES_NOT_EXIST):
        errs.append(field.not_supported(path.child("operator"), operator,
                                        [*_BINARY_OPERATORS[:5], EXISTS, DOES_NOT_EXIST,
                                         GREATER_THAN, LESS_THAN]))
    for i, value in enumerate(values):
        value_errs = labels.is_valid_label_value(value)
        if value_errs:
            errs.append(field.invalid(values_path.index(i).key(key), value, "; ".join(value_errs)))
    if errs:
        raise SelectorError(field.aggregate(errs))
    return Requirement(key, operator, tuple(sorted(set(values))))


def _is_int64(text: str) -> bool:
    body = text[1:] if text[:1] in "+-" else text
    return body.isascii() and body.isdigit() and -(2**63) <= int(text) < 2**63


def selector_from_set(label_set: dict[str, str] | None) -> LabelSelector:
    """``labels.SelectorFromValidatedSet``: equality on every pair; empty set selects all."""
    reqs = (Requirement(k, EQUALS, (v,)) for k, v in (label_set or {}).items())
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


# -- string form ---------------------------------------------------------------------------


def _lex(text: str) -> list[tuple[str, str]]:
    """Tokens as (kind, literal); kind is "id", "end" or the symbol/keyword itself."""
    tokens, i, n = [], 0, len(text)
    while True:
        while i < n and text[i] in _WHITESPACE:
            i += 1
        if i >= n:
            tokens.append(("end", ""))
            return tokens
        if text[i] in _SPECIAL:
            buf, last = "", ""
            while i < n and text[i] in _SPECIAL:
                if buf + text[i] in _SYMBOL_TOKENS:
                    buf += text[i]
                    last = buf
                    i += 1
                elif last:
                    break
                else:
                    buf += text[i]
                    i += 1
            tokens.append((last, last))
        else:
            start = i
            while i < n and text[i] not in _SPECIAL and text[i] not in _WHITESPACE:
                i += 1
            word = text[start:i]
            tokens.append((word if word in (IN, NOT_IN) else "id", word))


class _Parser:
    def __init__(self, text: str):
        self.tokens = _lex(text)
        self.pos = 0

    def peek(self, values: bool = True) -> tuple[str, str]:
        kind, lit = self.tokens[self.pos]
        return ("id" if values and kind in (IN, NOT_IN) else kind), lit

    def take(self, values: bool = True) -> tuple[str, str]:
        tok = self.peek(values)
        self.pos += 1
        return tok

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            kind, lit = self.peek()
            if kind == "end":
                return reqs
            if kind not in ("id", "!"):
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                reqs.append(self.requirement())
            except SelectorError as err:
                raise SelectorError(f"unable to parse requirement: {err}") from None
            kind, lit = self.take()
            if kind == "end":
                return reqs
            if kind != ",":
                raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            kind, lit = self.peek()
            if kind not in ("id", "!"):
                raise SelectorError(f"found '{lit}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        operator = ""
        kind, key = self.take()
        if kind == "!":
            operator = DOES_NOT_EXIST
            kind, key = self.take()
        if kind != "id":
            raise SelectorError(f"found '{key}', expected: identifier")
        key_errs = labels.is_qualified_name(key)
        if key_errs:
            raise SelectorError(str(field.FieldError(field.INVALID, "<nil>", key, "; ".join(key_errs))))
        if operator or self.peek()[0] in ("end", ","):
            return new_requirement(key, operator or EXISTS, [])
        kind, lit = self.take(values=False)
        ops = {IN: IN, NOT_IN: NOT_IN, "=": EQUALS, "==": DOUBLE_EQUALS, "!=": NOT_EQUALS,
               ">": GREATER_THAN, "<": LESS_THAN}
        if kind not in ops:
            raise SelectorError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")
        operator = ops[kind]
        values = self.set_values() if operator in (IN, NOT_IN) else self.exact_value()
        return new_requirement(key, operator, values)

    def set_values(self) -> list[str]:
        kind, lit = self.take()
        if kind != "(":
            raise SelectorError(f"found '{lit}' expected: '('")
        kind, lit = self.peek()
        if kind == ")":
            self.take()
            return [""]
        if kind not in ("id", ","):
            raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")
        values = self.identifiers()
        if self.take()[0] != ")":
            raise SelectorError(f"found '{lit}', expected: ')'")
        return values

    def identifiers(self) -> list[str]:
        values: list[str] = []
        while True:
            kind, lit = self.take()
            if kind == "id":
                values.append(lit)
                kind2, lit2 = self.peek()
                if kind2 == ",":
                    continue
                if kind2 == ")":
                    return values
                raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            if kind != ",":
                raise SelectorError(f"found '{lit}', expected: ',', or identifier")
            if not values:
                values.append("")
            kind2 = self.peek()[0]
            if kind2 == ")":
                values.append("")
                return values
            if kind2 == ",":
                self.take()
                values.append("")

    def exact_value(self) -> list[str]:
        if self.peek()[0] in ("end", ","):
            return [""]
        kind, lit = self.take()
        if kind == "id":
            return [lit]
        raise SelectorError(f"found '{lit}', expected: identifier")


def parse(text: str) -> LabelSelector:
    """``labels.Parse``: the string form; ``""`` selects everything."""
    reqs = _Parser(text).parse()
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


# -- metav1.LabelSelector form -------------------------------------------------------------

_LS_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def from_label_selector(selector: dict[str, Any] | None) -> LabelSelector:
    """``metav1.LabelSelectorAsSelector``: None selects nothing, ``{}`` selects everything."""
    if selector is None:
        return NOTHING
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    reqs = [new_requirement(k, EQUALS, [v]) for k, v in match_labels.items()]
    for expr in expressions:
        op = expr.get("operator", "")
        if op not in _LS_OPERATORS:
            raise SelectorError(f'"{op}" is not a valid label selector operator')
        reqs.append(new_requirement(expr.get("key", ""), _LS_OPERATORS[op],
                                    list(expr.get("values") or [])))
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


def validate_label_selector(selector: dict[str, Any] | None, path: field.Path) -> field.ErrorList:
    """``metav1validation.ValidateLabelSelector``."""
    if selector is None:
        return []
    errs = labels.validate_labels(selector.get("matchLabels"), path.child("matchLabels"))
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        p = path.child("matchExpressions").index(i)
        op, values = expr.get("operator", ""), expr.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                errs.append(field.required(p.child("values"),
                                           "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(field.forbidden(
                    p.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            errs.append(field.invalid(p.child("operator"), op, "not a valid selector operator"))
        errs.extend(labels.validate_label_name(expr.get("key", ""), p.child("key")))
        for j, value in enumerate(values):
            errs.extend(field.invalid(p.child("values").index(j), value, msg)
                        for msg in labels.is_valid_label_value(value))
    return errs


def go_label_selector(selector: dict[str, Any] | None) -> field.GoLiteral:
    """How Go's ``%#v`` prints a ``*metav1.LabelSelector`` bad value (e.g. immutable selector)."""
    if selector is None:
        return field.GoLiteral('"null"')
    match_labels = selector.get("matchLabels")
    labels_text = "map[string]string(nil)" if match_labels is None else field.go_value(match_labels)
    exprs = selector.get("matchExpressions")
    if exprs is None:
        exprs_text = "[]v1.LabelSelectorRequirement(nil)"
    else:
        items = []
        for e in exprs:
            values = e.get("values")
            values_text = "[]string(nil)" if values is None else field.go_value(list(values))
            items.append(f'v1.LabelSelectorRequirement{{Key:{field.go_quote(e.get("key", ""))}, '
                         f'Operator:{field.go_quote(e.get("operator", ""))}, Values:{values_text}}}')
        exprs_text = "[]v1.LabelSelectorRequirement{" + ", ".join(items) + "}"
    return field.GoLiteral(f"v1.LabelSelector{{MatchLabels:{labels_text}, MatchExpressions:{exprs_text}}}")


# -- field selectors -----------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    value: str
    negate: bool = False

    def matches(self, fields: dict[str, str]) -> bool:
        return (fields.get(self.field, "") == self.value) != self.negate

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
        return f"{self.field}{'!=' if self.negate else '='}{escaped}"


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, fields: dict[str, str]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, start, escaped = [], 0, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _unescape(value: str) -> str:
    out, escaped = [], False
    for ch in value:
        if escaped:
            if ch not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if escaped:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_selector(text: str, group: str = "", kind: str = "") -> FieldSelector:
    """``fields.ParseSelector`` then the apiserver's field-label conversion for ``kind``.

    Without ``kind`` any field name is accepted.
    """
    reqs = []
    for part in sorted(_split_unescaped(text, ",")):
        if not part:
            continue
        for i in range(len(part)):
            op = next((o for o in ("!=", "==", "=") if part.startswith(o, i)), None)
            if op:
                lhs, rhs = part[:i], part[i + len(op):]
                break
        else:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        reqs.append(FieldRequirement(lhs, _unescape(rhs), op == "!="))
    if kind:
        supported = supported_field_labels(group, kind)
        for req in reqs:
            if req.field not in supported:
                raise SelectorError(f"field label not supported: {req.field}")
    return FieldSelector(tuple(reqs))


_META_FIELDS = ("metadata.name", "metadata.namespace")
_POD_FIELDS = ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
               "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP",
               "status.podIPs", "status.nominatedNodeName")
_EVENT_FIELDS = ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                 "involvedObject.uid", "involvedObject.apiVersion",
                 "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
                 "reportingComponent", "source", "type")
_FIELD_LABELS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "Pod"): _META_FIELDS + _POD_FIELDS,
    ("", "Node"): ("metadata.name", "spec.unschedulable"),
    ("", "Namespace"): ("metadata.name", "status.phase"),
    ("", "Secret"): _META_FIELDS + ("type",),
    ("", "Event"): _META_FIELDS + _EVENT_FIELDS,
    ("events.k8s.io", "Event"): _META_FIELDS + _EVENT_FIELDS,
    ("apps", "ReplicaSet"): _META_FIELDS + ("status.replicas",),
    ("batch", "Job"): _META_FIELDS + ("status.successful",),
}


def supported_field_labels(group: str, kind: str) -> tuple[str, ...]:
    """Field labels the apiserver accepts in a fieldSelector for this kind."""
    return _FIELD_LABELS.get((group, kind), _META_FIELDS)


def _get(obj: dict[str, Any], dotted: str) -> Any:
    cur: Any = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def selectable_fields(group: str, kind: str, obj: dict[str, Any], namespaced: bool = True) -> dict[str, str]:
    """The field set an object is matched against (the registry's ``GetAttrs``)."""
    meta = obj.get("metadata", {})
    fields = {"metadata.name": meta.get("name", "")}
    if namespaced:
        fields["metadata.namespace"] = meta.get("namespace", "")
    if (group, kind) == ("", "Pod"):
        status = obj.get("status") or {}
        ips = status.get("podIPs") or []
        fields["status.podIP"] = ips[0].get("ip", "") if ips else ""
        fields["spec.hostNetwork"] = "true" if _get(obj, "spec.hostNetwork") else "false"
        for name in ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                     "spec.serviceAccountName", "status.phase", "status.nominatedNodeName"):
            fields[name] = _get(obj, name) or ""
    elif (group, kind) == ("", "Node"):
        fields["spec.unschedulable"] = "true" if _get(obj, "spec.unschedulable") else "false"
    elif (group, kind) == ("", "Namespace"):
        fields["status.phase"] = _get(obj, "status.phase") or ""
    elif (group, kind) == ("", "Secret"):
        fields["type"] = obj.get("type", "")
    elif kind == "Event" and group in ("", "events.k8s.io"):
        involved = obj.get("involvedObject") or obj.get("regarding") or {}
        for key in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"):
            fields[f"involvedObject.{key}"] = involved.get(key, "")
        reporting = obj.get("reportingComponent") or obj.get("reportingController") or ""
        source = (obj.get("source") or {}).get("component") or reporting
        fields.update(reason=obj.get("reason", ""), reportingComponent=reporting,
                      source=source, type=obj.get("type", ""))
    elif (group, kind) == ("apps", "ReplicaSet"):
        fields["status.replicas"] = str(_get(obj, "status.replicas") or 0)
    elif (group, kind) == ("batch", "Job"):
        fields["status.successful"] = str(_get(obj, "status.successful") or 0)
    return fields
