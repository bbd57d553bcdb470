"""The alert families' thresholds, one declaration each: its spec field under ``thresholds:``, its
JSON Schema fragment, its defaults, the model values it becomes, the direction its levels run in,
and whether the generated tests' hour must hold its ``for:``. The schema (spec.load_schema), the
model (model.Thresholds), the defaults, the semantic checks (semantics.py) and the alert families
(holystack.render.alerts, which import theirs from here) all read these declarations.

The declarations live here rather than in the family modules so that reading a spec loads none of
the renderers. A family from outside holystack declares its own and registers them with it
(holystack.render.alerts.register_family)."""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .defaults import LEVEL_KEYS, RATIO_KEEP_FIRING_FOR
from .durations import Duration
from .frozen import frozen

# The merged spec values of one threshold -> the model attributes they become.
ModelValues = Callable[[str, Mapping[str, Any]], dict[str, Any]]


@frozen
class Levels:
    """Alert levels by severity (info, warning, critical), how long a breach must last, and how long
    the alert keeps firing once the breach is over."""

    levels: tuple[tuple[str, float], ...]
    for_: Duration
    keep_firing_for: Duration = Duration(0)

    def get(self, severity: str) -> float | None:
        return dict(self.levels).get(severity)


def _levels(raw: Mapping[str, Any], parse: Callable[[Any], float] = float) -> Levels:
    present = tuple((key, parse(raw[key])) for key in LEVEL_KEYS if key in raw)
    return Levels(present, Duration.parse(raw["for"]), Duration.parse(raw.get("keep_firing_for", "0s")))


def levels(key: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Levels of numbers, at model attribute key."""
    return {key: _levels(raw)}


def duration_levels(key: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Levels written as durations, in seconds, at model attribute key."""
    return {key: _levels(raw, parse=lambda text: Duration.parse(text).seconds)}


def for_only(key: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """A for: alone, at model attribute <key>_for."""
    return {f"{key}_for": Duration.parse(raw["for"])}


@frozen
class Direction:
    """Which way a share's levels run: the comparison that fires, and how warning stands to critical."""

    op: str  # the comparison that fires: share op level
    warning_is: str  # "below" or "above" critical
    worse: str  # why, as the refusal says it
    schema_def: str  # the schema's $defs entry of such levels

    def ordered(self, warning: float, critical: float) -> bool:
        return warning < critical if self.op == ">" else warning > critical


HIGHER_IS_WORSE = Direction(">", "below", "a higher share is worse", "ratio_higher_is_worse")
LOWER_IS_WORSE = Direction("<", "above", "a lower success share is worse", "ratio_lower_is_worse")


@dataclass(frozen=True, eq=False)
class Threshold:
    """One threshold of an alert family (AlertFamily.thresholds). The source capabilities its
    alerts need are the family's (AlertFamily.requires, by kind)."""

    key: str  # its field under thresholds: (binding: specs use it)
    default: Mapping[str, Any]  # levels given replace these levels as a whole; for: etc. are filled in
    schema: Mapping[str, Any]  # its JSON Schema fragment
    model: ModelValues = levels  # what the model holds of it
    direction: Direction | None = None  # levels of a share: which way is worse
    horizon: bool = True  # its for: must fit, with the rate window, in the generated tests' hour
    for_attribute: str | None = None  # the model attribute of its for: (a Duration); None: key's Levels

    @property
    def op(self) -> str:
        """The comparison that fires (share op level), as its direction says."""
        if self.direction is None:
            raise ValueError(f"threshold {self.key!r} has no direction")
        return self.direction.op


def share(key: str, direction: Direction, default: Mapping[str, Any],
          description: str | None = None) -> Threshold:
    """A threshold on a share of calls, with warning and critical levels that run in direction."""
    schema: dict[str, Any] = {"$ref": f"#/$defs/{direction.schema_def}"}
    if description is not None:
        schema["description"] = description
    return Threshold(key, default, schema, levels, direction)


def for_threshold(key: str, default: str, description: str | None = None) -> Threshold:
    """A threshold that is a for: alone (model attribute <key>_for)."""
    schema: dict[str, Any] = {"$ref": "#/$defs/for_only"}
    if description is not None:
        schema["description"] = description
    return Threshold(key, {"for": default}, schema, for_only, for_attribute=f"{key}_for")


def _budget(key: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    return {"daily_budget_usd": raw.get("daily_usd"), "monthly_budget_usd": raw.get("monthly_usd"),
            "budget_for": Duration.parse(raw["for"])}


def _object(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": properties}


DURATION = {"$ref": "#/$defs/duration"}
_RATIO_DEFAULT_KEEP = {"keep_firing_for": RATIO_KEEP_FIRING_FOR}

# holystack's thresholds, by family (holystack.render.alerts.*, each naming its own in
# AlertFamily.thresholds), in the order the schema lists them.
# request ratios (ratios.py)
RATE_LIMIT_RATIO = share("rate_limit_ratio", HIGHER_IS_WORSE,
                         {"warning": 0.02, "critical": 0.10, "for": "2m", **_RATIO_DEFAULT_KEEP})
SERVER_ERROR_RATIO = share("server_error_ratio", HIGHER_IS_WORSE,
                           {"critical": 0.05, "for": "2m", **_RATIO_DEFAULT_KEEP})
TIMEOUT_RATIO = share("timeout_ratio", HIGHER_IS_WORSE,
                      {"warning": 0.02, "for": "1m", **_RATIO_DEFAULT_KEEP})
SUCCESS_RATIO = share("success_ratio", LOWER_IS_WORSE,
                      {"critical": 0.95, "for": "5m", **_RATIO_DEFAULT_KEEP})
# latency (latency.py): levels in seconds
LATENCY_P95 = Threshold("latency_p95", {"warning": "5s", "for": "3m"},
                        _object(warning=DURATION, **{"for": DURATION}), duration_levels)
# tokens (tokens.py)
TOKENS_PER_HOUR = Threshold("tokens_per_hour", {"info": 10_000_000, "for": "10m"},
                            _object(info={"type": "number", "exclusiveMinimum": 0, "maximum": 1e12},
                                    **{"for": DURATION}))
# budget (budget.py): no budget alerts unless the spec names a budget; a 24 h sum moves slowly, so
# no for: by default, and its own cap on for: (semantics.MAX_BUDGET_FOR) instead of the horizon.
BUDGET = Threshold("budget", {"for": "0s"},
                   _object(daily_usd={"type": "number", "minimum": 0.01, "maximum": 1e6},
                           monthly_usd={"type": "number", "minimum": 0.01, "maximum": 1e7},
                           **{"for": DURATION}), _budget, horizon=False, for_attribute="budget_for")
# targets (targets.py)
TARGET_DOWN = for_threshold("target_down", "2m")
METRICS_ABSENT = for_threshold("metrics_absent", "5m")
# resilience of the instrumented client (resilience.py; holystack.instrument's transport)
FALLBACK_RATIO = share("fallback_ratio", HIGHER_IS_WORSE, {"warning": 0.05, "for": "5m"},
                       "Share of calls that moved to a fallback provider (FallbackActive).")
RETRY_RATIO = share("retry_ratio", HIGHER_IS_WORSE, {"warning": 0.10, "for": "5m"},
                    "Share of a provider's attempts that were retries (RetryRatioHigh).")
RATELIMIT_HEADROOM = share("ratelimit_headroom", LOWER_IS_WORSE,
                           {"warning": 0.10, "for": "5m"}, "x-ratelimit remaining over limit (RateLimitHeadroomLow).")
CIRCUIT_OPEN = for_threshold("circuit_open", "1m",
                             "How long a provider's breaker stays open or half-open before CircuitBreakerOpen.")

BUILT_IN: tuple[Threshold, ...] = (RATE_LIMIT_RATIO, SERVER_ERROR_RATIO, TIMEOUT_RATIO, SUCCESS_RATIO, LATENCY_P95,
                                   TOKENS_PER_HOUR, BUDGET, TARGET_DOWN, METRICS_ABSENT, FALLBACK_RATIO, RETRY_RATIO,
                                   RATELIMIT_HEADROOM, CIRCUIT_OPEN)
_in_force: list[Threshold] = list(BUILT_IN)


def declared() -> tuple[Threshold, ...]:
    """The thresholds in force: holystack's, then those registered with their families."""
    return tuple(_in_force)


def register_thresholds(thresholds: Iterable[Threshold]) -> None:
    """Add thresholds after those in force; a spec field already in force is refused."""
    new = tuple(thresholds)
    taken = {t.key for t in _in_force}
    for threshold in new:
        if threshold.key in taken:
            raise ValueError(f"threshold {threshold.key!r} is already declared")
        taken.add(threshold.key)
    _in_force.extend(new)


def unregister_thresholds(thresholds: Iterable[Threshold]) -> None:
    for threshold in thresholds:
        if threshold in BUILT_IN:
            raise ValueError(f"threshold {threshold.key!r} is holystack's own")
        _in_force.remove(threshold)


def schema_properties() -> dict[str, Any]:
    """The schema's thresholds.properties: each declared threshold's fragment."""
    return {t.key: copy.deepcopy(dict(t.schema)) for t in declared()}


def with_defaults(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The spec's thresholds over their defaults: given levels replace, 'for' is filled in."""
    given = data.get("thresholds", {})
    merged: dict[str, dict[str, Any]] = {}
    for threshold in declared():
        default, own = threshold.default, given.get(threshold.key)
        if own is None:
            merged[threshold.key] = copy.deepcopy(dict(default))
            continue
        levels_given = any(key in own for key in LEVEL_KEYS)
        base = {k: v for k, v in default.items() if k not in LEVEL_KEYS or not levels_given}
        merged[threshold.key] = {**base, **own}
    return merged


@frozen
class Thresholds:
    """The model of every declared threshold: its values by model attribute (rate_limit_ratio,
    latency_p95, circuit_open_for, daily_budget_usd, ...), read as attributes."""

    values: tuple[tuple[str, Any], ...]

    @classmethod
    def build(cls, merged: Mapping[str, Mapping[str, Any]]) -> "Thresholds":
        """From the thresholds with their defaults (with_defaults)."""
        values: dict[str, Any] = {}
        for threshold in declared():
            values.update(threshold.model(threshold.key, merged[threshold.key]))
        return cls(tuple(values.items()))

    def __getattr__(self, name: str) -> Any:
        for attribute, value in object.__getattribute__(self, "values"):
            if attribute == name:
                return value
        raise AttributeError(f"no threshold value {name!r}")

    def with_values(self, **changes: Any) -> "Thresholds":
        """A copy with some values replaced (tests)."""
        unknown = set(changes) - {attribute for attribute, _ in self.values}
        if unknown:
            raise TypeError(f"no threshold values {sorted(unknown)}")
        return Thresholds(tuple((attribute, changes.get(attribute, value)) for attribute, value in self.values))

    def for_of(self, threshold: Threshold) -> Duration:
        """The for: of a threshold."""
        if threshold.for_attribute is not None:
            duration: Duration = getattr(self, threshold.for_attribute)
            return duration
        levels: Levels = getattr(self, threshold.key)
        return levels.for_
