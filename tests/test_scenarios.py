"""Hand-written promtool scenarios (tests/scenarios/) against the rules rendered from the reference spec."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from holystack import render_to

from .conftest import EXAMPLE, ROOT


def test_hand_written_scenarios_pass(tmp_path: Path, promtool: str) -> None:
    render_to(EXAMPLE, tmp_path / "out")
    shutil.copytree(tmp_path / "out" / "prometheus" / "rules", tmp_path / "rules")
    shutil.copy(ROOT / "tests" / "scenarios" / "holysheep.test.yml", tmp_path)
    done = subprocess.run([promtool, "test", "rules", "holysheep.test.yml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
