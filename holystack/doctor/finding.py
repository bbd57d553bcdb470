"""What `holystack doctor` reports: one Finding per thing wrong in the running stack.

Not errors.Problem (a place in the spec) nor checks.result.CheckResult (an offline check's pass or
fail with free-text findings): a finding here carries what is wrong, the evidence the servers gave,
and the fix, each on its own for --format json."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Finding:
    area: str       # prometheus, rules, targets, wire, alertmanager
    problem: str    # what is wrong
    evidence: str   # what the server answered
    fix: str        # what to do about it

    def line(self) -> str:
        return f"{self.area}: {self.problem} (evidence: {self.evidence}); fix: {self.fix}"


@dataclass(frozen=True)
class Report:
    """Every finding, plus what was checked and found healthy (for the table and json)."""

    findings: tuple[Finding, ...]
    healthy: tuple[str, ...]
    unchecked: tuple[str, ...] = ()  # what this server's APIs do not let doctor see, and why

    @property
    def failed(self) -> bool:
        return bool(self.findings)

    def table(self) -> str:
        if self.findings:
            return "\n".join(f.line() for f in self.findings)
        return "\n".join(["healthy: the running stack matches the spec", *(f"  ok  {h}" for h in self.healthy),
                          *(f"  --  not checked: {u}" for u in self.unchecked)])

    def as_json(self) -> str:
        return json.dumps({"ok": not self.failed, "findings": [asdict(f) for f in self.findings],
                           "healthy": list(self.healthy), "unchecked": list(self.unchecked)}, indent=2, ensure_ascii=False)
