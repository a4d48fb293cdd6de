"""The scenario registry: every scenario by name, in kind order (fix, operate, create, answer)."""

from __future__ import annotations

from evals.scenarios import answer, create, fix, operate
from evals.scenarios.base import Call, Check, GradingContext, Scenario, Solution

ALL: dict[str, Scenario] = {s.name: s for module in (fix, operate, create, answer) for s in module.SCENARIOS}

__all__ = ["ALL", "Call", "Check", "GradingContext", "Scenario", "Solution", "scenario_get"]


class UnknownScenario(ValueError):
    pass


def scenario_get(name: str) -> Scenario:
    if name not in ALL:
        raise UnknownScenario(f"no scenario named {name!r}; `python -m evals --list` shows them")
    return ALL[name]
