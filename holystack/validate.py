"""`holystack validate`: every check of a rendered stack, as one report."""
from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .checks.result import FAIL, PASS, SKIP, WARN, CheckResult
from .checks.scale_out import scale_out_checks
from .checks.tools import absent_credentials, start_tool_checks, workers
from .errors import UsageError
from .model import Stack
from .output import drift
from .pipeline import load_stack
from .render import render_stack
from .render.alerts import unavailable_alerts
from .render.layout import ALERTMANAGER_CONFIG, ALERTMANAGER_DIR, DASHBOARDS_DIR, PROMETHEUS_DIR, RULES_DIR, TESTS_DIR
from .secrets import config_secrets
from .yamlload import YAML_LOADER


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


def run_checks(stack: Stack, out: Path, progress: Progress | None = None) -> list[CheckResult]:
    """Every check of the rendered stack in out; progress (if given) sees each result as it comes.
    The spec is rendered once; promtool and amtool run side by side (one per core) while
    holystack's own checks run here, and every rule file is parsed once for all of those."""
    results: list[CheckResult] = []

    def add(*new: CheckResult) -> None:
        for result in new:
            results.append(result)
            if progress is not None:
                progress(result)

    files = render_stack(stack)
    rule_paths = sorted(p for p in files if p.startswith(f"{PROMETHEUS_DIR}/{RULES_DIR}/"))
    test_paths = sorted(p for p in files if p.startswith(f"{PROMETHEUS_DIR}/{TESTS_DIR}/"))
    relative = lambda paths: [p.removeprefix(f"{PROMETHEUS_DIR}/") for p in paths]  # noqa: E731
    documents, errors = _load_rules(out, rule_paths)  # once, for promtool's cut and holystack's checks
    absent = absent_credentials(stack, out)
    with tempfile.TemporaryDirectory(prefix="holystack-promtool-") as scratch, \
            ThreadPoolExecutor(max_workers=workers()) as pool:
        # promtool resolves paths from its working folder: prometheus/, or a cut copy of it in scratch.
        tools = start_tool_checks(pool, out, relative(rule_paths), relative(test_paths), Path(scratch), documents,
                                  absent)
        current = drift(files, out)
        add(CheckResult(f"{out.name}/ is what the spec renders", PASS if current.clean else FAIL,
                        "byte for byte" if current.clean else "run holystack render", tuple(current.lines())))
        own = _own_checks(stack, out, documents, errors)
        add(*(pending() for pending in tools))
    add(*scale_out_checks(out, files, absent))
    add(*own)
    return results

def validate(spec_path: Path, out: Path, strict: bool = False, progress: Progress | None = None) -> Report:
    stack = load_stack(spec_path)
    if not out.is_dir():
        raise UsageError(f"{out} is not a folder; run `holystack render {spec_path} -o {out}` first")
    return Report(run_checks(stack, out, progress), strict)
