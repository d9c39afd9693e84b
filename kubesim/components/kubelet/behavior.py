"""How a simulated container behaves once started, from annotations on the pod (template).

kubesim runs no processes: a container's life is a function of the time since it started,
read from these annotations (set them on a Deployment's or Job's pod template):

    kubesim.io/exit-after            seconds of running after which the process exits
                                     (default: never). A Job's pods complete after this
                                     run time.
    kubesim.io/exit-code             the exit code of that exit (default 0)
    kubesim.io/ready-after           seconds after start before the application answers
                                     probes successfully (default 0): startup probes and
                                     readiness/liveness probes fail until then
    kubesim.io/readiness-fail-after  seconds of running after which the readiness probe
                                     fails for good (default: never)
    kubesim.io/liveness-fail-after   seconds of running after which the liveness probe
                                     fails for good (default: never); the kubelet then kills
                                     and restarts the container
    kubesim.io/shutdown-seconds      seconds the process takes to exit after SIGTERM
                                     (default 0); past the grace period it is SIGKILLed
                                     (exit code 137)
    kubesim.io/init-exit-after       run time of each (non-restartable) init container
                                     (default 0: exits as soon as it started)
    kubesim.io/init-exit-code        exit code of init containers (default 0)

Any key can be set for one container only by suffixing its name:
``kubesim.io/exit-code.worker: "1"`` overrides ``kubesim.io/exit-code`` for the container
named ``worker``. Durations are seconds (``"30"``, ``"1.5"``) or Go durations (``"30s"``,
``"2m"``, ``"1h30m"``). A graceful SIGTERM exit reports code 0 (reason Completed).
Restartable init containers (sidecars) follow the regular container keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

PREFIX = "kubesim.io/"
EXIT_AFTER = PREFIX + "exit-after"
EXIT_CODE = PREFIX + "exit-code"
READY_AFTER = PREFIX + "ready-after"
READINESS_FAIL_AFTER = PREFIX + "readiness-fail-after"
LIVENESS_FAIL_AFTER = PREFIX + "liveness-fail-after"
SHUTDOWN_SECONDS = PREFIX + "shutdown-seconds"
INIT_EXIT_AFTER = PREFIX + "init-exit-after"
INIT_EXIT_CODE = PREFIX + "init-exit-code"

#: exit code of a process killed by SIGKILL (128 + 9), as containerd reports it.
SIGKILL_EXIT_CODE = 137

_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|us|µs|ns|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


class BehaviorError(ValueError):
    """An annotation value does not parse; the message names the annotation."""


def parse_duration(text: str) -> float:
    """Seconds from ``"30"``, ``"1.5"`` or a Go duration such as ``"1m30s"``."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pos = 0
        value = 0.0
        for match in _GO_DURATION.finditer(text):
            if match.start() != pos:
                break
            value += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if pos != len(text) or not text:
            raise ValueError(f"invalid duration {text!r}") from None
    if value < 0:
        raise ValueError(f"invalid duration {text!r}: must be >= 0")
    return value


@dataclass(frozen=True, slots=True)
class Behavior:
    """One container's scripted life, times relative to its start (None: never)."""

    exit_after: float | None = None
    exit_code: int = 0
    ready_after: float = 0.0
    readiness_fail_after: float | None = None
    liveness_fail_after: float | None = None
    shutdown_seconds: float = 0.0

    def healthy(self, kind: str, running_for: float) -> bool:
        """Whether a probe of `kind` (startup, readiness, liveness) succeeds after
        `running_for` seconds of running."""
        if running_for < self.ready_after:
            return False
        if kind == "readiness" and self.readiness_fail_after is not None:
            return running_for < self.readiness_fail_after
        if kind == "liveness" and self.liveness_fail_after is not None:
            return running_for < self.liveness_fail_after
        return True

    def outcome_changes(self, kind: str) -> list[float]:
        """Running times at which `healthy(kind, .)` may change value, ascending."""
        points = [self.ready_after] if self.ready_after > 0 else []
        fail = {"readiness": self.readiness_fail_after, "liveness": self.liveness_fail_after}.get(kind)
        if fail is not None:
            points.append(fail)
        return sorted(set(points))


DEFAULT = Behavior()
INIT_DEFAULT = Behavior(exit_after=0.0)


def _lookup(annotations: dict[str, str], key: str, container: str) -> str | None:
    specific = annotations.get(f"{key}.{container}")
    return specific if specific is not None else annotations.get(key)


def _duration(annotations: dict[str, str], key: str, container: str) -> float | None:
    text = _lookup(annotations, key, container)
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as err:
        raise BehaviorError(f"annotation {key}: {err}") from None


def _int(annotations: dict[str, str], key: str, container: str) -> int | None:
    text = _lookup(annotations, key, container)
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        raise BehaviorError(f"annotation {key}: invalid exit code {text!r}") from None


def container_behavior(pod: dict[str, Any], container: str, init: bool = False) -> Behavior:
    """The behaviour of `container` of `pod`; `init` for a non-restartable init container."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    if not any(k.startswith(PREFIX) for k in annotations):
        return INIT_DEFAULT if init else DEFAULT
    shutdown = _duration(annotations, SHUTDOWN_SECONDS, container) or 0.0
    if init:
        exit_after = _duration(annotations, INIT_EXIT_AFTER, container)
        code = _int(annotations, INIT_EXIT_CODE, container)
        return Behavior(exit_after=0.0 if exit_after is None else exit_after,
                        exit_code=code or 0, shutdown_seconds=shutdown)
    return Behavior(
        exit_after=_duration(annotations, EXIT_AFTER, container),
        exit_code=_int(annotations, EXIT_CODE, container) or 0,
        ready_after=_duration(annotations, READY_AFTER, container) or 0.0,
        readiness_fail_after=_duration(annotations, READINESS_FAIL_AFTER, container),
        liveness_fail_after=_duration(annotations, LIVENESS_FAIL_AFTER, container),
        shutdown_seconds=shutdown,
    )
