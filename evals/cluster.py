"""The sandbox cluster as the harness sees it: kubectl and helm for setup and grading, and the sandbox's request
log (what the agent really did, whatever it says)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
CHARTS = Path(__file__).resolve().parent / "charts"
GONE_TIMEOUT_S = 30.0


class ClusterError(Exception):
    """A kubectl or helm call of the harness failed (setup or grading, not the agent)."""


class Cluster:
    """kubectl/helm against one kubeconfig; the API server's URL is read from it for the request log."""

    def __init__(self, kubeconfig: str, env: dict[str, str] | None = None):
        self.kubeconfig = kubeconfig
        self.cache = tempfile.mkdtemp(prefix="skyflo-evals-kube-")
        base = dict(env or os.environ)
        self.env = {
            **base,
            "PATH": f"{REPO_ROOT / '.bin'}{os.pathsep}{base.get('PATH', '')}",
            "KUBECONFIG": kubeconfig,
            "KUBECACHEDIR": f"{self.cache}/kube",
        }
        for key in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
            self.env.setdefault(key, f"{self.cache}/{key.lower()}")
        match = re.search(r"server:\s*(\S+)", Path(kubeconfig).read_text())
        if match is None:
            raise ClusterError(f"no server URL in the kubeconfig {kubeconfig}")
        self.url = match.group(1)
        # The helm repository serving evals/charts (evals/chartrepo.py), set by whoever serves or names it.
        self.charts_url = ""

    def close(self) -> None:
        shutil.rmtree(self.cache, ignore_errors=True)

    # ---- commands ----------------------------------------------------------------------------------------
    def run(self, tool: str, *args: str, input: str | None = None, check: bool = True, timeout: float = 60):
        exe = shutil.which(tool, path=self.env["PATH"]) or tool
        result = subprocess.run(  # noqa: S603 - fixed tool, arguments from our scenarios
            [exe, *args], env=self.env, input=input, text=True, capture_output=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise ClusterError(f"{tool} {' '.join(args)} failed: {result.stderr.strip() or result.stdout.strip()}")
        return result

    def kubectl(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60) -> str:
        return self.run("kubectl", *args, input=input, check=check, timeout=timeout).stdout

    def helm(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        return self.run("helm", *args, check=check, timeout=timeout).stdout

    def apply(self, namespace: str, *manifests: dict) -> None:
        text = yaml.safe_dump_all(manifests, sort_keys=False)
        self.kubectl("apply", "-n", namespace, "-f", "-", input=text)

    # ---- reads -------------------------------------------------------------------------------------------
    def get(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        args = ["get", kind, name, "-o", "json", "--ignore-not-found"]
        if namespace:
            args += ["-n", namespace]
        out = self.kubectl(*args)
        return json.loads(out) if out.strip() else None

    def items(self, kind: str, namespace: str | None = None, selector: str | None = None) -> list[dict]:
        args = ["get", kind, "-o", "json"]
        args += ["-n", namespace] if namespace else ["-A"]
        if selector:
            args += ["-l", selector]
        return json.loads(self.kubectl(*args))["items"]

    def wait_for(self, what: str, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        """Poll until `predicate()` holds (setup waits for the broken state it made to show)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise ClusterError(f"setup: {what} did not happen within {timeout:.0f}s")
            time.sleep(0.3)

    def rollout(self, kind_name: str, namespace: str, timeout_s: int = 60) -> None:
        self.kubectl("rollout", "status", kind_name, "-n", namespace, f"--timeout={timeout_s}s", timeout=timeout_s + 10)

    # ---- namespaces --------------------------------------------------------------------------------------
    def namespace_reset(self, namespace: str) -> None:
        """Delete the namespace if it exists (and wait until it is gone), then create it empty."""
        self.kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=true", timeout=GONE_TIMEOUT_S)
        self.wait_for(f"namespace {namespace} gone", lambda: self.get("namespace", namespace) is None)
        self.kubectl("create", "namespace", namespace)

    def namespace_delete(self, namespace: str) -> None:
        with contextlib.suppress(ClusterError, subprocess.TimeoutExpired):
            self.kubectl("delete", "namespace", namespace, "--ignore-not-found", timeout=GONE_TIMEOUT_S)

    # ---- the sandbox's request log -----------------------------------------------------------------------
    def requests_after(self, seq: int) -> tuple[int, list[dict]]:
        """(last seq, entries after `seq`) from the sandbox's `GET /sandbox/requests`."""
        response = httpx.get(f"{self.url}/sandbox/requests", params={"after": seq}, timeout=30)
        if response.status_code == 404:
            raise ClusterError(f"{self.url} keeps no request log: evals need the sandbox cluster (python -m sandbox)")
        response.raise_for_status()
        body = response.json()
        return body["last"], body["requests"]

    def request_cursor(self) -> int:
        return self.requests_after(2**62)[0]
