"""`/healthz`, `/livez`, `/readyz` and their per-check paths, rendered as
k8s.io/apiserver pkg/server/healthz `handleRootHealth` does: "ok", or with `?verbose` one
`[+]name ok` line per check and "<endpoint> check passed"; a failing check makes it a 500
listing every check (`[-]name failed: reason withheld`) and "<endpoint> check failed".
`?exclude=name` skips a check (listed as excluded).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ENDPOINTS = ("healthz", "livez", "readyz")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool


@dataclass(frozen=True)
class HealthResponse:
    code: int
    text: str


def render(endpoint: str, checks: Sequence[Check], verbose: bool,
           exclude: Sequence[str] = ()) -> HealthResponse:
    """The answer of `/<endpoint>` over `checks`."""
    lines, failed = [], False
    excluded = set(exclude)
    for check in checks:
        if check.name in excluded:
            excluded.discard(check.name)
            lines.append(f"[+]{check.name} excluded: ok\n")
            continue
        if check.ok:
            lines.append(f"[+]{check.name} ok\n")
        else:
            failed = True
            lines.append(f"[-]{check.name} failed: reason withheld\n")
    if excluded:
        quoted = ",".join(f'"{name}"' for name in sorted(excluded))
        lines.append(f"warn: some health checks cannot be excluded: no matches for {quoted}\n")
    if failed:
        return HealthResponse(500, "".join(lines) + f"{endpoint} check failed\n")
    if not verbose:
        return HealthResponse(200, "ok")
    return HealthResponse(200, "".join(lines) + f"{endpoint} check passed\n")


def render_one(checks: Sequence[Check], name: str) -> HealthResponse | None:
    """`/<endpoint>/<name>`: "ok", a 500 "internal server error: ..." or None (404)."""
    check = next((c for c in checks if c.name == name), None)
    if check is None:
        return None
    if check.ok:
        return HealthResponse(200, "ok")
    return HealthResponse(500, f"internal server error: {name} check failed\n")
