"""Errors raised by the agent layer that the workflow driver maps onto run outcomes."""


class RunCancelled(Exception):  # noqa: N818 - a signal, not a failure
    """Cancel was requested for the run; the driver finishes it as `cancelled`."""


class LLMNotConfigured(Exception):  # noqa: N818 - named in the interface contract
    """No usable LLM endpoint; `variable` names the setting to fix (for `run.error`)."""

    def __init__(self, variable: str):
        self.variable = variable
        super().__init__(f"The LLM is not configured: set {variable}.")


class LLMError(Exception):
    """The LLM endpoint failed after retries (network, 4xx other than 429, exhausted 5xx)."""


class ToolServerError(Exception):
    """The MCP tool server could not be reached or refused the session."""
