"""promtool on what the scale-out sections add: the agent-mode config and the rule files of the
separate rulers (Mimir's namespace file without its `namespace` key, which promtool does not know)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import yaml

from ..output import Files
from ..render.layout import AGENT_CONFIG, PROMETHEUS_DIR
from ..render.rulers import MIMIR_DIR, THANOS_DIR, VMALERT_DIR
from .result import CheckResult
from .tools import check_config, run_tool


def scale_out_checks(out: Path, files: Files, absent: tuple[str, ...] = ()) -> list[CheckResult]:
    """Rows only for outputs the spec asks for, so a plain stack's report is unchanged. absent: the
    credentials files not on this machine (tools.absent_credentials)."""
    results = []
    if f"{PROMETHEUS_DIR}/{AGENT_CONFIG}" in files:
        results.append(check_config("promtool check config --agent", ["check", "config", "--agent"], AGENT_CONFIG,
                                    out / PROMETHEUS_DIR, absent))
    for ruler in (VMALERT_DIR, THANOS_DIR):
        paths = sorted(p.removeprefix(f"{ruler}/") for p in files if p.startswith(f"{ruler}/"))
        if paths:
            results.append(run_tool(f"promtool check rules ({ruler})", "promtool", ["check", "rules", *paths],
                                    out / ruler))
    mimir = sorted(p for p in files if p.startswith(f"{MIMIR_DIR}/"))
    if mimir:
        with tempfile.TemporaryDirectory(prefix="holystack-mimir-") as tmp:
            names = []
            for path in mimir:
                target = out / path
                groups = (yaml.safe_load(target.read_text("utf-8")) or {}).get("groups", []) if target.is_file() else []
                name = Path(path).name
                (Path(tmp) / name).write_text(yaml.safe_dump({"groups": groups}), "utf-8")
                names.append(name)
            results.append(run_tool("promtool check rules (mimir)", "promtool", ["check", "rules", *names], Path(tmp)))
    return results
