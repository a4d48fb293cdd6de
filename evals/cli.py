"""`python -m evals`: run scenarios against a Skyflo (started here, or one already running) and grade them."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx

from evals import report
from evals.chartrepo import DEFAULT_PORT, ChartsError, charts_served
from evals.client import Credentials, Session, SkyfloError
from evals.cluster import REPO_ROOT, Cluster, ClusterError
from evals.runner import RunResult, Target, scenario_run
from evals.scenarios import ALL, UnknownScenario, scenario_get
from evals.scenarios.base import KINDS
from evals.stack import StackError, stack_started


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m evals", description=__doc__)
    p.add_argument("--list", action="store_true", help="print the scenario names, one a line, and stop")
    p.add_argument("--scenario", action="append", default=[], metavar="NAME", help="run this one (repeatable)")
    p.add_argument("--kind", action="append", default=[], choices=KINDS, help="run the scenarios of this kind")
    p.add_argument("--runs", type=int, default=1, metavar="K", help="runs per scenario (Pass@1 and Pass^K)")
    p.add_argument("--timeout", type=float, default=600, help="seconds one run may take before it is cancelled")
    p.add_argument("--settle", type=float, default=30, help="seconds the cluster may take to reach the goal state")
    p.add_argument("--json-out", metavar="FILE", help="write every run, check and number to this JSON file")
    model = p.add_argument_group("model (any OpenAI-compatible endpoint; default: the settings' LLM_*)")
    model.add_argument("--base-url", default="", help="e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1")
    model.add_argument("--model", default="")
    model.add_argument("--api-key", default="", help="default: $LLM_API_KEY / $OPENAI_API_KEY")
    running = p.add_argument_group("a running Skyflo (default: start one here)")
    running.add_argument("--skyflo-url", default="", help="e.g. http://127.0.0.1:8000")
    running.add_argument("--email", default="", help="the account that asks (admin, or operator of the cluster)")
    running.add_argument("--password", default=os.environ.get("SKYFLO_EVAL_PASSWORD", ""))
    running.add_argument("--approver-email", default="", help="the eval operator that approves (default: --email)")
    running.add_argument("--approver-password", default=os.environ.get("SKYFLO_EVAL_APPROVER_PASSWORD", ""))
    running.add_argument("--org", default="", help="organisation slug")
    running.add_argument("--team", default="", help="share each conversation with this team (the approver's)")
    running.add_argument(
        "--cluster", default="", help="id of a cluster connection whose tool server drives the sandbox"
    )
    running.add_argument("--kubeconfig", default="", help="kubeconfig of that sandbox (setup and grading)")
    charts = p.add_argument_group("the eval charts (served as a helm repository for the Helm scenarios)")
    charts.add_argument(
        "--charts-port",
        type=int,
        default=None,
        help="serve them at http://127.0.0.1:PORT (default: a free port when Skyflo is started here, "
        f"{DEFAULT_PORT} with --skyflo-url, whose tool server's MCP_HELM_REPOSITORIES must list that URL)",
    )
    charts.add_argument(
        "--charts-url", default="", help="with --skyflo-url: a helm repository already serving them (none is served)"
    )
    return p


def _selected(args: argparse.Namespace) -> list:
    if not args.scenario and not args.kind:
        return list(ALL.values())
    chosen = [scenario_get(name) for name in args.scenario]
    chosen += [s for s in ALL.values() if s.kind in args.kind and s not in chosen]
    return chosen


def _llm(args: argparse.Namespace) -> dict[str, str]:
    return {"LLM_BASE_URL": args.base_url, "LLM_MODEL": args.model, "LLM_API_KEY": args.api_key}


@contextlib.contextmanager
def _running(args: argparse.Namespace) -> Iterator[Target]:
    missing = [f"--{n}" for n in ("email", "password", "org", "cluster", "kubeconfig") if not getattr(args, n)]
    if missing:
        raise SkyfloError(
            f"with --skyflo-url, also give {', '.join(missing)} (passwords may come from the environment)"
        )
    requester = Session(args.skyflo_url, Credentials(args.email, args.password))
    approver_creds = Credentials(args.approver_email or args.email, args.approver_password or args.password)
    approver = Session(args.skyflo_url, approver_creds)
    cluster = Cluster(args.kubeconfig)
    try:
        if any(_llm(args).values()):
            _model_set(requester, args)
        with _charts(args, cluster) as charts_url:
            cluster.charts_url = charts_url
            yield Target(requester, approver, args.org, args.cluster, cluster, share_team=args.team)
    finally:
        requester.close()
        approver.close()
        cluster.close()


def _charts(args: argparse.Namespace, cluster: Cluster) -> contextlib.AbstractContextManager[str]:
    if args.charts_url:
        return contextlib.nullcontext(args.charts_url.rstrip("/"))
    return charts_served(cluster, DEFAULT_PORT if args.charts_port is None else args.charts_port)


def _model_set(session: Session, args: argparse.Namespace) -> None:
    body = {"base_url": args.base_url, "model": args.model, "api_key": args.api_key}
    response = session.call("PUT", f"/orgs/{args.org}/model/", json=body, ok=(200, 201, 404, 405))
    if response.status_code in (404, 405):
        raise SkyfloError(
            "this Skyflo has no per-organisation model setting (PUT /api/v1/orgs/{slug}/model/): start it with "
            "LLM_BASE_URL/LLM_MODEL/LLM_API_KEY set instead, or let `python -m evals` start one"
        )


def _target(args: argparse.Namespace):
    if args.skyflo_url:
        return _running(args)
    return stack_started(_llm(args), charts_port=args.charts_port or 0)


def _meta(args: argparse.Namespace, scenarios: list) -> dict:
    git = shutil.which("git")
    commit = ""
    if git:
        commit = subprocess.run(  # noqa: S603 - fixed git command
            [git, "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
    return {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "model": args.model or os.environ.get("LLM_MODEL", "(the server's)"),
        "base_url": args.base_url or os.environ.get("LLM_BASE_URL", "(the server's)"),
        "skyflo_url": args.skyflo_url or "(started by the harness)",
        "runs": args.runs,
        "scenario_names": [s.name for s in scenarios],
    }


def evaluate(
    target: Target, scenarios: list, runs: int, timeout_s: float, settle_s: float = 30
) -> dict[str, list[RunResult]]:
    results: dict[str, list[RunResult]] = {s.name: [] for s in scenarios}
    progress = report.Progress(len(scenarios) * runs)
    try:
        for scenario in scenarios:
            for attempt in range(1, runs + 1):
                progress.start(f"{scenario.name} run {attempt}")
                result = scenario_run(target, scenario, attempt, timeout_s, settle_s)
                results[scenario.name].append(result)
                progress.finish(result)
    finally:
        progress.close()
        for scenario in scenarios:
            target.cluster.namespace_delete(scenario.namespace)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.list:
        print("\n".join(ALL))
        return 0
    try:
        scenarios = _selected(args)
        meta = _meta(args, scenarios)
        with _target(args) as target:
            results = evaluate(target, scenarios, max(1, args.runs), args.timeout, args.settle)
    except (UnknownScenario, SkyfloError, ClusterError, StackError, ChartsError, OSError) as exc:
        print(f"evals: {exc}", file=sys.stderr)
        return 2
    except httpx.HTTPError as exc:
        print(f"evals: Skyflo could not be reached: {exc}", file=sys.stderr)
        return 2
    print(report.table(results))
    why = report.failures(results)
    if why:
        print("\nFailed runs:\n" + why)
    if args.json_out:
        report.json_write(args.json_out, results, meta)
    return 0 if all(r.passed for runs in results.values() for r in runs) else 1
