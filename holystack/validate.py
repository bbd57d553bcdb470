"""`holystack validate`: every check of a rendered stack, as one report."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .checks.dashboards_lint import lint_dashboards
from .checks.grafana_models import grafana_models_check
from .checks.prices import price_check
from .checks.result import FAIL, PASS, SKIP, WARN, CheckResult
from .checks.retention import check_retention
from .checks.rules_lint import RuleSet, lint_rules
from .checks.scale_out import scale_out_checks
from .checks.tools import tool_checks
from .errors import UsageError
from .model import Stack
from .output import drift
from .pipeline import load_stack
from .render import render_stack
from .render.layout import ALERTMANAGER_CONFIG, ALERTMANAGER_DIR, DASHBOARDS_DIR, PROMETHEUS_DIR, RULES_DIR, TESTS_DIR
from .secrets import config_secrets


@dataclass(frozen=True)
class Report:
    results: list[CheckResult]
    strict: bool

    @property
    def failed(self) -> bool:
        bad = {FAIL, SKIP} if self.strict else {FAIL}
        return any(r.status in bad for r in self.results)

    def table(self) -> str:
        width = max(len(r.name) for r in self.results)
        lines = [f"{'CHECK'.ljust(width)}  RESULT  DETAIL"]
        for r in self.results:
            status = r.status.upper() if r.status != PASS else "pass"
            lines.append(f"{r.name.ljust(width)}  {status.ljust(6)}  {r.detail}")
            lines += [f"{''.ljust(width)}          - {f}" for f in r.findings]
        passed = sum(r.status == PASS for r in self.results)
        failed = sum(r.status == FAIL for r in self.results)
        skipped = sum(r.status == SKIP for r in self.results)
        warned = sum(r.status == WARN for r in self.results)
        lines.append(f"{passed} passed, {failed} failed, {skipped} skipped"
                     + (f", {warned} warning(s)" if warned else "")
                     + (" (--strict: skipped checks fail)" if self.strict and skipped else ""))
        return "\n".join(lines)

    def as_json(self) -> str:
        """The report for CI: every check with its status, detail and findings, and the verdict."""
        return json.dumps({
            "ok": not self.failed, "strict": self.strict,
            "checks": [{"name": r.name, "status": r.status, "detail": r.detail, "findings": list(r.findings)}
                       for r in self.results],
        }, indent=2, ensure_ascii=False)


def _load_yaml(out: Path, paths: list[str]) -> tuple[dict[str, Any], list[str]]:
    documents, errors = {}, []
    for path in paths:
        try:
            documents[path] = yaml.safe_load((out / path).read_text("utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            errors.append(f"{path}: {exc}")
    return documents, errors


def _secrets_check(out: Path) -> CheckResult:
    path = out / ALERTMANAGER_DIR / ALERTMANAGER_CONFIG
    config = yaml.safe_load(path.read_text("utf-8")) or {}
    findings = config_secrets(config)
    return CheckResult.from_findings("no inline secrets in alertmanager.yml", findings, "only *_file forms")


Progress = Callable[[CheckResult], None]


def run_checks(stack: Stack, out: Path, progress: Progress | None = None) -> list[CheckResult]:
    """Every check of the rendered stack in out; progress (if given) sees each result as it comes."""
    results: list[CheckResult] = []

    def add(*new: CheckResult) -> None:
        for result in new:
            results.append(result)
            if progress is not None:
                progress(result)

    files = render_stack(stack)
    current = drift(files, out)
    add(CheckResult(f"{out.name}/ is what the spec renders", PASS if current.clean else FAIL,
                    "byte for byte" if current.clean else "run holystack render", tuple(current.lines())))
    rule_paths = sorted(p for p in files if p.startswith(f"{PROMETHEUS_DIR}/{RULES_DIR}/"))
    test_paths = sorted(p for p in files if p.startswith(f"{PROMETHEUS_DIR}/{TESTS_DIR}/"))
    relative = lambda paths: [p.removeprefix(f"{PROMETHEUS_DIR}/") for p in paths]  # noqa: E731
    # promtool resolves paths from its working folder: run it in prometheus/.
    for result in tool_checks(out, relative(rule_paths), relative(test_paths)):
        add(result)
    add(*scale_out_checks(out, files))
    documents, errors = _load_yaml(out, [p for p in rule_paths if (out / p).is_file()])
    if errors:
        add(CheckResult("rule files load", FAIL, "", tuple(errors)))
    add(*lint_rules(stack, documents))
    add(check_retention(stack, out, documents))
    dashboards: dict[str, Any] = {}
    for path in sorted((out / DASHBOARDS_DIR).glob("*.json")):
        dashboards[path.name] = json.loads(path.read_text("utf-8"))
    add(*lint_dashboards(stack, dashboards, RuleSet(documents).recorded))
    add(grafana_models_check(dashboards))
    add(_secrets_check(out))
    add(price_check(stack))
    return results


def validate(spec_path: Path, out: Path, strict: bool = False, progress: Progress | None = None) -> Report:
    stack = load_stack(spec_path)
    if not out.is_dir():
        raise UsageError(f"{out} is not a folder; run `holystack render {spec_path} -o {out}` first")
    return Report(run_checks(stack, out, progress), strict)
