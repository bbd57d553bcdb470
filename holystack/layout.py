"""Where each file of the rendered stack lives inside OUT: defined once, read by the renderers,
the checks of `validate`, and the live stack."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Stack

PROMETHEUS_DIR = "prometheus"
PROMETHEUS_CONFIG = "prometheus.yml"  # in PROMETHEUS_DIR
AGENT_CONFIG = "prometheus-agent.yml"  # in PROMETHEUS_DIR: the same scraping, for agent mode
RULES_DIR = "rules"  # in PROMETHEUS_DIR
TESTS_DIR = "tests"  # in PROMETHEUS_DIR
ALERTMANAGER_DIR = "alertmanager"
ALERTMANAGER_CONFIG = "alertmanager.yml"  # in ALERTMANAGER_DIR
ALERTMANAGER_TEMPLATE = "holystack.tmpl"  # in ALERTMANAGER_DIR/templates
GRAFANA_DIR = "grafana"
DASHBOARDS_DIR = f"{GRAFANA_DIR}/dashboards"
SQL_FILE = "sql/billing.sql"
README = "README.md"


def rule_tests_path(stack: "Stack", family: str) -> str:
    """The generated promtool tests of one alert family (its name, as a file-name slug)."""
    slug = re.sub(r"[^a-z0-9]+", "-", family.lower()).strip("-")
    return f"{PROMETHEUS_DIR}/{TESTS_DIR}/{stack.name}-{slug}.test.yml"
