"""The cost model: every modelled latency and cost of the simulator, from one profile.

What kubesim executes for real (Raft, MVCC, API semantics, scheduling, reconciliation)
costs nothing here; what it models (network and disk latency, container-runtime and
CNI/CSI operations, kube-proxy rule programming, apiserver serialization, the fake
cloud) takes its numbers from a YAML profile. The shipped profile,
``profiles/default.yaml``, holds every key with a comment naming its source, and is
also the schema: a key exists because it is there, and its kind is fixed there.

Two kinds of leaf:
  * latency: ``{median: S, p99: S}`` in seconds, sampled from a lognormal with that
    median and 99th percentile (constant when ``p99 == median``);
  * scalar: a number (int or float, as the default writes it).

A user profile is applied on top of the default, so it may be partial; overrides,
flat (``{"disk.fsync.median": 0.01}``) or nested, are applied last. Any unknown key,
wrong type, negative value or ``p99 < median`` raises :class:`CostModelError`
naming the dotted key (and the file it came from).
"""

from __future__ import annotations

import difflib
import math
import os
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from statistics import NormalDist
from typing import Any

import yaml

__all__ = ["CostModel", "CostModelError", "Latency", "DEFAULT_PROFILE"]

DEFAULT_PROFILE = Path(__file__).with_name("profiles") / "default.yaml"

_Z99 = NormalDist().inv_cdf(0.99)  # standard normal 99th percentile, ~2.326
_LATENCY_FIELDS = ("median", "p99")
_RATE_SUFFIX = "_per_second"  # scalars named *_per_second are divisors: must be > 0


class CostModelError(ValueError):
    """A profile or override is invalid; the message names the dotted key."""


def _latency_problem(median: float, p99: float) -> tuple[str, str] | None:
    """Return (field, reason) if (median, p99) is not a valid latency, else None."""
    for name, v in (("median", median), ("p99", p99)):
        if not math.isfinite(v):
            return name, f"must be finite (got {v})"
        if v < 0:
            return name, f"must be >= 0 (got {v})"
    if p99 < median:
        return "p99", f"must be >= median {median} (got {p99})"
    if median == 0 and p99 > 0:
        return "median", f"must be > 0 when p99 > median (got {median})"
    return None


@dataclass(frozen=True)
class Latency:
    """A latency distribution in seconds: lognormal with the given median and p99."""

    median: float
    p99: float

    def __post_init__(self) -> None:
        problem = _latency_problem(self.median, self.p99)
        if problem is not None:
            raise ValueError(f"{problem[0]}: {problem[1]}")

    @cached_property
    def sigma(self) -> float:
        """The lognormal shape parameter: ln(p99 / median) / z(0.99) (worked out once: every
        message the network model delivers draws from a Latency)."""
        if self.p99 == self.median:
            return 0.0
        return math.log(self.p99 / self.median) / _Z99

    def sample(self, rng: random.Random) -> float:
        """One draw, in seconds; never negative, and exactly the median when p99 == median."""
        sigma = self.sigma
        if sigma == 0.0:
            return self.median
        return self.median * math.exp(rng.gauss(0.0, sigma))

    def to_dict(self) -> dict[str, float]:
        return {"median": self.median, "p99": self.p99}


Leaf = Latency | int | float


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise CostModelError(f"cost model: {path}: cannot read profile: {e}") from e
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise CostModelError(f"cost model: {path}: invalid YAML: {e}") from e


@dataclass(frozen=True)
class _Schema:
    """Leaf keys of the default profile and their kinds, plus the section prefixes."""

    kinds: Mapping[str, type]  # dotted key -> Latency, int or float
    sections: frozenset[str]  # every proper dotted prefix of a leaf key

    def suggest(self, key: str) -> str:
        close = difflib.get_close_matches(key, list(self.kinds) + list(self.sections), n=1)
        return f" (did you mean '{close[0]}'?)" if close else ""


def _default_leaves(node: Any, prefix: str, source: str) -> Iterator[tuple[str, Leaf]]:
    """Walk the default profile; a mapping of exactly {median, p99} is a latency leaf."""
    if not isinstance(node, Mapping):
        raise CostModelError(f"cost model: {source}: {prefix or 'top level'}: must be a mapping")
    for k, v in node.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping) and set(v) == set(_LATENCY_FIELDS):
            for name in _LATENCY_FIELDS:
                if not _is_number(v[name]):
                    raise CostModelError(
                        f"cost model: {source}: {key}.{name}: must be a number (got {v[name]!r})"
                    )
            yield key, _make_latency(key, v["median"], v["p99"], source)
        elif isinstance(v, Mapping):
            yield from _default_leaves(v, key, source)
        elif _is_number(v):
            yield key, _check_scalar(key, v, type(v), source)
        else:
            raise CostModelError(f"cost model: {source}: {key}: must be a number (got {v!r})")


@lru_cache(maxsize=1)
def _load_default() -> tuple[_Schema, dict[str, Leaf]]:
    values = dict(_default_leaves(_read_yaml(DEFAULT_PROFILE), "", str(DEFAULT_PROFILE)))
    kinds = {k: (Latency if isinstance(v, Latency) else type(v)) for k, v in values.items()}
    sections = {k.rsplit(".", i)[0] for k in kinds for i in range(1, k.count(".") + 1)}
    return _Schema(kinds, frozenset(sections)), values


def _where(source: str | None) -> str:
    return f"{source}: " if source else ""


def _make_latency(key: str, median: float, p99: float, source: str | None) -> Latency:
    problem = _latency_problem(median, p99)
    if problem is not None:
        raise CostModelError(f"cost model: {_where(source)}{key}.{problem[0]}: {problem[1]}")
    return Latency(float(median), float(p99))


def _check_scalar(key: str, value: Any, kind: type, source: str | None) -> int | float:
    if not _is_number(value) or (kind is int and not isinstance(value, int)):
        expected = "an integer" if kind is int else "a number"
        raise CostModelError(
            f"cost model: {_where(source)}{key}: must be {expected} (got {value!r})"
        )
    if not math.isfinite(value):
        raise CostModelError(f"cost model: {_where(source)}{key}: must be finite (got {value})")
    if value < 0:
        raise CostModelError(f"cost model: {_where(source)}{key}: must be >= 0 (got {value})")
    if key.endswith(_RATE_SUFFIX) and value == 0:
        raise CostModelError(f"cost model: {_where(source)}{key}: must be > 0 (got {value})")
    return kind(value)


def _flatten(
    node: Any, prefix: str, schema: _Schema, source: str | None
) -> Iterator[tuple[str, Any]]:
    """Yield (dotted key, value) pairs down to scalars and latency fields ('k.median')."""
    kind = schema.kinds.get(prefix)
    parent, _, last = prefix.rpartition(".")
    if kind is Latency:
        if isinstance(node, Latency):
            node = node.to_dict()
        if not isinstance(node, Mapping):
            raise CostModelError(
                f"cost model: {_where(source)}{prefix}: must be a mapping "
                f"{{median, p99}} (got {node!r})"
            )
        for name, v in node.items():
            if name not in _LATENCY_FIELDS:
                raise CostModelError(f"cost model: {_where(source)}unknown key '{prefix}.{name}'")
            yield f"{prefix}.{name}", v
    elif kind is not None:
        yield prefix, node
    elif last in _LATENCY_FIELDS and schema.kinds.get(parent) is Latency:
        yield prefix, node
    elif not prefix or prefix in schema.sections:
        if not isinstance(node, Mapping):
            what = f"{prefix}: must be a mapping" if prefix else "a profile must be a mapping"
            raise CostModelError(f"cost model: {_where(source)}{what} (got {node!r})")
        for k, v in node.items():
            if not isinstance(k, str):
                raise CostModelError(f"cost model: {_where(source)}key {k!r} must be a string")
            yield from _flatten(v, f"{prefix}.{k}" if prefix else k, schema, source)
    else:
        raise CostModelError(
            f"cost model: {_where(source)}unknown key '{prefix}'{schema.suggest(prefix)}"
        )


def _apply(
    base: Mapping[str, Leaf], update: Any, schema: _Schema, source: str | None
) -> dict[str, Leaf]:
    """Return base with update (nested or flat mapping) applied and validated."""
    values = dict(base)
    latency_fields: dict[str, dict[str, Any]] = {}
    for key, v in _flatten(update, "", schema, source):
        kind = schema.kinds.get(key)
        if kind is None:  # a latency field: 'k.median' or 'k.p99'
            lkey, _, name = key.rpartition(".")
            if not _is_number(v):
                raise CostModelError(
                    f"cost model: {_where(source)}{key}: must be a number (got {v!r})"
                )
            latency_fields.setdefault(lkey, {})[name] = v
        else:
            values[key] = _check_scalar(key, v, kind, source)
    for lkey, fields in latency_fields.items():
        current = values[lkey]
        assert isinstance(current, Latency)
        values[lkey] = _make_latency(
            lkey, fields.get("median", current.median), fields.get("p99", current.p99), source
        )
    return values


class CostModel:
    """A resolved profile: read-only; derive variants with :meth:`with_overrides`."""

    def __init__(self, values: Mapping[str, Leaf]) -> None:
        # Built only by load / from_dict / with_overrides, which validate.
        self._values: dict[str, Leaf] = dict(values)

    # -- construction -------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> CostModel:
        """The default profile, then the profile at ``path`` on top, then ``overrides``."""
        schema, values = _load_default()
        if path is not None:
            p = Path(path)
            data = _read_yaml(p)
            values = _apply(values, {} if data is None else data, schema, str(p))
        if overrides is not None:
            values = _apply(values, overrides, schema, None)
        return cls(values)

    def with_overrides(self, overrides: Mapping[str, Any]) -> CostModel:
        """A copy with ``overrides`` (flat dotted keys or nested mappings) applied."""
        schema, _ = _load_default()
        return CostModel(_apply(self._values, overrides, schema, None))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CostModel:
        """Inverse of :meth:`to_dict`; a partial dict is applied on top of the default."""
        schema, values = _load_default()
        return cls(_apply(values, d, schema, None))

    def to_dict(self) -> dict[str, Any]:
        """The full resolved profile as nested plain dicts (msgpack / pickle friendly)."""
        out: dict[str, Any] = {}
        for key, v in self._values.items():
            *parents, leaf = key.split(".")
            node = out
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = v.to_dict() if isinstance(v, Latency) else v
        return out

    # -- lookup -------------------------------------------------------------------------

    def _get(self, key: str) -> Leaf:
        try:
            return self._values[key]
        except KeyError:
            schema, _ = _load_default()
            raise CostModelError(f"cost model: unknown key '{key}'{schema.suggest(key)}") from None

    def latency(self, key: str) -> Latency:
        """The latency distribution at ``key``, e.g. ``"network.cross_zone"``."""
        v = self._get(key)
        if not isinstance(v, Latency):
            raise CostModelError(f"cost model: {key}: is a scalar, not a latency (use value())")
        return v

    def sample(self, key: str, rng: random.Random) -> float:
        """One draw, in seconds, from the latency at ``key``."""
        return self.latency(key).sample(rng)

    def value(self, key: str) -> int | float:
        """The scalar at ``key``, e.g. ``"etcd.quota_bytes"``."""
        v = self._get(key)
        if isinstance(v, Latency):
            raise CostModelError(f"cost model: {key}: is a latency, not a scalar (use latency())")
        return v

    def keys(self) -> list[str]:
        """Every dotted leaf key, in profile order."""
        return list(self._values)

    # -- derived costs ------------------------------------------------------------------

    def image_pull_seconds(self, image_bytes: int, rng: random.Random) -> float:
        """Pulling an image of ``image_bytes``: a sampled fixed part plus size / bandwidth."""
        _require_non_negative(image_bytes=image_bytes)
        bandwidth = self.value("kubelet.image_pull_bytes_per_second")
        return self.sample("kubelet.image_pull_fixed", rng) + image_bytes / bandwidth

    def iptables_sync_seconds(self, total_rules: int, changed_rules: int) -> float:
        """One iptables-restore: superlinear in the whole table, plus the changed rules."""
        _require_non_negative(total_rules=total_rules, changed_rules=changed_rules)
        p = "kube_proxy.iptables."
        return (
            self.value(p + "restore_fixed_seconds")
            + self.value(p + "rule_coefficient") * total_rules ** self.value(p + "rule_exponent")
            + self.value(p + "per_changed_rule_seconds") * changed_rules
        )

    def ipvs_sync_seconds(self, changed_virtual_servers: int, changed_real_servers: int) -> float:
        """One IPVS sync: incremental netlink updates, independent of the number of Services."""
        _require_non_negative(
            changed_virtual_servers=changed_virtual_servers,
            changed_real_servers=changed_real_servers,
        )
        p = "kube_proxy.ipvs."
        return (
            self.value(p + "sync_fixed_seconds")
            + self.value(p + "per_virtual_server_seconds") * changed_virtual_servers
            + self.value(p + "per_real_server_seconds") * changed_real_servers
        )

    def nftables_sync_seconds(self, total_rules: int, changed_rules: int) -> float:
        """One nftables transaction: linear in the changed rules, a small per-ruleset term."""
        _require_non_negative(total_rules=total_rules, changed_rules=changed_rules)
        p = "kube_proxy.nftables."
        return (
            self.value(p + "transaction_fixed_seconds")
            + self.value(p + "per_changed_rule_seconds") * changed_rules
            + self.value(p + "per_total_rule_seconds") * total_rules
        )

    # -- dunder -------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CostModel) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def __repr__(self) -> str:
        return f"CostModel({len(self._values)} keys)"


def _require_non_negative(**counts: float) -> None:
    for name, v in counts.items():
        if v < 0:
            raise ValueError(f"{name} must be >= 0 (got {v})")
