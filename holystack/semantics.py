"""Rules a JSON Schema cannot say, checked on the model (defaults applied once, in model.py):
unique names, references, ordered levels, units that fit the scrape interval, thresholds that can
fire. Each check yields (spec path, message); a check that raises has a bug and is not hidden.

The raw-input checks at the end (inline secrets, route syntax) run on the data as written, before
the schema, so that a secret is refused by name whatever else is wrong."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .contract import COUNTER_SUFFIXES, GEMINI_ALL_MODELS, GEMINI_METHODS, OTHER
from .defaults import (ABSENT_FOR_MIN_SCRAPES, DEFAULT_LOOKBACK, LOOKBACK_MIN_SCRAPES, MAX_LOOKBACK, PROMTOOL_CASE_RUN,
                       RATE_WINDOW_MIN_SCRAPES, RESERVED_JOB_NAMES,
                       WATCHDOG_RECEIVER)
from .errors import Finding, SpecPath, format_path
from .hygiene import MAX_PRICE, MIN_PRICE, hygiene_problems
from .matchers import LABEL_NAME_RE, parse_matcher
from .model import Duration, Stack
from .secrets import secret_problems
from .shapes import indexed, section
from .sources import DEFAULT_SOURCE, GENERAL_OPTIONS, all_sources, source_class, source_names
from .sources.base import FALLBACKS
from .thresholds import declared

ModelCheck = Callable[[Stack], Iterator[Finding]]


def semantic_problems(stack: Stack, schema_failed: bool = False) -> list[Finding]:
    """Every rule beyond the schema that the modelled spec breaks, as (path, message).

    A check that raises on a spec the schema passed has a bug: the error propagates. When the
    schema already refused the data, the model may hold what no valid spec has (an empty list, a
    zero); a check that cannot read it is skipped, since the schema has named the problem."""
    findings: list[Finding] = []
    for check in MODEL_CHECKS:
        try:
            findings += list(check(stack))
        except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError):
            if not schema_failed:
                raise
    return findings


def _duplicates(names: list[Any], key: str, where: SpecPath) -> Iterator[Finding]:
    first: dict[Any, int] = {}
    for index, value in enumerate(names):
        if value in first:
            yield where + (index, key), (f"{value!r} is already used by {format_path(where)}[{first[value]}]; "
                                         "names must be unique")
        else:
            first[value] = index


def _unique_names(stack: Stack) -> Iterator[Finding]:
    yield from _duplicates([m.name for m in stack.models], "name", ("models",))
    yield from _duplicates([e.path for e in stack.endpoints], "path", ("endpoints",))
    yield from _duplicates([p.name for p in stack.providers], "name", ("providers",))
    yield from _duplicates([j.name for j in stack.jobs], "name", ("scrape", "jobs"))
    yield from _duplicates([r.name for r in stack.alerting.receivers], "name", ("alerting", "receivers"))


def _receiver_references(stack: Stack) -> Iterator[Finding]:
    alerting = stack.alerting
    names = [r.name for r in alerting.receivers]
    known = ", ".join(repr(n) for n in names)
    if alerting.default_receiver not in names:
        yield ("alerting", "default_receiver"), (
            f"{alerting.default_receiver!r} is not a defined receiver; define it under alerting.receivers "
            f"or use one of {known}")
    for index, route in enumerate(alerting.routes):
        if route.receiver not in names:
            yield ("alerting", "routes", index, "receiver"), (
                f"{route.receiver!r} is not a defined receiver; use one of {known}")


def _levels(stack: Stack) -> Iterator[Finding]:
    """The levels of each share run the way its declaration says (holystack.thresholds)."""
    for threshold in declared():
        direction = threshold.direction
        if direction is None:
            continue
        levels = getattr(stack.thresholds, threshold.key)
        warning, critical = levels.get("warning"), levels.get("critical")
        if warning is None or critical is None:
            continue
        if not direction.ordered(warning, critical):
            yield ("thresholds", threshold.key, "warning"), (
                f"warning ({warning:g}) must be {direction.warning_is} critical ({critical:g}): {direction.worse}")


def _buckets_and_latency(stack: Stack) -> Iterator[Finding]:
    buckets = stack.latency_buckets
    for index in range(1, len(buckets)):
        if buckets[index] <= buckets[index - 1]:
            yield ("metrics", "latency_buckets", index), (
                f"{buckets[index]:g} is not above {buckets[index - 1]:g}; bucket bounds must increase")
            return
    lowest, highest = buckets[0], buckets[-1]
    default = stack.thresholds.latency_p95.get("warning")
    checks: list[tuple[SpecPath, float]] = [] if default is None else [(("thresholds", "latency_p95", "warning"),
                                                                          default)]
    checks += [(("endpoints", i, "latency_p95"), e.latency_p95.seconds)
               for i, e in enumerate(stack.endpoints) if e.latency_p95 is not None]
    for path, seconds in checks:
        if seconds < lowest or seconds >= highest:
            yield path, (f"{Duration(round(seconds * 1000))} cannot be measured with latency_buckets "
                         f"{lowest:g}s..{highest:g}s: a p95 threshold must lie from the first bucket up to below the "
                         "last one, or the alert can never fire")


def _metrics_prefix(stack: Stack) -> Iterator[Finding]:
    prefix = stack.contract.prefix
    if prefix.startswith("__"):
        yield ("metrics", "prefix"), (f"{prefix!r} starts with '__', which Prometheus reserves; "
                                      "pick a plain name like 'holysheep'")
    elif prefix.endswith("_") or prefix.endswith(COUNTER_SUFFIXES):
        yield ("metrics", "prefix"), (f"{prefix!r} must not end with '_' or a metric suffix; "
                                      "holystack appends _requests_total and the like itself")


def _windows(stack: Stack) -> Iterator[Finding]:
    slowest, floor = stack.slowest_scrape, stack.rate_window_floor
    if stack.rate_window.ms < floor.ms:
        yield ("metrics", "rate_window"), (
            f"{stack.rate_window} is shorter than {RATE_WINDOW_MIN_SCRAPES}x the slowest scrape interval "
            f"({slowest}); use at least {floor}")
    absent_for, absent_floor = stack.thresholds.metrics_absent_for, stack.absent_for_floor
    if absent_for.ms < absent_floor.ms:
        yield ("thresholds", "metrics_absent", "for"), (
            f"{absent_for} is shorter than {ABSENT_FOR_MIN_SCRAPES}x the slowest scrape interval; "
            f"one missed scrape would fire it. Use at least {absent_floor}")
    if stack.evaluation_interval.ms == 0:
        yield ("scrape", "evaluation_interval"), "must be above 0s"
    lookback_floor = Duration(LOOKBACK_MIN_SCRAPES * slowest.ms)
    if not lookback_floor.ms <= stack.lookback.ms <= Duration.parse(MAX_LOOKBACK).ms:
        yield ("scrape", "lookback"), (
            f"{stack.lookback} must be from {LOOKBACK_MIN_SCRAPES}x the slowest scrape interval ({lookback_floor}) "
            f"to {MAX_LOOKBACK}: one missed scrape must not be a gap; give the --query.lookback-delta "
            f"Prometheus runs with (default {DEFAULT_LOOKBACK})")
    for index, job in enumerate(stack.jobs):
        if job.interval.ms == 0:
            yield ("scrape", "jobs", index, "interval"), "must be above 0s"
        if job.authorization is not None and job.authorization.type.lower() == "basic":
            yield ("scrape", "jobs", index, "authorization", "type"), (
                f"{job.authorization.type} is refused here, as Prometheus refuses it in authorization; give the "
                "scheme the target expects (Bearer, the default, for LiteLLM's master key)")


def _burn_rates(stack: Stack) -> Iterator[Finding]:
    """A burn-rate alert whose threshold (factor x error budget) reaches 100% of calls can never fire."""
    top = max(burn.factor for burn in stack.slo.burn_rates)
    for index, endpoint in enumerate(stack.endpoints):
        objectives: list[tuple[SpecPath, float, str, str]] = []
        if endpoint.availability is not None:
            objectives.append((("endpoints", index, "availability"), endpoint.availability, "fail", "availability"))
        if endpoint.latency_slo is not None:
            objectives.append((("endpoints", index, "latency_slo", "objective"), endpoint.latency_slo.objective,
                               "be slower than the threshold", "latency_slo"))
        for path, objective, verb, field in objectives:
            budget = 1 - objective / 100
            impossible = [burn for burn in stack.slo.burn_rates if burn.factor * budget >= 1]
            if impossible:
                burn = impossible[0]
                yield path, (
                    f"{objective:g} leaves an error budget of {budget:.4g} ({budget * 100:.4g}% of calls); "
                    f"the {burn.factor:g}x burn-rate alert over {burn.long_window} would need "
                    f"{burn.factor * budget * 100:.4g}% of calls to {verb}, so it could never fire. "
                    f"Use {'an availability' if field == 'availability' else 'an objective'} above "
                    f"{100 * (1 - 1 / top):.2f}, or leave {field} out")


_GEMINI_ENDPOINT = re.compile(r"(.*/models(/[^/:]+)?):(%s)" % "|".join(GEMINI_METHODS))


def _gemini_endpoints(stack: Stack) -> Iterator[Finding]:
    """A path with a ':' is a Gemini method: <prefix>/models:<method> for every model, or
    <prefix>/models/<model>:<method> for one."""
    for index, endpoint in enumerate(stack.endpoints):
        if ":" in endpoint.path and _GEMINI_ENDPOINT.fullmatch(endpoint.path) is None:
            yield ("endpoints", index, "path"), (
                f"{endpoint.path} is no Gemini method path; write <prefix>{GEMINI_ALL_MODELS}<method> for every model "
                f"(e.g. /v1beta{GEMINI_ALL_MODELS}generateContent) or <prefix>/models/<model>:<method>, with method "
                f"one of {', '.join(GEMINI_METHODS)}")


def _latency_slo_thresholds(stack: Stack) -> Iterator[Finding]:
    """A latency SLO counts the calls in one histogram bucket: its threshold must be a bucket bound."""
    buckets = stack.latency_buckets
    for index, endpoint in enumerate(stack.endpoints):
        slo = endpoint.latency_slo
        if slo is None or slo.threshold.seconds in buckets:
            continue
        seconds = slo.threshold.seconds
        below = [b for b in buckets if b < seconds]
        above = [b for b in buckets if b > seconds]
        nearest = " or ".join(str(Duration(round(b * 1000))) for b in (below[-1:] + above[:1]))
        if stack.source.fixed_buckets is not None:
            bounds = ", ".join(f"{b:g}" for b in buckets)
            yield ("endpoints", index, "latency_slo", "threshold"), (
                f"{slo.threshold} is not a bucket of metrics.source {stack.source.name}, whose latency buckets are "
                f"fixed ({bounds} seconds); a latency SLO counts the calls of one bucket. Use {nearest}")
            continue
        yield ("endpoints", index, "latency_slo", "threshold"), (
            f"{slo.threshold} is not one of metrics.latency_buckets; a latency SLO counts the calls of one bucket. "
            f"Use {nearest}, or add {seconds:g} to metrics.latency_buckets")


def _reserved_names(stack: Stack) -> Iterator[Finding]:
    for section, items in (("models", stack.models), ("providers", stack.providers)):
        for index, item in enumerate(items):
            if item.name == OTHER:
                yield (section, index, "name"), (
                    f"{OTHER!r} is reserved for calls to {section} outside the spec; rename it")
    for index, job in enumerate(stack.jobs):
        if job.name in RESERVED_JOB_NAMES:
            yield ("scrape", "jobs", index, "name"), (
                f"{job.name!r} is the job holystack writes for {job.name.title()} itself; pick another name")
    for index, receiver in enumerate(stack.alerting.receivers):
        if receiver.name == WATCHDOG_RECEIVER:
            yield ("alerting", "receivers", index, "name"), (
                f"{WATCHDOG_RECEIVER!r} is the receiver holystack writes for the Watchdog")


def _alerting_timing(stack: Stack) -> Iterator[Finding]:
    group_interval, repeat_interval = stack.alerting.group_interval, stack.alerting.repeat_interval
    if group_interval.ms == 0:
        yield ("alerting", "group_interval"), "must be above 0s"
    elif repeat_interval.ms < group_interval.ms or repeat_interval.ms % group_interval.ms:
        yield ("alerting", "repeat_interval"), (
            f"{repeat_interval} must be a multiple of group_interval ({group_interval}); "
            "Alertmanager only repeats at group_interval ticks")


def _kubernetes(stack: Stack) -> Iterator[Finding]:
    """What OUT/kubernetes/ writes (semantics_kubernetes.py, loaded only for a spec that asks for it)."""
    if stack.scale_out.kubernetes is None:
        return
    from .semantics_kubernetes import kubernetes_problems

    yield from kubernetes_problems(stack, stack.scale_out.kubernetes)


def _resilience(stack: Stack) -> Iterator[Finding]:
    """Retry, breaker and fallback settings that cannot work: unknown providers and models, a chain
    that loops or forks, a backoff cap under its base, statuses that must not be retried, zero windows.
    Checked on the merged settings of each provider, reported where they were written."""
    resilience = stack.resilience
    providers = {p.name for p in stack.providers}
    models = {m.name for m in stack.models}
    known = ", ".join(sorted(providers))
    for name, _ in resilience.providers:
        if name not in providers:
            yield ("resilience", "providers", name), f"{name!r} is not a provider; use one of {known}"
    for where, policy in [(("resilience",), resilience.default)] + [
            (("resilience", "providers", name), own) for name, own in resilience.providers]:
        retry, breaker = policy.retry, policy.breaker
        if retry.backoff_cap.ms < retry.backoff_base.ms:
            yield where + ("retry", "backoff_cap"), (f"{retry.backoff_cap} is shorter than backoff_base "
                                                     f"{retry.backoff_base}; the cap must be at least the base")
        for index, status in enumerate(retry.statuses):
            if status != 429 and not 500 <= status <= 599:
                yield where + ("retry", "statuses", index), (f"{status} is not retried: only 429 and 5xx answers "
                                                             "are; another 4xx fails the same way again")
        for key, duration in ((("retry", "deadline"), retry.deadline), (("breaker", "window"), breaker.window),
                              (("breaker", "open_for"), breaker.open_for)):
            if duration.ms == 0:
                yield where + key, "must be longer than 0s"
    sources: dict[str, int] = {}
    for index, edge in enumerate(resilience.fallbacks):
        where = ("resilience", "fallbacks", index)
        for key, name in (("from", edge.source), ("to", edge.target)):
            if name not in providers:
                yield where + (key,), f"{name!r} is not a provider; use one of {known}"
        if edge.source == edge.target:
            yield where + ("to",), f"{edge.target!r} falls back to itself"
        elif edge.source in sources:
            yield where + ("from",), (f"{edge.source!r} already falls back in fallbacks[{sources[edge.source]}]; "
                                      "a provider has one next provider (chain them: a -> b, b -> c)")
        else:
            sources[edge.source] = index
        for model, _ in edge.models:
            if model not in models:
                yield where + ("models", model), f"{model!r} is not a model of the spec"
    edges = {edge.source: edge.target for edge in resilience.fallbacks if edge.source != edge.target}
    for start, index in sources.items():
        seen, current = [start], edges[start]
        while current in edges and current not in seen:
            seen.append(current)
            current = edges[current]
        if current == start:
            yield ("resilience", "fallbacks", index), ("the fallback chain loops: " + " -> ".join(seen + [start])
                                                       + "; end it at a provider that falls back to none")
            break


# The generated promtool cases run an hour and evaluate an alert 2m after it may fire; a budget alert
# reads a 24 h sum that moves slowly.
TEST_RUN = Duration.parse(PROMTOOL_CASE_RUN)
TEST_EVAL_MARGIN = Duration(2 * 60_000)
MAX_BUDGET_FOR = Duration(15 * 60_000)


def _test_horizon(stack: Stack) -> Iterator[Finding]:
    """Every alert's for: leaves room, inside the generated tests' hour, for the rate window."""
    room = TEST_RUN.ms - TEST_EVAL_MARGIN.ms
    if stack.rate_window.ms > room:
        yield ("metrics", "rate_window"), f"{stack.rate_window} is longer than {Duration(room)}; use a shorter window"
        return
    t = stack.thresholds
    if t.budget_for.ms > MAX_BUDGET_FOR.ms:
        yield ("thresholds", "budget", "for"), (f"{t.budget_for} is longer than {MAX_BUDGET_FOR}; a budget alert "
                                                "reads a 24 h sum that moves slowly, and a longer 'for' cannot be tested")
    longest = Duration(room - stack.rate_window.ms)
    fors = {threshold.key: t.for_of(threshold) for threshold in declared() if threshold.horizon}
    for kind, for_ in fors.items():
        if for_.ms > longest.ms:
            yield ("thresholds", kind, "for"), (
                f"{for_} with the rate window {stack.rate_window} is too long: rate window + for must stay within "
                f"{Duration(room)} so that the generated promtool tests can fire the alert; use at most {longest}")


def _price_data(stack: Stack) -> Iterator[Finding]:
    """A model priced from genai-prices that its data does not know (or genai-prices is missing)."""
    for index, model in enumerate(stack.models):
        source = model.prices.source
        if source is not None and source.error is not None:
            yield ("models", index, "prices", source.error_field), source.error
        elif source is not None and source.from_data:
            for key in ("input", "output", "cached_input", "cache_write", "cache_write_1h"):
                price = getattr(model.prices, key)
                if price is not None and (0 < price < MIN_PRICE or price > MAX_PRICE):
                    yield ("models", index, "prices", "from"), (
                        f"genai-prices prices {key} of {source.provider}/{source.model} at {price:g} USD per 1M "
                        f"tokens, outside 0 or {MIN_PRICE:g} to {MAX_PRICE:g}; type the prices by hand")


def _source_fit(stack: Stack) -> Iterator[Finding]:
    """What the spec asks of its metric source: a fallback chain it can observe, endpoints it can tell apart."""
    source = stack.source
    if stack.resilience.fallbacks and FALLBACKS not in source.capabilities:
        yield ("resilience", "fallbacks"), (f"metrics.source {source.name} cannot observe fallbacks "
                                            f"({source.reason(FALLBACKS)}); remove resilience.fallbacks")
    for index, endpoint in enumerate(stack.endpoints):
        problem = source.endpoint_problem(stack, endpoint.path)
        if problem is not None:
            yield ("endpoints", index, "path"), f"metrics.source {source.name}: {problem}"
    yield from source.problems(stack)


MODEL_CHECKS: tuple[ModelCheck, ...] = (_price_data, _unique_names, _receiver_references, _levels, _buckets_and_latency,
                                        _metrics_prefix, _windows, _burn_rates, _latency_slo_thresholds,
                                        _gemini_endpoints, _reserved_names, _alerting_timing,
                                        _kubernetes, _resilience, _test_horizon, _source_fit)


# -- raw-input checks: on the data as written, before the schema ----------------------------
RawCheck = Callable[[dict[str, Any]], Iterable[Finding]]



def raw_problems(data: dict[str, Any]) -> list[Finding]:
    """The raw-input checks' findings. Each reads only what it finds of the right shape: the
    schema names every other problem of the same data."""
    return [finding for check in RAW_CHECKS for finding in check(data)]


def _source_options(data: dict[str, Any]) -> Iterator[Finding]:
    """A metrics field that the spec's source does not read (an unknown source is the schema's)."""
    metrics = section(data, "metrics")
    name = metrics.get("source", DEFAULT_SOURCE)
    if not isinstance(name, str) or name not in source_names():
        return
    source = source_class(name)
    for key in sorted(set(metrics) - GENERAL_OPTIONS - source.options):
        if not isinstance(key, str):
            continue
        fixed = (f": its latency buckets are fixed ({', '.join(f'{b:g}' for b in source.fixed_buckets)} seconds)"
                 if key == "latency_buckets" and source.fixed_buckets is not None else "")
        readers = sorted(n for n, cls in all_sources().items() if key in cls.options)
        yield ("metrics", key), (f"metrics.source {name} does not read {key}{fixed}; remove it"
                                 + (f" ({', '.join(readers)} {'reads' if len(readers) == 1 else 'read'} it)" if readers else ""))


def _routes(data: dict[str, Any]) -> Iterator[Finding]:
    alerting = section(data, "alerting")
    group_by = alerting.get("group_by")
    for name in group_by if isinstance(group_by, list) else []:
        if isinstance(name, str) and name != "..." and not LABEL_NAME_RE.fullmatch(name):
            yield ("alerting", "group_by"), f"{name!r} is not a label name"
    for index, route in indexed(alerting.get("routes")):
        where = ("alerting", "routes", index)
        for key in ("match", "match_re"):
            for label in route.get(key) if isinstance(route.get(key), dict) else {}:
                if not LABEL_NAME_RE.fullmatch(str(label)):
                    yield where + (key, label), f"{label!r} is not a label name"
        matchers = route.get("matchers")
        for m_index, matcher in enumerate(matchers if isinstance(matchers, list) else []):
            if parse_matcher(str(matcher)) is None:
                yield where + ("matchers", m_index), f"{matcher!r} is not a matcher such as severity=\"critical\""


def _kubernetes_selectors(data: dict[str, Any]) -> Iterator[Finding]:
    """kubernetes.selectors name spec jobs (the model keeps a selector per job, so a typo would vanish)."""
    selectors = section(data, "kubernetes", "selectors")
    jobs = [job.get("name") for _, job in indexed(section(data, "scrape").get("jobs"))]
    for job in selectors:
        if job not in jobs:
            yield ("kubernetes", "selectors", job), (
                f"{job!r} is not a scrape job; use one of {', '.join(repr(j) for j in jobs)}")


# The regexes themselves are checked with RE2, as Alertmanager (Go) reads them, in hygiene.py.
RAW_CHECKS: tuple[RawCheck, ...] = (secret_problems, hygiene_problems, _routes, _kubernetes_selectors,
                                    _source_options)
