"""Conversation titles, generated after the first exchange (called by the workflow engineer)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from agents.llm import LLMClient, structured_reply
from agents.prompts import load_prompt
from agents.structured import output_schema
from agents.transcript import truncate

MAX_TITLE_CHARS = 80


class Title(BaseModel):
    title: str = Field(description="A short title for the conversation, at most eight words, no quotes.")


TITLE = output_schema(Title)


async def generate_title(llm: LLMClient, request: str, answer: str = "") -> str:
    """A short title for a conversation from its first request (and answer); "" when the model gives none."""
    exchange = f"User: {truncate(request, 2000)[0]}"
    if answer:
        exchange += f"\n\nAssistant: {truncate(answer, 2000)[0]}"
    messages = [{"role": "system", "content": load_prompt("title")}, {"role": "user", "content": exchange}]
    reply, _ = await structured_reply(llm, messages, TITLE)
    title = reply.title.strip().splitlines()[0] if reply.title.strip() else ""
    return title.strip().strip("\"'`").rstrip(".").strip()[:MAX_TITLE_CHARS]
