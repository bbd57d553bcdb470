"""What the benches that measure an earlier checkout (--baseline DIR) share.

A checkout keeps its templates at the top level (templates/, which pyproject ships as
holystack.templates); imported from PYTHONPATH, a baseline would read the installed holystack's
templates instead of its own (the editable finder maps holystack.templates to this checkout's), so
a template change would make it render other bytes."""
from __future__ import annotations

from pathlib import Path


def own_templates(root: Path) -> None:
    """Make a checkout's templates importable as holystack.templates from PYTHONPATH."""
    link = root / "holystack" / "templates"
    if not link.exists() and (root / "templates").is_dir():
        link.symlink_to(Path("..") / "templates")
