"""compose.yaml (single host). There is no Docker daemon on our machines: these tests check what can be checked
without one — it parses, every Skyflo service runs the one image with the commands the README documents, and every
variable it sets is one the code reads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
SKYFLO_SERVICES = ("migrate", "web", "worker", "beat", "toolserver")
LONG_RUNNING = ("postgres", "redis", "web", "worker", "toolserver")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "compose.yaml").read_text())


def _sources(*patterns: str) -> str:
    return "\n".join(p.read_text() for pattern in patterns for p in sorted(REPO_ROOT.glob(pattern)))


def _read_variables(source: str) -> set[str]:
    """Variable names the code names in quotes (`env_str("X")`, `_env_bool(environ, "X")`) or a script expands."""
    quoted = set(re.findall(r"""["']([A-Z][A-Z0-9]*_[A-Z0-9_]+)["']""", source))
    shell = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", source))
    return quoted | shell


def _without(argv: list[str], flag: str) -> list[str]:
    assert flag in argv
    return [arg for arg in argv if arg != flag]


def test_it_parses_with_the_services_volumes_and_one_image(compose):
    services = compose["services"]

    assert set(services) == {"postgres", "redis", *SKYFLO_SERVICES}
    assert set(compose["volumes"]) == {"postgres-data", "redis-data"}
    assert {services[name]["image"] for name in SKYFLO_SERVICES} == {"${SKYFLO_IMAGE:-skyflo:local}"}
    assert all(services[name]["build"] == "." for name in SKYFLO_SERVICES)
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "redis-data:/data" in services["redis"]["volumes"]


def test_the_commands_are_the_documented_ones(compose):
    services = compose["services"]
    readme = (REPO_ROOT / "README.md").read_text()

    assert services["web"]["command"][0] == "daphne"
    assert services["web"]["command"][-1] == "skyflo.asgi:application"
    # --quiet: no start-up banner in the JSON log
    worker, beat = (_without(services[name]["command"], "--quiet") for name in ("worker", "beat"))
    assert worker[:6] == ["celery", "-A", "skyflo", "worker", "--pool", "threads"]
    assert beat[:4] == ["celery", "-A", "skyflo", "beat"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    for documented in (
        "daphne skyflo.asgi:application",
        "celery -A skyflo worker --pool threads",
        "celery -A skyflo beat",
    ):
        assert documented in readme
    script = (REPO_ROOT / services["toolserver"]["command"][1]).read_text()
    assert "exec python -m mcp_server --host 0.0.0.0 --port 8081" in script
    assert "python -m sandbox" in script  # the sandbox when no kubeconfig is mounted
    assert "docker compose" in readme
    assert "not run here" in readme


def test_every_variable_it_sets_is_read_by_the_code(compose):
    services = compose["services"]
    django_reads = _read_variables(_sources("skyflo/*.py"))
    toolserver_reads = _read_variables(_sources("mcp_server/*.py", services["toolserver"]["command"][1]))

    for name in ("migrate", "web", "worker", "beat"):
        unknown = set(services[name]["environment"]) - django_reads
        assert unknown == set(), f"{name} sets variables nothing reads: {unknown}"
    assert set(services["toolserver"]["environment"]) - toolserver_reads == set()


def test_the_required_settings_are_given_to_django(compose):
    env = compose["services"]["web"]["environment"]

    assert env["DATABASE_URL"].startswith("postgres://skyflo:")
    assert env["DATABASE_URL"].endswith("@postgres:5432/skyflo")
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert env["MCP_SERVER_URL"] == "http://toolserver:8081/mcp"
    # Secrets have no default: compose stops with the message when .env lacks them.
    for secret in ("DJANGO_SECRET_KEY", "MCP_SERVER_TOKEN"):
        assert env[secret].startswith(f"${{{secret}:?")
    assert compose["services"]["toolserver"]["environment"]["MCP_SERVER_TOKEN"] == env["MCP_SERVER_TOKEN"]


def test_services_start_in_order_with_health_checks(compose):
    services = compose["services"]

    for name in LONG_RUNNING:
        assert services[name]["healthcheck"]["test"], name
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])


def test_skyflo_containers_run_locked_down(compose):
    for name in SKYFLO_SERVICES:
        service = compose["services"][name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service["tmpfs"] == ["/tmp"], name


def test_the_dockerfile_builds_the_image_they_run():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()

    assert "USER 10001:10001" in dockerfile  # the chart's runAsUser; numeric so runAsNonRoot can be checked
    assert "HOME=/tmp" in dockerfile  # kubectl/helm caches on the writable /tmp of a read-only root filesystem
    assert "COPY --from=k8s-tools /tools/.bin /opt/skyflo/.bin" in dockerfile
    assert 'PATH="/opt/venv/bin:/opt/skyflo/.bin:$PATH"' in dockerfile
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".bin", "var", ".git"} <= set(ignored)


OPERATOR_SETTINGS = (
    "SKYFLO_MCP_ALLOWED_NETWORKS",
    "SKYFLO_DB_POOL_SIZE",
    "SKYFLO_HTTP_CONCURRENCY",
    "SKYFLO_WS_RECHECK_S",
    "SKYFLO_LLM_PRICES",
    "LLM_API_VERSION",
    "LLM_EXTRA_HEADERS",
    "LLM_REASONING_EFFORT",
)


def test_the_operators_settings_pass_through_from_the_env_file(compose):
    services = compose["services"]

    for name in ("web", "worker", "beat", "migrate"):
        env = services[name]["environment"]
        for variable in OPERATOR_SETTINGS:
            assert env[variable].startswith(f"${{{variable}:-"), (name, variable)
        assert "MCP_HELM_REPOSITORIES" not in env
    assert services["toolserver"]["environment"]["MCP_HELM_REPOSITORIES"] == "${MCP_HELM_REPOSITORIES:-}"
    compose_text = (REPO_ROOT / "compose.yaml").read_text()
    example = (REPO_ROOT / "deploy/compose/env.example").read_text()
    named = re.findall(r"^([A-Z][A-Z0-9_]+)=", example, re.MULTILINE)
    assert {"MCP_HELM_REPOSITORIES", "LLM_API_VERSION"} <= set(named)
    assert [n for n in named if f"${{{n}" not in compose_text] == []  # every line of .env reaches a service


def test_the_default_pools_fit_postgres_default_max_connections(compose):
    services = compose["services"]
    pool = int(services["web"]["environment"]["SKYFLO_DB_POOL_SIZE"].removesuffix("}").split(":-")[1])
    django = [name for name in ("migrate", "web", "worker", "beat") if name in services]
    workers = services["worker"].get("deploy", {}).get("replicas", 1)

    # README "Scaled mode": every Django process a pool, a worker 10 more for checkpoints; postgres:16 allows 100.
    assert "max_connections" not in json.dumps(services["postgres"])
    assert len(django) * pool + 10 * workers < 100
