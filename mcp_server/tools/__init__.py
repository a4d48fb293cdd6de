"""Tool registry: every tool is one typed async function in a toolset module, tagged with `@tool(...)`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from mcp_types import ToolAnnotations

Scope = Literal["namespaced", "cluster", "local", "manifest"]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    annotations: ToolAnnotations
    scope: Scope

    @property
    def read_only(self) -> bool:
        return bool(self.annotations.read_only_hint)


def tool(
    *,
    title: str,
    read_only: bool,
    destructive: bool = False,
    idempotent: bool = False,
    open_world: bool = True,
    scope: Scope = "namespaced",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Tag a toolset function with its title, full MCP annotations and namespace scope."""

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        annotations = ToolAnnotations(
            title=title,
            read_only_hint=read_only,
            destructive_hint=False if read_only else destructive,
            idempotent_hint=True if read_only else idempotent,
            open_world_hint=open_world,
        )
        fn.__tool_spec__ = ToolSpec(name=fn.__name__, title=title, annotations=annotations, scope=scope)  # type: ignore[attr-defined]
        return fn

    return decorator


def toolset(module: ModuleType) -> list[Callable[..., Any]]:
    """The tagged functions of a toolset module, in definition order."""
    return [fn for fn in vars(module).values() if callable(fn) and hasattr(fn, "__tool_spec__")]


def all_tools() -> list[Callable[..., Any]]:
    from mcp_server.tools import helm, k8s_read, k8s_write

    return [*toolset(k8s_read), *toolset(k8s_write), *toolset(helm)]


def spec_of(fn: Callable[..., Any]) -> ToolSpec:
    return fn.__tool_spec__  # type: ignore[attr-defined]
