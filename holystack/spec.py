"""Read a spec file and model it: YAML (duplicate keys and alias bombs refused), the raw-input
checks, the JSON Schema, then the model (model.py, every default applied once) and the rules
beyond the schema, checked on the model (semantics.py). Every problem is collected with its path
and YAML line, and reported together."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import Problem, SpecError, SpecPath, format_path
from .model import Stack, build_model
from .output import display_name
from .secrets import secret_paths
from .semantics import raw_problems, semantic_problems
from .sources import DEFAULT_SOURCE, source_names
from .thresholds import schema_properties
from .yamlload import YAML_LOADER

# A spec is a few hundred nodes; the reference one about 300. An alias bomb expands
# to billions. Anything past this many nodes, counted with aliases expanded, is refused.
MAX_EXPANDED_NODES = 200_000
MAX_SPEC_BYTES = 5 * 1024 * 1024



def load_schema() -> dict[str, Any]:
    """The JSON Schema of the spec, shipped inside the package."""
    text = resources.files("holystack.schema").joinpath("spec.schema.json").read_text("utf-8")
    schema = json.loads(text)
    # The source names are defined once, by the source registry; the thresholds by their declarations.
    schema["properties"]["metrics"]["properties"]["source"]["enum"] = list(source_names())
    thresholds = schema["properties"]["thresholds"]
    thresholds.pop("$comment", None)  # says where the properties come from: here
    thresholds["properties"] = schema_properties()
    return schema


class _Loader(YAML_LOADER):  # type: ignore[misc, valid-type]
    """SafeLoader (libyaml when present) that keeps the node tree so that errors can name lines."""


def _compose(text: str, source: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(source, [Problem("", f"not valid YAML: {problem}", line)]) from None


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Node count with every alias expanded; shared subtrees are counted once per use."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = MAX_EXPANDED_NODES + 1  # a cycle counts as too large
    if isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(item, memo) for item in node.value)
    else:
        size = 1
    memo[key] = min(size, MAX_EXPANDED_NODES + 1)
    return memo[key]


MERGE_TAG = "tag:yaml.org,2002:merge"


def _key_of(key_node: yaml.Node) -> tuple[Any, str | None]:
    """A mapping key as YAML resolves it (so that `~` and `null`, or `1` and `0x1`, are the same key),
    and why it cannot be a spec key: every key of a spec is text."""
    if not isinstance(key_node, yaml.ScalarNode):
        return repr(key_node.value)[:60], "a key must be text, not a list or a mapping"
    if key_node.tag == MERGE_TAG:
        return key_node.value, None
    try:
        key = _Loader("").construct_object(key_node)
    except yaml.YAMLError:
        return key_node.value, None  # construct_document names the problem
    if isinstance(key, str):
        return key, None
    kind = "null" if key is None else type(key).__name__
    return (key, f"YAML reads the key {key_node.value!r} as {kind}, not text; quote it "
                 f"(\"{key_node.value}\") or rename it: every key of a spec is text")


def _walk_nodes(node: yaml.Node, path: SpecPath, lines: dict[SpecPath, int], problems: list[Problem]) -> None:
    """Record the line of every path, and every duplicate or non-text mapping key. Keys are
    compared as YAML resolves them."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key, refused = _key_of(key_node)
            line = key_node.start_mark.line + 1
            name = key if isinstance(key, str) else str(getattr(key_node, "value", key))
            if refused:
                problems.append(Problem(format_path(path + (name,)), refused, line))
                continue
            marker = (type(key).__name__, key)
            if marker in seen:
                problems.append(Problem(
                    format_path(path + (name,)),
                    f"duplicate key (first given on line {seen[marker]}); give each key once",
                    line,
                ))
                continue
            seen[marker] = line
            lines[path + (name,)] = line
            _walk_nodes(value_node, path + (name,), lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk_nodes(item, path + (index,), lines, problems)


def _line_for(lines: dict[SpecPath, int], path: SpecPath) -> int | None:
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path)


def _schema_message(error: jsonschema.ValidationError) -> tuple[SpecPath, str]:
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        key = extra[0] if extra else "?"
        return path + (key,), f"unknown field; allowed here: {', '.join(allowed)}"
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return path + (missing,), "is required but missing"
    if error.validator == "pattern" and "duration" in str(error.schema.get("description", "")):
        return path, f"{error.instance!r} is not a Prometheus duration such as 30s, 5m or 1h"
    if error.validator == "not" and "description" in error.schema:
        return path, error.schema["description"]
    if error.validator == "enum" and path == ("metrics", "source"):
        return path, (f"{error.instance!r} is not a known metric source; use one of "
                      f"{', '.join(source_names())} (or leave it out for {DEFAULT_SOURCE})")
    if error.validator == "const":
        return path, f"{error.instance!r} is not supported; this holystack reads spec version 1"
    return path, error.message


def _read_text(path: Path | str) -> str:
    source = str(path)
    raw = _read_capped(Path(path), source)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(source, [Problem("", f"not UTF-8 text (byte {exc.start}); save the spec as UTF-8")]) from None


def _read_capped(spec_path: Path, source: str) -> bytes:
    """The bytes of a regular file of at most MAX_SPEC_BYTES, read without blocking on a FIFO and
    without reading more than the cap from a device; anything but a regular file is refused."""
    import os
    import stat

    too_large = Problem("", f"file is larger than {MAX_SPEC_BYTES // 1024 // 1024} MiB; a spec is a few KiB")
    try:
        fd = os.open(spec_path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise SpecError(source, [Problem("", "file not found; pass the path of a holystack spec (default ./holystack.yaml)")]) from None
    except OSError as exc:
        raise SpecError(source, [Problem("", f"cannot read the file: {exc.strerror}")]) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = ("a folder" if stat.S_ISDIR(info.st_mode) else "a FIFO" if stat.S_ISFIFO(info.st_mode)
                else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "not a regular file")
        raise SpecError(source, [Problem("", f"is {kind}, not a regular file; pass the path of a spec file")])
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > MAX_SPEC_BYTES:
            raise SpecError(source, [too_large])
        try:
            raw = handle.read(MAX_SPEC_BYTES + 1)
        except OSError as exc:
            raise SpecError(source, [Problem("", f"cannot read the file: {exc.strerror}")]) from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(source, [too_large])
    return raw


def read_spec(path: Path | str) -> dict[str, Any]:
    """Load and check a spec file; returns the valid data (as written, without defaults) or raises
    SpecError with every problem."""
    return _checked(_read_text(path), str(path), display_name(Path(path).name))[0]


def read_stack(path: Path | str) -> Stack:
    """Load, check and model a spec file; raises SpecError with every problem."""
    return _checked(_read_text(path), str(path), display_name(Path(path).name))[1]


def check_spec_text(text: str, source: str = "<spec>") -> dict[str, Any]:
    """The checks of read_spec on text already in memory."""
    return _checked(text, source, display_name(Path(source).name))[0]


def _checked(text: str, source: str, source_name: str) -> tuple[dict[str, Any], Stack]:
    node = _compose(text, source)
    if node is None:
        raise SpecError(source, [Problem("", "the file is empty; start from examples/holysheep.yaml")])
    if _expanded_size(node, {}) > MAX_EXPANDED_NODES:
        raise SpecError(source, [Problem("", f"more than {MAX_EXPANDED_NODES} values once YAML aliases are expanded; "
                                             "refused as an alias bomb. Write the spec out without nested aliases")])
    lines: dict[SpecPath, int] = {}
    problems: list[Problem] = []
    _walk_nodes(node, (), lines, problems)
    if problems:
        raise SpecError(source, problems)
    try:
        data = _Loader("").construct_document(node)
    except yaml.YAMLError as exc:
        raise SpecError(source, [Problem("", f"not valid YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise SpecError(source, [Problem("", "the top level must be a mapping of fields (version, name, ...)")])

    findings = raw_problems(data)
    refused = secret_paths(findings)
    schema_failed = False
    for error in jsonschema.Draft202012Validator(load_schema()).iter_errors(data):
        schema_failed = True
        for leaf in _leaf_errors(error):
            where, message = _schema_message(leaf)
            if tuple(leaf.absolute_path)[:4] not in refused:
                problems.append(Problem(format_path(where), message, _line_for(lines, where)))
    stack = _model(data, source_name, schema_failed)
    if stack is not None:
        findings += semantic_problems(stack, schema_failed)
    problems += [Problem(format_path(where), message, _line_for(lines, where)) for where, message in findings]
    if problems:
        problems = sorted(set(problems), key=lambda p: (p.line or 0, p.path, p.message))
        raise SpecError(source, problems)
    assert stack is not None  # the schema passed, so the model was built
    return data, stack


def _model(data: dict[str, Any], source_name: str, schema_failed: bool) -> Stack | None:
    """The model of the data. Data the schema refused may not have the model's shape: then there is
    no model (and no semantic check), and the schema's problems are reported alone. Data the schema
    passed always has it; a failure there is a bug, and raises."""
    if not schema_failed:
        return build_model(data, source_name)
    try:
        return build_model(data, source_name)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return None


def _leaf_errors(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """For a failed anyOf/oneOf of objects, the most relevant sub-error, not the whole union."""
    if error.validator in ("anyOf", "oneOf") and error.context and not isinstance(error.instance, dict):
        best = jsonschema.exceptions.best_match(error.context)
        return [best] if best is not None else [error]
    return [error]
