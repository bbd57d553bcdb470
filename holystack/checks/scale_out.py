"""promtool on what the scale-out sections add: the agent-mode config and the rule files of the
separate rulers (Mimir's namespace file without its `namespace` key, vmalert's groups without their
`params`: promtool does not know them)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import yaml

from ..output import Files
from ..layout import AGENT_CONFIG, PROMETHEUS_DIR
from ..render.rulers import RULERS, promtool_group
from .result import CheckResult
from .tools import check_config, run_tool


def scale_out_checks(out: Path, files: Files, absent: tuple[str, ...] = ()) -> list[CheckResult]:
    """Rows only for outputs the spec asks for, so a plain stack's report is unchanged. absent: the
    credentials files not on this machine (tools.absent_credentials)."""
    results = []
    if f"{PROMETHEUS_DIR}/{AGENT_CONFIG}" in files:
        results.append(check_config("promtool check config --agent", ["check", "config", "--agent"], AGENT_CONFIG,
                                    out / PROMETHEUS_DIR, absent))
    for ruler in RULERS:
        paths = sorted(p.removeprefix(f"{ruler.directory}/") for p in files if p.startswith(f"{ruler.directory}/"))
        if not paths:
            continue
        if not ruler.namespaced and not ruler.features.group_params:
            results.append(run_tool(f"promtool check rules ({ruler.name})", "promtool", ["check", "rules", *paths],
                                    out / ruler.directory))
            continue
        with tempfile.TemporaryDirectory(prefix=f"holystack-{ruler.name}-") as tmp:
            for name in paths:  # the groups alone, without what only the ruler reads (promtool refuses it)
                target = out / ruler.directory / name
                groups = (yaml.safe_load(target.read_text("utf-8")) or {}).get("groups", []) if target.is_file() else []
                (Path(tmp) / name).write_text(yaml.safe_dump({"groups": [promtool_group(g) for g in groups]}), "utf-8")
            results.append(run_tool(f"promtool check rules ({ruler.name})", "promtool", ["check", "rules", *paths],
                                    Path(tmp)))
    return results
