"""Names of the recording rules, defined once: rules, alerts, dashboards and tests read them here.

Names follow level:metric:operations. A ratio is a separately summed numerator over a
separately summed denominator, never an average of ratios."""
from __future__ import annotations

from . import contract as c
from .frozen import frozen
from .model import Stack

# The labels the request ratios keep: one series per provider, endpoint and model.
CALL_LABELS = (c.PROVIDER, c.ENDPOINT, c.MODEL)
# The cut of the latency buckets, for the alert (each endpoint has its own threshold) and the panels
# (by endpoint, filtered by provider and endpoint), never provider x endpoint x model x le.
LATENCY_LABELS = (c.PROVIDER, c.ENDPOINT)
# The dashboards' cut of calls by status code.
STATUS_LABELS = (c.PROVIDER, c.ENDPOINT, c.STATUS_CODE)
TOKEN_LABELS = (c.PROVIDER, c.MODEL, c.TOKEN_TYPE)
COST_LABELS = (c.PROVIDER, c.MODEL)
PRICE_LABELS = (c.MODEL, c.TOKEN_TYPE)
FALLBACK_LABELS = (c.FROM_PROVIDER, c.TO_PROVIDER)
# A logical call is the users' view: no provider, whichever one served it.
LOGICAL_CALL_LABELS = (c.ENDPOINT, c.MODEL)
HEADROOM_LABELS = (c.PROVIDER, c.MODEL, c.RESOURCE)
TOKEN_RATE_LABELS = PRICE_LABELS
QUANTILE = "quantile"
P95 = "0.95"
# The operation of a recorded counter step: the increase since the previous evaluation.
STEP = "increase_step"

# Status classes with a ratio rule each: name -> regex on status_code.
STATUS_CLASSES = {
    "rate_limited": c.RATE_LIMITED,
    "server_error": c.SERVER_ERROR,
    "timeout": c.STATUS_TIMEOUT,
    "success": c.SUCCESS,
    "failed": c.FAILED,
}


def _level(labels: tuple[str, ...]) -> str:
    return "_".join(labels)


@frozen
class Series:
    """Recording rule names for one stack."""

    stack: Stack

    @property
    def _prefix(self) -> str:
        return self.stack.contract.prefix

    @property
    def _window(self) -> str:
        return str(self.stack.rate_window)

    @property
    def requests(self) -> str:
        return f"{_level(CALL_LABELS)}:{self._prefix}_requests:rate{self._window}"

    def ratio(self, status_class: str) -> str:
        """Share of calls in a status class (see STATUS_CLASSES)."""
        return f"{_level(CALL_LABELS)}:{self._prefix}_requests_{status_class}:ratio_rate{self._window}"

    @property
    def requests_by_provider_model(self) -> str:
        """Calls per second by provider and model (dashboards: cost per call, the 429 ratio)."""
        return f"{_level(COST_LABELS)}:{self._prefix}_requests:rate{self._window}"

    def ratio_by_provider_model(self, status_class: str) -> str:
        """Share of calls in a status class by provider and model (dashboards)."""
        return f"{_level(COST_LABELS)}:{self._prefix}_requests_{status_class}:ratio_rate{self._window}"

    @property
    def requests_by_status(self) -> str:
        """Calls per second by provider, endpoint and status code (dashboards)."""
        return f"{_level(STATUS_LABELS)}:{self._prefix}_requests:rate{self._window}"

    @property
    def duration_buckets(self) -> str:
        """Bucket rates per provider and endpoint."""
        return f"{_level(LATENCY_LABELS + (c.LE,))}:{self._prefix}_request_duration_seconds_bucket:rate{self._window}"

    @property
    def duration_quantile(self) -> str:
        """The p95 latency per provider and endpoint; the quantile label says which."""
        return f"{_level(LATENCY_LABELS)}:{self._prefix}_request_duration_seconds:histogram_quantile_rate{self._window}"

    @property
    def tokens(self) -> str:
        """Tokens per second by model and token_type (the alert sums them; no provider: dashboards)."""
        return f"{_level(TOKEN_RATE_LABELS)}:{self._prefix}_tokens:rate{self._window}"

    @property
    def token_price(self) -> str:
        """USD per token by model and token_type; for cached_prompt, cached_input - input."""
        return f"{_level(PRICE_LABELS)}:{self._prefix}_token_price_usd:spec"

    @property
    def cost_rate(self) -> str:
        """USD per second by provider and model."""
        return f"{_level(COST_LABELS)}:{self._prefix}_cost_usd:rate{self._window}"

    @property
    def source_spend_rate(self) -> str:
        """USD per second by provider and model as the metric source itself reports it (litellm)."""
        return f"{_level(COST_LABELS)}:{self._prefix}_source_spend_usd:rate{self._window}"

    @property
    def cost_step(self) -> str:
        """USD spent since the previous evaluation, by provider and model, at the prices of the time."""
        return f"{_level(COST_LABELS)}:{self._prefix}_cost_usd:{STEP}"

    @property
    def cost_step_total(self) -> str:
        """USD spent since the previous evaluation, all providers and models."""
        return f"{self._prefix}_cost_usd:{STEP}"

    @property
    def cost_24h(self) -> str:
        """USD over the trailing 24 h, all providers and models: a sum of recorded steps."""
        return f"{self._prefix}_cost_usd:increase24h"

    @property
    def cost_month_to_date(self) -> str:
        """USD spent since the start of the calendar month (UTC), kept with the prices of the time."""
        return f"{self._prefix}_cost_usd:month_to_date"

    @property
    def cost_month_to_date_by_model(self) -> str:
        """The month to date by provider and model, for the dashboards."""
        return f"{_level(COST_LABELS)}:{self._prefix}_cost_usd:month_to_date"

    # -- SLOs, per endpoint ------------------------------------------------------------------------
    @property
    def availability(self) -> "SloSeries":
        """The availability SLO, on logical calls (what the users experienced): the failed ones (last
        attempt 5xx, timeout, error) are bad; its budget is the error budget."""
        return SloSeries(self._prefix, str(self.stack.slo.period), "calls", "calls_failed", "error_budget",
                         "slo_objective")

    @property
    def latency(self) -> "SloSeries":
        """The latency SLOs, on P_call_duration_seconds (the wait the users had): the calls slower than
        the endpoint's threshold are bad."""
        return SloSeries(self._prefix, str(self.stack.slo.period), "call_duration_calls", "calls_slow",
                         "latency_budget", "latency_slo_objective")

    # -- the instrumented client: logical calls, retries, fallbacks, breakers, headroom, first token
    @property
    def calls(self) -> str:
        """Logical calls per second, whatever their retries and fallbacks: what the users asked for."""
        return f"{self._prefix}_calls:rate{self._window}"

    @property
    def calls_by_endpoint_model(self) -> str:
        """Logical calls per second by endpoint and model."""
        return f"{_level(LOGICAL_CALL_LABELS)}:{self._prefix}_calls:rate{self._window}"

    def call_ratio(self, status_class: str) -> str:
        """Share of logical calls in a status class (of their last attempt), by endpoint and model."""
        return f"{_level(LOGICAL_CALL_LABELS)}:{self._prefix}_calls_{status_class}:ratio_rate{self._window}"

    @property
    def fallback_share(self) -> str:
        """Share of the logical calls that moved along each fallback edge (from_provider, to_provider)."""
        return f"{_level(FALLBACK_LABELS)}:{self._prefix}_fallbacks:ratio_rate{self._window}"

    @property
    def retry_ratio(self) -> str:
        """Retried attempts over all attempts, per provider."""
        return f"{c.PROVIDER}:{self._prefix}_retries:ratio_rate{self._window}"

    @property
    def ratelimit_headroom(self) -> str:
        """x-ratelimit remaining over limit, the lowest any instance reports, per provider, model, resource."""
        return f"{_level(HEADROOM_LABELS)}:{self._prefix}_ratelimit_headroom:min"

    @property
    def circuit_state(self) -> str:
        """1 where any instance's breaker of a provider is in that state."""
        return f"{_level((c.PROVIDER, c.STATE))}:{self._prefix}_circuit_state:max"

    @property
    def ttft_buckets(self) -> str:
        """Time-to-first-token bucket rates per endpoint (streams only)."""
        return f"{_level((c.ENDPOINT, c.LE))}:{self._prefix}_time_to_first_token_seconds_bucket:rate{self._window}"

    @property
    def ttft_quantile(self) -> str:
        """p95 time to first token per endpoint; the quantile label says which."""
        return f"{c.ENDPOINT}:{self._prefix}_time_to_first_token_seconds:histogram_quantile_rate{self._window}"


@frozen
class SloSeries:
    """The recorded names of one kind of SLO, per endpoint (Series.availability, Series.latency)."""

    prefix: str
    period: str
    calls_stem: str
    bad_stem: str
    budget_stem: str
    objective_stem: str

    def _name(self, stem: str, operation: str) -> str:
        return f"{c.ENDPOINT}:{self.prefix}_{stem}:{operation}"

    @property
    def calls_step(self) -> str:
        """Logical calls since the previous evaluation: exact counter steps."""
        return self._name(self.calls_stem, STEP)

    @property
    def bad_step(self) -> str:
        """The bad ones among them, since the previous evaluation."""
        return self._name(self.bad_stem, STEP)

    def calls(self, window: str) -> str:
        """Logical calls per second over window."""
        return self._name(self.calls_stem, f"rate{window}")

    def bad_ratio(self, window: str) -> str:
        """Share of logical calls that count against the SLO over window."""
        return self._name(self.bad_stem, f"ratio_rate{window}")

    def burn(self, window: str) -> str:
        """Bad share over the budget: 1 spends the budget in exactly the SLO period."""
        return self._name(f"{self.budget_stem}_burn", f"rate{window}")

    @property
    def objective(self) -> str:
        """The objective of each endpoint, as a ratio (spec: percent)."""
        return self._name(self.objective_stem, "ratio")

    @property
    def budget_remaining(self) -> str:
        """The budget left over the SLO period."""
        return self._name(f"{self.budget_stem}_remaining", f"ratio{self.period}")
