"""scripts/setup's apt step: while another process holds the apt lock it waits, bounded, saying who
holds it, and then fails with a clear message (apt-get alone exits 100 at once, without a hint)."""
from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

import pytest

from .conftest import ROOT

WAIT = ROOT / "scripts" / "apt-get-wait"
LISTS_LOCK = Path("/var/lib/apt/lists/lock")


@pytest.mark.skipif(os.geteuid() != 0, reason="holding apt's lock needs root")
def test_a_held_apt_lock_is_waited_for_then_named(tmp_path: Path) -> None:
    with open(LISTS_LOCK, "w") as lock:
        try:
            fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the fcntl lock apt itself takes
        except OSError:
            pass  # a real apt run holds it: the script must wait for that one just the same
        result = subprocess.run([str(WAIT), "update", "-qq"], capture_output=True, text=True, timeout=60,
                                env={**os.environ, "HOLYSTACK_APT_WAIT": "3", "HOLYSTACK_APT_STEP": "1"})
    assert result.returncode == 100
    lines = result.stderr.splitlines()
    assert any(line.startswith("scripts/setup: another process holds the apt lock (held by process") and
               "waiting (" in line for line in lines), result.stderr
    assert lines[-2].startswith("scripts/setup: gave up after") and "run scripts/setup again" in lines[-1]
    assert sum("waiting (" in line for line in lines) >= 1  # it waits at least once, however slow apt-get is


def test_a_failure_that_is_not_the_lock_passes_through_at_once() -> None:
    result = subprocess.run([str(WAIT), "--no-such-option"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "HOLYSTACK_APT_WAIT": "600"})
    assert result.returncode != 0 and "waiting" not in result.stderr and "gave up" not in result.stderr
