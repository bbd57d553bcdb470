"""The result of one check."""
from __future__ import annotations

from dataclasses import dataclass, field

PASS, FAIL, SKIP = "pass", "fail", "skip"
# A finding worth reading that fails no check, not even with --strict.
WARN = "warn"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str
    detail: str = ""
    findings: tuple[str, ...] = field(default=())

    @classmethod
    def from_findings(cls, name: str, findings: list[str], what: str) -> "CheckResult":
        if findings:
            return cls(name, FAIL, f"{len(findings)} problem(s)", tuple(findings))
        return cls(name, PASS, what)
