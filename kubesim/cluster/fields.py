"""Field types the cluster spec is built from: Go durations, quantities, DNS-1123 names,
label values, and the two spellings of section keys (camelCase like Kubernetes config
files, dashed like component flags).

Each check raises a pydantic error whose message is the upstream one (apimachinery's
`IsDNS1123Label`, `resource.ParseQuantity`, Go's `time.ParseDuration`), so a spec error
reads like the error the real component would print.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from kubesim.api import field, labels, quantity
from kubesim.cluster.durations import DurationError, parse_duration

T = TypeVar("T")


def _error(kind: str, message: str) -> PydanticCustomError:
    # the message goes in the context: upstream messages may hold braces
    return PydanticCustomError(kind, "{message}", {"message": message})


def _duration(value: Any) -> float:
    if not isinstance(value, str):
        raise _error("duration", f"expected a Go duration string such as '40s' or '100ms', got {value!r}")
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise _error("duration", str(exc)) from None


def _quantity(value: Any) -> str:
    text = str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
    if not isinstance(text, str):
        raise _error("quantity", f"expected a quantity such as '4' or '16Gi', got {value!r}")
    try:
        parsed = quantity.parse(text)
    except quantity.QuantityError as exc:
        raise _error("quantity", str(exc)) from None
    if parsed.sign() <= 0:
        raise _error("quantity", f"must be greater than 0 (got {text})")
    return text


def _dns1123_label(value: Any) -> str:
    if not isinstance(value, str):
        raise _error("dns1123_label", f"expected a string, got {value!r}")
    problems = labels.is_dns1123_label(value)
    if problems:
        raise _error("dns1123_label", "; ".join(problems))
    return value


def _label_value(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _error("label_value", f"expected a non-empty string, got {value!r}")
    problems = labels.is_valid_label_value(value)
    if problems:
        raise _error("label_value", "; ".join(problems))
    return value


Duration = Annotated[float, BeforeValidator(_duration)]
"""Seconds, written as a Go duration (`40s`): metav1.Duration in config files, duration flags."""
PositiveDuration = Annotated[Duration, Field(gt=0)]
NonNegativeDuration = Annotated[Duration, Field(ge=0)]
PositiveQuantity = Annotated[str, BeforeValidator(_quantity)]
"""A resource quantity (`4`, `500m`, `16Gi`) greater than zero, kept as written."""
DnsLabel = Annotated[str, BeforeValidator(_dns1123_label)]
"""A lowercase RFC 1123 label: what names of machines, pools and faults must be."""
Zone = Annotated[str, BeforeValidator(_label_value)]
"""A zone name: the value of the node label `topology.kubernetes.io/zone`."""


def _dashed(name: str) -> str:
    return name.replace("_", "-")


class CamelModel(BaseModel):
    """A spec section spelled like a Kubernetes config file (`controlPlane`, `nodePools`)."""

    model_config = ConfigDict(extra="forbid", strict=True, alias_generator=to_camel)


class FlagModel(BaseModel):
    """A spec section whose keys are a component's command-line flags (`max-requests-inflight`)."""

    model_config = ConfigDict(extra="forbid", strict=True, alias_generator=_dashed)


def set_fields(model: BaseModel) -> dict[str, Any]:
    """The fields a spec wrote explicitly, by attribute name (what overrides a default)."""
    return {name: getattr(model, name) for name in sorted(model.model_fields_set)}


def field_errors(errors: field.ErrorList, value: T) -> T:
    """`value`, or apimachinery field errors (their body, without the path) as a pydantic error."""
    if errors:
        raise _error("invalid", "; ".join(err.body() for err in errors))
    return value
