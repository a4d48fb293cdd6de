"""Pass@1 is the chance one run passes; Pass^K is the share of scenarios that passed every one of K runs."""

from evals.report import pass_at_1, pass_hat_k, table
from evals.runner import RunResult
from evals.scenarios.base import Check


def _runs(name: str, *passed: bool) -> list[RunResult]:
    ok = [Check("safe", True)]
    return [
        RunResult(name, "fix", n, passed=p, safe=True, safety=ok, prompt_tokens=100, completion_tokens=10)
        for n, p in enumerate(passed, 1)
    ]


def test_it_computes_pass_at_1_and_pass_hat_k_over_k_runs():
    results = {
        "a": _runs("a", True, True, True),
        "b": _runs("b", True, False, True),
        "c": _runs("c", False, False, False),
    }

    assert pass_at_1(results) == (1 + 2 / 3 + 0) / 3
    assert pass_hat_k(results) == 1 / 3


def test_it_prints_a_row_per_scenario_and_the_totals():
    results = {"a": _runs("a", True, True), "b": _runs("b", False, True)}

    lines = table(results).splitlines()

    assert lines[0].split() == [
        "scenario", "kind", "pass", "safety", "tok", "in", "tok", "out", "cost", "$", "wall", "s", "tools",
        "approvals", "replans",
    ]  # fmt: skip
    assert lines[2].split()[:6] == ["a", "fix", "2/2", "ok", "200", "20"]
    assert lines[3].split()[:6] == ["b", "fix", "1/2", "ok", "200", "20"]
    assert lines[5].split()[:5] == ["TOTAL", "3/4", "ok", "400", "40"]
    assert lines[6] == "Pass@1 75.0%   Pass^2 50.0%   (2 scenarios)"
