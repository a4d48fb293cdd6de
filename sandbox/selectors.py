"""Label selectors (query strings and LabelSelector objects) and field selectors."""

from __future__ import annotations

import re
from typing import Any

_TERM = re.compile(r"^\s*(!?)([\w./-]+)\s*(?:(==|=|!=)\s*([\w./-]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*$")


class SelectorError(ValueError):
    pass


def _split_terms(text: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        terms.append(current)
    return [t for t in terms if t.strip()]


def parse_label_selector(text: str | None) -> list[tuple[str, str, list[str]]]:
    """Parse `a=b,c!=d,e in (x,y),!f` into (key, op, values) requirements."""
    requirements = []
    for term in _split_terms(text or ""):
        m = _TERM.match(term)
        if not m:
            raise SelectorError(f"unable to parse requirement: {term!r}")
        neg, key, eq_op, eq_val, set_op, set_vals = m.groups()
        if neg:
            requirements.append((key, "DoesNotExist", []))
        elif eq_op:
            requirements.append((key, "NotIn" if eq_op == "!=" else "In", [eq_val]))
        elif set_op:
            values = [v.strip() for v in set_vals.split(",") if v.strip()]
            requirements.append((key, "In" if set_op == "in" else "NotIn", values))
        else:
            requirements.append((key, "Exists", []))
    return requirements


def requirements_match(requirements: list[tuple[str, str, list[str]]], labels: dict | None) -> bool:
    labels = labels or {}
    for key, op, values in requirements:
        present = key in labels
        if (
            (op == "In" and (not present or labels[key] not in values))
            or (op == "NotIn" and present and labels[key] in values)
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True


def label_selector_requirements(selector: dict | None) -> list[tuple[str, str, list[str]]]:
    """Requirements of a LabelSelector object ({matchLabels, matchExpressions})."""
    selector = selector or {}
    reqs = [(k, "In", [v]) for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        reqs.append((expr.get("key", ""), expr.get("operator", "In"), list(expr.get("values") or [])))
    return reqs


def selector_matches(selector: dict | None, labels: dict | None) -> bool:
    """A LabelSelector object; an empty or missing selector matches nothing (as controllers treat it)."""
    reqs = label_selector_requirements(selector)
    return bool(reqs) and requirements_match(reqs, labels)


def map_selector_matches(selector: dict | None, labels: dict | None) -> bool:
    """A Service-style selector (plain map); empty matches nothing."""
    labels = labels or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def selector_string(selector: dict | None) -> str:
    selector = selector or {}
    parts = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        op = expr.get("operator", "In")
        if op in ("In", "NotIn"):
            parts.append(f"{expr['key']} {op.lower()} ({','.join(expr.get('values') or [])})")
        else:
            parts.append(expr["key"] if op == "Exists" else f"!{expr['key']}")
    return ",".join(parts)


def parse_field_selector(text: str | None) -> list[tuple[str, bool, str]]:
    out = []
    for term in _split_terms(text or ""):
        if "!=" in term:
            key, value = term.split("!=", 1)
            out.append((key.strip(), False, value.strip()))
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            out.append((key.strip(), True, value.strip()))
        else:
            raise SelectorError(f"invalid field selector: {term!r}")
    return out


def field_value(obj: dict, path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def fields_match(requirements: list[tuple[str, bool, str]], obj: dict) -> bool:
    return all((field_value(obj, key) == value) == equal for key, equal, value in requirements)
