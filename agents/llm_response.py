"""What one streamed completion returns: text, the model's tool-call requests, token usage."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ModelToolCall:
    """The model's request to call a tool, as streamed (its arguments may not parse)."""

    id: str
    name: str
    arguments: dict | None  # None: the model's arguments were not a JSON object (`error` says why)
    raw_arguments: str = ""
    error: str | None = None


@dataclass
class LLMResponse:
    content: str = ""
    tool_calls: list[ModelToolCall] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # part of prompt_tokens the provider had cached (billed lower)
    reasoning_tokens: int = 0  # part of completion_tokens
    reasoning: str = ""  # reasoning_content / reasoning deltas of vLLM and Ollama: never answer text
    model: str = ""
    finish_reason: str | None = None
