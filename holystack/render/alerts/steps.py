"""Generated promtool cases of the recorded counter steps (recording.counter_step): what Prometheus
did not see counts nothing, whatever the step family (calls, failed calls, cost).

Each scenario is a timeline of one target: its counters, its `up` and its process start time,
sample by sample. `counted` is what the steps add up to, evaluation by evaluation: the increase
between the samples they read when both were seen within the lookback, and a counter's whole value
only on a fresh target (a process Prometheus had not seen, or a series new since a good scrape).
The families' cases compare the recorded steps with it, check that no sum exceeds what the counter
grew by during the case (its history never counts), and show that their alerts stay silent."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from ... import contract as c
from ...defaults import DEFAULT_LOOKBACK
from ...frozen import frozen
from ...model import Duration, LlmModel
from ...promql import number
from ...series import Series as RecordedSeries
from ..recording import gap_bound, now_range
from .promtool import SETTLE, CaseBuilder, PromtoolCase, Series, series_text

STALE = "stale"
# A value per sample: a number, None (no sample: Prometheus was not running) or STALE (a failed scrape
# marks the target's series stale: this sample of the counter is a staleness marker, `up` is 0).
Sample = float | str | None
# The scrape gap of the generated cases, unless the lookback is within a minute of it: longer than
# the default lookback (the steps' bound) and one evaluation interval, so that nothing is counted across it.
GAP = Duration(7 * 60_000)
# The failed scrapes within the bound (recording.gap_bound), unless the bound is shorter.
SHORT_GAP = Duration(2 * 60_000)
# promtool's lookback for instant selectors (it runs Prometheus' default, whatever the spec's).
PROMTOOL_LOOKBACK = Duration.parse(DEFAULT_LOOKBACK)
DAY_SECONDS = 86_400
# How long a scenario runs before its gap (or restart, or late start): steps on every evaluation
# for two minutes, so that the reads across the gap reach back to real samples.
LEAD = SETTLE


@frozen
class Timeline:
    """One target over a case: up, its process start time, and a multiplier per sample for its counters
    (each counter is its per-sample rate times this), so every family draws its counters from it."""

    name: str
    run: Duration  # the case's length: its series' last sample and its checks' eval_time
    up: tuple[Sample, ...]
    process_start: tuple[Sample, ...]
    level: tuple[Sample, ...]  # the counters' value in units of one sample's increase
    # Prometheus saw every increase (no history, gaps within the bound): the steps must add up to what
    # the counters grew by, whatever the maths of counted.
    exact: bool = False


def _encode(values: Sequence[Sample], scale: float = 1.0) -> str:
    """promtool notation, run-length: 'a+dxn' for arithmetic runs, '_xn' for missing samples."""
    out: list[str] = []
    i = 0
    while i < len(values):
        v = values[i]
        if v is None or v == STALE:
            j = i
            while j + 1 < len(values) and values[j + 1] == v:
                j += 1
            out.extend([f"_x{j - i + 1}"] if v is None else [STALE] * (j - i + 1))
            i = j + 1
            continue
        j = i + 1
        delta = None
        while j < len(values) and isinstance(values[j], (int, float)) and not isinstance(values[j], str):
            d = float(values[j]) - float(values[j - 1])  # type: ignore[arg-type]
            if delta is None:
                delta = d
            elif d != delta:
                break
            j += 1
        count = j - i - 1
        base = number(float(v) * scale)
        out.append(f"{base}+{number((delta or 0) * scale)}x{count}" if count else base)
        i = j
    return " ".join(out)


def _at(values: Sequence[Sample], interval_ms: int, at_ms: int, lookback_ms: int) -> float | None:
    """An instant selector at at_ms: the latest sample within the lookback (both ends included, as in
    Prometheus 2), or nothing when there is none or it is a staleness marker."""
    if at_ms < 0:
        return None
    for i in range(min(at_ms // interval_ms, len(values) - 1), -1, -1):
        if i * interval_ms < at_ms - lookback_ms:
            return None
        if values[i] is not None:
            value = values[i]
            return None if value == STALE else float(value)  # type: ignore[arg-type]
    return None


def _window(values: Sequence[Sample], interval_ms: int, at_ms: int, range_ms: int) -> tuple[int, int]:
    """The first and last sample indexes of x[range] offset ... at at_ms: both ends included, as in
    Prometheus 2 (last < first when it holds none)."""
    first = max(0, -(-(at_ms - range_ms) // interval_ms))
    last = min(at_ms // interval_ms, len(values) - 1) if at_ms >= 0 else -1
    return first, last


def _real(values: Sequence[Sample], interval_ms: int, at_ms: int, range_ms: int) -> list[float]:
    """The real samples (staleness markers skipped) of x[range] offset ... at at_ms."""
    first, last = _window(values, interval_ms, at_ms, range_ms)
    return [float(values[i]) for i in range(first, last + 1)  # type: ignore[arg-type]
            if isinstance(values[i], (int, float))]


def _latest_real(values: Sequence[Sample]) -> list[int]:
    """For each sample, the index of the latest real sample at or before it (markers and gaps
    skipped), -1 where there is none: last_over_time in one lookup per evaluation."""
    latest, last = [], -1
    for i, value in enumerate(values):
        if isinstance(value, (int, float)):
            last = i
        latest.append(last)
    return latest


def _last_over(values: Sequence[Sample], latest: Sequence[int], interval_ms: int, at_ms: int,
               range_ms: int) -> float | None:
    """last_over_time(x[range] offset ...) at at_ms: the latest real sample in the range (markers
    skipped); latest is _latest_real(values)."""
    first, last = _window(values, interval_ms, at_ms, range_ms)
    index = latest[last] if last >= 0 else -1
    return float(values[index]) if index >= first else None  # type: ignore[arg-type]


def counted(b: CaseBuilder, values: Sequence[Sample], timeline: Timeline) -> float:
    """The sum of the steps recording.counter_step records over the case, evaluation by evaluation: the
    maths the generated cases expect, next to the rule they mirror (see fresh_targets)."""
    step, lag, dt = b.stack.evaluation_interval.ms, b.stack.slowest_scrape.ms, b.interval.ms
    bound, reach = gap_bound(b.stack).ms, now_range(b.stack).ms
    total = 0.0
    latest, latest_start = _latest_real(values), _latest_real(timeline.process_start)
    for t in range(0, timeline.run.ms + 1, step):
        now_at, before_at = t - lag, t - lag - step
        now = _last_over(values, latest, dt, now_at, reach)
        before = _last_over(values, latest, dt, before_at, bound)
        if now is None:
            continue
        if before is not None and now >= before:
            total += now - before
            continue
        ups = _real(timeline.up, dt, before_at, bound)
        process = _at(timeline.process_start, dt, now_at, PROMTOOL_LOOKBACK.ms)
        seen = _last_over(timeline.process_start, latest_start, dt, before_at, bound)
        new_process = process is not None and process * 1000 > before_at - bound and process != seen and bool(ups)
        if (ups and max(ups) == 1) or new_process:
            total += now
    return total


def gap_length(b: CaseBuilder) -> Duration:
    """The scrape gap of the scenarios: GAP, unless the lookback is within a minute of it."""
    lookback = b.stack.lookback
    return GAP if abs(GAP.ms - lookback.ms) > 60_000 else Duration(GAP.ms + 2 * 60_000)


def step_run(b: CaseBuilder, silent: Sequence[str]) -> Duration:
    """How long the scenarios run, in whole evaluation intervals: the lead, the gap, and long enough
    after it for the alerts that must stay silent to fire on a miscounted gap (their longest `for`, and
    two minutes more). A case costs its rules times its evaluations: no longer."""
    step = b.stack.evaluation_interval.ms
    tail = SETTLE.ms + max((rule.for_.ms for rule in b.every_rule if rule.kind in silent), default=0)
    return Duration(-(-(LEAD.ms + gap_length(b).ms + tail) // step) * step)


def silence_runs(b: CaseBuilder, silent: Sequence[str]) -> list[tuple[Duration, list[str]]]:
    """The alerts that must stay silent, grouped by the run each needs alone (step_run), shortest
    first: each silence is judged over the run its own `for:` needs, and the steps are counted in the
    shortest. A case costs its rules times its evaluations: an alert with a long `for:` that reads
    few rules (SuccessRatioLow reads the raw counters) must not make the steps' many rules run as long."""
    runs: dict[int, list[str]] = {}
    for kind in silent:
        runs.setdefault(step_run(b, [kind]).ms, []).append(kind)
    return [(Duration(ms), kinds) for ms, kinds in sorted(runs.items())] or [(step_run(b, ()), [])]


def later_silences(b: CaseBuilder, title: str, runs: list[tuple[Duration, list[str]]],
                   series: Callable[[Timeline], list[Series]]) -> list[PromtoolCase]:
    """The scenarios again over each longer run of silence_runs, judging only the alerts that need it."""
    out = []
    for run, kinds in runs:
        names = " and ".join(b.stack.alert_name(kind) for kind in kinds)
        for timeline in timelines(b, run):
            verb = "stays" if len(kinds) == 1 else "stay"
            out.append(PromtoolCase(f"{title}: {timeline.name}: {names} {verb} silent", series(timeline),
                                    _silent(b, timeline, kinds), []))
    return out


def timelines(b: CaseBuilder, run: Duration) -> list[Timeline]:
    """The scenarios over run: a day of history seen late, a stop of Prometheus longer than the bound
    (gap_length), as long and 2 minutes (within the bound: exact) of failed scrapes, an app restart (a
    counter reset), and an app that starts after Prometheus."""
    n = run.ms // b.interval.ms
    gap_ms = gap_length(b).ms
    short_ms = min(SHORT_GAP.ms, gap_bound(b.stack).ms) // b.interval.ms * b.interval.ms
    start = LEAD.ms // b.interval.ms  # where the gaps begin
    day = float(DAY_SECONDS // b.interval.seconds)  # a day of history: one increase per sample, all day
    ones: tuple[Sample, ...] = (1,) * (n + 1)
    old: tuple[Sample, ...] = (-DAY_SECONDS,) * (n + 1)
    ramp = tuple(float(i) for i in range(n + 1))
    out = [Timeline("a counter first seen with a day of history", run, ones, old, tuple(day + i for i in ramp))]
    stopped = tuple(None if start < i < start + gap_ms // b.interval.ms else v for i, v in enumerate(ramp))
    out.append(Timeline(f"Prometheus stopped for {Duration(gap_ms)}", run,
                        tuple(None if v is None else 1 for v in stopped),
                        tuple(None if v is None else -DAY_SECONDS for v in stopped), stopped,
                        exact=gap_ms <= gap_bound(b.stack).ms))
    for span in (gap_ms, short_ms):
        # The last good scrape at start, the next span later: a marker on every series in between.
        failed = tuple(STALE if start < i < start + span // b.interval.ms else v for i, v in enumerate(ramp))
        out.append(Timeline(f"scrapes failing for {Duration(span)}", run,
                            tuple(0 if v == STALE else 1 for v in failed),
                            tuple(STALE if v == STALE else -DAY_SECONDS for v in failed), failed,
                            exact=span <= gap_bound(b.stack).ms))
    restart = start  # the app restarts between samples restart-1 and restart, and serves 1 sample's calls
    out.append(Timeline("the app restarts (its counters reset)", run, ones,
                        tuple(-DAY_SECONDS if i < restart else (restart - 0.5) * b.interval.seconds
                              for i in range(n + 1)),
                        tuple(ramp[i] if i < restart else float(i - restart + 1) for i in range(n + 1))))
    late = start  # up 0 before; the app starts half a sample before its first scrape
    out.append(Timeline("the app starts after Prometheus", run, tuple(0 if i < late else 1 for i in range(n + 1)),
                        tuple(None if i < late else (late - 0.5) * b.interval.seconds for i in range(n + 1)),
                        tuple(None if i < late else float(i - late + 1) for i in range(n + 1)), exact=True))
    return out


def target_series(b: CaseBuilder, timeline: Timeline) -> list[Series]:
    return [(series_text("up", b.target), _encode(timeline.up)),
            (series_text(c.PROCESS_START, b.target), _encode(timeline.process_start))]


@frozen
class Counter:
    """One counter of a case, drawn from the timeline: per_sample times its level, plus past (what it
    had counted before the case, only on a timeline with history)."""

    series: Series
    seen: float  # what the steps count: what Prometheus saw it grow by, at the steps' samples
    grew: float  # what it grew by during the case (until the steps' last read), its history excluded


def _values(timeline: Timeline, per_sample: float, past: float) -> list[Sample]:
    return [v if not isinstance(v, (int, float)) else per_sample * v + past for v in timeline.level]


def _series(b: CaseBuilder, name: str, labels: dict[str, str], values: Sequence[Sample]) -> Series:
    return series_text(name, {**labels, **b.target}), _encode(values)


def counter_series(b: CaseBuilder, name: str, labels: dict[str, str], timeline: Timeline, per_sample: float,
                   past: float = 0.0) -> Series:
    """The counter's series alone, for the cases that judge only silence (later_silences)."""
    return _series(b, name, labels, _values(timeline, per_sample, past))


def counter(b: CaseBuilder, name: str, labels: dict[str, str], timeline: Timeline, per_sample: float,
            past: float = 0.0) -> Counter:
    values = _values(timeline, per_sample, past)
    step, lag, dt = b.stack.evaluation_interval.ms, b.stack.slowest_scrape.ms, b.interval.ms
    # The steps read from the first sample a step reads as before (the first steps of the case have
    # none) to one scrape interval before the end of the case.
    first = (-(-(lag + step) // step) * step - lag - step) // dt
    read = (timeline.run.ms - lag) // dt
    real = [(i, float(v)) for i, v in enumerate(values[:read + 1]) if isinstance(v, (int, float))]
    # What it really grew by in the case while the steps read it, its history excluded (a reset adds its
    # new value; a series that appears adds its first value): no step sum may exceed it, whatever the
    # maths of counted, and a timeline where Prometheus saw every increase (exact) sums to it.
    grew = sum(later - earlier if later >= earlier else later
               for (_, earlier), (i, later) in zip(real, real[1:]) if i > first)
    history = isinstance(timeline.level[0], (int, float)) and timeline.level[0] > 0
    grew += real[0][1] if real[0][0] > first and not history else 0.0
    return Counter(_series(b, name, labels, values), counted(b, values, timeline), grew)


def about(expr: str, value: float) -> str:
    """1 when expr is value (to float rounding of the sums), per label set."""
    return f"abs({expr} - {number(value)}) <= bool {number(1e-9 * abs(value) + 1e-9)}"


def holds(expr: str, timeline: Timeline, labels: str) -> dict[str, object]:
    """A query that is 1 for labels at the end of the timeline's case."""
    return {"expr": expr, "eval_time": str(timeline.run), "exp_samples": [{"labels": labels, "value": 1}]}


def step_sum(record: str, timeline: Timeline) -> str:
    """Every step recorded in the timeline's case."""
    return f"sum_over_time({record}[{timeline.run}])"


def labels_text(labels: dict[str, str]) -> str:
    return series_text("", labels)


def _silent(b: CaseBuilder, timeline: Timeline, kinds: Sequence[str]) -> list[dict[str, object]]:
    return [b.alert_test(str(timeline.run), kind, []) for kind in kinds]


Drawn = Callable[[Timeline, Callable[..., Any]], tuple[Any, ...]]
Judged = Callable[..., tuple[str, list[dict[str, object]]]]


def step_cases(b: CaseBuilder, title: str, runs: list[tuple[Duration, list[str]]], drawn: Drawn,
               judged: Judged) -> list[PromtoolCase]:
    """One family's step cases: every scenario over the first run of silence_runs, its counters drawn
    (drawn(timeline, counter): Counters; with counter_series, their series alone) and judged
    (judged(timeline, *counters): what the title says they counted, and the checks), the alerts of
    that run silent; then the scenarios again over each longer run (later_silences)."""
    (run, first), *later = runs
    out = []
    for timeline in timelines(b, run):
        counters = drawn(timeline, counter)
        what, checks = judged(timeline, *counters)
        out.append(PromtoolCase(f"{title}: {timeline.name} counts only what Prometheus saw ({what})",
                                [*(one.series for one in counters), *target_series(b, timeline)],
                                _silent(b, timeline, first), checks))
    return out + later_silences(b, title, later, lambda timeline: [*drawn(timeline, counter_series),
                                                                   *target_series(b, timeline)])


def calls_cases(b: CaseBuilder, path: str, share: float, silent: Sequence[str]) -> list[PromtoolCase]:
    """The logical-call steps of one endpoint (calls and failed calls) in every scenario. The day of
    history was all failures, which would burn the budget if it were counted; afterwards at most share
    of the calls fail (below every threshold). The alerts named in silent stay silent."""
    s = RecordedSeries(b.stack)
    per_sample = float(math.ceil(1 / share))  # calls per sample, one of which fails: integers, exact sums
    day = per_sample * DAY_SECONDS / b.interval.seconds
    labels = {c.ENDPOINT: path, c.MODEL: b.on_endpoint(b.call, path)[c.MODEL]}
    where = labels_text({c.ENDPOINT: path})

    def drawn(timeline: Timeline, make: Callable[..., Any]) -> tuple[Any, Any]:
        """The ok and the failed calls."""
        history = timeline.level[0] is not None and timeline.level[0] > 0
        return (make(b, b.contract.calls.name, {**labels, c.STATUS_CODE: "200"}, timeline, per_sample - 1),
                make(b, b.contract.calls.name, {**labels, c.STATUS_CODE: "503"}, timeline, 1.0,
                     day if history else 0.0))

    def judged(timeline: Timeline, ok: Counter, failed: Counter) -> tuple[str, list[dict[str, object]]]:
        calls, bad = step_sum(s.availability.calls_step, timeline), step_sum(s.availability.bad_step, timeline)
        checks = [holds(about(calls, ok.seen + failed.seen), timeline, where),
                  holds(about(bad, failed.seen), timeline, where),
                  holds(f"{calls} <= bool {number(ok.grew + failed.grew)}", timeline, where)]
        if timeline.exact:
            checks.append(holds(about(calls, ok.grew + failed.grew), timeline, where))
        return f"{number(ok.seen + failed.seen)} calls, {number(failed.seen)} failed", checks

    return step_cases(b, f"Call steps on {path}", silence_runs(b, silent), drawn, judged)


def cost_cases(b: CaseBuilder, model: LlmModel, budgets: Sequence[float], silent: Sequence[str]) -> list[PromtoolCase]:
    """The cost steps (summed into the month to date) in every scenario. The day of history cost twice
    the larger budget (where a float64 still counts its tokens exactly), which would fire the budget
    alerts if it were counted; the case's own spend stays far below them."""
    s, prices = RecordedSeries(b.stack), model.prices.usd_per_token()
    token_type = max((c.TOKEN_PROMPT, c.TOKEN_COMPLETION), key=lambda tt: prices[tt])
    price = prices[token_type]
    if price <= 0:
        return []
    # The case's own spend: a tenth of the budget's share of an hour (the forecast reads the last 24 h,
    # this spend, as the pace of each of the month's up to 32 days).
    spend = min(budgets, default=320.0) / 32 / 10
    runs = silence_runs(b, silent)
    per_sample = float(max(0, math.floor(spend / price / (runs[0][0].ms // b.interval.ms))))
    past = float(min(math.ceil(2 * max(budgets, default=1.0) / price), 2 ** 50))
    month = f"sum({s.cost_month_to_date})"

    def drawn(timeline: Timeline, make: Callable[..., Any]) -> tuple[Any]:
        history = timeline.level[0] is not None and timeline.level[0] > 0
        return (make(b, b.contract.tokens.name, {c.PROVIDER: b.call[c.PROVIDER], c.MODEL: model.name,
                                                    c.TOKEN_TYPE: token_type}, timeline, per_sample,
                     past if history else 0.0),)

    def judged(timeline: Timeline, tokens: Counter) -> tuple[str, list[dict[str, object]]]:
        cost = tokens.seen * price
        checks = [holds(about(month, cost), timeline, "{}"),
                  holds(f"{month} <= bool {number(tokens.grew * price * (1 + 1e-9))}", timeline, "{}")]
        if timeline.exact:
            checks.append(holds(about(month, tokens.grew * price), timeline, "{}"))
        return f"${cost:.6g}", checks

    return step_cases(b, f"Cost steps of {model.name}", runs, drawn, judged)


def latency_cases(b: CaseBuilder, path: str, threshold: str, budget: float,
                  silent: Sequence[str]) -> list[PromtoolCase]:
    """The latency steps of one endpoint (its calls, P_call_duration_seconds_count, and the slow ones,
    the count minus the threshold's bucket) in every scenario. The day of history was all slow calls,
    which would burn the latency budget if it were counted; afterwards at most half the budget's share
    of the calls is slow. The alerts named in silent stay silent."""
    s, name = RecordedSeries(b.stack), b.contract.call_duration.name
    per_sample = float(math.ceil(2 / budget))  # calls per sample, one of which is slow: integers, exact sums
    day = per_sample * DAY_SECONDS / b.interval.seconds
    labels = {c.ENDPOINT: path, c.MODEL: b.on_endpoint(b.call, path)[c.MODEL]}
    where = labels_text({c.ENDPOINT: path})

    def drawn(timeline: Timeline, make: Callable[..., Any]) -> tuple[Any, Any]:
        history = timeline.level[0] is not None and timeline.level[0] > 0
        return (make(b, f"{name}_count", labels, timeline, per_sample, day if history else 0.0),
                make(b, f"{name}_bucket", {**labels, c.LE: threshold}, timeline, per_sample - 1))

    def judged(timeline: Timeline, calls: Counter, within: Counter) -> tuple[str, list[dict[str, object]]]:
        slow_seen, slow_grew = calls.seen - within.seen, calls.grew - within.grew
        all_calls, slow = step_sum(s.latency.calls_step, timeline), step_sum(s.latency.bad_step, timeline)
        checks = [holds(about(all_calls, calls.seen), timeline, where),
                  holds(about(slow, slow_seen), timeline, where),
                  holds(f"{all_calls} <= bool {number(calls.grew)}", timeline, where)]
        if timeline.exact:
            checks += [holds(about(all_calls, calls.grew), timeline, where),
                       holds(about(slow, slow_grew), timeline, where)]
        return f"{number(calls.seen)} calls, {number(slow_seen)} slow", checks

    return step_cases(b, f"Latency steps on {path}", silence_runs(b, silent), drawn, judged)
