"""`python -m sandbox --port N --kubeconfig PATH [--host H] [--scenario NAME ...] [--admin-token T]
[--tls-cert C --tls-key K [--tls-ca CA]]`.

With TLS it serves https (as a real API server does; kubectl sends credentials only over TLS). The kubeconfig
carries the admin's token (system:masters); sandbox/rbac.py authenticates every request and authorises it by the
RBAC objects stored."""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile

import uvicorn

from sandbox import scenarios
from sandbox.app import SandboxServer


def kubeconfig_text(url: str, token: str = "", *, ca: str | None = None) -> str:
    authority = f"\n    certificate-authority: {os.path.abspath(ca)}" if ca else ""
    return f"""apiVersion: v1
kind: Config
clusters:
- name: sandbox
  cluster:
    server: {url}{authority}
users:
- name: sandbox-user
  user:
    token: {token}
contexts:
- name: sandbox
  context:
    cluster: sandbox
    user: sandbox-user
    namespace: default
current-context: sandbox
"""


def write_kubeconfig(path: str, url: str, token: str, *, ca: str | None = None) -> None:
    """Write atomically, so a process polling for the file never reads half of it."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".kubeconfig-")
    with os.fdopen(fd, "w") as fh:
        fh.write(kubeconfig_text(url, token, ca=ca))
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Sandbox Kubernetes API server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--kubeconfig", required=True, help="where to write a kubeconfig for this server")
    parser.add_argument("--scenario", action="append", default=[], choices=sorted(scenarios.SCENARIOS))
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--tls-cert", help="serve https with this certificate (PEM)")
    parser.add_argument("--tls-key", help="the certificate's private key (PEM)")
    parser.add_argument("--tls-ca", help="the CA certificate written into the kubeconfig")
    parser.add_argument(
        "--admin-token",
        "--token",
        default=os.environ.get("SANDBOX_ADMIN_TOKEN"),
        help="the kubeconfig's token, in system:masters (default: $SANDBOX_ADMIN_TOKEN, else random)",
    )
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")

    server = SandboxServer(admin_token=args.admin_token)
    for name in args.scenario:
        scenarios.seed(server.store, name)
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and without it
    # a small write (a watch event, a log line) waits up to 40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)
    port = sock.getsockname()[1]
    url = f"{'https' if args.tls_cert else 'http'}://{args.host}:{port}"
    write_kubeconfig(args.kubeconfig, url, server.tokens.admin_token, ca=args.tls_ca)
    print(f"sandbox: serving {url} (kubeconfig {args.kubeconfig})", file=sys.stderr, flush=True)
    config = uvicorn.Config(
        server.build_app(),
        ssl_certfile=args.tls_cert,
        ssl_keyfile=args.tls_key,
        log_level=args.log_level,
        access_log=False,
        timeout_graceful_shutdown=1,
        lifespan="on",
    )
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
