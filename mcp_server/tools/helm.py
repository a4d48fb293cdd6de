"""Helm tools (storage driver and its connection come from the server's HELM_DRIVER* environment)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Annotated, Any

import anyio
import yaml
from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import Field

from mcp_server import yaml_input
from mcp_server.redaction import Redactor
from mcp_server.runner import CommandResult, cap_output
from mcp_server.safety import UnsafeArgument, validate, validate_set_values
from mcp_server.toolbox import Toolbox, ToolResult, toolbox_of
from mcp_server.tools import tool
from mcp_server.tools.k8s_read import _scope_args
from mcp_server.tools.params import (
    AllNamespaces,
    Chart,
    ChartVersion,
    Namespace,
    Release,
    SetValues,
    ValuesYaml,
)

Revision = Annotated[int, Field(description="Release revision number (see helm_history).", ge=1)]
CHART_TOOLS = ("helm_template", "helm_install", "helm_upgrade")


@tool(title="List Helm releases", read_only=True)
async def helm_list(
    ctx: Context,
    namespace: Namespace = None,
    all_namespaces: AllNamespaces = False,
    filter: Annotated[str | None, Field(description="Only releases whose name matches this regex.")] = None,  # noqa: A002
) -> ToolResult:
    """List installed Helm releases with chart, app version, status and revision (`helm list`)."""
    box = toolbox_of(ctx)
    args = ["list", *_scope_args(box.namespace(namespace), all_namespaces)]
    if filter:
        args += ["--filter", validate("release", "filter", filter)]
    return await box.helm(ctx, args)


@tool(title="Show a Helm release's status", read_only=True)
async def helm_status(release: Release, ctx: Context, namespace: Namespace = None) -> ToolResult:
    """Show a release's status, revision, last deployment time and notes (`helm status`)."""
    box = toolbox_of(ctx)
    return await box.helm(ctx, ["status", _release(release), *_scope_args(box.namespace(namespace))])


@tool(title="Show a Helm release's history", read_only=True)
async def helm_history(release: Release, ctx: Context, namespace: Namespace = None) -> ToolResult:
    """List a release's revisions with status and description (`helm history`), e.g. to pick a rollback target."""
    box = toolbox_of(ctx)
    return await box.helm(ctx, ["history", _release(release), *_scope_args(box.namespace(namespace))])


@tool(title="Get a Helm release's values", read_only=True)
async def helm_get_values(
    release: Release,
    ctx: Context,
    namespace: Namespace = None,
    all_values: Annotated[bool, Field(description="Include chart defaults, not only user-supplied values.")] = False,
) -> ToolResult:
    """Show the values of a release as YAML (`helm get values`). Password/secret/token/key-like values are redacted."""
    box = toolbox_of(ctx)
    argv = [box.helm_bin, "get", "values", _release(release), *_scope_args(box.namespace(namespace)), "-o", "json"]
    if all_values:
        argv.append("--all")
    # parsed before any redaction (a pattern may cut through the JSON), and only redacted YAML is shown
    result = await box.execute(ctx, argv, stream=False, shown=False)
    if result.exit_code != 0:
        return box.shape(dataclasses.replace(result, output=""), is_error=True)
    values = box.redactor.redact_object(_release_values(result), helm_values=True)
    rendered = yaml.safe_dump(values, sort_keys=False) if values else "{}\n"
    output, truncated = cap_output(box.redactor.redact(rendered))
    return box.shape(dataclasses.replace(result, output=output, truncated=truncated), is_error=False)


def _release_values(result: CommandResult) -> dict[str, Any]:
    try:
        values = json.loads(result.output or "null") if not result.truncated else ""
    except ValueError:
        values = ""
    if not isinstance(values, dict | None):
        raise UnsafeArgument("the release's values could not be read safely (too large or not JSON)")
    return values or {}


@tool(title="Get a Helm release's manifest", read_only=True)
async def helm_get_manifest(release: Release, ctx: Context, namespace: Namespace = None) -> ToolResult:
    """Show the Kubernetes manifests a release installed (`helm get manifest`); Secret data redacted."""
    box = toolbox_of(ctx)
    args = ["get", "manifest", _release(release), *_scope_args(box.namespace(namespace))]
    return await box.helm(ctx, args, stream=False)


@tool(title="Render a chart locally", read_only=True, open_world=True)
async def helm_template(
    release: Release,
    chart: Chart,
    ctx: Context,
    namespace: Namespace = None,
    version: ChartVersion = None,
    values_yaml: ValuesYaml = "",
    set_values: SetValues = None,
) -> ToolResult:
    """Render a chart's manifests without installing anything (`helm template`); Secret data redacted."""
    box = toolbox_of(ctx)
    args = ["template", _release(release), await _chart(box, chart), *_scope_args(box.namespace(namespace))]
    return await _run_with_values(ctx, box, args, version, values_yaml, set_values, stream=False)


@tool(title="Install a Helm chart", read_only=False, destructive=False, idempotent=False)
async def helm_install(
    release: Release,
    chart: Chart,
    ctx: Context,
    namespace: Namespace = None,
    version: ChartVersion = None,
    values_yaml: ValuesYaml = "",
    set_values: SetValues = None,
    create_namespace: Annotated[bool, Field(description="Create the namespace if missing.")] = False,
    wait: Annotated[bool, Field(description="Wait until the release's resources are ready.")] = False,
) -> ToolResult:
    """Install a chart as a new release (`helm install`). Preview with helm_template first."""
    box = toolbox_of(ctx)
    args = ["install", _release(release), await _chart(box, chart), *_scope_args(namespace)]
    args += ["--create-namespace"] if create_namespace else []
    args += ["--wait"] if wait else []
    args += ["--skip-crds"] if box.config.allowed_namespaces else []  # CRDs are cluster-scoped
    return await _run_with_values(ctx, box, args, version, values_yaml, set_values, confine_to=namespace)


@tool(title="Upgrade a Helm release", read_only=False, destructive=True, idempotent=False)
async def helm_upgrade(
    release: Release,
    chart: Chart,
    ctx: Context,
    namespace: Namespace = None,
    version: ChartVersion = None,
    values_yaml: ValuesYaml = "",
    set_values: SetValues = None,
    install: Annotated[bool, Field(description="Install the release if it does not exist.")] = False,
    reuse_values: Annotated[
        bool, Field(description="Keep the values of the last release and merge in new ones.")
    ] = False,
    wait: Annotated[bool, Field(description="Wait until the release's resources are ready.")] = False,
) -> ToolResult:
    """Upgrade a release to a new chart version and/or values (`helm upgrade`); roll back with helm_rollback."""
    box = toolbox_of(ctx)
    args = ["upgrade", _release(release), await _chart(box, chart), *_scope_args(namespace)]
    args += ["--install"] if install else []
    args += ["--reuse-values"] if reuse_values else []
    args += ["--wait"] if wait else []
    return await _run_with_values(ctx, box, args, version, values_yaml, set_values, confine_to=namespace)


@tool(title="Roll back a Helm release", read_only=False, destructive=True, idempotent=False)
async def helm_rollback(release: Release, revision: Revision, ctx: Context, namespace: Namespace = None) -> ToolResult:
    """Roll a release back to an earlier revision (`helm rollback`), creating a new revision."""
    box = toolbox_of(ctx)
    return await box.helm(ctx, ["rollback", _release(release), str(revision), *_scope_args(namespace)])


@tool(title="Uninstall a Helm release", read_only=False, destructive=True, idempotent=True)
async def helm_uninstall(release: Release, ctx: Context, namespace: Namespace = None) -> ToolResult:
    """Uninstall a release and delete its resources (`helm uninstall`). Irreversible."""
    box = toolbox_of(ctx)
    return await box.helm(ctx, ["uninstall", _release(release), *_scope_args(namespace)])


@tool(title="Add a Helm chart repository", read_only=False, destructive=False, idempotent=True, scope="local")
async def helm_repo_add(
    name: Annotated[str, Field(description="Local name for the repository, used as 'name/chart'.")],
    url: Annotated[str, Field(description="Repository URL (https://… or oci://…).")],
    ctx: Context,
) -> ToolResult:
    """Register a chart repository on the tool server (`helm repo add --force-update`); only the server's
    configured repositories (MCP_HELM_REPOSITORIES) are accepted."""
    box = toolbox_of(ctx)
    if not _configured(box, validate("repo_url", "url", url)):
        raise UnsafeArgument(_NOT_CONFIGURED.format(what=f"repository {url!r}"))
    args = ["repo", "add", validate("repo_name", "name", name), url, "--force-update"]
    return await box.helm(ctx, args)


_NOT_CONFIGURED = (
    "{what} is not one of this server's chart repositories (MCP_HELM_REPOSITORIES); "
    "local paths, file:// and other URLs are not allowed"
)


async def chart_refusal(box: Toolbox, tool: str, arguments: Mapping[str, Any]) -> str | None:
    """Why the chart (or repository) of this helm call is not allowed, or None; nothing is fetched to decide."""
    if tool == "helm_repo_add" and isinstance(arguments.get("url"), str):
        url = arguments["url"]
        return None if _configured(box, url) else _NOT_CONFIGURED.format(what=f"repository {url!r}")
    chart = arguments.get("chart")
    if tool not in CHART_TOOLS or not isinstance(chart, str) or await _chart_allowed(box, chart):
        return None
    return _NOT_CONFIGURED.format(what=f"chart {chart!r}")


async def _chart_allowed(box: Toolbox, chart: str) -> bool:
    """A URL under a configured repository, or `repo/chart` of a repository added with a configured URL."""
    if not box.config.helm_repositories or ".." in chart.split("/") or chart.startswith((".", "/")):
        return False
    if "://" in chart:
        return _configured(box, chart)
    repo, _, name = chart.partition("/")
    if not name or "/" in name:
        return False
    url = (await _repository_urls(box)).get(repo)
    return url is not None and _configured(box, url)


def _configured(box: Toolbox, url: str) -> bool:
    url = url.rstrip("/")
    return ".." not in url.split("/") and any(
        url == prefix or url.startswith(prefix + "/") for prefix in box.config.helm_repositories
    )


async def _repository_urls(box: Toolbox) -> dict[str, str]:
    result = await box.execute(None, [box.helm_bin, "repo", "list", "-o", "json"], stream=False)
    try:
        repos = json.loads(result.output) if result.exit_code == 0 else []
    except ValueError:
        return {}
    return {r["name"]: r["url"] for r in repos if isinstance(r, dict) and {"name", "url"} <= r.keys()}


def _release(release: str) -> str:
    return validate("release", "release", release)


async def _chart(box: Toolbox, chart: str) -> str:
    validate("chart", "chart", chart)
    if not await _chart_allowed(box, chart):
        raise UnsafeArgument(_NOT_CONFIGURED.format(what=f"chart {chart!r}"))
    return chart


async def _run_with_values(
    ctx: Context,
    box: Toolbox,
    args: list[str],
    version: str | None,
    values_yaml: str,
    set_values: dict[str, Any] | None,
    *,
    stream: bool = True,
    confine_to: str | None = None,
) -> CallToolResult:
    if version:
        args += ["--version", validate("chart_version", "version", version)]
    if values_yaml:
        await anyio.to_thread.run_sync(_learn_values, box.redactor, values_yaml)
        args += ["-f", "-"]
    if set_values:
        box.redactor.redact_object(dict(set_values), helm_values=True)
        for pair in validate_set_values("set_values", set_values):
            args += ["--set", pair]
    if box.config.allowed_namespaces:
        await _check_release_objects(box, args, values_yaml or None, confine_to)
    return await box.helm(ctx, args, stdin=values_yaml or None, stream=stream)


async def _check_release_objects(box: Toolbox, args: list[str], stdin: str | None, namespace: str | None) -> None:
    """With a namespace allow-list, the objects an install/upgrade would create (hooks included) are rendered
    by a client-side dry run and checked like a manifest before anything is sent."""
    argv = [box.helm_bin, *args, "--dry-run=client", "-o", "json"]
    result = await box.execute(None, argv, stdin=stdin, stream=False, shown=False)
    if result.exit_code != 0:
        reason = (result.stderr.strip().splitlines() or ["no reason given"])[0]
        raise UnsafeArgument(
            f"refused: the chart could not be rendered to check it against the allowed namespaces ({reason})"
        )
    try:
        release = json.loads(result.output) if not result.truncated else None
        hooks = [hook["manifest"] for hook in release.get("hooks") or ()]
        manifests = [release.get("manifest") or "", *hooks]
        docs = await anyio.to_thread.run_sync(_load_manifests, manifests)
    except (AttributeError, TypeError, KeyError, ValueError, yaml.YAMLError, yaml_input.YamlRefused):
        raise UnsafeArgument(
            "refused: the chart's objects could not be checked against the allowed namespaces"
        ) from None
    await box.check_manifest_namespaces(docs, namespace)


def _load_manifests(manifests: list[str]) -> list[Any]:
    return [doc for text in manifests for doc in yaml_input.load_all(text) if doc is not None]


def _learn_values(redactor: Redactor, values_yaml: str) -> None:
    try:
        values = yaml_input.load(values_yaml)
    except yaml_input.YamlRefused as exc:
        raise UnsafeArgument(f"values_yaml: refused, {exc}") from None
    except yaml.YAMLError as exc:
        raise UnsafeArgument(f"values_yaml: not valid YAML ({exc.__class__.__name__})") from None
    if values is not None and not isinstance(values, dict):
        raise UnsafeArgument("values_yaml: must be a mapping")
    redactor.redact_object(values or {}, helm_values=True)
