"""The subset of Go's text/template that clusterloader2 test configs and object templates use.

Supported:
- actions `{{ ... }}` with the trim markers `{{-` / `-}}` and comments `{{/* ... */}}`;
- `.Param` (a parameter), `$var`, literals (integers, floats, "strings", true/false), and
  calls `Func arg ...`, parenthesised calls, and pipelines `expr | Func arg` (the piped value
  becomes the last argument, as in Go);
- `{{$var := expr}}` (prints nothing) and `{{$var = expr}}`;
- `{{if expr}} ... {{else if expr}} ... {{else}} ... {{end}}` (Go truthiness: false, 0, "",
  nil, empty collections are false);
- clusterloader2's functions (pkg/config/template_functions.go): DefaultParam, AddInt,
  SubtractInt, MultiplyInt, DivideInt, ModInt, MaxInt, MinInt, AddFloat, SubtractFloat,
  MultiplyFloat, DivideFloat, MaxFloat, MinFloat, Ceil, Floor, IfThenElse, YamlQuote, Seq;
  and Go's eq, ne, lt, le, gt, ge, and, or, not.

A parameter that is not set evaluates to nil: `DefaultParam .X 5` and `if .X` accept that;
printing it or passing it to any other function is a `TemplateError` naming the parameter
and the line (Go with `missingkey=error` would stop there too, where clusterloader2 would
otherwise silently print "<no value>").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)|(?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)'
                    r"|(?P<field>\.[A-Za-z_][A-Za-z0-9_]*)|(?P<var>\$[A-Za-z0-9_]*)"
                    r"|(?P<op>:=|=|\||\(|\))|(?P<ident>[A-Za-z_][A-Za-z0-9_]*))")


class TemplateError(ValueError):
    """A template that cannot be rendered: what is wrong and on which line."""


class _Unset:
    """The value of a parameter that is not set (Go's nil / <no value>)."""

    def __init__(self, name: str) -> None:
        self.name = name


@dataclass
class _Node:
    kind: str  # text | expr | assign | if
    text: str = ""
    tokens: list[tuple[str, str]] | None = None
    var: str = ""
    branches: list[tuple[list[tuple[str, str]] | None, list[_Node]]] | None = None
    line: int = 0


def _tokenize(source: str, line: int) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    source = source.strip()
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None or match.end() == pos:
            raise TemplateError(f"line {line}: cannot parse {source[pos:]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(source) and source[pos].isspace():
            pos += 1
    return tokens


def parse(template: str) -> list[_Node]:
    """The template as a tree of text, expressions, assignments and if-blocks."""
    root: list[_Node] = []
    stack: list[tuple[_Node, list[_Node]]] = []
    body = root
    pos = 0
    pending_trim = False
    for match in _ACTION.finditer(template):
        text = template[pos:match.start()]
        if pending_trim:
            text = text.lstrip()
        if match.group(1):
            text = text.rstrip()
        if text:
            body.append(_Node("text", text=text))
        pending_trim = bool(match.group(3))
        pos = match.end()
        line = template.count("\n", 0, match.start()) + 1
        inner = match.group(2).strip()
        if inner.startswith("/*"):
            continue
        head = inner.split(None, 1)
        word = head[0] if head else ""
        rest = head[1] if len(head) > 1 else ""
        if word == "if":
            node = _Node("if", branches=[(_tokenize(rest, line), [])], line=line)
            body.append(node)
            stack.append((node, body))
            body = node.branches[-1][1]  # type: ignore[index]
        elif word == "else":
            if not stack:
                raise TemplateError(f"line {line}: {{{{else}}}} outside {{{{if}}}}")
            node = stack[-1][0]
            cond = rest[3:] if rest.startswith("if ") else None
            node.branches.append((_tokenize(cond, line) if cond is not None else None, []))  # type: ignore[union-attr]
            body = node.branches[-1][1]  # type: ignore[index]
        elif word == "end":
            if not stack:
                raise TemplateError(f"line {line}: {{{{end}}}} without {{{{if}}}}")
            _node, body = stack.pop()
        elif word in ("range", "with", "define", "template", "block"):
            raise TemplateError(f"line {line}: {{{{{word}}}}} is not supported by kubesim's template subset")
        else:
            tokens = _tokenize(inner, line)
            if len(tokens) >= 2 and tokens[0][0] == "var" and tokens[1][1] in (":=", "="):
                body.append(_Node("assign", var=tokens[0][1], tokens=tokens[2:], line=line))
            else:
                body.append(_Node("expr", tokens=tokens, line=line))
    if stack:
        raise TemplateError(f"line {stack[-1][0].line}: {{{{if}}}} without {{{{end}}}}")
    text = template[pos:]
    if pending_trim:
        text = text.lstrip()
    if text:
        root.append(_Node("text", text=text))
    return root


def _truthy(value: Any) -> bool:
    if isinstance(value, _Unset) or value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | list | dict | tuple):
        return len(value) > 0
    return True


def _number(value: Any, func: str, kind: type) -> Any:
    if isinstance(value, bool):
        raise TemplateError(f"{func}: {value!r} is not a number")
    if isinstance(value, str):
        try:
            value = float(value) if kind is float else int(value)
        except ValueError as exc:
            raise TemplateError(f"{func}: {value!r} is not a number") from exc
    if not isinstance(value, int | float):
        raise TemplateError(f"{func}: {value!r} is not a number")
    return kind(value)


def _ints(func: str, op: Callable[[int, int], int]) -> Callable[..., int]:
    def call(*args: Any) -> int:
        if len(args) < 2:
            raise TemplateError(f"{func} takes at least two arguments")
        values = [_number(a, func, int) for a in args]
        result = values[0]
        for v in values[1:]:
            result = op(result, v)
        return result
    return call


def _floats(func: str, op: Callable[[float, float], float]) -> Callable[..., float]:
    def call(*args: Any) -> float:
        if len(args) < 2:
            raise TemplateError(f"{func} takes at least two arguments")
        values = [_number(a, func, float) for a in args]
        result = values[0]
        for v in values[1:]:
            result = op(result, v)
        return result
    return call


def _divide_int(a: int, b: int) -> int:
    if b == 0:
        raise TemplateError("DivideInt: division by zero")
    return int(a / b)  # Go integer division truncates toward zero


def _divide_float(a: float, b: float) -> float:
    if b == 0:
        raise TemplateError("DivideFloat: division by zero")
    return a / b


def _yaml_quote(value: Any, indent: Any = 0) -> str:
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 30).strip()
    if text.endswith("\n..."):
        text = text[:-4].strip()
    return text


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "AddInt": _ints("AddInt", lambda a, b: a + b),
    "SubtractInt": _ints("SubtractInt", lambda a, b: a - b),
    "MultiplyInt": _ints("MultiplyInt", lambda a, b: a * b),
    "DivideInt": _ints("DivideInt", _divide_int),
    "ModInt": _ints("ModInt", lambda a, b: int(math.fmod(a, b))),
    "MaxInt": _ints("MaxInt", max),
    "MinInt": _ints("MinInt", min),
    "AddFloat": _floats("AddFloat", lambda a, b: a + b),
    "SubtractFloat": _floats("SubtractFloat", lambda a, b: a - b),
    "MultiplyFloat": _floats("MultiplyFloat", lambda a, b: a * b),
    "DivideFloat": _floats("DivideFloat", _divide_float),
    "MaxFloat": _floats("MaxFloat", max),
    "MinFloat": _floats("MinFloat", min),
    "Ceil": lambda x: float(math.ceil(_number(x, "Ceil", float))),
    "Floor": lambda x: float(math.floor(_number(x, "Floor", float))),
    "IfThenElse": lambda cond, a, b: a if _truthy(cond) else b,
    "YamlQuote": _yaml_quote,
    "Seq": lambda n: list(range(_number(n, "Seq", int))),
    "eq": lambda a, *bs: any(a == b for b in bs),
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "not": lambda a: not _truthy(a),
}
_NIL_OK = {"DefaultParam", "IfThenElse", "not", "and", "or"}


class _Evaluator:
    def __init__(self, params: dict[str, Any], line: int, variables: dict[str, Any]) -> None:
        self.params = params
        self.line = line
        self.vars = variables

    def fail(self, message: str) -> TemplateError:
        return TemplateError(f"line {self.line}: {message}")

    def pipeline(self, tokens: list[tuple[str, str]]) -> Any:
        stages: list[list[tuple[str, str]]] = [[]]
        depth = 0
        for tok in tokens:
            if tok == ("op", "(") or tok == ("op", ")"):
                depth += 1 if tok[1] == "(" else -1
            if tok == ("op", "|") and depth == 0:
                stages.append([])
            else:
                stages[-1].append(tok)
        value: Any = None
        for i, stage in enumerate(stages):
            if not stage:
                raise self.fail("empty command in pipeline")
            value = self.command(stage, [value] if i > 0 else [])
        return value

    def command(self, tokens: list[tuple[str, str]], piped: list[Any]) -> Any:
        args, pos = [], 0
        while pos < len(tokens):
            value, pos = self.operand(tokens, pos)
            args.append(value)
        head = tokens[0]
        if head[0] == "ident" and head[1] not in ("true", "false", "nil"):
            return self.call(head[1], args[1:] + piped)
        if piped or len(args) > 1:
            raise self.fail(f"{head[1]} is not a function")
        return args[0]

    def operand(self, tokens: list[tuple[str, str]], pos: int) -> tuple[Any, int]:
        kind, text = tokens[pos]
        if kind == "op" and text == "(":
            depth, end = 1, pos + 1
            while end < len(tokens) and depth:
                if tokens[end] == ("op", "("):
                    depth += 1
                elif tokens[end] == ("op", ")"):
                    depth -= 1
                end += 1
            if depth:
                raise self.fail("unclosed (")
            return self.pipeline(tokens[pos + 1:end - 1]), end
        if kind == "str":
            return bytes(text[1:-1], "utf-8").decode("unicode_escape"), pos + 1
        if kind == "raw":
            return text[1:-1], pos + 1
        if kind == "num":
            return (float(text) if any(c in text for c in ".eE") else int(text)), pos + 1
        if kind == "field":
            name = text[1:]
            return (self.params[name] if name in self.params else _Unset(name)), pos + 1
        if kind == "var":
            if text not in self.vars:
                raise self.fail(f"undefined variable {text}")
            return self.vars[text], pos + 1
        if kind == "ident":
            if text in ("true", "false"):
                return text == "true", pos + 1
            if text == "nil":
                return None, pos + 1
            return text, pos + 1  # a function name (only valid in head position)
        raise self.fail(f"unexpected {text!r}")

    def call(self, name: str, args: list[Any]) -> Any:
        if name == "DefaultParam":
            if len(args) != 2:
                raise self.fail("DefaultParam takes a parameter and a default")
            return args[1] if isinstance(args[0], _Unset) or args[0] is None else args[0]
        if name == "and":
            result: Any = True
            for a in args:
                result = a
                if not _truthy(a):
                    break
            return result
        if name == "or":
            result = False
            for a in args:
                result = a
                if _truthy(a):
                    break
            return result
        func = FUNCTIONS.get(name)
        if func is None:
            raise self.fail(f"function {name!r} is not defined")
        if name not in _NIL_OK:
            for a in args:
                if isinstance(a, _Unset):
                    raise self.fail(f"parameter .{a.name} is not set")
        try:
            return func(*args)
        except TemplateError as exc:
            raise self.fail(str(exc)) from exc
        except TypeError as exc:
            raise self.fail(f"{name}: {exc}") from exc


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}" if value != int(value) or abs(value) >= 1e21 else str(int(value))
    if value is None:
        return "<no value>"
    return str(value)


def render(template: str | list[_Node], params: dict[str, Any]) -> str:
    """Render `template` (text or a `parse` tree) with `params` (`.Name` -> params["Name"])."""
    nodes = parse(template) if isinstance(template, str) else template
    out: list[str] = []
    _render(nodes, params, {"$": params}, out)
    return "".join(out)


def _render(nodes: list[_Node], params: dict[str, Any], variables: dict[str, Any], out: list[str]) -> None:
    for node in nodes:
        if node.kind == "text":
            out.append(node.text)
            continue
        ev = _Evaluator(params, node.line, variables)
        if node.kind == "assign":
            variables[node.var] = ev.pipeline(node.tokens or [])
        elif node.kind == "expr":
            value = ev.pipeline(node.tokens or [])
            if isinstance(value, _Unset):
                raise ev.fail(f"parameter .{value.name} is not set")
            out.append(_format(value))
        else:
            for cond, body in node.branches or []:
                if cond is None or _truthy(ev.pipeline(cond)):
                    _render(body, params, variables, out)
                    break
