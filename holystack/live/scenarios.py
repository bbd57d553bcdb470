"""Traffic scenarios of `holystack simulate`: what share of calls the fake upstream fails, and how."""
from __future__ import annotations

from ..frozen import frozen


@frozen
class TrafficProfile:
    """Shares are of all calls, in [0, 1]; the fake upstream draws each call's fate from them."""

    name: str
    summary: str
    rate_limited: float = 0.0   # answered 429 with retry-after
    server_errors: float = 0.0  # answered 500, 502 or 503
    timeouts: float = 0.0       # held past the client's timeout, so the client times out
    slow: float = 0.0           # answered after 1.5x the endpoint's latency_p95
    token_scale: float = 1.0    # usage multiplied by this (cost-spike)
    outage: bool = False        # the upstream is gone: every connection is refused
    primary_outage: bool = False  # only the first provider is gone; its fallback chain serves the calls


SCENARIOS = {s.name: s for s in (
    TrafficProfile("healthy", "every call answered 200, well within its latency threshold"),
    TrafficProfile("rate-limit", "about 20% of calls answered 429", rate_limited=0.2),
    TrafficProfile("server-errors", "about 20% of calls answered 5xx", server_errors=0.2),
    TrafficProfile("timeouts", "about 20% of calls time out", timeouts=0.2),
    TrafficProfile("slow", "half the calls take 1.5x their endpoint's latency_p95", slow=0.5),
    TrafficProfile("cost-spike", "prompts and completions 40x larger than usual", token_scale=40.0),
    TrafficProfile("outage", "the upstream stops answering: connections refused", outage=True),
    TrafficProfile("primary-outage", "the first provider refuses connections; calls succeed through its fallback",
             primary_outage=True),
    TrafficProfile("mixed", "a bit of everything: 429s, 5xx, timeouts, slow calls, cached prompts",
             rate_limited=0.05, server_errors=0.03, timeouts=0.03, slow=0.1),
)}
