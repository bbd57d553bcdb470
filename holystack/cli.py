"""Typer commands only; every HolystackError becomes a message and its exit code."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from .errors import HolystackError
from .pipeline import check_drift, render_to
from .spec import load_schema

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="One YAML spec becomes the whole, checked observability stack of an LLM API gateway.")

SpecArg = Annotated[Path, typer.Argument(help="The spec file.", show_default=True)]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="The output folder.")]


def _fail(error: HolystackError) -> NoReturn:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(error.exit_code)


@app.command()
def render(spec: SpecArg = Path("holystack.yaml"), out: OutOpt = Path("out"),
           check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 if OUT differs.")] = False
           ) -> None:
    """Render the stack into OUT, replacing what holystack wrote there before."""
    try:
        if check:
            drift = check_drift(spec, out)
            if drift.clean:
                typer.echo(f"{out} is current")
                return
            typer.echo(f"{out} differs from what {spec} renders:")
            for line in drift.lines():
                typer.echo(f"  {line}")
            raise typer.Exit(1)
        files = render_to(spec, out)
    except HolystackError as error:
        _fail(error)
    typer.echo(f"wrote {len(files)} files to {out}")


@app.command()
def validate(spec: SpecArg = Path("holystack.yaml"), out: OutOpt = Path("out"),
             strict: Annotated[bool, typer.Option("--strict", help="A missing promtool or amtool fails.")] = False
             ) -> None:
    """Check the stack rendered in OUT: promtool, amtool and holystack's own checks."""
    from .validate import validate as run_validate  # its checkers are not needed to render

    try:
        report = run_validate(spec, out, strict)
    except HolystackError as error:
        _fail(error)
    typer.echo(report.table())
    raise typer.Exit(1 if report.failed else 0)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the spec, for editors."""
    typer.echo(json.dumps(load_schema(), indent=2))


def main() -> None:
    """Console script entry point. Usage errors exit 2, as Click does."""
    app(prog_name="holystack")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
