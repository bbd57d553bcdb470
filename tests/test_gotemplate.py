"""The Python expansion of alert templates matches Prometheus' functions (values from its docs and source)."""
from __future__ import annotations

import pytest

from holystack import gotemplate


@pytest.mark.parametrize(("value", "text"), [(1234567, "1.235M"), (0.0012, "1.2m"), (0, "0"), (999, "999"),
                                             (12_000_000, "12M")])
def test_humanize(value: float, text: str) -> None:
    assert gotemplate.humanize(value) == text


@pytest.mark.parametrize(("value", "text"), [(90, "1m 30s"), (2.425, "2.425s"), (0.25, "250ms"),
                                             (90061, "1d 1h 1m 1s"), (0, "0s")])
def test_humanize_duration(value: float, text: str) -> None:
    assert gotemplate.humanize_duration(value) == text


def test_expand_labels_value_and_printf() -> None:
    text = 'x {{ $labels.model }} {{ $value | humanizePercentage }} ${{ $value | printf "%.2f" }}'
    assert gotemplate.expand(text, {"model": "gpt-4.1"}, 0.1234) == "x gpt-4.1 12.34% $0.12"


def test_unsupported_actions_are_refused() -> None:
    assert gotemplate.check_supported("{{ range .Alerts }}") == ["range .Alerts"]
    with pytest.raises(ValueError):
        gotemplate.expand("{{ query \"up\" }}", {}, 1)
