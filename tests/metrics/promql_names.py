"""What a PromQL expression reads: the metric names it selects, the label names its
selectors match on, and the labels it aggregates or joins by. A lexer-level reading,
enough for the dashboards' own queries (no subqueries of subqueries, no @ modifiers)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
             "unless", "offset", "inf", "nan"}


@dataclass
class Reads:
    metrics: set[str] = field(default_factory=set)
    #: per metric, the label names its selector matches on
    matchers: dict[str, set[str]] = field(default_factory=dict)
    #: labels named in by/without/on/ignoring/group_* clauses
    grouping: set[str] = field(default_factory=set)


def reads(expr: str) -> Reads:
    out = Reads()
    text = _STRING.sub('""', expr)
    for match in _SELECTOR.finditer(text):
        name = match.group(1)
        if name is None:
            continue
        out.metrics.add(name)
        out.matchers.setdefault(name, set()).update(m.group(1) for m in _MATCHER.finditer(match.group(2)))
    for match in _GROUPING.finditer(text):
        out.grouping.update(label.strip() for label in match.group(2).split(",") if label.strip())
    rest = _RANGE.sub(" ", _GROUPING.sub(" ", _SELECTOR.sub(lambda m: f" {m.group(1) or ''} ", text)))
    for match in _IDENT.finditer(rest):
        name = match.group(0)
        following = rest[match.end():].lstrip()[:1]
        if following == "(" or name.lower() in _KEYWORDS or re.fullmatch(r"\d.*", name):
            continue
        out.metrics.add(name)
    return out
