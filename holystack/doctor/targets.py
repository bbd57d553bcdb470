"""Every scrape job of OUT's prometheus.yml has targets, and they are up; scrape errors are named."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from .context import Context
from .finding import Finding

AREA = "targets"


def job_names(context: Context) -> list[str]:
    return [str(job["job_name"]) for job in context.prometheus_config.get("scrape_configs", [])]


def target_findings(context: Context, active: list[dict[str, Any]]) -> list[Finding]:
    by_pool: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for target in active:
        by_pool[str(target.get("scrapePool") or target.get("labels", {}).get("job"))].append(target)
    findings = []
    for job in job_names(context):
        targets = by_pool.get(job, [])
        if not targets:
            pools = ", ".join(sorted(by_pool)) or "none"
            findings.append(Finding(AREA, f"job {job} has no targets",
                                    f"/api/v1/targets lists the jobs: {pools}",
                                    f"load {context.out.name}/prometheus/prometheus.yml (its scrape_configs) and reload"))
            continue
        for target in targets:
            if target.get("health") != "up":
                error = str(target.get("lastError") or "").strip() or f"health {target.get('health')}"
                findings.append(Finding(AREA, f"target {target.get('scrapeUrl')} of job {job} is {target.get('health')}",
                                        f"last scrape error: {error}",
                                        "start the app or fix its address in the spec's scrape.jobs, "
                                        "then render and reload"))
    return findings
