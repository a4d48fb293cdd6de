"""In-cluster identity: with no kubeconfig and a mounted ServiceAccount, kubectl and helm talk to the API server
the pod runs in, as that ServiceAccount.

kubectl's own in-cluster fallback reads a fixed path; writing a kubeconfig that points at the mounted files
instead gives kubectl and helm one configuration, lets tests use another directory, and keeps token rotation
working (`tokenFile` is re-read by client-go).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import MutableMapping
from pathlib import Path

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def _kubeconfig_text(server: str, account: Path, namespace: str) -> str:
    return f"""apiVersion: v1
kind: Config
clusters:
- name: in-cluster
  cluster:
    server: {server}
    certificate-authority: {account / "ca.crt"}
users:
- name: service-account
  user:
    tokenFile: {account / "token"}
contexts:
- name: in-cluster
  context:
    cluster: in-cluster
    user: service-account
    namespace: {namespace}
current-context: in-cluster
"""


def _has_kubeconfig(environ: MutableMapping[str, str]) -> bool:
    if environ.get("KUBECONFIG"):
        return True
    home = environ.get("HOME")
    return bool(home) and (Path(home) / ".kube" / "config").is_file()


def use_in_cluster_config(environ: MutableMapping[str, str]) -> str | None:
    """When no kubeconfig is given and a ServiceAccount is mounted, write a kubeconfig for it and set KUBECONFIG
    in `environ`; return its path (None when there is nothing to do)."""
    account = Path(environ.get("MCP_SERVICE_ACCOUNT_DIR") or SERVICE_ACCOUNT_DIR)
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT")
    if _has_kubeconfig(environ) or not (host and port and (account / "token").is_file()):
        return None
    namespace_file = account / "namespace"
    namespace = namespace_file.read_text().strip() if namespace_file.is_file() else "default"
    host = f"[{host}]" if ":" in host else host  # an IPv6 service address
    directory = tempfile.mkdtemp(prefix="skyflo-kube-")
    path = os.path.join(directory, "in-cluster.kubeconfig")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as fh:
        fh.write(_kubeconfig_text(f"https://{host}:{port}", account, namespace))
    environ["KUBECONFIG"] = path
    return path
