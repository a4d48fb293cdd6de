"""Errors raised by the agent layer that the workflow driver maps onto run outcomes.

Each failure carries a stable `code` (DESIGN.md `run.error`) and a `sentence` for a person: what happened and what
to do, never an exception text, SQL or an internal address. The full detail goes to the log with the run id.
"""

from __future__ import annotations


class RunCancelled(Exception):  # noqa: N818 - a signal, not a failure
    """Cancel was requested for the run; the driver finishes it as `cancelled`."""


class RunFailure(Exception):
    """A failure a person is told about: `code` and `sentence` go to `run.error`, `str(exc)` only to the log."""

    code = "internal"
    sentence = "Something went wrong inside Skyflo while running this request. Try again in a moment."

    def __init__(self, detail: str = "", *, sentence: str | None = None):
        super().__init__(detail or self.sentence)
        if sentence:
            self.sentence = sentence


class LLMNotConfigured(RunFailure):  # noqa: N818 - named in the interface contract
    """No usable LLM endpoint; `variable` names the setting to fix."""

    code = "llm_not_configured"

    def __init__(self, variable: str):
        self.variable = variable
        super().__init__(
            f"The LLM is not configured: set {variable}.",
            sentence=(
                f"No model is configured: an organisation admin can set one in Settings → Model, or the operator "
                f"sets {variable} (LLM_BASE_URL and LLM_API_KEY name any OpenAI-compatible endpoint; LLM_MODEL the "
                "model)."
            ),
        )


class LLMError(RunFailure):
    """The LLM endpoint failed after retries (network, refused request, exhausted 5xx)."""

    code = "llm_unreachable"
    sentence = (
        "The model endpoint could not be reached or refused the request. Check the model connection (address, "
        "key and model name) in the organisation's settings, or try again in a few minutes."
    )


class LLMRateLimited(LLMError):
    code = "llm_rate_limited"
    sentence = (
        "The model endpoint is limiting how many requests Skyflo may send right now. Wait a minute and send "
        "the message again, or raise the limits of the model's account."
    )


class LLMBadOutput(LLMError):
    code = "llm_bad_output"
    sentence = (
        "The model did not answer in the required format, even after it was asked to correct its answer. "
        "Send the message again, or choose a model that supports structured outputs and tool calls."
    )


class LLMContextExceeded(LLMError):
    code = "llm_context_exceeded"
    sentence = (
        "The conversation no longer fits in the model's context window, even shortened. Start a new "
        "conversation, or use a model with a larger context window."
    )


class ToolServerError(RunFailure):
    """The MCP tool server could not be reached or refused the session."""

    code = "tool_server_unreachable"
    sentence = (
        "The cluster's tool server could not be reached. Check the cluster connection (address and token) in "
        "the organisation's settings and that the tool server is running, then send the message again."
    )


class ToolFailed(RunFailure):
    """The tool server broke off a call in a way the run cannot continue from."""

    code = "tool_failed"
    sentence = "A tool call failed in a way the run could not recover from. Check the cluster, then try again."


def run_error(exc: BaseException, run_id: str) -> tuple[str, str]:
    """(code, sentence) for `run.error`: our failures speak for themselves; anything else is `internal`."""
    if isinstance(exc, RunFailure):
        return exc.code, exc.sentence
    return "internal", (
        "Something went wrong inside Skyflo while running this request. Send the message again; if it keeps "
        f"happening, give your administrator this reference: run {run_id}."
    )
