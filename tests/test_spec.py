"""The bad-spec corpus: each file names the message it must get; nothing is ever written."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from holystack import SpecError, load_stack
from holystack.cli import app
from holystack.spec import check_spec_text

from .conftest import EXAMPLE, ROOT

BAD = sorted((ROOT / "tests" / "bad_specs").glob("*.yaml"))


def _expectation(path: Path) -> str:
    first = path.read_text("utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must open with '# expect: <message>'"
    return first.removeprefix("# expect: ")


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_spec_is_refused_with_its_message(path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_stack(path)
    assert _expectation(path) in str(caught.value)


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_spec_exits_2_writes_nothing_and_shows_no_traceback(path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["render", str(path), "-o", str(out)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert _expectation(path) in result.output
    assert not out.exists()


def test_bad_spec_corpus_is_large() -> None:
    assert len(BAD) >= 25


def test_every_problem_is_reported_with_its_line() -> None:
    text = EXAMPLE.read_text().replace("input: 8.00", "input: -8").replace("receiver: dingtalk\n", "receiver: x\n")
    with pytest.raises(SpecError) as caught:
        check_spec_text(text, "spec.yaml")
    lines = [str(p) for p in caught.value.problems]
    assert "models[0].prices.input: -8 is less than the minimum of 0 (line 40)" in lines
    assert any(line.startswith("alerting.routes[1].receiver: 'x' is not a defined receiver") and "(line 75)" in line
               for line in lines)


def test_alias_bomb_is_refused_without_expanding_it() -> None:
    """Shown by what is done, not by a clock: each node as written is sized once (a billion-node
    expansion would take hours), and the refusal comes from that size."""
    from holystack import spec as spec_module

    bomb = ROOT / "tests" / "bad_specs" / "alias-bomb.yaml"
    with pytest.raises(SpecError, match="alias bomb"):
        load_stack(bomb)
    memo: dict[int, int] = {}
    node = spec_module._compose(bomb.read_text(), str(bomb))
    assert spec_module._expanded_size(node, memo) > spec_module.MAX_EXPANDED_NODES
    assert len(memo) < 1000  # the nodes as written, each sized once


def test_reference_spec_is_valid() -> None:
    stack = load_stack(EXAMPLE)
    assert stack.name == "holysheep" and stack.alert_prefix == "HolySheep"
    assert [m.name for m in stack.models][-1] == "text-embedding-3-small"


def test_defaults_fill_a_minimal_spec(tmp_path: Path) -> None:
    spec = tmp_path / "min.yaml"
    spec.write_text(
        "version: 1\nname: mini\nalert_prefix: Mini\nmetrics: {prefix: mini}\n"
        "scrape: {jobs: [{name: app, targets: ['app:9464']}]}\n"
        "providers: [{name: p}]\nendpoints: [{path: /chat/completions}]\n"
        "models: [{name: m, prices: {input: 1}}]\n"
        "alerting: {default_receiver: r, receivers: [{name: r}]}\n")
    stack = load_stack(spec)
    assert str(stack.rate_window) == "5m" and str(stack.scrape_interval) == "15s"
    assert stack.thresholds.daily_budget_usd is None
    assert stack.language == "en" and stack.dashboards.datasource == "Prometheus"
