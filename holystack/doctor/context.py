"""What every check of doctor reads: the spec's model, the files rendered into OUT, the servers."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import UsageError
from ..model import Stack
from ..layout import ALERTMANAGER_CONFIG, ALERTMANAGER_DIR, PROMETHEUS_CONFIG, PROMETHEUS_DIR, RULES_DIR
from ..render.rulers import VMALERT_DIR
from .http import Api

PROMETHEUS, VICTORIAMETRICS = "prometheus", "victoriametrics"


@dataclass(frozen=True)
class Context:
    stack: Stack
    out: Path
    prometheus_config: dict[str, Any]
    rule_groups: tuple[dict[str, Any], ...]  # every group of OUT's rule files, in their order
    alertmanager_config: dict[str, Any]
    prometheus: Api           # the query API: Prometheus, or VictoriaMetrics
    alertmanager: Api | None
    ruler: Api                # /api/v1/rules and /api/v1/alerts: Prometheus, or vmalert
    scraper: Api              # /api/v1/targets: Prometheus, or vmagent
    engine: str = PROMETHEUS

    @property
    def ruler_name(self) -> str:
        """The server that evaluates the rules, as a person calls it."""
        return "Prometheus" if self.engine == PROMETHEUS else "vmalert"

    @property
    def rules_source(self) -> str:
        """Where OUT keeps the rule files that ruler reads, and how it is told."""
        if self.engine == PROMETHEUS:
            return f"rule_files at {self.out.name}/{PROMETHEUS_DIR}/{RULES_DIR}/*.yml (as {self.out.name}'s prometheus.yml does)"
        return f"vmalert's -rule at {self.out.name}/{VMALERT_DIR}/*.yml"


def _yaml(path: Path, spec_path: Path, out: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text("utf-8"))
    except OSError:
        raise UsageError(f"{path} cannot be read; run `holystack render {spec_path} -o {out}` first") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not YAML ({exc}); run `holystack render {spec_path} -o {out}`") from None


def load_context(stack: Stack, spec_path: Path, out: Path, prometheus: Api, alertmanager: Api | None,
                 vmalert: Api | None = None, vmagent: Api | None = None) -> Context:
    """OUT's prometheus.yml, its rule files (the ones it lists, or OUT's vmalert files when vmalert
    evaluates them) and alertmanager.yml; UsageError if missing."""
    if not out.is_dir():
        raise UsageError(f"{out} is not a folder; run `holystack render {spec_path} -o {out}` first")
    prometheus_dir = out / PROMETHEUS_DIR
    config = _yaml(prometheus_dir / PROMETHEUS_CONFIG, spec_path, out) or {}
    groups: list[dict[str, Any]] = []
    if vmalert is None:
        rule_paths = [prometheus_dir / name for name in config.get("rule_files", [])]
    else:
        rule_paths = sorted((out / VMALERT_DIR).glob("*.yml"))
        if not rule_paths:
            raise UsageError(f"{out}/{VMALERT_DIR} holds no rule files: add rulers.vmalert: true to the spec, "
                             f"then `holystack render {spec_path} -o {out}`")
    for path in rule_paths:
        groups += (_yaml(path, spec_path, out) or {}).get("groups", [])
    am_config = _yaml(out / ALERTMANAGER_DIR / ALERTMANAGER_CONFIG, spec_path, out) or {}
    return Context(stack, out, config, tuple(groups), am_config, prometheus, alertmanager,
                   vmalert or prometheus, vmagent or prometheus, PROMETHEUS if vmalert is None else VICTORIAMETRICS)
