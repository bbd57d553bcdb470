"""README.md of the output folder."""
from __future__ import annotations

from ..model import Stack
from ..output import Files, generated_notice
from .alerts import alert_rules, unavailable_alerts
from ..layout import README
from .prometheus import RETENTION_FLAG, retention, rule_files
from .text import render_template


def _scale_out(stack: Stack) -> dict[str, object]:
    """What the scale-out sections add to the folder, for its table."""
    rulers: list[str] = []
    if stack.scale_out.rulers.asked:
        from .rulers import wanted_rulers  # loaded only where the spec asks for a ruler

        rulers = [ruler.name for ruler in wanted_rulers(stack)]
    return {"agent": bool(stack.scale_out.remote_write), "kubernetes": stack.scale_out.kubernetes is not None,
            "rulers": rulers}


def _price_data(stack: Stack) -> dict[str, object]:
    """The models priced from genai-prices, its version, and which of them have tiered prices."""
    models = [m for m in stack.models if m.prices.source is not None and m.prices.source.from_data]
    if not models:
        return {"priced": []}
    from .. import pricedata  # loaded only where the spec already needed it

    return {"priced": [(m.name, m.prices.source.provider, m.prices.source.model) for m in models],  # type: ignore[union-attr]
            "price_version": pricedata.version(),
            "tiered": [m.name for m in models if m.prices.source.tiered]}  # type: ignore[union-attr]


def render_readme(stack: Stack) -> Files:
    alerts = sorted({stack.alert_name(rule.kind) for rule in alert_rules(stack)})
    text = render_template(f"out-{README}.j2", source=stack.source_name, notice=generated_notice(stack.source_name), name=stack.name,
                           rule_files=list(rule_files(stack)), alerts=alerts,
                           metric_source=stack.source.name, unavailable=unavailable_alerts(stack),
                           dashboards_path=stack.dashboards.path, **_scale_out(stack),
                           retention=f"{RETENTION_FLAG}={retention(stack)}", period=str(stack.slo.period), **_price_data(stack))
    return {README: text}
