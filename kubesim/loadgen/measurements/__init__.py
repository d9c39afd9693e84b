"""The measurements a load-test config may name (`Method`), with the params each accepts.

Pod-watching measurements (`pods.py`) run in the load worker beside its API client;
metric-based ones (`metrics.py`) and Sleep run in the driver. `check_measurement` is what
config loading calls: an unknown method, an unknown param or a bad value is refused
before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubesim.cluster.durations import DurationError, parse_duration

WORKER = "worker"
DRIVER = "driver"


def _duration(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return None if value >= 0 else "must not be negative"
    if not isinstance(value, str):
        return f"expected a duration such as '30s', got {value!r}"
    try:
        return None if parse_duration(value) >= 0 else "must not be negative"
    except DurationError as exc:
        return str(exc)


def _number(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected a number, got {value!r}"
    return None if value >= 0 else f"must not be negative (got {value})"


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else f"expected a string, got {value!r}"


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"expected true or false, got {value!r}"


def _thresholds(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(e, dict) and "threshold" in e for e in value):
        return "expected a list of {resource, subresource, verb, scope, threshold}"
    for entry in value:
        problem = _duration(entry["threshold"])
        if problem:
            return problem
    return None


def _kind(value: Any) -> str | None:
    from kubesim.loadgen.measurements.pods import WaitForControlledPodsRunning

    known = WaitForControlledPodsRunning.RESOURCES
    return None if value in known else f"kind {value!r} is not one of {', '.join(known)}"


SELECTORS: dict[str, Callable[[Any], str | None]] = {
    "namespace": _string, "labelSelector": _string, "fieldSelector": _string}
DURATION_PARAMS = {"threshold", "operationTimeout", "duration", "measurmentInterval", "measurementInterval"}


@dataclass(frozen=True)
class Method:
    side: str
    params: dict[str, Callable[[Any], str | None]] = field(default_factory=dict)
    actions: tuple[str, ...] = ("start", "gather")


METHODS: dict[str, Method] = {
    "APIResponsivenessPrometheus": Method(DRIVER, {
        "allowedSlowCalls": _number, "customThresholds": _thresholds, "enableViolations": _bool,
        "useSimpleLatencyQuery": _bool, "summaryName": _string}),
    "APIResponsivenessPrometheusSimple": Method(DRIVER, {
        "allowedSlowCalls": _number, "customThresholds": _thresholds, "enableViolations": _bool,
        "summaryName": _string}),
    "PodStartupLatency": Method(WORKER, {**SELECTORS, "threshold": _duration}),
    "SchedulingThroughput": Method(WORKER, {**SELECTORS, "threshold": _number,
                                            "measurmentInterval": _duration, "measurementInterval": _duration}),
    "WaitForControlledPodsRunning": Method(WORKER, {
        **SELECTORS, "apiVersion": _string, "kind": _kind, "operationTimeout": _duration}),
    "NetworkProgrammingLatency": Method(DRIVER, {"threshold": _duration}),
    "EtcdMetrics": Method(DRIVER, {}),
    "SimulatorResourceUsage": Method(DRIVER, {}),
    "Sleep": Method(DRIVER, {"duration": _duration}, actions=()),
}


def check_measurement(method: str, params: dict[str, Any]) -> tuple[str, str] | None:
    """None, or (field path below the measurement, problem)."""
    spec = METHODS.get(method)
    if spec is None:
        return ".Method", f"unknown measurement {method!r} (known: {', '.join(sorted(METHODS))})"
    if spec.actions:
        action = params.get("action")
        if action not in spec.actions:
            return ".Params.action", f"{method} needs action {' or '.join(spec.actions)}, got {action!r}"
    elif "duration" not in params:
        return ".Params.duration", f"{method} needs a duration"
    for name, value in params.items():
        if name == "action" and spec.actions:
            continue
        check = spec.params.get(name)
        if check is None:
            return f".Params.{name}", f"{method} takes no param {name!r}"
        problem = check(value)
        if problem:
            return f".Params.{name}", problem
    return None


def seconds(params: dict[str, Any]) -> dict[str, Any]:
    """Params with durations turned into seconds (what the measurements read)."""
    out = dict(params)
    for name in DURATION_PARAMS & out.keys():
        if isinstance(out[name], str):
            out[name] = parse_duration(out[name])
    for entry in out.get("customThresholds") or []:
        if isinstance(entry.get("threshold"), str):
            entry["threshold"] = parse_duration(entry["threshold"])
    return out
