"""What every check of doctor reads: the spec's model, the files rendered into OUT, the servers."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import UsageError
from ..model import Stack
from ..render.layout import ALERTMANAGER_CONFIG, ALERTMANAGER_DIR, PROMETHEUS_CONFIG, PROMETHEUS_DIR
from .http import Api


@dataclass(frozen=True)
class Context:
    stack: Stack
    out: Path
    prometheus_config: dict[str, Any]
    rule_groups: tuple[dict[str, Any], ...]  # every group of OUT's rule files, in their order
    alertmanager_config: dict[str, Any]
    prometheus: Api
    alertmanager: Api | None


def _yaml(path: Path, spec_path: Path, out: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text("utf-8"))
    except OSError:
        raise UsageError(f"{path} cannot be read; run `holystack render {spec_path} -o {out}` first") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not YAML ({exc}); run `holystack render {spec_path} -o {out}`") from None


def load_context(stack: Stack, spec_path: Path, out: Path, prometheus: Api, alertmanager: Api | None) -> Context:
    """OUT's prometheus.yml, its rule files (the ones it lists) and alertmanager.yml; UsageError if missing."""
    if not out.is_dir():
        raise UsageError(f"{out} is not a folder; run `holystack render {spec_path} -o {out}` first")
    prometheus_dir = out / PROMETHEUS_DIR
    config = _yaml(prometheus_dir / PROMETHEUS_CONFIG, spec_path, out) or {}
    groups: list[dict[str, Any]] = []
    for name in config.get("rule_files", []):
        groups += (_yaml(prometheus_dir / name, spec_path, out) or {}).get("groups", [])
    am_config = _yaml(out / ALERTMANAGER_DIR / ALERTMANAGER_CONFIG, spec_path, out) or {}
    return Context(stack, out, config, tuple(groups), am_config, prometheus, alertmanager)
