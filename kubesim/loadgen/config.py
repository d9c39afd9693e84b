"""Load-test configs in clusterloader2's format (perf-tests clusterloader2/api/types.go), read,
rendered and checked before anything runs.

    name: density
    namespace: {number: 4, prefix: density}
    tuningSets:
    - {name: Uniform5qps, qpsLoad: {qps: 5}}
    steps:
    - name: Starting measurements
      measurements:
      - {Identifier: APIResponsivenessPrometheus, Method: APIResponsivenessPrometheus, Params: {action: start}}
    - name: Creating deployments
      phases:
      - namespaceRange: {min: 1, max: 4}
        replicasPerNamespace: 2
        tuningSet: Uniform5qps
        objectBundle:
        - basename: saturation
          objectTemplatePath: deployment.yaml
          templateFillMap: {Replicas: 30}

The file is itself a template (`gotemplate.py`), rendered with `.Nodes` (the cluster's
schedulable nodes) and the test overrides (`--param NAME=VALUE`), as clusterloader2 renders
it with its CL2_ overrides. kubesim adds `cluster:` (a `kind: Cluster` spec body) or
`clusterSpec:` (a path to one) for the simulated cluster to run against.

`load_config` checks everything that can be checked before the run: field types and
ranges, tuning set references, measurement methods and their params, and every object
template rendered with its phase's fill map (so a parameter left unset fails here, not
half-way through the run). Each problem is one `ConfigError` line: file, field path, reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kubesim.api import kinds
from kubesim.cluster.fields import NonNegativeDuration, PositiveDuration
from kubesim.loadgen import gotemplate

MAX_PODS_PER_NODE = 110  # the Kubernetes scalability envelope (kubelet maxPods default)


class ConfigError(ValueError):
    """A load-test config that cannot run: names the file, the field and why."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NamespaceConfig(_Model):
    number: Annotated[int, Field(ge=0)] = 1
    prefix: str = ""
    delete_automanaged_namespaces: bool = Field(True, alias="deleteAutomanagedNamespaces")


class QpsLoad(_Model):
    qps: Annotated[float, Field(gt=0)]


class RandomizedLoad(_Model):
    average_qps: Annotated[float, Field(gt=0, alias="averageQps")]


class SteppedLoad(_Model):
    burst_size: Annotated[int, Field(ge=1, alias="burstSize")]
    step_delay: NonNegativeDuration = Field(alias="stepDelay")


class ParallelismLimitedLoad(_Model):
    parallelism_limit: Annotated[int, Field(ge=1, alias="parallelismLimit")]


class TimeLimitedLoad(_Model):
    time_limit: PositiveDuration = Field(alias="timeLimit")


class TuningSet(_Model):
    """One named way of spreading a phase's operations over time (exactly one kind set)."""

    name: str
    qps_load: QpsLoad | None = Field(None, alias="qpsLoad")
    randomized_load: RandomizedLoad | None = Field(None, alias="randomizedLoad")
    stepped_load: SteppedLoad | None = Field(None, alias="steppedLoad")
    parallelism_limited_load: ParallelismLimitedLoad | None = Field(None, alias="parallelismLimitedLoad")
    time_limited_load: TimeLimitedLoad | None = Field(None, alias="timeLimitedLoad")
    randomized_time_limited_load: TimeLimitedLoad | None = Field(None, alias="randomizedTimeLimitedLoad")

    @model_validator(mode="after")
    def _one_kind(self) -> TuningSet:
        if len(self.kinds()) != 1:
            raise ValueError(f"tuning set {self.name!r} must set exactly one load kind "
                             f"(qpsLoad, randomizedLoad, steppedLoad, parallelismLimitedLoad, "
                             f"timeLimitedLoad, randomizedTimeLimitedLoad); it sets {len(self.kinds())}")
        return self

    def kinds(self) -> dict[str, BaseModel]:
        return {k: v for k, v in self.model_dump(exclude={"name"}, by_alias=True).items() if v is not None}

    def spec(self) -> dict[str, Any]:
        """The tuning set as a plain dict for the worker: {"kind": ..., params in seconds}."""
        kind, params = next(iter(self.kinds().items()))
        return {"kind": kind, **params}


class NamespaceRange(_Model):
    min: Annotated[int, Field(ge=1)]
    max: Annotated[int, Field(ge=1)]
    basename: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> NamespaceRange:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self


class ObjectBundle(_Model):
    basename: str
    object_template_path: str = Field(alias="objectTemplatePath")
    template_fill_map: dict[str, Any] = Field(default_factory=dict, alias="templateFillMap")


class Phase(_Model):
    namespace_range: NamespaceRange | None = Field(None, alias="namespaceRange")
    replicas_per_namespace: Annotated[int, Field(ge=0, alias="replicasPerNamespace")]
    tuning_set: str = Field(alias="tuningSet")
    object_bundle: Annotated[list[ObjectBundle], Field(min_length=1, alias="objectBundle")]


class Measurement(_Model):
    identifier: str = Field(alias="Identifier")
    method: str = Field(alias="Method")
    params: dict[str, Any] = Field(default_factory=dict, alias="Params")


class Step(_Model):
    name: str = ""
    phases: list[Phase] = Field(default_factory=list)
    measurements: list[Measurement] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        if bool(self.phases) == bool(self.measurements):
            raise ValueError("a step holds either phases or measurements (exactly one of them)")
        return self


class TestConfig(_Model):
    name: str
    namespace: NamespaceConfig = NamespaceConfig()
    tuning_sets: list[TuningSet] = Field(default_factory=list, alias="tuningSets")
    steps: Annotated[list[Step], Field(min_length=1)]
    cluster: dict[str, Any] | None = None
    cluster_spec: str | None = Field(None, alias="clusterSpec")


class LoadConfig:
    """A checked config: the model, its directory (templates are relative to it), the
    parsed object templates by path, and the parameters it was rendered with."""

    def __init__(self, model: TestConfig, source: Path, templates: dict[str, list[Any]],
                 params: dict[str, Any]) -> None:
        self.model = model
        self.source = source
        self.templates = templates
        self.params = params

    def tuning_set(self, name: str) -> TuningSet:
        return next(t for t in self.model.tuning_sets if t.name == name)

    def render_object(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """One object from the template at `path` (as the bundle spells it)."""
        text = gotemplate.render(self.templates[path], params)
        obj = yaml.safe_load(text)
        if not isinstance(obj, dict):
            raise ConfigError(f"{path}: the template does not render to an object")
        return obj


def resource_of(obj: dict[str, Any]) -> tuple[str, bool]:
    """(the APIClient resource name, namespaced) of an object, from apiVersion and kind."""
    api_version = str(obj.get("apiVersion") or "")
    kind = kinds.by_kind(api_version, str(obj.get("kind") or ""))
    if kind is None:
        raise ValueError(f"kind {obj.get('kind')!r} of apiVersion {api_version!r} is not served")
    return (f"{kind.resource}.{kind.group}" if kind.group else kind.resource), kind.namespaced


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_params(items: list[str]) -> dict[str, Any]:
    """`NAME=VALUE` overrides; values are read as YAML scalars (`30` is a number)."""
    params: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--param {item!r}: expected NAME=VALUE")
        params[name] = yaml.safe_load(value) if value else ""
    return params


def load_config(path: str | Path, nodes: int, params: dict[str, Any] | None = None) -> LoadConfig:
    """Read, render and check a config for a cluster of `nodes` schedulable nodes."""
    source = Path(path)
    try:
        text = source.read_text()
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror}") from None
    values = {"Nodes": nodes, **(params or {})}
    try:
        rendered = gotemplate.render(text, values)
    except gotemplate.TemplateError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    try:
        data = yaml.safe_load(rendered)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} (rendered)" if mark is not None else "(parse)"
        raise ConfigError(f"{source}: {where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: (top level): expected a mapping")
    try:
        model = TestConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        message = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{source}: {_where(err['loc'])}: {message}{more}") from None
    if model.cluster is not None and model.cluster_spec is not None:
        raise ConfigError(f"{source}: cluster: give either cluster or clusterSpec, not both")
    templates = _check(model, source)
    return LoadConfig(model, source, templates, values)


def _check(model: TestConfig, source: Path) -> dict[str, list[Any]]:
    """Cross-field checks; the parsed object templates by path."""
    from kubesim.loadgen.measurements import check_measurement

    def fail(where: str, message: str) -> ConfigError:
        return ConfigError(f"{source}: {where}: {message}")

    names = [t.name for t in model.tuning_sets]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise fail(f"tuningSets[{i}].name", f"duplicate tuning set {name!r}")
    templates: dict[str, list[Any]] = {}
    namespaces = model.namespace.number
    for s, step in enumerate(model.steps):
        for m, measurement in enumerate(step.measurements):
            where = f"steps[{s}].measurements[{m}]"
            problem = check_measurement(measurement.method, measurement.params)
            if problem is not None:
                raise fail(where + problem[0], problem[1])
        for p, phase in enumerate(step.phases):
            where = f"steps[{s}].phases[{p}]"
            if phase.tuning_set not in names:
                raise fail(f"{where}.tuningSet", f"unknown tuning set {phase.tuning_set!r} (defined: {', '.join(names) or 'none'})")
            rng = phase.namespace_range
            if rng is not None and rng.basename is None and rng.max > namespaces:
                raise fail(f"{where}.namespaceRange.max",
                           f"{rng.max} is beyond the {namespaces} automanaged namespaces (namespace.number)")
            for b, bundle in enumerate(phase.object_bundle):
                bwhere = f"{where}.objectBundle[{b}]"
                path = bundle.object_template_path
                if path not in templates:
                    try:
                        templates[path] = gotemplate.parse((source.parent / path).read_text())
                    except OSError as exc:
                        raise fail(f"{bwhere}.objectTemplatePath", f"cannot read {path}: {exc.strerror}") from None
                    except gotemplate.TemplateError as exc:
                        raise fail(f"{bwhere}.objectTemplatePath", f"{path}: {exc}") from None
                sample = {**bundle.template_fill_map, "Name": f"{bundle.basename}-0", "Index": 0,
                          "Namespace": "" if rng is None else f"{rng.basename or 'ns'}-{rng.min}"}
                try:
                    obj = yaml.safe_load(gotemplate.render(templates[path], sample))
                except gotemplate.TemplateError as exc:
                    raise fail(f"{bwhere}.templateFillMap", f"{path}: {exc}") from None
                except yaml.YAMLError as exc:
                    raise fail(f"{bwhere}.objectTemplatePath", f"{path}: renders to invalid YAML: {exc}") from None
                if not isinstance(obj, dict):
                    raise fail(f"{bwhere}.objectTemplatePath", f"{path}: does not render to an object")
                try:
                    _resource, namespaced = resource_of(obj)
                except ValueError as exc:
                    raise fail(f"{bwhere}.objectTemplatePath", f"{path}: {exc}") from None
                if namespaced and rng is None:
                    raise fail(f"{where}.namespaceRange", f"{path} holds a namespaced {obj['kind']}: give a namespaceRange")
                pods = _pods_per_object(obj)
                if pods is not None and pods < 0:
                    raise fail(f"{bwhere}.templateFillMap", f"{path}: replicas must not be negative (got {pods})")
    return templates


def _pods_per_object(obj: dict[str, Any]) -> int | None:
    replicas = (obj.get("spec") or {}).get("replicas")
    return replicas if isinstance(replicas, int) else None
