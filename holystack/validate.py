"""`holystack validate`: every check of a rendered stack, as one report."""
from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .checks.result import FAIL, PASS, SKIP, WARN, CheckResult
from .checks.tools import (Processes, RuleChecks, absent_credentials, report_order, start_config_check,
                           start_rule_checks, workers)
from .errors import UsageError
from .layout import ALERTMANAGER_CONFIG, ALERTMANAGER_DIR, DASHBOARDS_DIR, PROMETHEUS_DIR, RULES_DIR, TESTS_DIR
from .output import drift, owned_files
from .secrets import config_secrets
from .yamlload import YAML_LOADER

if TYPE_CHECKING:
    from .model import Stack


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


def load_yaml(text: str) -> Any:
    """A rendered file, read with libyaml where PyYAML has it: fifty times the pure-Python parser."""
    return yaml.load(text, Loader=YAML_LOADER)  # noqa: S506 - a safe loader


def _rule_shape(document: Any) -> str | None:
    """What makes a parsed rule file unreadable as one, or None."""
    if not isinstance(document, dict) or not isinstance(document.get("groups"), list):
        return "not a rule file: it needs a mapping with a list of groups"
    for group in document["groups"]:
        if not isinstance(group, dict) or not isinstance(group.get("rules"), list):
            return "a group is not a mapping with a list of rules"
        if not all(isinstance(rule, dict) and "expr" in rule and ("alert" in rule or "record" in rule)
                   for rule in group["rules"]):
            return f"group {group.get('name')!r}: a rule is not a mapping with expr and alert or record"
    return None


def _load_rules(out: Path, paths: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The rule files that load as rule files, and one line per file that does not."""
    documents, errors = {}, []
    for path in paths:
        try:
            document = load_yaml((out / path).read_text("utf-8"))
        except FileNotFoundError:
            errors.append(f"{path}: missing")
            continue
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            errors.append(f"{path}: {' '.join(str(exc).split())}")
            continue
        problem = _rule_shape(document)
        if problem:
            errors.append(f"{path}: {problem}")
        else:
            documents[path] = document
    return documents, errors


def _load_dashboards(out: Path) -> tuple[dict[str, Any], list[str]]:
    """The dashboards that load as JSON objects, and one line per file that does not."""
    dashboards, errors = {}, []
    for path in sorted((out / DASHBOARDS_DIR).glob("*.json")):
        where = f"{DASHBOARDS_DIR}/{path.name}"
        try:
            dashboard = json.loads(path.read_text("utf-8"))
        except json.JSONDecodeError as exc:
            errors.append(f"{where}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
            continue
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(f"{where}: {exc}")
            continue
        if isinstance(dashboard, dict):
            dashboards[path.name] = dashboard
        else:
            errors.append(f"{where}: not a dashboard: the JSON is not an object")
    return dashboards, errors


SECRETS_CHECK = "no inline secrets in alertmanager.yml"


def _secrets_check(out: Path) -> CheckResult:
    where = f"{ALERTMANAGER_DIR}/{ALERTMANAGER_CONFIG}"
    try:
        config = load_yaml((out / where).read_text("utf-8"))
    except FileNotFoundError:
        return CheckResult(SECRETS_CHECK, FAIL, f"{where} is missing; run holystack render")
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return CheckResult(SECRETS_CHECK, FAIL, f"{where} does not load", (" ".join(str(exc).split()),))
    if config is None:
        config = {}
    if not isinstance(config, dict):
        return CheckResult(SECRETS_CHECK, FAIL, f"{where} is not a mapping")
    try:
        findings = config_secrets(config)
    except (AttributeError, TypeError):
        return CheckResult(SECRETS_CHECK, FAIL, f"{where} has receivers of the wrong shape")
    return CheckResult.from_findings(SECRETS_CHECK, findings, "only *_file forms")


def _unavailable_check(stack: Stack) -> list[CheckResult]:
    """The alerts the spec's metric source cannot feed, each with the reason (none: no row)."""
    from .render.alerts import unavailable_alerts  # noqa: PLC0415 - loaded once the tools run

    missing = unavailable_alerts(stack)
    if not missing:
        return []
    return [CheckResult(f"alerts metrics.source {stack.source.name} can feed", WARN,
                        f"{len(missing)} alert(s) not rendered", tuple(f"{name}: {why}" for name, why in missing))]


Progress = Callable[[CheckResult], None]


def _own_checks(stack: Stack, out: Path, documents: dict[str, Any], errors: list[str]) -> list[CheckResult]:
    """holystack's own checks. Imported here, once promtool runs: PromQL parsing, the Grafana SDK and
    the price data load while the tools work, not before they start."""
    from .checks.dashboards_lint import lint_dashboards  # noqa: PLC0415
    from .checks.grafana_models import grafana_models_check  # noqa: PLC0415
    from .checks.prices import price_check  # noqa: PLC0415
    from .checks.retention import check_retention  # noqa: PLC0415
    from .checks.rules_lint import RuleSet, lint_rules  # noqa: PLC0415

    own: list[CheckResult] = []
    if errors:
        own.append(CheckResult("rule files load", FAIL, f"{len(errors)} file(s)", tuple(errors)))
    rules = RuleSet(documents)
    own += lint_rules(stack, rules)
    own.append(check_retention(stack, out, rules))
    dashboards, errors = _load_dashboards(out)
    if errors:
        own.append(CheckResult("dashboards load", FAIL, f"{len(errors)} file(s)", tuple(errors)))
    own += lint_dashboards(stack, dashboards, rules.recorded)
    own.append(grafana_models_check(dashboards))
    own.append(_secrets_check(out))
    own.append(price_check(stack))
    own += _unavailable_check(stack)
    return own


@dataclass(frozen=True)
class _Started:
    """Rule checks started on some of OUT's rule and test files (paths under out), their rules loaded."""

    rule_paths: list[str]
    test_paths: list[str]
    documents: dict[str, Any]
    errors: list[str]
    checks: RuleChecks
    processes: Processes  # theirs alone, to stop them if they are not the ones the report needs


def _start(pool: ThreadPoolExecutor, out: Path, rule_paths: list[str], test_paths: list[str],
           scratch: Path) -> _Started:
    relative = lambda paths: [p.removeprefix(f"{PROMETHEUS_DIR}/") for p in paths]  # noqa: E731
    documents, errors = _load_rules(out, rule_paths)  # once, for promtool's cut and holystack's checks
    processes = Processes()
    # promtool resolves paths from its working folder: prometheus/, or a cut copy of it in scratch.
    checks = start_rule_checks(pool, out, relative(rule_paths), relative(test_paths), scratch, documents, processes)
    return _Started(rule_paths, test_paths, documents, errors, checks, processes)


def _prometheus_files(paths: Iterable[str]) -> tuple[list[str], list[str]]:
    """The rule files and the promtool test files among paths (relative to out), sorted."""
    rules = sorted(p for p in paths if p.startswith(f"{PROMETHEUS_DIR}/{RULES_DIR}/"))
    tests = sorted(p for p in paths if p.startswith(f"{PROMETHEUS_DIR}/{TESTS_DIR}/"))
    return rules, tests


def _listed(out: Path) -> tuple[list[str], list[str]]:
    """The rule and test files out's manifest lists; none if out or its manifest cannot be read."""
    try:
        return _prometheus_files(owned_files(out)) if out.is_dir() else ([], [])
    except (OSError, UnicodeDecodeError):  # a damaged manifest is drift, which the checks report
        return [], []


def run_checks(stack: Stack, out: Path, progress: Progress | None = None, *, pool: ThreadPoolExecutor | None = None,
               scratch: Path | None = None, early: _Started | None = None,
               started: Callable[[_Started], None] = lambda _: None) -> list[CheckResult]:
    """Every check of the rendered stack in out; progress (if given) sees each result as it comes.
    The spec is rendered once; promtool and amtool run side by side (one per core) while
    holystack's own checks run here, and every rule file is parsed once for all of those.
    early: the rule checks validate started before the spec loaded, on the files OUT's manifest
    lists; they stand when those are the files the spec renders, else they are stopped and the checks
    run on those. started: told of the rule checks this call starts (validate stops them on failure)."""
    if pool is None or scratch is None:
        with tempfile.TemporaryDirectory(prefix="holystack-promtool-") as folder, \
                ThreadPoolExecutor(max_workers=workers()) as own_pool:
            return run_checks(stack, out, progress, pool=own_pool, scratch=Path(folder))
    from .checks.scale_out import scale_out_checks  # noqa: PLC0415 - loaded once the tools run
    from .render import render_stack  # noqa: PLC0415

    results: list[CheckResult] = []

    def add(*new: CheckResult) -> None:
        for result in new:
            results.append(result)
            if progress is not None:
                progress(result)

    files = render_stack(stack)
    rule_paths, test_paths = _prometheus_files(files)
    rule_checks = early
    if rule_checks is None or (rule_checks.rule_paths, rule_checks.test_paths) != (rule_paths, test_paths):
        if rule_checks is not None:
            rule_checks.processes.stop()
        rule_checks = _start(pool, out, rule_paths, test_paths, scratch / "rendered")
        started(rule_checks)
    absent = absent_credentials(stack, out)
    tools = report_order(start_config_check(pool, out, absent, rule_checks.processes), rule_checks.checks)
    current = drift(files, out)
    add(CheckResult(f"{out.name}/ is what the spec renders", PASS if current.clean else FAIL,
                    "byte for byte" if current.clean else "run holystack render", tuple(current.lines())))
    own = _own_checks(stack, out, rule_checks.documents, rule_checks.errors)
    add(*(pending() for pending in tools))
    add(*scale_out_checks(out, files, absent))
    add(*own)
    return results


def validate(spec_path: Path, out: Path, strict: bool = False, progress: Progress | None = None) -> Report:
    """The report on out. promtool starts first, on the rule and test files out's manifest lists (what
    the last render wrote there), while the spec loads and renders beside it; a spec that does not
    load stops it."""
    running: list[_Started] = []
    with tempfile.TemporaryDirectory(prefix="holystack-promtool-") as scratch, \
            ThreadPoolExecutor(max_workers=workers()) as pool:
        try:
            early = None
            listed = _listed(out)
            if listed[0] or listed[1]:
                early = _start(pool, out, *listed, Path(scratch) / "manifest")
                running.append(early)
            from .pipeline import load_stack  # noqa: PLC0415 - the model and renderers load while promtool runs

            stack = load_stack(spec_path)
            if not out.is_dir():
                raise UsageError(f"{out} is not a folder; run `holystack render {spec_path} -o {out}` first")
            return Report(run_checks(stack, out, progress, pool=pool, scratch=Path(scratch), early=early,
                                     started=running.append), strict)
        except BaseException:
            for started in running:
                started.processes.stop()
            raise
