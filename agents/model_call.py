"""One LLM call of a node: cancellation polled while it streams, its token usage recorded for the run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.llm_response import LLMResponse

if TYPE_CHECKING:
    from agents.context import RunContext


async def chat(ctx: RunContext, messages: list[dict], **kwargs) -> LLMResponse:
    """One LLM call with cancellation polling and usage recorded."""
    response = await ctx.llm.chat(messages, is_cancelled=ctx.cancelled, **kwargs)
    await ctx.record_usage(
        response.prompt_tokens,
        response.completion_tokens,
        response.model,
        cached_tokens=response.cached_tokens,
        reasoning_tokens=response.reasoning_tokens,
    )
    return response
