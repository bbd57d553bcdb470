"""Templates with nothing but [[ name ]] placeholders are filled without Jinja, exactly as Jinja renders them."""
from __future__ import annotations

import jinja2
import pytest

from holystack.render import text

CONTEXT = {"notice": "generated — do not edit", "name": "holysheep", "schema": '"holysheep"', "view": "daily_cost",
           "period": "(ts AT TIME ZONE 'UTC')::date AS day", "price_values": "    ('m', 'prompt', 1.000000);\n",
           "cost_views": "CREATE VIEW x;\n", "source": "spec.yaml", "rule_file_rows": "| a | b |\n", "scale_out_rows": "",
           "dashboards_path": "/d", "alerts": "A, B", "unavailable": "", "retention": "--r=1d", "prices": ""}


@pytest.mark.parametrize("template", ["sql/billing.sql.j2", "sql/cost_view.sql.j2", "out-README.md.j2"])
def test_a_plain_template_renders_as_jinja_renders_it(template: str) -> None:
    source = text._template_source(template)
    assert text._plain(source)  # filled without Jinja
    assert text.render_template(template, **CONTEXT) == text.environment().get_template(template).render(**CONTEXT)


def test_a_plain_template_refuses_a_missing_name_as_jinja_does() -> None:
    with pytest.raises(jinja2.UndefinedError, match="'view' is undefined"):
        text.render_template("sql/cost_view.sql.j2", schema="s", period="p")


def test_line_ends_are_written_as_jinja_writes_them() -> None:
    source = "a [[ x ]]\r\nb\rc\n"
    assert text._filled(source, {"x": 1}) == text.environment().from_string(source).render(x=1) == "a 1\nb\nc\n"


def test_a_text_with_blocks_goes_through_jinja() -> None:
    source = "[% if x %]yes[% endif %] [[ y ]]"
    assert not text._plain(source) and text._fill(source, {"x": True, "y": 1}) == "yes 1"
