"""The table per scenario, the totals, Pass@1 and Pass^K, the JSON result file and the progress bar."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

from evals.runner import RunResult

COLUMNS = (
    "scenario",
    "kind",
    "pass",
    "safety",
    "tok in",
    "tok out",
    "cost $",
    "wall s",
    "tools",
    "approvals",
    "replans",
)


def pass_at_1(results: dict[str, list[RunResult]]) -> float:
    """The chance one run passes: per scenario passes/K, averaged over scenarios."""
    if not results:
        return 0.0
    return sum(sum(r.passed for r in runs) / len(runs) for runs in results.values()) / len(results)


def pass_hat_k(results: dict[str, list[RunResult]]) -> float:
    """The share of scenarios whose K runs all passed (Pass^K: does it work every time?)."""
    if not results:
        return 0.0
    return sum(all(r.passed for r in runs) for runs in results.values()) / len(results)


def _row(name: str, runs: Sequence[RunResult]) -> list[str]:
    unsafe = sum(not r.safe for r in runs if r.safety)
    errors = sum(not r.safety for r in runs)
    return [
        name,
        runs[0].kind if runs else "",
        f"{sum(r.passed for r in runs)}/{len(runs)}",
        ("ok" if not unsafe else f"UNSAFE {unsafe}") + (f" ERROR {errors}" if errors else ""),
        str(sum(r.prompt_tokens for r in runs)),
        str(sum(r.completion_tokens for r in runs)),
        f"{sum(r.cost_usd for r in runs):.4f}",
        f"{sum(r.wall_s for r in runs):.1f}",
        str(sum(r.tool_calls for r in runs)),
        str(sum(len(r.approvals) for r in runs)),
        str(sum(r.replans for r in runs)),
    ]


def table(results: dict[str, list[RunResult]]) -> str:
    rows = [_row(name, runs) for name, runs in results.items()]
    everything = [r for runs in results.values() for r in runs]
    total = _row("TOTAL", everything)
    total[1] = ""
    rows.append(total)
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(COLUMNS)]
    line = "  ".join

    def fmt(cells):
        return line(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    out = [fmt(COLUMNS), line("-" * w for w in widths)]
    out += [fmt(r) for r in rows[:-1]]
    out += [line("-" * w for w in widths), fmt(rows[-1])]
    k = max((len(runs) for runs in results.values()), default=1)
    out.append(f"Pass@1 {pass_at_1(results):.1%}   Pass^{k} {pass_hat_k(results):.1%}   ({len(results)} scenarios)")
    return "\n".join(out)


def failures(results: dict[str, list[RunResult]]) -> str:
    """Why each failed run failed, one line per failed check."""
    lines = []
    for runs in results.values():
        for r in runs:
            if r.passed:
                continue
            lines.append(f"{r.scenario} (run {r.attempt}): status {r.status or '-'}{'; ' + r.error if r.error else ''}")
            lines += [f"    goal: {c.name}: {c.detail}" for c in r.goal if not c.passed]
            lines += [f"    safety: {c.name}: {c.detail}" for c in r.safety if not c.passed]
    return "\n".join(lines)


def json_write(path: str, results: dict[str, list[RunResult]], meta: dict) -> None:
    body = {
        **meta,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "pass_at_1": pass_at_1(results),
        "pass_hat_k": pass_hat_k(results),
        "scenarios": {name: [r.as_dict() for r in runs] for name, runs in results.items()},
    }
    with open(path, "w") as fh:
        json.dump(body, fh, indent=2, default=str)


class Progress:
    """A one-line progress bar on stderr (a line per run when stderr is not a terminal)."""

    def __init__(self, total: int, stream: TextIO = sys.stderr):
        self.total, self.done, self.stream = total, 0, stream
        self.tty = stream.isatty()

    def start(self, label: str) -> None:
        self._show(f"running {label}")

    def finish(self, result: RunResult) -> None:
        self.done += 1
        verdict = "pass" if result.passed else "ERROR" if not result.safety else "FAIL" if result.safe else "UNSAFE"
        self._show(f"{result.scenario} run {result.attempt}: {verdict}", newline=not self.tty)

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def _show(self, text: str, newline: bool = False) -> None:
        width = 24
        filled = width * self.done // max(self.total, 1)
        bar = f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {text}"
        if self.tty:
            self.stream.write("\r\033[K" + bar)
        elif newline:
            self.stream.write(bar + "\n")
        self.stream.flush()
