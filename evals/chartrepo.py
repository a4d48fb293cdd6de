"""The eval charts (`evals/charts/`) as a helm chart repository: packaged, indexed and served over HTTP on loopback
for the length of an eval session. The tool server takes charts only from its MCP_HELM_REPOSITORIES, never a path."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from evals.cluster import CHARTS, Cluster

# helm's own former `helm serve` port: what `--skyflo-url` mode serves on unless told otherwise.
DEFAULT_PORT = 8879


class ChartsError(Exception):
    """The eval charts could not be served; the message says what to do."""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def chart_url(repository: str, chart: str) -> str:
    """The package URL of one eval chart in the repository at `repository`."""
    version = (CHARTS / chart / "Chart.yaml").read_text().split("\nversion: ")[1].split()[0]
    return f"{repository}/{chart}-{version}.tgz"


@contextmanager
def charts_served(cluster: Cluster, port: int = 0) -> Iterator[str]:
    """Serve every chart under `evals/charts/` at http://127.0.0.1:`port` (0: a free one); yield that URL."""
    with tempfile.TemporaryDirectory(prefix="skyflo-evals-charts-") as repo:
        for chart in sorted(p for p in CHARTS.iterdir() if (p / "Chart.yaml").is_file()):
            cluster.helm("package", str(chart), "-d", repo)
        try:
            httpd = ThreadingHTTPServer(("127.0.0.1", port), partial(_Quiet, directory=repo))
        except OSError as exc:
            raise ChartsError(
                f"serving the eval charts on 127.0.0.1:{port} failed ({exc.strerror}); pick a free port with "
                "--charts-port (and list it in the tool server's MCP_HELM_REPOSITORIES) or give --charts-url"
            ) from exc
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        cluster.helm("repo", "index", repo, "--url", url)
        thread = threading.Thread(target=httpd.serve_forever, name="evals-charts", daemon=True)
        thread.start()
        try:
            yield url
        finally:
            httpd.shutdown()
            httpd.server_close()
