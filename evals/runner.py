"""One run of one scenario: prepare the namespace, ask in a new conversation, approve every approval as the eval
operator, wait for `run.finished`, then grade the cluster."""

from __future__ import annotations

import contextlib
import subprocess
import time
from dataclasses import asdict, dataclass, field

import httpx
from websockets.exceptions import WebSocketException

from evals.client import EventStream, Session, SkyfloError
from evals.cluster import Cluster, ClusterError
from evals.grading import Activity, Window, safety, snapshot
from evals.scenarios.base import Check, GradingContext, Scenario, patterns_match

APPROVAL_REASON = "evals: every call is approved; the cluster is graded afterwards"


@dataclass
class Target:
    """A running Skyflo, the accounts that ask and approve, and the cluster connection that drives the sandbox."""

    requester: Session
    approver: Session
    org: str
    cluster_id: str
    cluster: Cluster
    share_team: str = ""  # conversations are shared with this team, so that an approver in it sees them


@dataclass
class RunResult:
    scenario: str
    kind: str
    attempt: int
    passed: bool = False
    safe: bool = False
    status: str = ""
    error: str = ""
    goal: list[Check] = field(default_factory=list)
    safety: list[Check] = field(default_factory=list)
    approvals: list[dict] = field(default_factory=list)
    tool_calls: int = 0
    replans: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    wall_s: float = 0.0
    answer: str = ""
    run_id: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def scenario_run(target: Target, scenario: Scenario, attempt: int, timeout_s: float, settle_s: float = 30) -> RunResult:
    result = RunResult(scenario.name, scenario.kind, attempt)
    cluster, ns = target.cluster, scenario.namespace
    try:
        scenario.teardown(cluster, ns)
        cluster.namespace_reset(ns)
        scenario.setup(cluster, ns)
        ctx = snapshot(cluster, ns)
        activity = Activity()
        started = time.monotonic()
        _converse(target, scenario, result, activity, timeout_s)
        result.wall_s = round(time.monotonic() - started, 1)
        _grade(cluster, scenario, ctx, activity, result, settle_s)
    except (SkyfloError, ClusterError) as exc:
        result.error = str(exc)
    except (httpx.HTTPError, WebSocketException, OSError, subprocess.TimeoutExpired) as exc:
        result.error = f"talking to Skyflo or the cluster failed: {exc}"
    finally:
        with contextlib.suppress(Exception):
            scenario.teardown(cluster, ns)
    return result


def _converse(target: Target, scenario: Scenario, result: RunResult, activity: Activity, timeout_s: float) -> None:
    cluster = target.cluster
    body = {"org": target.org, "cluster": target.cluster_id, "namespace": scenario.namespace}
    conversation = target.requester.post("/conversations/", {**body, "title": f"eval {scenario.name}"})
    if target.share_team:
        target.requester.post(f"/conversations/{conversation['id']}/shares/", {"team": target.share_team})
    stream = EventStream(target.requester, conversation["id"])
    cursor = cluster.request_cursor()
    try:
        stream.open()  # before the message: no frame of the run is missed
        message = {"content": scenario.prompt(cluster.charts_url)}
        posted = target.requester.post(f"/conversations/{conversation['id']}/messages/", message)
        result.run_id = posted["run"]["id"]
        _follow(target, stream, result, activity, time.monotonic() + timeout_s)
    finally:
        stream.close()
    last, activity.requests = cluster.requests_after(cursor)
    for window in activity.windows:
        window.end = window.end if window.end is not None else last
    _usage(target, result)


def _follow(target: Target, stream: EventStream, result: RunResult, activity: Activity, deadline: float) -> None:
    windows: dict[str, Window] = {}
    try:
        for frame in stream.frames(deadline):
            kind, data = frame["type"], frame.get("data") or {}
            if kind == "approval.requested":
                windows[data["call_id"]] = _approve(target, data, result, activity)
            elif kind == "tool.call":
                result.tool_calls += 1
                if data.get("mutating"):
                    activity.mutating_calls.append({"call_id": data.get("call_id"), "tool": data.get("tool")})
            elif kind == "tool.result" and data.get("call_id") in windows and windows[data["call_id"]].end is None:
                windows[data["call_id"]].end = target.cluster.request_cursor()
            elif kind == "message.completed" and (data.get("message") or {}).get("agent") == "responder":
                result.answer = data["message"].get("content") or ""
            elif kind == "run.error":
                result.error = data.get("detail") or data.get("code") or "run error"
            elif kind == "run.finished":
                result.status = data.get("status", "")
                return
    except TimeoutError:
        result.status, result.error = "timeout", "the run did not finish in time; it was cancelled"
        target.requester.call("POST", f"/runs/{result.run_id}/cancel/", ok=(200, 202, 409))


def _approve(target: Target, data: dict, result: RunResult, activity: Activity) -> Window:
    window = Window(call_id=data["call_id"], start=target.cluster.request_cursor())
    response = target.approver.call(
        "POST",
        f"/approvals/{data['approval_id']}/decide/",
        json={"decision": "approve", "reason": APPROVAL_REASON},
        ok=(200, 409),
    )
    decided = response.json() if response.status_code == 200 else {}
    result.approvals.append(
        {
            "approval_id": data["approval_id"],
            "tool": data.get("tool"),
            "args": data.get("args"),
            "http_status": response.status_code,
            "decision": decided.get("decision", "conflict"),
            "decided_by": decided.get("decided_by"),
        }
    )
    if response.status_code == 200:
        activity.windows.append(window)
        activity.approved_call_ids.add(data["call_id"])
    return window


def _usage(target: Target, result: RunResult) -> None:
    if not result.run_id:
        return
    run = target.requester.get(f"/runs/{result.run_id}/")
    usage = run.get("usage") or {}
    result.prompt_tokens = usage.get("prompt_tokens", 0)
    result.completion_tokens = usage.get("completion_tokens", 0)
    result.cost_usd = usage.get("cost_usd", 0.0)
    result.replans = run.get("replans", 0)
    result.status = result.status or run.get("status", "")


def _grade(
    cluster: Cluster, scenario: Scenario, ctx: GradingContext, activity: Activity, result: RunResult, settle_s: float
) -> None:
    ctx.answer = result.answer
    deadline = time.monotonic() + (0 if scenario.read_only else settle_s)
    while True:  # a rollout the agent started may still be finishing: grade the state it settles in
        goal = scenario.goal(cluster, scenario.namespace, ctx) + patterns_match(result.answer, scenario.answer_patterns)
        if all(c.passed for c in goal) or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    result.goal = goal
    result.safety = scenario.guards(cluster, scenario.namespace, ctx) + safety(cluster, scenario, ctx, activity)
    result.safe = all(c.passed for c in result.safety)
    finished = result.status not in ("", "timeout")
    result.passed = finished and result.safe and all(c.passed for c in goal)
