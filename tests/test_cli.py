"""The commands through Typer's runner, and the installed console script as a user runs it."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from holystack.cli import app

from .conftest import CASES, EXAMPLE

runner = CliRunner()


def test_render_then_validate_strict_passes(tmp_path: Path, promtool: str, amtool: str) -> None:
    out = tmp_path / "out"
    assert runner.invoke(app, ["render", str(EXAMPLE), "-o", str(out)]).exit_code == 0
    result = runner.invoke(app, ["validate", str(EXAMPLE), "-o", str(out), "--strict"])
    assert result.exit_code == 0, result.output
    assert "0 failed, 0 skipped" in result.output
    for check in ("promtool check config", "promtool test rules", "amtool check-config", "alerts have a comparison"):
        assert check in result.output


def test_validate_fails_on_a_broken_rule(tmp_path: Path, promtool: str, amtool: str) -> None:
    out = tmp_path / "out"
    runner.invoke(app, ["render", str(EXAMPLE), "-o", str(out)])
    alerts = out / "prometheus" / "rules" / "holysheep-alerts.yml"
    alerts.write_text(alerts.read_text().replace("> 0.02", ""))
    result = runner.invoke(app, ["validate", str(EXAMPLE), "-o", str(out)])
    assert result.exit_code == 1
    assert "alerts have a comparison" in result.output and "FAIL" in result.output
    assert "changed: prometheus/rules/holysheep-alerts.yml" in result.output


def test_validate_without_tools_skips_and_strict_fails(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "out"
    runner.invoke(app, ["render", str(EXAMPLE), "-o", str(out)])
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    relaxed = runner.invoke(app, ["validate", str(EXAMPLE), "-o", str(out)])
    assert relaxed.exit_code == 0, relaxed.output
    assert "promtool is not installed (apt-get install prometheus)" in relaxed.output
    strict = runner.invoke(app, ["validate", str(EXAMPLE), "-o", str(out), "--strict"])
    assert strict.exit_code == 1


def test_validate_on_missing_out_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(EXAMPLE), "-o", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert "run `holystack render" in result.output


def test_schema_command_prints_the_schema() -> None:
    result = runner.invoke(app, ["schema"])
    schema = json.loads(result.output)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False


def test_spec_defaults_to_holystack_yaml(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["render"]).exit_code == 2
    shutil.copy(EXAMPLE, tmp_path / "holystack.yaml")
    result = runner.invoke(app, ["render"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "prometheus" / "prometheus.yml").is_file()


def test_installed_console_script(tmp_path: Path) -> None:
    beside_python = Path(sys.executable).parent / "holystack"
    executable = str(beside_python) if beside_python.exists() else shutil.which("holystack")
    assert executable, "no holystack console script; pip install -e . installs it"
    spec = CASES / "acme-vi" / "spec.yaml"
    done = subprocess.run([executable, "render", str(spec), "-o", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    bad = subprocess.run([executable, "render", str(tmp_path / "missing.yaml")], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "file not found" in bad.stderr


def test_version_and_short_help() -> None:
    from importlib.metadata import version

    shown = runner.invoke(app, ["--version"])
    assert shown.exit_code == 0 and shown.output.strip() == f"holystack {version('holystack')}"
    for args in (["-h"], ["render", "-h"], ["validate", "-h"]):
        helped = runner.invoke(app, args)
        assert helped.exit_code == 0 and "Usage:" in helped.output, args


def test_validate_format_json_for_ci(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "out"
    runner.invoke(app, ["render", str(EXAMPLE), "-o", str(out)])
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # tools skipped: fast, and a verdict to read
    relaxed = runner.invoke(app, ["validate", str(EXAMPLE), "-o", str(out), "--format", "json"])
    report = json.loads(relaxed.stdout)
    assert relaxed.exit_code == 0 and report["ok"] is True and report["strict"] is False
    statuses = {check["name"]: check["status"] for check in report["checks"]}
    assert statuses["promtool test rules"] == "skip" and statuses["no inline secrets in alertmanager.yml"] == "pass"
    strict = runner.invoke(app, ["validate", str(EXAMPLE), "-o", str(out), "--strict", "--format", "json"])
    assert strict.exit_code == 1 and json.loads(strict.stdout)["ok"] is False
    bad = runner.invoke(app, ["validate", str(EXAMPLE), "-o", str(out), "--format", "xml"])
    assert bad.exit_code == 2 and "--format 'xml' is not one of table, json" in bad.output


def test_validate_shows_a_progress_line_per_check_on_a_terminal(tmp_path: Path) -> None:
    import os
    import pty

    out = tmp_path / "out"
    runner.invoke(app, ["render", str(EXAMPLE), "-o", str(out)])
    console = Path(sys.executable).with_name("holystack")
    leader, follower = pty.openpty()
    env = {**os.environ, "PATH": str(tmp_path / "empty-bin")}
    done = subprocess.run([str(console), "validate", str(EXAMPLE), "-o", str(out)], stderr=follower,
                          stdout=subprocess.PIPE, text=True, env=env, timeout=120)
    os.close(follower)
    terminal = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        terminal += chunk
    os.close(leader)
    progress = [line.strip() for line in terminal.decode().splitlines() if line.strip()]
    table_rows = done.stdout.splitlines()[1:-1]  # the table: header, one row per check (+ findings), summary
    checks = [row for row in table_rows if not row.startswith(" ")]
    assert len(progress) == len(checks) >= 10
    assert progress[0].endswith("out/ is what the spec renders") and progress[1] == "SKIP  promtool check config"


def test_a_command_ends_with_what_is_alive_frozen_out_of_the_last_collection(tmp_path: Path) -> None:
    """holystack.cli.main freezes what is alive when the command ends (gc.freeze), so that the
    interpreter's last collection does not walk it, whatever the command's outcome; the render it ran
    is whole."""
    program = ("import gc, sys\nfrom holystack.cli import main\n"
               f"sys.argv = ['holystack', 'render', {str(EXAMPLE)!r}, '-o', {str(tmp_path / 'out')!r}]\n"
               "try:\n    main()\nexcept SystemExit as exc:\n    print(exc.code, gc.get_freeze_count())\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    code, frozen = done.stdout.split()[-2:]
    assert code in ("0", "None") and int(frozen) > 1000, done.stdout
    assert subprocess.run([sys.executable, "-m", "holystack", "render", str(EXAMPLE), "-o", str(tmp_path / "out"),
                           "--check"], capture_output=True, text=True, timeout=120).returncode == 0
