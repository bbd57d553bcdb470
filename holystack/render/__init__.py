"""Pure renderers: each takes the model and returns {relative path: text}."""
from __future__ import annotations

from ..model import Stack
from ..output import Files, with_manifest
from .alertmanager import render_alertmanager
from .grafana import render_grafana
from .prometheus import render_prometheus
from .readme import render_readme
from .ruletests import render_rule_tests
from .sql import render_sql


# What only some specs ask for is imported only when a spec asks for it.
def render_kubernetes(stack: Stack) -> Files:
    if stack.scale_out.kubernetes is None:
        return {}
    from .kubernetes import render_kubernetes as render

    return render(stack)


def render_rulers(stack: Stack) -> Files:
    if not stack.scale_out.rulers.asked:
        return {}
    from .rulers import render_rulers as render

    return render(stack)


RENDERERS = (render_prometheus, render_rule_tests, render_alertmanager, render_grafana, render_sql, render_readme,
             render_kubernetes, render_rulers)


def render_stack(stack: Stack) -> Files:
    """Every file of the stack, the manifest included."""
    files: Files = {}
    for renderer in RENDERERS:
        for path, text in renderer(stack).items():
            if path in files:
                raise ValueError(f"two renderers wrote {path}")
            files[path] = text
    return with_manifest(files)
