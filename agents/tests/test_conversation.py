"""Long conversations are summarised before planning; titles come from the first exchange."""

from __future__ import annotations

import json

from agents.tests.conftest import GraphRun
from agents.titles import generate_title
from tests.scripted_llm import plan, say


async def test_it_summarises_a_long_history_before_planning(scripted_llm, make_context):
    turns = [
        {"role": "user" if n % 2 == 0 else "assistant", "content": f"turn {n}: " + "about shop " * 300}
        for n in range(12)
    ]
    scripted_llm.set_script(
        [
            say("Earlier: the user runs shop; web was scaled twice.", agent="summary"),
            plan([], summary="Answer from the conversation"),
            say("You scaled web twice.", agent="responder"),
        ]
    )
    ctx = make_context("what did we do so far?", history=turns)

    result = await GraphRun().start(ctx)

    assert result["outcome"] == "succeeded"
    assert result["summary"] == "Earlier: the user runs shop; web was scaled twice."
    summary_request, planner_request, responder_request = scripted_llm.requests()
    assert "turn 0:" in summary_request["messages"][1]["content"]
    planner_texts = [m["content"] for m in planner_request["messages"]]
    assert any("Earlier: the user runs shop" in t for t in planner_texts)
    assert not any(t.startswith("turn 0:") for t in planner_texts)
    assert any(t.startswith("turn 11:") for t in planner_texts)
    assert ctx.messages == [{"agent": "responder", "text": "You scaled web twice."}]


async def test_it_keeps_a_short_history_verbatim(scripted_llm, make_context):
    scripted_llm.set_script([plan([]), say("Yes.", agent="responder")])
    history = [{"role": "user", "content": "scale web"}, {"role": "assistant", "content": "Done: 3 replicas."}]
    ctx = make_context("is it done?", history=history)

    await GraphRun().start(ctx)

    planner_request = scripted_llm.requests()[0]
    assert [m["content"] for m in planner_request["messages"][1:3]] == ["scale web", "Done: 3 replicas."]


async def test_it_generates_a_short_title(scripted_llm, llm_client):
    scripted_llm.set_script([say(json.dumps({"title": '"Scale web in shop."'}), agent="title")])

    title = await generate_title(llm_client, "scale web in shop to 3 replicas", "Scaled web to 3.")

    assert title == "Scale web in shop"
    assert "scale web in shop to 3 replicas" in scripted_llm.requests()[0]["messages"][1]["content"]
