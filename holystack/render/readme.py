"""README.md of the output folder."""
from __future__ import annotations

from ..model import Stack
from ..output import Files, generated_notice
from .alerts import alert_rules, unavailable_alerts
from ..layout import README
from .prometheus import RETENTION_FLAG, retention, rule_files
from .text import fill, render_template, text_table


def _lines(texts: dict[str, str], key: str, rows: list[dict[str, object]]) -> str:
    """texts[key] filled once per row, each on its own line."""
    return "".join(fill(texts[key], **row) + "\n" for row in rows)


def _scale_out_rows(stack: Stack, texts: dict[str, str]) -> str:
    """The table's rows of what the scale-out sections add to the folder."""
    rulers: list[str] = []
    if stack.scale_out.rulers.asked:
        from .rulers import wanted_rulers  # loaded only where the spec asks for a ruler

        rulers = [ruler.name for ruler in wanted_rulers(stack)]
    return (texts["agent_row"] + "\n" if stack.scale_out.remote_write else "") + \
        (texts["kubernetes_row"] + "\n" if stack.scale_out.kubernetes is not None else "") + \
        _lines(texts, "ruler_row", [{"ruler": ruler} for ruler in rulers])


def _unavailable(stack: Stack, texts: dict[str, str]) -> str:
    """The paragraph naming the alerts the source cannot feed, between blank lines; "" for none."""
    missing = unavailable_alerts(stack)
    if not missing:
        return ""
    alerts = "".join("\n" + fill(texts["unavailable_alert"], alert=alert, why=why) for alert, why in missing)
    return f"\n{fill(texts['unavailable'], metric_source=stack.source.name)}\n{alerts}\n"


def _prices(stack: Stack, texts: dict[str, str]) -> str:
    """The paragraphs on the models priced from genai-prices (its version, the tiered ones), each
    followed by a blank line; "" where no model is."""
    models = [m for m in stack.models if m.prices.source is not None and m.prices.source.from_data]
    if not models:
        return ""
    from .. import pricedata  # loaded only where the spec already needed it

    priced = ", ".join(fill(texts["priced_model"], model=m.name, provider=m.prices.source.provider,  # type: ignore[union-attr]
                            ref=m.prices.source.model) for m in models)  # type: ignore[union-attr]
    tiered = [m.name for m in models if m.prices.source.tiered]  # type: ignore[union-attr]
    text = fill(texts["priced"], price_version=pricedata.version(), models=priced) + "\n"
    if tiered:
        text += "\n" + fill(texts["tiered"], tiered=", ".join(tiered)) + "\n"
    return text + "\n"


def render_readme(stack: Stack) -> Files:
    """templates/out-README.md.j2 with the parts of templates/readme/en.yaml this spec has: no Jinja
    compile (render_template)."""
    texts = text_table("readme", "en")
    alerts = sorted({stack.alert_name(rule.kind) for rule in alert_rules(stack)})
    text = render_template(f"out-{README}.j2", source=stack.source_name, notice=generated_notice(stack.source_name),
                           name=stack.name, dashboards_path=stack.dashboards.path,
                           rule_file_rows=_lines(texts, "rule_file_row", [{"file": f} for f in rule_files(stack)]),
                           scale_out_rows=_scale_out_rows(stack, texts), alerts=", ".join(alerts),
                           unavailable=_unavailable(stack, texts), prices=_prices(stack, texts),
                           retention=f"{RETENTION_FLAG}={retention(stack)}", period=str(stack.slo.period))
    return {README: text}
