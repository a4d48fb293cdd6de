"""Argument validation for the tools: strict patterns for every value that reaches an argv, and a refusal
of flags that would redirect kubectl/helm to another cluster, identity or binary.

Commands are always argv lists run without a shell; these checks make sure no value can become a flag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError


class UnsafeArgument(ToolError):
    """A tool argument was refused before anything ran."""


DANGEROUS_FLAGS = (
    "server",
    "s",
    "token",
    "kubeconfig",
    "context",
    "cluster",
    "user",
    "as",
    "as-group",
    "as-uid",
    "insecure-skip-tls-verify",
    "certificate-authority",
    "client-key",
    "client-certificate",
    "username",
    "password",
    "kube-apiserver",
    "kube-token",
    "kube-context",
    "kube-as-user",
    "kube-as-group",
    "kube-ca-file",
    "kube-insecure-skip-tls-verify",
    "kube-tls-server-name",
    "post-renderer",
    "post-renderer-args",
    "tls-server-name",
    "registry-config",
    "repository-config",
    "repository-cache",
    "plugin",
    "exec",
    "cache-dir",
)
_FLAG_RE = re.compile(
    r"(?<![\w-])--?(" + "|".join(re.escape(f) for f in sorted(DANGEROUS_FLAGS, key=len, reverse=True)) + r")(?![\w-])"
)

_DNS1123_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
_DNS1123_SUBDOMAIN = rf"{_DNS1123_LABEL}(?:\.{_DNS1123_LABEL})*"
_QUALIFIED_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_KEY = rf"(?:{_DNS1123_SUBDOMAIN}/)?{_QUALIFIED_NAME}"
_LABEL_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?"
_KIND = r"[A-Za-z][A-Za-z0-9]*(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*(?:/v[0-9]+(?:(?:alpha|beta)[0-9]+)?)?"

PATTERNS: dict[str, re.Pattern[str]] = {
    "namespace": re.compile(rf"^{_DNS1123_LABEL}$"),
    "name": re.compile(rf"^(?=.{{1,253}}$){_DNS1123_SUBDOMAIN}$|^(?=.{{1,253}}$)[a-z0-9](?:[-a-z0-9._:]*[a-z0-9])?$"),
    "kind": re.compile(rf"^{_KIND}(?:,{_KIND})*$"),
    "container": re.compile(rf"^{_DNS1123_LABEL}$"),
    "release": re.compile(r"^(?=.{1,53}$)[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$"),
    "chart": re.compile(r"^(?:oci://|https?://)?[A-Za-z0-9_./][A-Za-z0-9._/:@+-]{0,511}$"),
    "chart_version": re.compile(r"^[A-Za-z0-9^~<>=.*+ ,|-]{1,64}$"),
    "repo_name": re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"),
    "repo_url": re.compile(r"^(?:https?|oci)://[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]{1,2000}$"),
    "image": re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,511}$"),
    "label_key": re.compile(rf"^{_LABEL_KEY}$"),
    "label_value": re.compile(rf"^{_LABEL_VALUE}$"),
    "selector": re.compile(
        rf"^!?{_LABEL_KEY}(?:\s*(?:==?|!=)\s*{_LABEL_VALUE}|\s+(?:in|notin)\s+\(\s*{_LABEL_VALUE}(?:\s*,\s*{_LABEL_VALUE})*\s*\))?"
        rf"(?:\s*,\s*!?{_LABEL_KEY}(?:\s*(?:==?|!=)\s*{_LABEL_VALUE}|\s+(?:in|notin)\s+\(\s*{_LABEL_VALUE}(?:\s*,\s*{_LABEL_VALUE})*\s*\))?)*$"
    ),
    "field_selector": re.compile(r"^[A-Za-z0-9_.]+!?==?[A-Za-z0-9_.:/-]*(?:,[A-Za-z0-9_.]+!?==?[A-Za-z0-9_.:/-]*)*$"),
    "revision": re.compile(r"^[0-9]{1,9}$"),
    "duration": re.compile(r"^[0-9]{1,6}(?:ms|s|m|h)$"),
}


def refuse_dangerous_flags(argument: str, value: str) -> None:
    """Refuse a value that carries a connection/identity flag anywhere in it."""
    match = _FLAG_RE.search(value)
    if match:
        raise UnsafeArgument(f"{argument}: the flag {match.group(0)!r} is not allowed")


def validate(kind: str, argument: str, value: str) -> str:
    """Return `value` if it matches the strict pattern for `kind`, else raise `UnsafeArgument`."""
    refuse_dangerous_flags(argument, value)
    if value.startswith("-") or not PATTERNS[kind].match(value):
        raise UnsafeArgument(f"{argument}: {value!r} is not a valid {kind.replace('_', ' ')}")
    return value


def validate_optional(kind: str, argument: str, value: str | None) -> str | None:
    return None if value is None else validate(kind, argument, value)


def validate_text(argument: str, value: str, *, max_length: int = 4096) -> str:
    """Free text that ends up as one argv element (annotation values, --set values)."""
    refuse_dangerous_flags(argument, value)
    if len(value) > max_length or any(ord(ch) < 32 and ch not in "\t" for ch in value):
        raise UnsafeArgument(f"{argument}: value is too long or holds control characters")
    return value


def validate_key_values(argument: str, pairs: Mapping[str, Any], *, value_kind: str | None) -> list[str]:
    """`{"k": "v"}` → `["k=v"]` with keys checked as label keys and values as `value_kind` or free text."""
    items = []
    for key, raw in pairs.items():
        validate("label_key", f"{argument} key", key)
        if raw is None:
            items.append(f"{key}-")
            continue
        value = str(raw)
        if value_kind:
            validate(value_kind, f"{argument}[{key}]", value) if value else None
        else:
            validate_text(f"{argument}[{key}]", value)
        items.append(f"{key}={value}")
    return items


def validate_set_values(argument: str, values: Mapping[str, Any]) -> list[str]:
    """Helm `--set path=value` pairs: dotted paths, scalar values, no flags anywhere; each value escaped so
    that it sets exactly its own key (helm reads `,` as the next pair and a leading `{` as a list)."""
    items = []
    for path, raw in values.items():
        if not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.\[\]-]{0,255}$", path):
            raise UnsafeArgument(f"{argument}: {path!r} is not a valid value path")
        if isinstance(raw, dict | list):
            raise UnsafeArgument(f"{argument}[{path}]: use values_yaml for nested values")
        value = "null" if raw is None else str(raw).lower() if isinstance(raw, bool) else str(raw)
        validate_text(f"{argument}[{path}]", value)
        items.append(f"{path}={_helm_escaped(value)}")
    return items


def _helm_escaped(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace(",", "\\,")
    return "\\" + escaped if escaped.startswith("{") else escaped


def refuse_flags_in_all(arguments: Mapping[str, Any], *, skip: Iterable[str] = ()) -> None:
    """Scan every string (nested too) among the arguments, except bodies that travel on stdin."""
    skipped = set(skip)
    for name, value in arguments.items():
        if name not in skipped:
            _scan(name, value)


def _scan(name: str, value: Any) -> None:
    if isinstance(value, str):
        refuse_dangerous_flags(name, value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            refuse_dangerous_flags(f"{name} key", str(key))
            _scan(f"{name}[{key}]", item)
    elif isinstance(value, list | tuple):
        for item in value:
            _scan(name, item)
