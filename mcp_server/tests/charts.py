"""A chart repository served over HTTP (index.yaml + packaged charts), and a listener that records requests."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

GREETER = {
    "Chart.yaml": "apiVersion: v2\nname: greeter\nversion: 0.1.0\nappVersion: '1.0'\n",
    "values.yaml": "greeting: hello\nauth:\n  password: ''\n",
    "templates/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\n"
        "data:\n  greeting: {{ .Values.greeting | quote }}\n"
        '  a: {{ .Values.a | default "unset" | quote }}\n  b: {{ .Values.b | default "unset" | quote }}\n'
    ),
    "templates/secret.yaml": (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-auth\n"
        "stringData:\n  password: {{ .Values.auth.password | quote }}\n"
    ),
}


# Renders a ClusterRoleBinding, or puts its ConfigMap (or a hook's) in another namespace, when told to.
ESCALATOR = {
    "Chart.yaml": "apiVersion: v2\nname: escalator\nversion: 0.1.0\n",
    "values.yaml": "clusterWide: false\nelsewhere: ''\nhookElsewhere: ''\n",
    "templates/binding.yaml": (
        "{{- if .Values.clusterWide }}\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n"
        "metadata:\n  name: {{ .Release.Name }}-admin\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n"
        "  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n- kind: ServiceAccount\n  name: default\n"
        "  namespace: {{ .Release.Namespace }}\n{{- end }}\n"
    ),
    "templates/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\n"
        "  {{- with .Values.elsewhere }}\n  namespace: {{ . }}\n  {{- end }}\ndata:\n  a: b\n"
    ),
    "templates/hook.yaml": (
        "{{- with .Values.hookElsewhere }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n"
        "  name: {{ $.Release.Name }}-hook\n  namespace: {{ . }}\n  annotations:\n"
        "    helm.sh/hook: pre-install\ndata:\n  a: b\n{{- end }}\n"
    ),
}


@dataclass
class HttpListener:
    url: str
    requests: list[str] = field(default_factory=list)


@contextmanager
def serve_directory(directory: Path) -> Iterator[HttpListener]:
    """Serve `directory` on a free loopback port, recording every request path."""
    listener = HttpListener(url="")

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            listener.requests.append(self.path)
            super().do_GET()

        def do_HEAD(self) -> None:  # noqa: N802
            listener.requests.append(self.path)
            super().do_HEAD()

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(directory)))
    listener.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        httpd.shutdown()
        httpd.server_close()


def write_chart(root: Path, files: Mapping[str, str] = GREETER) -> Path:
    chart = root / files["Chart.yaml"].split("name: ")[1].split("\n")[0]
    for path, text in files.items():
        (chart / path).parent.mkdir(parents=True, exist_ok=True)
        (chart / path).write_text(text)
    return chart


@contextmanager
def chart_repository(cluster, root: Path) -> Iterator[HttpListener]:
    """The greeter and escalator charts packaged and indexed as a helm repository at `listener.url`."""
    repo = root / "repo"
    repo.mkdir(parents=True, exist_ok=True)
    for files in (GREETER, ESCALATOR):
        cluster.helm("package", str(write_chart(root / "src", files)), "-d", str(repo))
    with serve_directory(repo) as listener:
        cluster.helm("repo", "index", str(repo), "--url", listener.url)
        yield listener
