"""hygiene.py and secrets.py directly: bounds that name the generated tests, RE2, addresses, and
secrets found in every form without ever being repeated."""
from __future__ import annotations

import pytest
import yaml

from holystack.hygiene import host_port_problem, re2_problem, url_problem
from holystack.render.alerts.promtool import RUN
from holystack.semantics import TEST_RUN
from holystack.secrets import config_secrets, url_secret

from .conftest import EXAMPLE


def test_test_horizon_is_the_generated_tests_run() -> None:
    assert TEST_RUN == RUN


@pytest.mark.parametrize("pattern, ok", [("crit.*", True), ("warning|critical", True), ("(?=crit)", False),
                                         (r"(a)\1", False), ("a{1001}", False), ("(?i)crit", True), ("[", False)])
def test_regexes_are_checked_as_re2(pattern: str, ok: bool) -> None:
    assert (re2_problem(pattern) is None) is ok


@pytest.mark.parametrize("value, ok", [("localhost:9090", True), ("[::1]:9093", True), ("10.0.0.1:25", True),
                                       ("http://prometheus:9090", False), ("$(rm -rf /):1", False),
                                       ("host:0", False), ("host:70000", False), ("host", False)])
def test_host_port(value: str, ok: bool) -> None:
    assert (host_port_problem(value) is None) is ok


@pytest.mark.parametrize("url, ok", [("https://grafana.example.com", True), ("ftp://x/", False), ("https://", False),
                                     ("http://h:99999/", False), ("https://g/?a=1", False)])
def test_appended_urls(url: str, ok: bool) -> None:
    assert (url_problem(url, appended=True) is None) is ok


SECRET_URLS = [
    "https://admin:PASSWORD@host/", "ftp://admin:PASSWORD@host/", "https://fn.example.com/api?code=S3cr3tValue",
    "https://h.example.com/in?k=S3cr3tValue", "https://h.example.com/in;token=S3cr3tValue",
    "https://h.example.com/in#access_token=S3cr3tValue", "https://h.example.com/in?x=1&apiKey=S3cr3tValue",
    "https://h.example.com/in?X-Amz-Signature=S3cr3tValue", "https://hooks.slack.com/services/T0/B0/S3cr3tValue",
    "https://discord.com/api/webhooks/1/S3cr3tValue", "https://acme.webhook.office.com/webhookb2/S3cr3tValue",
    "https://events.pagerduty.com/integration/S3cr3tValue/enqueue", "https://api.opsgenie.com/v1/json/alertmanager?x=S3cr3tValue",
    "https://api.telegram.org/botS3cr3tValue/sendMessage", "https://h.example.com/hooks/a1b2c3d4e5f6a7b8c9d0e1f2a3b4",
]
PLAIN_URLS = ["http://dingtalk-webhook:8060/dingtalk/ops/send", "https://api.opsgenie.com/", "https://h.example.com/alerts?team=ops",
              "https://grafana.example.com/d/abc", "http://127.0.0.1:9999/pager"]


@pytest.mark.parametrize("url", SECRET_URLS)
def test_secret_urls_are_found_and_never_repeated(url: str) -> None:
    kind = url_secret(url)
    assert kind is not None and "S3cr3tValue" not in kind and "PASSWORD" not in kind


@pytest.mark.parametrize("url", PLAIN_URLS)
def test_plain_urls_pass(url: str) -> None:
    assert url_secret(url) is None


def test_validate_reads_the_same_definitions() -> None:
    config = {"receivers": [
        {"name": "a", "webhook_configs": [{"url": "https://hooks.slack.com/services/T0/B0/S3cr3tValue"}]},
        {"name": "b", "opsgenie_configs": [{"api_key_file": "/k", "api_url": "https://api.opsgenie.com/?apiKey=S3cr3tValue"}]},
        {"name": "c", "slack_configs": [{"api_url": "https://x"}]},
        {"name": "d", "webhook_configs": [{"url": "http://ok:8080/"}]}]}
    findings = config_secrets(config)
    assert sorted(f.split(":")[0] for f in findings) == ["receiver a", "receiver b", "receiver c"]
    assert not any("S3cr3tValue" in f for f in findings)
    assert config_secrets(yaml.safe_load(yaml.safe_dump({"receivers": []}))) == []


def test_reference_spec_is_clean() -> None:
    from holystack.hygiene import hygiene_problems
    from holystack.secrets import secret_problems

    data = yaml.safe_load(EXAMPLE.read_text())
    assert hygiene_problems(data) == [] and secret_problems(data) == []


# -- per item: a wrongly shaped item is skipped alone ----------------------------------------
_PROBLEMS = {
    "providers[1].timeout": "300y must be above 0s",
    "remote_write[1].url": "the URL carries credentials",
    "models[1].prices.input": "is above 0 but below",
}
_SEEDED = {
    "providers": [7, {"name": "holysheep", "timeout": "300y"}],
    "remote_write": ["oops", {"url": "https://u:p@mimir.example.com/push"}],
    "models": [None, {"name": "m", "prices": {"input": 0.0001}}],
}
_WRONG_SHAPES = [None, "text", 3, ["a", 1], {"x": 1}]


def _raw_findings(data: dict) -> list[str]:
    from holystack.errors import format_path
    from holystack.semantics import raw_problems

    return [f"{format_path(path)}: {message}" for path, message in raw_problems(data)]


@pytest.mark.parametrize("section", ["alerting", "scrape", "thresholds", "dashboards", "metrics", "kubernetes"])
@pytest.mark.parametrize("shape", _WRONG_SHAPES, ids=repr)
def test_a_wrongly_shaped_section_hides_no_other_problem(section: str, shape: object) -> None:
    """With alerting: (or any section) missing or of the wrong shape, and items of the wrong shape
    beside good ones, every other problem is still reported."""
    data = {**yaml.safe_load(EXAMPLE.read_text()), **_SEEDED}
    if shape is None:
        data.pop(section, None)
    else:
        data[section] = shape
    found = _raw_findings(data)
    for path, message in _PROBLEMS.items():
        assert any(line.startswith(path) and message in line for line in found), (path, found)


def test_missing_alerting_still_reports_the_provider_timeout(tmp_path) -> None:
    from holystack import SpecError, load_stack

    text = EXAMPLE.read_text().replace("timeout: 30s", "timeout: 300y")
    head, rest = text.split("\nalerting:\n", 1)
    spec = tmp_path / "spec.yaml"
    spec.write_text(head + "\ndashboards:\n" + rest.split("\ndashboards:\n", 1)[1])
    with pytest.raises(SpecError) as caught:
        load_stack(spec)
    assert "providers[0].timeout: 300y must be above 0s" in str(caught.value)
    assert "alerting: is required but missing" in str(caught.value)
