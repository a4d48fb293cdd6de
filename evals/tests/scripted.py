"""A scenario's solution (tool calls, data of the scenario) as a script of the scripted LLM (tests/scripted_llm.py),
or as the configuration of the model double that reads only schemas (tests/schema_llm.py).

Every scripted turn matches only requests that mention the scenario's namespace, so one script serves several
scenarios run one after the other. The verifier's verdict is always "passed": the harness must not believe it.
"""

from __future__ import annotations

from evals.scenarios.base import Scenario, Solution
from tests.schema_llm import goal
from tests.scripted_llm import call, plan, say, verdict


def solution_turns(scenario: Scenario, solution: Solution | None = None, charts: str = "") -> list[dict]:
    ns = scenario.namespace
    resolved = (solution or scenario.solution).resolved(ns, charts)
    steps = [(c.title or c.tool, c.tool) for c in resolved.calls]
    turns = [plan(steps, summary=f"solve {scenario.name}", contains=ns)]
    turns += [call(c.tool, c.args, contains=ns) for c in resolved.calls]
    turns.append(verdict(True, "the goal is met", contains=ns))
    turns.append(say(resolved.answer, agent="responder", contains=ns))
    return turns


def script_for(*pairs: tuple[Scenario, Solution | None], charts: str = "") -> list[dict]:
    """`charts`: the URL of the eval charts' repository the run serves (the `{charts}` of Helm solutions)."""
    return [turn for scenario, solution in pairs for turn in solution_turns(scenario, solution, charts)]


def schema_config(scenario: Scenario, solution: Solution | None = None) -> dict:
    """The solution as goals of the schema-only double: its tool calls in order, its final answer as the text, and
    arrays of as many items as calls (so a plan has a step per call: a change is only offered to the executor)."""
    resolved = (solution or scenario.solution).resolved(scenario.namespace)
    return {
        "goals": [goal(c.tool, c.args) for c in resolved.calls],
        "items": max(1, len(resolved.calls)),
        "answer": resolved.answer,
        "text": resolved.calls[0].title if resolved.calls else "Answer the question",
    }
