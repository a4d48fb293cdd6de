"""PROMETHEUS_MULTIPROC_DIR: several processes of one container (e.g. more than one daphne) write their figures to
that directory, and any of them exposes the sum."""

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

REPO_ROOT = Path(__file__).resolve().parent.parent


def python(code: str, directory: Path) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_runs_finished_in_two_processes_are_exposed_together(tmp_path):
    finish = "from skyflo import metrics; metrics.event_observed('run.finished', {{'status': '{}', 'usage': {{}}}})"
    python(finish.format("succeeded"), tmp_path)
    python(finish.format("succeeded"), tmp_path)
    python(finish.format("failed"), tmp_path)

    text = python("from skyflo import metrics; print(metrics.metrics_text().decode())", tmp_path)

    runs = {
        sample.labels["status"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "skyflo_runs_finished_total"
    }
    assert runs == {"succeeded": 2.0, "failed": 1.0}
