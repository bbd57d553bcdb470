"""validate on damaged output: each damage is a failed check naming the file and the problem, exit
1, never a traceback. Run through the console script, as CI runs it, with the real tools."""
from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import EXAMPLE, Cases

Damage = Callable[[Path], None]


def _rule_file_unparsable(out: Path) -> None:
    path = out / "prometheus" / "rules" / "holysheep-alerts.yml"
    path.write_text(path.read_text("utf-8") + "\n  - alert: [unclosed\n", "utf-8")


def _rule_file_not_rules(out: Path) -> None:
    (out / "prometheus" / "rules" / "holysheep-cost.yml").write_text("- just\n- a list\n", "utf-8")


def _dashboard_truncated(out: Path) -> None:
    path = out / "grafana" / "dashboards" / "holysheep-overview.json"
    text = path.read_text("utf-8")
    path.write_text(text[: len(text) // 2], "utf-8")


def _alertmanager_deleted(out: Path) -> None:
    (out / "alertmanager" / "alertmanager.yml").unlink()


def _manifest_garbage(out: Path) -> None:
    (out / ".holystack-manifest").write_bytes(b"\xff\xfe\x00garbage")


# damage -> (the check that fails, what its line says)
DAMAGES: dict[str, tuple[Damage, str, tuple[str, ...]]] = {
    "rule file that no longer parses": (_rule_file_unparsable, "rule files load",
                                        ("prometheus/rules/holysheep-alerts.yml:", "flow sequence")),
    "rule file that is not a rule file": (_rule_file_not_rules, "rule files load",
                                          ("prometheus/rules/holysheep-cost.yml: not a rule file",)),
    "truncated dashboard JSON": (_dashboard_truncated, "dashboards load",
                                 ("grafana/dashboards/holysheep-overview.json: not JSON",)),
    "deleted alertmanager.yml": (_alertmanager_deleted, "no inline secrets in alertmanager.yml",
                                 ("alertmanager/alertmanager.yml is missing",)),
}


@pytest.fixture
def rendered(cases: Cases) -> Path:
    """The reference spec rendered once per session (read-only: each test damages a copy)."""
    return cases.rendered("holysheep")


def _validate(out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "holystack", "validate", str(EXAMPLE), "-o", str(out)],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_output_is_a_failed_check(damage: str, rendered: Path, tmp_path: Path,
                                          promtool: str, amtool: str) -> None:
    out = tmp_path / "out"
    shutil.copytree(rendered, out, symlinks=True)
    hurt, check, says = DAMAGES[damage]
    hurt(out)
    done = _validate(out)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith(check)]
    assert rows and "FAIL" in rows[0], done.stdout
    start = done.stdout.index(rows[0])
    section = done.stdout[start:start + 2000]
    for text in says:
        assert text in section, done.stdout
    # The drift check names the damaged file too (a deleted file is missing, a changed one changed).
    assert "run holystack render" in done.stdout


def test_garbage_manifest_is_drift_not_a_traceback(rendered: Path, tmp_path: Path, promtool: str,
                                                   amtool: str) -> None:
    out = tmp_path / "out"
    shutil.copytree(rendered, out, symlinks=True)
    _manifest_garbage(out)
    done = _validate(out)
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    assert "changed: .holystack-manifest" in done.stdout


def test_the_tools_judge_what_the_spec_renders_when_the_manifest_lists_other_files(
        rendered: Path, tmp_path: Path, promtool: str, amtool: str) -> None:
    """validate starts promtool on the test files the manifest lists, before the spec renders; a
    manifest that lists a test file the spec does not render (a failing one here) is drift, and
    promtool's verdict is on the files the spec renders, as if nothing had started early."""
    out = tmp_path / "out"
    shutil.copytree(rendered, out, symlinks=True)
    stale = "prometheus/tests/holysheep-stale.test.yml"
    (out / stale).write_text("tests:\n  - promql_expr_test:\n      - expr: vector(1)\n        eval_time: 0m\n"
                             "        exp_samples:\n          - labels: '{}'\n            value: 2\n", "utf-8")
    manifest = out / ".holystack-manifest"
    manifest.write_text(manifest.read_text("utf-8") + stale + "\n", "utf-8")
    rendered_tests = len(list((rendered / "prometheus" / "tests").glob("*.yml")))
    done = _validate(out)
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    rows = {line.split("  ")[0]: line for line in done.stdout.splitlines() if not line.startswith(" ")}
    assert "FAIL" in rows["out/ is what the spec renders"] and f"stale:   {stale}" in done.stdout, done.stdout
    assert "pass" in rows["promtool test rules"] and f"{rendered_tests} file(s)" in rows["promtool test rules"], \
        done.stdout
