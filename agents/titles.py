"""Conversation titles, generated after the first exchange (called by the workflow engineer)."""

from __future__ import annotations

from agents.llm import LLMClient
from agents.prompts import load_prompt
from agents.transcript import truncate

MAX_TITLE_CHARS = 80


async def generate_title(llm: LLMClient, request: str, answer: str = "") -> str:
    """A short title for a conversation from its first request (and answer); "" when the model gives none."""
    exchange = f"User: {truncate(request, 2000)[0]}"
    if answer:
        exchange += f"\n\nAssistant: {truncate(answer, 2000)[0]}"
    messages = [{"role": "system", "content": load_prompt("title")}, {"role": "user", "content": exchange}]
    response = await llm.chat(messages)
    title = response.content.strip().splitlines()[0] if response.content.strip() else ""
    return title.strip().strip("\"'`").rstrip(".").strip()[:MAX_TITLE_CHARS]


title_generate = generate_title  # the <entity>_<verb> spelling
