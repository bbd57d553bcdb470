"""Dependencies point one way: the application-side instrumentation loads none of the generator."""
from __future__ import annotations

import subprocess
import sys

GENERATOR_ONLY = ("jinja2", "grafanalib", "jsonschema", "typer", "promql_parser")


def _imported_modules(statement: str) -> set[str]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", statement], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    modules = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip())
    return modules


def test_importing_the_instrumentation_loads_no_generator_code() -> None:
    modules = _imported_modules("import holystack.instrument")
    assert "prometheus_client" in modules  # the measurement saw the imports
    loaded = sorted(m for m in modules if m.split(".")[0] in GENERATOR_ONLY)
    assert loaded == [], loaded
    assert not any(m.startswith(("holystack.render", "holystack.checks", "holystack.cli")) for m in modules)


def test_importing_the_package_loads_nothing_until_a_name_is_used() -> None:
    modules = _imported_modules("import holystack")
    assert not any(m.split(".")[0] in GENERATOR_ONLY for m in modules)
    assert any(m.startswith("jsonschema") for m in _imported_modules("import holystack; holystack.load_stack"))
