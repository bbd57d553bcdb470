"""Typer commands only; every HolystackError becomes a message and its exit code.

No `from __future__ import annotations` here: Typer reads every command's annotations on each run,
and annotations kept as strings would be compiled and evaluated again each time (a third of the
time Typer takes to start a command)."""

import gc
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from .defaults import DEFAULT_METRICS_PORT
from .live.scenarios import SCENARIOS
from .errors import HolystackError, UsageError

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  context_settings=HELP_OPTIONS,
                  help="One YAML spec becomes the whole, checked observability stack of an LLM API gateway.")
FORMATS = ("table", "json")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"holystack {version('holystack')}")
        raise typer.Exit(0)


@app.callback()
def _main(show_version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                     help="Print the version and exit.")] = False) -> None:
    """One YAML spec becomes the whole, checked observability stack of an LLM API gateway."""

SpecArg = Annotated[Path, typer.Argument(help="The spec file.", show_default=True)]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="The output folder.")]


@contextmanager
def _reported() -> Iterator[None]:
    """A HolystackError becomes its message on stderr and its exit code, with no traceback."""
    try:
        yield
    except HolystackError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(error.exit_code) from None


def _live() -> Any:
    """The live commands' module, loaded only when asked for; it needs the instrument extra."""
    try:
        from .live import run
    except ModuleNotFoundError as exc:
        if exc.name != "prometheus_client":
            raise
        raise UsageError("this command needs prometheus_client: pip install 'holystack[instrument]'") from None
    return run


@app.command()
def render(spec: SpecArg = Path("holystack.yaml"), out: OutOpt = Path("out"),
           check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 if OUT differs.")] = False
           ) -> None:
    """Render the stack into OUT, replacing what holystack wrote there before."""
    from .pipeline import check_drift, render_to  # not loaded before validate has started promtool

    with _reported():
        if check:
            drift = check_drift(spec, out)
            if drift.clean:
                typer.echo(f"{out} is current")
                return
            typer.echo(f"{out} differs from what {spec} renders:")
            for line in drift.lines():
                typer.echo(f"  {line}")
            raise typer.Exit(1)
        files = render_to(spec, out, warn=lambda message: typer.echo(f"warning: {message}", err=True))
    typer.echo(f"wrote {len(files)} files to {out}")


@app.command()
def validate(spec: SpecArg = Path("holystack.yaml"), out: OutOpt = Path("out"),
             strict: Annotated[bool, typer.Option("--strict", help="A missing promtool or amtool fails.")] = False,
             output_format: Annotated[str, typer.Option("--format", help="table (with a progress line per "
                                                        "check on a terminal) or json, for CI.")] = "table",
             ) -> None:
    """Check the stack rendered in OUT: promtool, amtool and holystack's own checks."""
    from .validate import validate as run_validate  # its checkers are not needed to render

    with _reported():
        if output_format not in FORMATS:
            raise UsageError(f"--format {output_format!r} is not one of {', '.join(FORMATS)}")
        progress = _progress_line if output_format == "table" and sys.stderr.isatty() else None
        report = run_validate(spec, out, strict, progress)
    typer.echo(report.as_json() if output_format == "json" else report.table())
    raise typer.Exit(1 if report.failed else 0)


def _progress_line(result: Any) -> None:
    """One line on the terminal per check as it finishes; the table follows at the end."""
    typer.echo(f"  {result.status.upper() if result.status != 'pass' else 'pass':<4}  {result.name}", err=True)


@app.command()
def simulate(spec: SpecArg,
             scenario: Annotated[str, typer.Option(help=", ".join(SCENARIOS) + ".")] = "healthy",
             duration: Annotated[str, typer.Option(help="How long to send traffic (Prometheus duration).")] = "60s",
             rps: Annotated[float, typer.Option(help="Calls per second.")] = 20.0,
             metrics_port: Annotated[int, typer.Option(help="Port of /metrics on 127.0.0.1 (0: any free one).")
                                     ] = DEFAULT_METRICS_PORT,
             seed: Annotated[int, typer.Option(help="Seed of the random draws, for repeatable runs.")] = 1,
             ) -> None:
    """Send fake LLM traffic on loopback through holystack.instrument and serve its /metrics."""
    with _reported():
        _live().run_simulate(spec, scenario, duration, rps, metrics_port, seed)


@app.command()
def upstream(scenario: Annotated[str, typer.Option(help=", ".join(SCENARIOS) + ".")] = "healthy",
             port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free one).")] = 0,
             seed: Annotated[int, typer.Option(help="Seed of the random draws, for repeatable runs.")] = 1,
             latency: Annotated[str, typer.Option(help="An answer's usual latency is 5-30% of this; the slow "
                                                       "scenario's calls take 1.5x it.")] = "1s",
             timeout: Annotated[str, typer.Option(help="Your client's timeout: a timed-out call is held 1s past "
                                                       "it, slow answers stay below it.")] = "10s",
             ) -> None:
    """Serve the fake LLM upstream (OpenAI, Anthropic and Gemini formats, the scenario's failures) on
    loopback and print its URL; point an SDK's base_url at URL/<any prefix>. Ctrl-C stops."""
    with _reported():
        _live().run_upstream(scenario, port, seed, latency, timeout)


@app.command()
def up(spec: SpecArg = Path("holystack.yaml"),
       scenario: Annotated[str, typer.Option(help="The traffic scenario, as for simulate.")] = "mixed",
       rps: Annotated[float, typer.Option(help="Calls per second.")] = 20.0,
       seed: Annotated[int, typer.Option(help="Seed of the random draws.")] = 1,
       fast: Annotated[bool, typer.Option("--fast/--real-clock", help="1s scrapes, 4s rate windows and 3s for:, "
                                           "so that alerts fire within a minute.")] = True,
       workdir: Annotated[Path | None, typer.Option(help="Keep the rendered stack, data and logs here "
                                                         "(default: a temporary folder, removed at exit).")] = None,
       engine: Annotated[str, typer.Option(help="prometheus, or victoriametrics: vmagent -> VictoriaMetrics "
                                                "<- vmalert -> Alertmanager.")] = "prometheus",
       source: Annotated[str | None, typer.Option(help="Run on this metric source: the spec moved onto it, "
                                                       "its live app (otel-genai: the openai SDK with OpenTelemetry, "
                                                       "the otel extra) calling the fake upstream. Default: the "
                                                       "spec's metrics.source.", show_default=False)] = None,
       ) -> None:
    """Run the stack locally: Prometheus and Alertmanager on loopback, fed by simulate (or by the
    source's live app). Ctrl-C stops."""
    with _reported():
        _live().run_up(spec, scenario, rps, seed, fast, workdir, engine, source)


@app.command()
def doctor(spec: SpecArg = Path("holystack.yaml"), out: OutOpt = Path("out"),
           prometheus: Annotated[str, typer.Option(help="Prometheus' URL, e.g. http://localhost:9090.",
                                                   show_default=False)] = ...,  # type: ignore[assignment]
           alertmanager: Annotated[str | None, typer.Option(help="Alertmanager's URL, e.g. http://localhost:9093 "
                                                            "(its checks are skipped without it).")] = None,
           output_format: Annotated[str, typer.Option("--format", help="table (one finding per line) or json.")
                                    ] = "table",
           timeout: Annotated[float, typer.Option(help="Seconds each HTTP request may take.")] = 10.0,
           vmalert: Annotated[str | None, typer.Option(help="vmalert's URL: --prometheus is then VictoriaMetrics, "
                                                       "and the rules and alerts are read from vmalert.")] = None,
           vmagent: Annotated[str | None, typer.Option(help="vmagent's URL, for its targets (with --vmalert).")
                              ] = None,
           ) -> None:
    """Check the running stack against the spec and OUT, read-only: exit 0 healthy, 1 with findings."""
    from .doctor import doctor as run_doctor

    with _reported():
        if output_format not in FORMATS:
            raise UsageError(f"--format {output_format!r} is not one of {', '.join(FORMATS)}")
        report = run_doctor(spec, out, prometheus, alertmanager, timeout, vmalert, vmagent)
    typer.echo(report.as_json() if output_format == "json" else report.table())
    raise typer.Exit(1 if report.failed else 0)


@app.command()
def prices(spec: SpecArg = Path("holystack.yaml"),
           output_format: Annotated[str, typer.Option("--format", help="table or json, for CI.")] = "table",
           ) -> None:
    """Each model's prices in the spec beside genai-prices' data; exit 1 when a typed price differs."""
    from .checks.prices import price_report  # needs genai-prices, the prices extra
    from .pipeline import load_stack
    from .pricedata import PriceDataMissing

    with _reported():
        if output_format not in FORMATS:
            raise UsageError(f"--format {output_format!r} is not one of {', '.join(FORMATS)}")
        stack = load_stack(spec)
        try:
            report = price_report(stack)
        except PriceDataMissing as missing:
            raise UsageError(str(missing)) from None
    typer.echo(report.as_json() if output_format == "json" else report.table())
    raise typer.Exit(1 if report.differs else 0)


cost_app = typer.Typer(no_args_is_help=True, help="Spend from the per-call ledger (PostgreSQL).")
app.add_typer(cost_app, name="cost")


@cost_app.command("report")
def cost_report(dsn: Annotated[str, typer.Option(envvar="HOLYSTACK_DSN", help="PostgreSQL DSN of the ledger "
                                                 "(or HOLYSTACK_DSN).", show_default=False)],
                month: Annotated[str | None, typer.Option(help="YYYY-MM (default: this month, UTC).")] = None,
                spec: Annotated[Path, typer.Option(help="The spec; its metrics prefix names the ledger's schema."
                                                   )] = Path("holystack.yaml"),
                plot: Annotated[Path | None, typer.Option(help="Also write daily spend by model as a PNG here."
                                                          )] = None,
                ) -> None:
    """The month's spend by provider and model, with totals."""
    from .cost_report import cost_report as report

    with _reported():
        typer.echo(report(spec, dsn, month, plot))


@app.command()
def schema() -> None:
    """Print the JSON Schema of the spec, for editors."""
    from .spec import load_schema

    typer.echo(json.dumps(load_schema(), indent=2))


def main() -> None:
    """Console script entry point. Usage errors exit 2, as Click does.

    A command runs once and the process ends. At exit the interpreter's last garbage collection
    would walk every object the run made, only to free memory the operating system takes back at
    once (about 80 ms of a render, 37 of it on the libraries' own objects): what is alive at the
    end is frozen out of it (gc.freeze). Nothing of holystack's is left to that collection: files
    are closed by their with blocks, temporary folders removed by theirs or by their finalizers,
    servers stopped by the commands that started them."""
    try:
        app(prog_name="holystack")
    finally:
        gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
