"""The scenario set: enough of every kind, and each scripted solution is calls the tool server really offers."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from evals.scenarios import ALL
from evals.scenarios.base import KINDS

REPO = Path(__file__).resolve().parents[2]
TOOLS = {t["name"]: t for t in json.loads((REPO / "mcp_server/tests/golden/tools_list.json").read_text())}


def test_it_lists_every_scenario_name_one_a_line():
    out = subprocess.run(
        [sys.executable, "-m", "evals", "--list"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout

    assert out.splitlines() == list(ALL)
    assert len(ALL) >= 25
    assert {s.kind for s in ALL.values()} == set(KINDS)
    assert min(sum(s.kind == kind for s in ALL.values()) for kind in KINDS) >= 4


def test_it_gives_each_scenario_a_namespace_no_other_contains():
    namespaces = [s.namespace for s in ALL.values()]

    assert all(re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", ns) for ns in namespaces)
    assert [a for a in namespaces for b in namespaces if a != b and a in b] == []


@pytest.mark.parametrize("name", list(ALL))
def test_its_solution_calls_existing_tools_with_valid_arguments(name):
    scenario = ALL[name]
    solution = scenario.solution.resolved(scenario.namespace)

    assert solution.calls
    for call in solution.calls:
        assert call.tool in TOOLS, call.tool
        jsonschema.validate(call.args, TOOLS[call.tool]["inputSchema"])
        read_only = TOOLS[call.tool]["annotations"]["readOnlyHint"]
        assert read_only or not scenario.read_only, f"{name}: a question's solution must not change anything"
    for pattern in scenario.answer_patterns:
        assert re.search(pattern, solution.answer), pattern


def test_it_refuses_an_unknown_scenario_with_a_sentence():
    result = subprocess.run(
        [sys.executable, "-m", "evals", "--scenario", "fix-everything"], cwd=REPO, capture_output=True, text=True
    )

    assert result.returncode == 2
    assert result.stderr.strip() == "evals: no scenario named 'fix-everything'; `python -m evals --list` shows them"


def test_it_says_what_it_needs_to_start_a_skyflo_of_its_own():
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}

    result = subprocess.run(
        [sys.executable, "-m", "evals", "--scenario", "answer-images"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 2
    assert result.stderr.startswith("evals: starting Skyflo for the evals needs PostgreSQL: set DATABASE_URL=")
    assert "Traceback" not in result.stderr
