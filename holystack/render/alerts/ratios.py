"""Request ratios: 429s, 5xx and timeouts above their share of a provider's attempts (the
upstream's health), successes below their share of the logical calls (what the users experienced)."""
from __future__ import annotations

import math

from ... import contract as c
from ...frozen import frozen
from ...model import Duration, Stack
from ...promql import number
from ...series import LOGICAL_CALL_LABELS, Series
from ...sources.base import ATTEMPTS, LOGICAL_CALLS
from ...thresholds import RATE_LIMIT_RATIO, SERVER_ERROR_RATIO, SUCCESS_RATIO, TIMEOUT_RATIO, Levels, Threshold
from .family import AlertFamily
from .promtool import SETTLE, CaseBuilder, PromtoolCase
from .rule import AlertRule, percent

RATE_LIMIT_RATIO_HIGH = "RateLimitRatioHigh"
SERVER_ERROR_RATIO_HIGH = "ServerErrorRatioHigh"
TIMEOUT_RATIO_HIGH = "TimeoutRatioHigh"
SUCCESS_RATIO_LOW = "SuccessRatioLow"


@frozen
class RatioKind:
    status_class: str  # of series.STATUS_CLASSES
    threshold: Threshold  # its levels, and which way they run
    logical: bool  # over logical calls (by endpoint and model), else over attempts (by provider too)

    @property
    def op(self) -> str:
        """The comparison that fires."""
        return self.threshold.op

    def levels(self, stack: Stack) -> Levels:
        levels: Levels = getattr(stack.thresholds, self.threshold.key)
        return levels


RATIO_KINDS = {
    RATE_LIMIT_RATIO_HIGH: RatioKind("rate_limited", RATE_LIMIT_RATIO, logical=False),
    SERVER_ERROR_RATIO_HIGH: RatioKind("server_error", SERVER_ERROR_RATIO, logical=False),
    TIMEOUT_RATIO_HIGH: RatioKind("timeout", TIMEOUT_RATIO, logical=False),
    SUCCESS_RATIO_LOW: RatioKind("success", SUCCESS_RATIO, logical=True),
}
# The status standing for each ratio kind's "bad" calls in generated cases.
BAD_STATUS = {"rate_limited": "429", "server_error": "503", "timeout": c.STATUS_TIMEOUT, "success": "503"}


def rules(stack: Stack) -> list[AlertRule]:
    series = Series(stack)
    out = []
    for kind, ratio in RATIO_KINDS.items():
        levels = ratio.levels(stack)
        recorded = series.call_ratio(ratio.status_class) if ratio.logical else series.ratio(ratio.status_class)
        for severity, threshold in levels.levels:
            out.append(AlertRule(
                kind, severity, f"{recorded} {ratio.op} {number(threshold)}", levels.for_,
                {"threshold": percent(threshold), "window": str(stack.rate_window)}, threshold,
                keep_firing_for=levels.keep_firing_for))
    return out


def _counters(b: CaseBuilder, ratio: RatioKind, per_status: dict[str, float]) -> list[tuple[str, str]]:
    return b.logical_calls(b.call, per_status) if ratio.logical else b.calls(b.call, per_status)


def _labels(b: CaseBuilder, ratio: RatioKind) -> dict[str, str]:
    """The labels the alert keeps: endpoint and model of a logical call, or the attempt's provider too."""
    return {k: b.call[k] for k in LOGICAL_CALL_LABELS} if ratio.logical else dict(b.call)


def _split(ratio: RatioKind, share: float, total: int) -> tuple[dict[str, int], float]:
    """Calls per status such that the kind's status class holds share of total, and the exact share."""
    matching = round(share * total)
    good, bad = (matching, total - matching) if ratio.status_class == "success" else (total - matching, matching)
    per_status = {"200": good, BAD_STATUS[ratio.status_class]: bad}
    return {k: v for k, v in per_status.items() if v}, matching / total


def cases(b: CaseBuilder) -> list[PromtoolCase]:
    """Each level fires just past its threshold and no further; below the lowest, silence. Then
    every call failing: the success share is 0, not "no data"."""
    out = []
    for kind, ratio in RATIO_KINDS.items():
        rules = b.rules_of(kind)
        if not rules:
            continue
        levels = sorted(ratio.levels(b.stack).levels, key=lambda lv: lv[1],
                        reverse=(ratio.op == "<"))
        total = 10 ** max(3, math.ceil(math.log10(40 / min(min(v, 1 - v) for _, v in levels))))
        bounds = [v for _, v in levels] + [1.0 if ratio.op == ">" else 0.0]
        for index, (severity, level) in enumerate(levels):
            share = (level + bounds[index + 1]) / 2
            firing = [r for r in rules if (r.threshold or 0) in [v for _, v in levels[: index + 1]]]
            out.append(_case(b, kind, ratio, share, total, firing,
                             f"{kind} fires at {severity}: share {share:.4g} passes {level:g}"))
        quiet = levels[0][1] / 2 if ratio.op == ">" else (levels[0][1] + 1) / 2
        out.append(_case(b, kind, ratio, quiet, total, [],
                         f"{kind} stays silent: share {quiet:.4g} within {levels[0][1]:g}"))
        out += _keep_firing_cases(b, kind, ratio, levels, total)
    failing = b.rules_of(SUCCESS_RATIO_LOW)
    if failing:
        ratio = RATIO_KINDS[SUCCESS_RATIO_LOW]
        out.append(b.case("SuccessRatioLow fires when every call fails (0 successes is 0%, not no data)",
                          _counters(b, ratio, {"503": 10}), b.eval_time(b.longest_for(SUCCESS_RATIO_LOW)),
                          SUCCESS_RATIO_LOW, [b.expected(r, _labels(b, ratio), 0.0) for r in failing]))
    return out


def _case(b: CaseBuilder, kind: str, ratio: RatioKind, share: float, total: int,
          firing: list[AlertRule], name: str) -> PromtoolCase:
    per_status, value = _split(ratio, share, total)
    wait = max((r.for_ for r in firing), key=lambda d: d.ms, default=Duration(0)) if firing else b.longest_for(kind)
    return b.case(name, _counters(b, ratio, per_status), b.eval_time(wait), kind,
                  [b.expected(r, _labels(b, ratio), value) for r in firing])


def _keep_firing_cases(b: CaseBuilder, kind: str, ratio: RatioKind, levels: list[tuple[str, float]],
                       total: int) -> list[PromtoolCase]:
    """After the calls stop, the ratio is gone (0/0) once the last of them leaves the rate window:
    the alert keeps firing for keep_firing_for more, then resolves."""
    rules = b.rules_of(kind)
    keep = rules[0].keep_firing_for
    if not keep.ms:
        return []
    worst = levels[-1][1]
    share = (worst + 1) / 2 if ratio.op == ">" else worst / 2  # past every level
    per_status, value = _split(ratio, share, total)
    stop = Duration(b.stack.rate_window.ms + b.longest_for(kind).ms + SETTLE.ms)  # firing by then
    gone = stop.ms + b.stack.rate_window.ms + b.interval.ms  # the last call has left the window
    # The condition is first false at the first evaluation past gone, or one later where the alert
    # reads the recorded ratio of the previous evaluation; it resolves at the first evaluation
    # keep_firing_for after that. With evaluations slower than the series (1m against 6s), that is
    # up to two evaluation intervals past gone + keep_firing_for.
    evaluation = b.stack.evaluation_interval.ms
    still = Duration(gone + keep.ms - 2 * b.interval.ms)
    after = Duration(gone + keep.ms + 2 * b.interval.ms + 2 * evaluation)
    steps, rest = stop.ms // b.interval.ms, (after.ms + SETTLE.ms - stop.ms) // b.interval.ms
    calls = [(series, f"0+{count}x{steps} {count * steps}x{rest}")
             for (series, _), count in zip(_counters(b, ratio, per_status), per_status.values())]
    case = PromtoolCase(f"{kind} keeps firing for {keep} after the calls stop, then resolves", calls)
    # While it keeps firing, the alert holds the value of its last evaluation: the share itself.
    case.alert_tests.append(b.alert_test(str(still), kind, [b.expected(r, _labels(b, ratio), value) for r in rules]))
    case.alert_tests.append(b.alert_test(str(after), kind, []))
    return [case]


FAMILY = AlertFamily("request ratios", tuple(RATIO_KINDS), rules, cases,
                     requires={kind: frozenset({LOGICAL_CALLS if ratio.logical else ATTEMPTS})
                               for kind, ratio in RATIO_KINDS.items()},
                     thresholds=tuple(ratio.threshold for ratio in RATIO_KINDS.values()))
