"""Names the stack gives things outside Prometheus: dashboard slugs, uids and links, and the
ledger's PostgreSQL schema. Defined once; renderers, checks and the instrumentation read them here."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Stack

OVERVIEW_DASHBOARD = "overview"
COST_DASHBOARD = "cost"
SLO_DASHBOARD = "slo"
# Grafana caps uids at 40 characters; the spec name is at most 30.
MAX_UID_LENGTH = 40


def dashboard_uid(stack: "Stack", slug: str) -> str:
    """Stable uid of one of the stack's dashboards, derived from the spec name."""
    return f"{stack.name}-{slug}"[:MAX_UID_LENGTH]


def datasource_uid(stack: "Stack") -> str:
    """uid of the Prometheus data source the stack provisions; the dashboards' data source
    variable selects it by default."""
    return f"{stack.name}-prometheus"


def dashboard_url(stack: "Stack", slug: str) -> str:
    """Link to a dashboard: absolute when dashboards.url is set, else Grafana-relative."""
    return f"{stack.dashboards.url or ''}/d/{dashboard_uid(stack, slug)}"


def ledger_schema(prefix: str) -> str:
    """The PostgreSQL schema of the per-call ledger: the metrics prefix. It may hold capitals: always
    quote it (quoted_identifier in SQL text, psycopg's sql.Identifier in a query)."""
    return prefix


def quoted_identifier(name: str) -> str:
    """A PostgreSQL quoted identifier."""
    return '"' + name.replace('"', '""') + '"'
