"""The Jinja environment over the templates/ folder (shipped as holystack.templates).

Templates write Jinja in [[ ]] and [% %], so that Go's {{ }} (Prometheus and Alertmanager
templates) passes through untouched; one syntax for all, so one environment (and one lexer) is
built per run. StrictUndefined: a missing variable is an error. A text of plain [[ name ]]
placeholders (every shipped template and text is one) is filled without Jinja: jinja2 is imported
only for a text that uses more of it."""
from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

from ..yamlload import YAML_LOADER

if TYPE_CHECKING:
    import jinja2


@cache
def environment() -> jinja2.Environment:
    """Jinja in [[ ]], [% %] and [# #]."""
    import jinja2  # noqa: PLC0415 - only for texts that use more than placeholders

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source), undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        variable_start_string="[[", variable_end_string="]]",
        block_start_string="[%", block_end_string="%]",
        comment_start_string="[#", comment_end_string="#]",
        autoescape=False,
    )


def render_template(template: str, **context: Any) -> str:
    """A template file rendered. One that uses nothing but [[ name ]] placeholders is filled without
    compiling it (a Jinja compile costs a few milliseconds a file)."""
    return _rendered(_template_source(template), context)


@cache
def _template_source(template: str) -> str:
    return resources.files("holystack.templates").joinpath(template).read_text("utf-8")


@cache
def text_table(folder: str, language: str) -> dict[str, Any]:
    """The texts of one language from templates/<folder>/<language>.yaml, not yet rendered."""
    return yaml.load(_template_source(f"{folder}/{language}.yaml"), Loader=YAML_LOADER)


@cache
def _compiled(source: str) -> jinja2.Template:
    return environment().from_string(source)


_PLACEHOLDER = re.compile(r"\[\[\s*([A-Za-z_]\w*)\s*\]\]")


def _plain(source: str) -> bool:
    """Whether a text uses nothing of Jinja but [[ name ]] placeholders."""
    return "[%" not in source and "[#" not in source and source.count("[[") == len(_PLACEHOLDER.findall(source))


def fill(source: str, **context: Any) -> str:
    """A text of [[ name ]] placeholders only, filled as Jinja renders it (line breaks kept)."""
    return _filled(source, context)


def _filled(source: str, context: Mapping[str, Any]) -> str:
    """A plain text (_plain) as Jinja renders it: each placeholder's value as text, an unknown name
    refused (StrictUndefined), the text's line ends written \\n."""
    if "\r" in source:
        source = source.replace("\r\n", "\n").replace("\r", "\n")
    try:
        return _PLACEHOLDER.sub(lambda m: str(context[m[1]]), source)
    except KeyError as missing:
        import jinja2  # noqa: PLC0415 - the error Jinja raises for the same text

        raise jinja2.UndefinedError(f"{missing.args[0]!r} is undefined") from None


def _rendered(source: str, context: Mapping[str, Any]) -> str:
    """A text rendered: filled without compiling a Jinja template when it uses nothing but plain
    [[ name ]] placeholders (every shipped one; compiling is most of the render time), else by Jinja."""
    if _plain(source):
        return _filled(source, context)
    return _compiled(source).render(**context)


def _fill(source: str, context: dict[str, Any]) -> str:
    """A text of the tables rendered, without its surrounding white space."""
    return _rendered(source, context).strip()


def annotation(language: str, kind: str, table: Mapping[str, Any] | None = None, **context: Any) -> dict[str, str]:
    """Rendered summary and description of one alert kind, from table when given (a kind -> texts
    mapping), else from templates/annotations/<language>.yaml."""
    texts = (table if table is not None else text_table("annotations", language))[kind]
    return {key: _fill(texts[key], context) for key in ("summary", "description")}


def panel_text(language: str, key: str, **context: Any) -> str:
    """A dashboard or panel title in the spec's language."""
    return _fill(text_table("panels", language)[key], context)
