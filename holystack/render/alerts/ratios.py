"""Request ratios: 429s, 5xx and timeouts above their share, successes below theirs."""
from __future__ import annotations

import math

from ... import contract as c
from ...model import Duration, Levels, Stack
from ...promql import number
from ...series import Series
from .family import AlertFamily
from .promtool import SETTLE, CaseBuilder, PromtoolCase
from .rule import AlertRule, percent

RATE_LIMIT_RATIO_HIGH = "RateLimitRatioHigh"
SERVER_ERROR_RATIO_HIGH = "ServerErrorRatioHigh"
TIMEOUT_RATIO_HIGH = "TimeoutRatioHigh"
SUCCESS_RATIO_LOW = "SuccessRatioLow"

# kind -> (status class of series.STATUS_CLASSES, thresholds attribute, comparison)
RATIO_KINDS = {
    RATE_LIMIT_RATIO_HIGH: ("rate_limited", "rate_limit_ratio", ">"),
    SERVER_ERROR_RATIO_HIGH: ("server_error", "server_error_ratio", ">"),
    TIMEOUT_RATIO_HIGH: ("timeout", "timeout_ratio", ">"),
    SUCCESS_RATIO_LOW: ("success", "success_ratio", "<"),
}
# The status standing for each ratio kind's "bad" calls in generated cases.
BAD_STATUS = {"rate_limited": "429", "server_error": "503", "timeout": c.STATUS_TIMEOUT, "success": "503"}


def rules(stack: Stack) -> list[AlertRule]:
    series = Series(stack)
    out = []
    for kind, (status_class, attribute, op) in RATIO_KINDS.items():
        levels: Levels = getattr(stack.thresholds, attribute)
        for severity, threshold in levels.levels:
            out.append(AlertRule(
                kind, severity, f"{series.ratio(status_class)} {op} {number(threshold)}", levels.for_,
                {"threshold": percent(threshold), "window": str(stack.rate_window)}, threshold,
                keep_firing_for=levels.keep_firing_for))
    return out


def cases(b: CaseBuilder) -> list[PromtoolCase]:
    """Each level fires just past its threshold and no further; below the lowest, silence. Then
    every call failing: the success share is 0, not "no data"."""
    out = []
    for kind, (status_class, attribute, op) in RATIO_KINDS.items():
        rules = b.rules_of(kind)
        if not rules:
            continue
        levels = sorted(getattr(b.stack.thresholds, attribute).levels, key=lambda lv: lv[1], reverse=(op == "<"))
        total = 10 ** max(3, math.ceil(math.log10(40 / min(min(v, 1 - v) for _, v in levels))))
        bounds = [v for _, v in levels] + [1.0 if op == ">" else 0.0]
        for index, (severity, level) in enumerate(levels):
            share = (level + bounds[index + 1]) / 2
            firing = [r for r in rules if (r.threshold or 0) in [v for _, v in levels[: index + 1]]]
            out.append(_case(b, kind, status_class, share, total, firing,
                             f"{kind} fires at {severity}: share {share:.4g} passes {level:g}"))
        quiet = levels[0][1] / 2 if op == ">" else (levels[0][1] + 1) / 2
        out.append(_case(b, kind, status_class, quiet, total, [],
                         f"{kind} stays silent: share {quiet:.4g} within {levels[0][1]:g}"))
        out += _keep_firing_cases(b, kind, status_class, levels, total)
    failing = b.rules_of(SUCCESS_RATIO_LOW)
    if failing:
        out.append(b.case("SuccessRatioLow fires when every call fails (0 successes is 0%, not no data)",
                          b.calls(b.call, {"503": 10}), b.eval_time(b.longest_for(SUCCESS_RATIO_LOW)),
                          SUCCESS_RATIO_LOW, [b.expected(r, dict(b.call), 0.0) for r in failing]))
    return out


def _case(b: CaseBuilder, kind: str, status_class: str, share: float, total: int,
          firing: list[AlertRule], name: str) -> PromtoolCase:
    matching = round(share * total)
    if status_class == "success":
        per_status = {"200": matching, BAD_STATUS[status_class]: total - matching}
    else:
        per_status = {"200": total - matching, BAD_STATUS[status_class]: matching}
    per_status = {k: v for k, v in per_status.items() if v}
    value = matching / total
    wait = max((r.for_ for r in firing), key=lambda d: d.ms, default=Duration(0)) if firing else b.longest_for(kind)
    return b.case(name, b.calls(b.call, per_status), b.eval_time(wait), kind,
                  [b.expected(r, dict(b.call), value) for r in firing])


def _keep_firing_cases(b: CaseBuilder, kind: str, status_class: str, levels: list[tuple[str, float]],
                       total: int) -> list[PromtoolCase]:
    """After the calls stop, the ratio is gone (0/0) once the last of them leaves the rate window:
    the alert keeps firing for keep_firing_for more, then resolves."""
    rules = b.rules_of(kind)
    keep = rules[0].keep_firing_for
    if not keep.ms:
        return []
    worst = levels[-1][1]
    share = (worst + 1) / 2 if status_class != "success" else worst / 2  # past every level
    matching = round(share * total)
    per_status = ({"200": total - matching, BAD_STATUS[status_class]: matching} if status_class != "success"
                  else {"200": matching, BAD_STATUS[status_class]: total - matching})
    stop = Duration(b.stack.rate_window.ms + b.longest_for(kind).ms + SETTLE.ms)  # firing by then
    gone = stop.ms + b.stack.rate_window.ms + b.interval.ms  # the last call has left the window
    steps, rest = stop.ms // b.interval.ms, (gone + keep.ms + SETTLE.ms) // b.interval.ms
    calls = [(series, f"0+{count}x{steps} {count * steps}x{rest}")
             for (series, _), count in zip(b.calls(b.call, per_status), per_status.values())]
    still, after = Duration(gone + keep.ms - 2 * b.interval.ms), Duration(gone + keep.ms + 2 * b.interval.ms)
    case = PromtoolCase(f"{kind} keeps firing for {keep} after the calls stop, then resolves", calls)
    # While it keeps firing, the alert holds the value of its last evaluation: the share itself.
    case.alert_tests.append(b.alert_test(str(still), kind, [b.expected(r, dict(b.call), matching / total)
                                                           for r in rules]))
    case.alert_tests.append(b.alert_test(str(after), kind, []))
    return [case]


FAMILY = AlertFamily("request ratios", tuple(RATIO_KINDS), rules, cases)
