"""Server configuration read from the environment; a bad value fails at start naming the variable."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

NAMESPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
SERVER_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")


class ConfigError(ValueError):
    """An environment variable holds a value the server cannot run with."""


@dataclass(frozen=True)
class ServerConfig:
    token: str | None = None
    kubeconfig: str | None = None
    read_only: bool = False
    allowed_namespaces: tuple[str, ...] = ()
    tool_timeout_s: float = 60.0
    allowed_origins: tuple[str, ...] = ()
    helm_repositories: tuple[str, ...] = ()
    impersonation_key: bytes | None = None  # set: every call must carry a valid identity assertion (identity.py)
    stdio_servers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name -> argv (stdio_servers.py)
    env: Mapping[str, str] = field(default_factory=dict)


def _env_bool(environ: Mapping[str, str], name: str) -> bool:
    raw = environ.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be 1/0/true/false, got {raw!r}")


def _env_float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0 < value <= 3600:
        raise ConfigError(f"{name} must be between 0 and 3600 seconds, got {raw!r}")
    return value


def _env_list(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in environ.get(name, "").split(",") if item.strip())


def _env_namespaces(environ: Mapping[str, str]) -> tuple[str, ...]:
    namespaces = _env_list(environ, "MCP_ALLOWED_NAMESPACES")
    for namespace in namespaces:
        if not NAMESPACE_RE.match(namespace):
            raise ConfigError(f"MCP_ALLOWED_NAMESPACES holds an invalid namespace {namespace!r}")
    return namespaces


def _env_origins(environ: Mapping[str, str]) -> tuple[str, ...]:
    origins = _env_list(environ, "MCP_ALLOWED_ORIGINS")
    for origin in origins:
        if not re.match(r"^https?://[^/\s]+$", origin):
            raise ConfigError(f"MCP_ALLOWED_ORIGINS holds an invalid origin {origin!r} (want scheme://host[:port])")
    return origins


def _env_repositories(environ: Mapping[str, str]) -> tuple[str, ...]:
    repositories = _env_list(environ, "MCP_HELM_REPOSITORIES")
    for repository in repositories:
        if not re.match(r"^(?:https?|oci)://[^\s/?#@]+(?:/[^\s?#@]*)?$", repository) or ".." in repository.split("/"):
            raise ConfigError(
                f"MCP_HELM_REPOSITORIES holds an invalid repository {repository!r} "
                "(want https://host/path, http://host/path or oci://registry/path, without credentials)"
            )
    return tuple(repository.rstrip("/") for repository in repositories)


def _env_impersonation_key(environ: Mapping[str, str]) -> bytes | None:
    from mcp_server.identity import MIN_KEY_CHARS

    key = environ.get("MCP_IMPERSONATION_KEY", "")
    if not key:
        return None
    if len(key) < MIN_KEY_CHARS:
        raise ConfigError(f"MCP_IMPERSONATION_KEY must be at least {MIN_KEY_CHARS} characters")
    return key.encode()


def _env_stdio_servers(environ: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """`MCP_STDIO_SERVERS`: {"name": ["command", "arg", ...]}, the stdio servers this host launches."""
    raw = environ.get("MCP_STDIO_SERVERS", "").strip()
    if not raw:
        return {}
    shape = 'MCP_STDIO_SERVERS must be a JSON object {"name": ["command", "arg", ...]}'
    try:
        servers = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigError(shape) from None
    if not isinstance(servers, dict):
        raise ConfigError(shape)
    for name, argv in servers.items():
        if not SERVER_NAME_RE.match(name):
            raise ConfigError(f"MCP_STDIO_SERVERS: {name!r} is not a name (lowercase letters, digits and '-')")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) and a for a in argv):
            raise ConfigError(f"MCP_STDIO_SERVERS: {name!r} needs a list of strings, the command and its arguments")
    return {name: tuple(argv) for name, argv in servers.items()}


def config_from_env(environ: Mapping[str, str] | None = None) -> ServerConfig:
    """Build the configuration from `environ` (default: os.environ)."""
    environ = dict(os.environ if environ is None else environ)
    kubeconfig = environ.get("KUBECONFIG") or None
    if kubeconfig is not None:
        for path in kubeconfig.split(os.pathsep):
            if path and not os.path.isfile(path):
                raise ConfigError(f"KUBECONFIG points at {path!r}, which is not a file")
    return ServerConfig(
        token=environ.get("MCP_SERVER_TOKEN") or None,
        kubeconfig=kubeconfig,
        read_only=_env_bool(environ, "MCP_READ_ONLY"),
        allowed_namespaces=_env_namespaces(environ),
        tool_timeout_s=_env_float(environ, "MCP_TOOL_TIMEOUT_S", 60.0),
        allowed_origins=_env_origins(environ),
        helm_repositories=_env_repositories(environ),
        impersonation_key=_env_impersonation_key(environ),
        stdio_servers=_env_stdio_servers(environ),
        env=environ,
    )
