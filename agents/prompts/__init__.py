"""The agents' prompts, one Markdown file per agent; the first line `agent: NAME` names the agent."""

from functools import cache
from pathlib import Path

_DIR = Path(__file__).resolve().parent


@cache
def load_prompt(name: str) -> str:
    return (_DIR / f"{name}.md").read_text(encoding="utf-8")
