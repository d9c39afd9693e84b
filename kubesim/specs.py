"""Run specs: YAML files that say what to run and where, validated with field paths.

`load_spec(path)` returns a typed spec or raises `SpecFileError` whose message is one
line: the file, the field path and the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class SpecFileError(ValueError):
    """A spec that cannot be run: names the file, the field and why."""


class SpecProblem(Exception):
    """A check across fields failed: the field path (as the YAML spells it) and why.

    Raised from a model validator; not a ValueError, so pydantic lets it through instead
    of folding it into an error at the model's own location.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BatchSettings(_Strict):
    max_messages: Annotated[int, Field(ge=1)] = 1000
    max_delay_ms: Annotated[float, Field(ge=0)] = 2.0


class RuntimeSettings(_Strict):
    """Which runtime runs the spec, and its knobs."""

    type: Literal["sim", "ray"] = "sim"
    seed: int = 0
    time_scale: Annotated[float, Field(gt=0)] = 1.0
    address: str | None = None  # ray: an existing cluster (default: RAY_ADDRESS or a local Ray)
    call_timeout: Annotated[float, Field(gt=0)] = 30.0
    batch: BatchSettings = BatchSettings()


class CostSettings(_Strict):
    profile: str | None = None  # a YAML profile applied over the shipped default
    overrides: dict[str, Any] = {}


class PingPongWorkload(_Strict):
    actors: Annotated[int, Field(ge=2)] = 10_000
    rounds: Annotated[int, Field(ge=1)] = 3
    hosts: Annotated[int, Field(ge=1)] = 8
    zones: Annotated[int, Field(ge=1)] = 2


class PingPongSpec(_Strict):
    """The runtime's proof workload: broadcast and ping-pong between many logical actors."""

    kind: Literal["PingPong"]
    name: str = "pingpong"
    runtime: RuntimeSettings = RuntimeSettings()
    cost_model: CostSettings = CostSettings()
    workload: PingPongWorkload = PingPongWorkload()


def spec_kinds() -> dict[str, type[BaseModel]]:
    """Spec models by `kind`. The cluster spec builds on this module, so it is imported here."""
    from kubesim.cluster.comparison import ClusterComparison
    from kubesim.cluster.spec import ClusterSpec

    return {"Cluster": ClusterSpec, "ClusterComparison": ClusterComparison, "PingPong": PingPongSpec}


def _field(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_spec(data: Any, source: str = "<spec>") -> BaseModel:
    if not isinstance(data, dict):
        raise SpecFileError(f"{source}: (top level): expected a mapping, got {type(data).__name__}")
    kind = data.get("kind")
    kinds = spec_kinds()
    if kind not in kinds:
        known = ", ".join(sorted(kinds))
        raise SpecFileError(f"{source}: kind: unknown spec kind {kind!r} (known: {known})")
    try:
        return kinds[kind].model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise SpecFileError(f"{source}: {_field(err['loc'])}: {err['msg']}{more}") from None
    except SpecProblem as problem:
        raise SpecFileError(f"{source}: {problem}") from None


def load_spec(path: str | Path) -> BaseModel:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise SpecFileError(f"{p}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(parse)"
        raise SpecFileError(f"{p}: {where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_spec(data, str(p))
