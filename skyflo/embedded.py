"""The one-command launcher: migrate, start the tool server (and the sandbox cluster when no kubeconfig is found),
then serve the web app with daphne on 127.0.0.1:8000.

Runs before Django settings are loaded, so it reads the environment itself and hands the result to the children.
"""

import argparse
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("SKYFLO_VAR_DIR", ROOT / "var"))
STOP_TIMEOUT_S = 8.0  # the whole product stops within 10 s of SIGTERM or Ctrl-C


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    VAR.mkdir(parents=True, exist_ok=True)
    env = _base_env()
    children: list[subprocess.Popen] = []
    try:
        _manage(env, "migrate", "--no-input")
        if not env.get("MCP_SERVER_URL"):
            if not _kubeconfig_found(env):
                children.append(_start_sandbox(env))
            children.append(_start_toolserver(env))
        print(f"Skyflo is starting on http://{args.host}:{args.port}/  (Ctrl-C stops it)", flush=True)
        web = subprocess.Popen(  # noqa: S603 - fixed argv
            [sys.executable, "-m", "daphne", "-b", args.host, "-p", str(args.port), "skyflo.asgi:application"],
            cwd=ROOT,
            env=env,
        )
        children.append(web)
        return _wait(web, children)
    finally:
        _stop(children)


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m skyflo.embedded", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    return parser.parse_args(argv)


def _base_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "skyflo.settings")
    embedded = not env.get("DATABASE_URL") and not env.get("REDIS_URL")
    if embedded:
        env.setdefault("DJANGO_DEBUG", "1")
    env.setdefault("DJANGO_SECRET_KEY", _persistent_secret(VAR / "secret_key", 64))
    env["PATH"] = f"{ROOT / '.bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def _persistent_secret(path: Path, length: int) -> str:
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(length)
    path.write_text(value)
    path.chmod(0o600)
    return value


def _manage(env, *args) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)  # noqa: S603


def _kubeconfig_found(env) -> bool:
    paths = env.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    return any(Path(p).is_file() for p in paths.split(os.pathsep) if p)


def _start_sandbox(env) -> subprocess.Popen:
    kubeconfig = VAR / "sandbox" / "kubeconfig"
    kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    kubeconfig.unlink(missing_ok=True)
    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "sandbox", "--port", "0", "--kubeconfig", str(kubeconfig), "--scenario", "demo"],
        cwd=ROOT,
        env=env,
    )
    _wait_for_file(kubeconfig, proc, "sandbox cluster")
    env["KUBECONFIG"] = str(kubeconfig)
    env["KUBECACHEDIR"] = str(VAR / "sandbox" / "kube-cache")
    env["SKYFLO_SANDBOX_CLUSTER"] = "1"
    print("No kubeconfig found: started the SIMULATED sandbox cluster (demo namespace 'shop').", flush=True)
    return proc


def _start_toolserver(env) -> subprocess.Popen:
    port_file = VAR / "toolserver.port"
    port_file.unlink(missing_ok=True)
    token = secrets.token_urlsafe(32)
    child_env = {**env, "MCP_SERVER_TOKEN": token}
    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "mcp_server", "--host", "127.0.0.1", "--port", "0", "--port-file", str(port_file)],
        cwd=ROOT,
        env=child_env,
    )
    _wait_for_file(port_file, proc, "tool server")
    env["MCP_SERVER_URL"] = f"http://127.0.0.1:{port_file.read_text().strip()}/mcp"
    env["MCP_SERVER_TOKEN"] = token
    return proc


def _wait_for_file(path: Path, proc: subprocess.Popen, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the {what} exited with status {proc.returncode} while starting")
        if path.exists() and path.read_text().strip():
            return
        time.sleep(0.1)
    raise SystemExit(f"the {what} did not start within {seconds:.0f}s")


def _wait(web: subprocess.Popen, children: list[subprocess.Popen]) -> int:
    try:
        while web.poll() is None:
            if any(child.poll() is not None for child in children if child is not web):
                print("a helper process stopped; shutting down", file=sys.stderr)
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    return web.returncode


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def _stop(children: list[subprocess.Popen]) -> None:
    """Terminate the children, then kill whatever has not exited within STOP_TIMEOUT_S (one deadline for all)."""
    for child in reversed(children):
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        if child.poll() is None:
            print(f"pid {child.pid} did not stop within {STOP_TIMEOUT_S:.0f}s; killing it", file=sys.stderr)
            child.kill()
            child.wait()


if __name__ == "__main__":
    sys.exit(main())
