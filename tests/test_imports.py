"""Dependencies point one way: the application-side instrumentation loads none of the generator."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import holystack

from .conftest import EXAMPLE

GENERATOR_ONLY = ("jinja2", "grafanalib", "jsonschema", "typer", "promql_parser")
# Dependencies of other commands and extras than render: validate's parsers, the instrumentation, the
# ledger client, the price data, the live servers' HTTP, the property tests.
OTHER_DEPENDENCIES = ("promql_parser", "re2", "_re2", "prometheus_client", "psycopg", "psycopg2", "genai_prices",
                      "httpx", "aiohttp", "hypothesis", "opentelemetry", "litellm")


def _imported_modules(statement: str) -> set[str]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", statement], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    modules = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip())
    return modules


def test_importing_the_instrumentation_loads_no_generator_code() -> None:
    modules = _imported_modules("import holystack.instrument")
    assert "prometheus_client" in modules  # the measurement saw the imports
    loaded = sorted(m for m in modules if m.split(".")[0] in GENERATOR_ONLY)
    assert loaded == [], loaded
    assert not any(m.startswith(("holystack.render", "holystack.checks", "holystack.cli")) for m in modules)


def test_an_instrument_from_a_spec_file_loads_the_spec_reader_alone() -> None:
    """The README's one-liner reads the spec through holystack.spec: no renderer, no pipeline, no
    templates or dashboards library (they are the generator's)."""
    program = ("import sys; import holystack.instrument; from prometheus_client import CollectorRegistry; "
               f"i = holystack.instrument.Instrument.from_spec({str(EXAMPLE)!r}, registry=CollectorRegistry()); "
               "print(len(i.providers)); print(' '.join(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    count, modules = done.stdout.splitlines()
    assert int(count) > 0 and "holystack.spec" in modules.split()  # it did read the spec
    loaded = [m for m in modules.split()
              if m.startswith(("holystack.render", "holystack.pipeline")) or m.split(".")[0] in ("jinja2", "grafanalib")]
    assert loaded == [], loaded


def test_importing_the_package_loads_nothing_until_a_name_is_used() -> None:
    modules = _imported_modules("import holystack")
    assert not any(m.split(".")[0] in GENERATOR_ONLY for m in modules)
    assert any(m.startswith("jsonschema") for m in _imported_modules("import holystack; holystack.load_stack"))


def _holystack_imports() -> dict[str, set[str]]:
    """Module -> the holystack modules it imports, at any depth of its code (function-level too)."""
    root = Path(holystack.__file__).parent
    modules = {".".join(p.relative_to(root.parent).with_suffix("").parts).removesuffix(".__init__"): p
               for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module or ""
                for alias in node.names:
                    candidate = f"{target}.{alias.name}"
                    found.add(candidate if candidate in modules else target)
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_no_import_circle() -> None:
    graph = _holystack_imports()
    assert len(graph) > 40
    circles = []
    for start in sorted(graph):
        stack = [(start, (start,))]
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    circles.append(path)
                elif nxt not in path:
                    stack.append((nxt, path + (nxt,)))
    # A package's __init__ importing its own modules is not a circle unless a module imports the package back.
    assert circles == [], sorted(set(tuple(sorted(c)) for c in circles))


def test_genai_prices_loads_only_for_a_spec_that_uses_it(tmp_path: Path) -> None:
    """The prices extra: neither the instrumentation nor a render of hand-typed prices loads it."""
    example = Path(__file__).parent.parent / "examples" / "holysheep.yaml"
    assert not any(m.startswith("genai_prices") for m in _imported_modules("import holystack.instrument"))
    plain = f"from holystack.pipeline import render_files; render_files(__import__('pathlib').Path({str(example)!r}))"
    assert not any(m.startswith("genai_prices") for m in _imported_modules(plain))
    priced = Path(__file__).parent / "cases" / "genai-prices" / "spec.yaml"
    used = f"from holystack.pipeline import render_files; render_files(__import__('pathlib').Path({str(priced)!r}))"
    assert any(m.startswith("genai_prices") for m in _imported_modules(used))


def test_rendering_a_plain_spec_imports_only_what_it_needs() -> None:
    """Kubernetes objects and separate rulers only for specs that ask for them; PromQL parsing and
    RE2 are validate's (the render floor of bench/render.py); grafanalib's encoder module (argparse) is not needed;
    of the metric sources, only the spec's own (holystack.sources.SOURCE_MODULES); the checks of a
    kubernetes: section (and the API server's naming rules) only for a spec that has one."""
    modules = _imported_modules(f"from pathlib import Path; from holystack.pipeline import render_files; "
                                f"render_files(Path({str(EXAMPLE)!r}))")
    assert "holystack.render.prometheus" in modules  # it did render
    unneeded = {"holystack.render.kubernetes", "holystack.render.rulers", "promql_parser", "re2", "_re2",
                "holystack.checks.promql_ast", "grafanalib._gen",
                "holystack.sources.litellm", "holystack.sources.litellm_cases", "holystack.sources.otel_genai",
                "holystack.semantics_kubernetes", "holystack.kubenames"}
    assert sorted(modules & unneeded) == []


def test_the_render_command_loads_no_other_command(tmp_path: Path) -> None:
    """`holystack render` loads what rendering needs: no instrumentation, validation, doctor, ledger
    client, live servers or validate-only parsers. Of holystack.live only the scenario table, which
    the simulate and upstream commands' --scenario help lists (Typer builds every command's help)."""
    out = tmp_path / "out"
    modules = _imported_modules(f"import sys; sys.argv = ['holystack', 'render', {str(EXAMPLE)!r}, '-o', {str(out)!r}]; "
                                "from holystack.cli import main; main()")
    assert "holystack.render.prometheus" in modules and (out / ".holystack-manifest").is_file()  # it did render
    not_render = ("holystack.instrument", "holystack.checks", "holystack.doctor", "holystack.validate",
                  "holystack.cost_report", "holystack.pricedata", "holystack.render.kubernetes",
                  "holystack.render.rulers", "holystack.sources.litellm", "holystack.sources.otel_genai")
    loaded = sorted(m for m in modules
                    if m.startswith(not_render) or m.split(".")[0] in OTHER_DEPENDENCIES
                    or (m.startswith("holystack.live.") and m != "holystack.live.scenarios"))
    assert loaded == [], loaded


def test_a_kubernetes_spec_loads_its_checks_and_renderer() -> None:
    """The other side of the lazy imports above: a spec with kubernetes: loads them."""
    spec = Path(__file__).parent / "cases" / "holysheep-k8s" / "spec.yaml"
    modules = _imported_modules(f"from pathlib import Path; from holystack.pipeline import render_files; "
                                f"render_files(Path({str(spec)!r}))")
    assert {"holystack.semantics_kubernetes", "holystack.kubenames", "holystack.render.kubernetes"} <= modules


def test_validate_starts_promtool_before_the_spec_s_model_and_the_renderers_load() -> None:
    """validate starts the tools on OUT's manifest first (holystack/validate.py): what it loads before
    that is the CLI, validate and the tool runner; the model, the spec reader and the renderers (and
    their libraries) load while promtool runs."""
    modules = _imported_modules("import holystack.cli, holystack.validate")
    assert "holystack.checks.rule_subsets" in modules  # it did load the tool runner
    heavy = sorted(m for m in modules if m.split(".")[0] in ("jinja2", "grafanalib", "jsonschema", "genai_prices")
                   or m.startswith(("holystack.render", "holystack.model", "holystack.spec", "holystack.pipeline")))
    assert heavy == [], heavy
