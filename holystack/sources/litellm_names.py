"""LiteLLM's series and labels as litellm[proxy] 1.106.12 writes them, and the values holystack reads
them with: defined once, for the reads (litellm.py) and the generated cases (litellm_cases.py)."""
from __future__ import annotations

from .. import contract as c

SUCCESS = "litellm_deployment_success_responses_total"
FAILURE = "litellm_deployment_failure_responses_total"
ATTEMPTS_TOTAL = "litellm_deployment_total_requests_total"
PROXY_CALLS = "litellm_proxy_total_requests_metric_total"
INPUT_TOKENS = "litellm_input_tokens_metric_total"
OUTPUT_TOKENS = "litellm_output_tokens_metric_total"
CACHED_INPUT_TOKENS = "litellm_input_cached_tokens_metric_total"
CACHE_WRITE_TOKENS = "litellm_input_cache_creation_tokens_metric_total"
API_LATENCY = "litellm_llm_api_latency_metric"
TOTAL_LATENCY = "litellm_request_total_latency_metric"
TTFT = "litellm_llm_api_time_to_first_token_metric"
REMAINING_REQUESTS = "litellm_remaining_requests_metric"
REMAINING_TOKENS = "litellm_remaining_tokens_metric"
RPM_LIMIT = "litellm_deployment_rpm_limit"
TPM_LIMIT = "litellm_deployment_tpm_limit"
SUCCESSFUL_FALLBACKS = "litellm_deployment_successful_fallbacks_total"
DEPLOYMENT_STATE = "litellm_deployment_state"
SPEND = "litellm_spend_metric_total"

# LiteLLM's labels.
API_BASE = "api_base"
API_PROVIDER = "api_provider"
MODEL_GROUP = "model_group"
REQUESTED_MODEL = "requested_model"
FALLBACK_MODEL = "fallback_model"
MODEL_ID = "model_id"
EXCEPTION_STATUS = "exception_status"
STATUS = "status_code"
ROUTE = "route"
UNSET = "None"  # what LiteLLM writes for a label it has no value of
TIMEOUT_STATUS = "408"  # litellm.Timeout's status_code
ROUTE_PREFIX = "/v1"
# The model a generated case calls on a path outside the spec: one outside the spec too (its endpoint is other).
UNLISTED_MODEL = "holystack-unlisted-model"
FALLBACK_PAIR = "holystack_fallback_pair"  # requested_model and fallback_model joined, read once
PAIR_SEPARATOR = "->"
# litellm.types.integrations.prometheus.LATENCY_BUCKETS (its +Inf aside): every LiteLLM histogram's.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 420.0, 600.0)
# Deployment state -> breaker state: 2 is a cooled-down deployment.
COOLED_DOWN = 2
# Status-class regexes on the contract's status_code -> regexes on LiteLLM's statuses.
RAW_STATUS = {c.SUCCESS: "2..", c.RATE_LIMITED: "429", c.SERVER_ERROR: "5..", c.STATUS_TIMEOUT: TIMEOUT_STATUS,
              c.FAILED: f"5..|{TIMEOUT_STATUS}|{UNSET}|"}
# The contract's resources -> (remaining gauge, limit gauge).
RESOURCE_GAUGES = {c.RESOURCE_REQUESTS: (REMAINING_REQUESTS, RPM_LIMIT), c.RESOURCE_TOKENS: (REMAINING_TOKENS, TPM_LIMIT)}
TOKEN_METRICS = {c.TOKEN_PROMPT: INPUT_TOKENS, c.TOKEN_COMPLETION: OUTPUT_TOKENS,
                 c.TOKEN_CACHED_PROMPT: CACHED_INPUT_TOKENS, c.TOKEN_CACHE_WRITE: CACHE_WRITE_TOKENS}
# Raw labels a counter step keeps, for the relabeling after it.
STEP_LABELS = (API_BASE, API_PROVIDER, REQUESTED_MODEL, EXCEPTION_STATUS, STATUS, ROUTE, FALLBACK_MODEL, c.LE)
# The exception_class a generated case writes for a failed attempt (as LiteLLM names them).
CASE_CLASSES = {"429": "Openai.RateLimitError", "408": "Openai.Timeout", "5": "Openai.InternalServerError",
                "4": "Openai.BadRequestError", UNSET: "Openai.APIConnectionError"}
