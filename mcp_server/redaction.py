"""Redaction of secrets in everything the tool server returns: Secret data (YAML, JSON, describe, the
last-applied-configuration annotation), bearer tokens, JWTs, private keys and password-like values.

A `Redactor` also remembers Secret values it has seen, so the same values are scrubbed from later
outputs that carry them unstructured (logs, events, error text).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from typing import Any

import yaml

MASK = "***REDACTED***"
# Shorter remembered values ("admin", "default") would mask ordinary words in every output.
MIN_REMEMBERED = 8
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SENSITIVE_KEY = re.compile(
    r"(?i)(pass(word|wd|phrase)?$|pwd$|secret|token|credential|api[-_]?key|access[-_]?key|private[-_]?key|"
    r"client[-_]?key|auth[-_]?key|signing[-_]?key|encryption[-_]?key|^key$|[-_.]key$|[a-z]Key$|dsn$|connection[-_]?string)"
)
_NON_SECRET_KEYS = re.compile(r"(?i)^(secretName|secretRef|secretKeyRef|tokenExpirationSeconds|secrets)$")
_SENSITIVE_WORD = (
    r"[-\w.]*(?:pass(?:word|wd|phrase)?|pwd|secret|token|credential|api[-_]?key|access[-_]?key|"
    r"private[-_]?key|client[-_]?key|auth[-_]?key)[-\w.]*"
)
_TEXT_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)"),
        "-----BEGIN PRIVATE KEY-----" + MASK + "-----END PRIVATE KEY-----",
    ),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + MASK),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}"), MASK),
    (re.compile(r"\b(?:ghp|gho|ghs|github_pat|xox[abprs]|sk|AKIA)[-_A-Za-z0-9]{16,}\b"), MASK),
    # --set adminPassword=x, --token=x, password=x in echoed commands and text
    (re.compile(rf"(?i)((?:^|[\s,{{]|--?){_SENSITIVE_WORD}\s*=\s*)([^\s,}}]+)"), r"\1" + MASK),
    # YAML / describe `password: value` lines (value on the same line)
    (re.compile(rf"(?im)^(\s*-?\s*{_SENSITIVE_WORD}\s*:[ \t]+)(?!\s*$)(?!\|)(?!>)(\S.*)$"), r"\1" + MASK),
    # JSON "password": "value"
    (re.compile(rf'(?i)("{_SENSITIVE_WORD}"\s*:\s*)"(?:[^"\\]|\\.)*"'), r'\1"' + MASK + '"'),
]
_JSON_ON_A_LINE = re.compile(r"\{\"apiVersion\".*\}|\{\"kind\".*\}")


class Redactor:
    """Scrubs secrets from text; thread-safe; remembers Secret values it has seen."""

    def __init__(self) -> None:
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def remember(self, value: str) -> None:
        if len(value) >= MIN_REMEMBERED:
            with self._lock:
                self._known.add(value)

    def redact(self, text: str) -> str:
        """Full redaction of a complete output (structure-aware, then line patterns, then known values)."""
        if not text:
            return text
        text = self._redact_structured(text)
        text = _JSON_ON_A_LINE.sub(self._redact_json_match, text)
        return self.redact_line(text)

    def redact_line(self, text: str) -> str:
        """Pattern and known-value redaction; safe on a fragment such as one streamed line."""
        for pattern, replacement in _TEXT_PATTERNS:
            text = pattern.sub(replacement, text)
        with self._lock:
            known = sorted(self._known, key=len, reverse=True)
        for value in known:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def redact_object(self, obj: Any, *, helm_values: bool = False) -> Any:
        """Redact a parsed Kubernetes object / list / helm values in place and return it."""
        self._walk(obj, helm_values=helm_values)
        return obj

    def _redact_structured(self, text: str) -> str:
        stripped = text.lstrip()
        if stripped.startswith(("{", "[")):
            try:
                obj = json.loads(text)
            except ValueError:
                return text
            if self._walk(obj, helm_values=False):
                return json.dumps(obj, indent=4) + "\n"
            return text
        if not re.search(r"(?m)^\s*-?\s*kind: *Secret\s*$|" + re.escape(LAST_APPLIED), text):
            return text
        try:
            docs = list(yaml.safe_load_all(text))
        except yaml.YAMLError:
            return text
        if not any(self._walk(doc, helm_values=False) for doc in docs if doc is not None):
            return text
        dumped = [yaml.safe_dump(doc, sort_keys=False, default_flow_style=False) for doc in docs if doc is not None]
        return "---\n".join(dumped)

    def _redact_json_match(self, match: re.Match[str]) -> str:
        try:
            obj = json.loads(match.group(0))
        except ValueError:
            return match.group(0)
        if self._walk(obj, helm_values=False):
            return json.dumps(obj, separators=(",", ":"))
        return match.group(0)

    def _walk(self, obj: Any, *, helm_values: bool) -> bool:
        """Redact in place; True if anything changed."""
        changed = False
        if isinstance(obj, list):
            for item in obj:
                changed |= self._walk(item, helm_values=helm_values)
            return changed
        if not isinstance(obj, dict):
            return False
        if obj.get("kind") == "Secret":
            changed |= self._mask_secret_data(obj)
        for key, value in list(obj.items()):
            if key == LAST_APPLIED and isinstance(value, str):
                redacted = self._redact_last_applied(value)
                changed |= redacted != value
                obj[key] = redacted
            elif helm_values and isinstance(value, str | int | float) and _is_sensitive_key(str(key)):
                if value != "" and value != MASK:
                    self.remember(str(value))
                    obj[key] = MASK
                    changed = True
            else:
                changed |= self._walk(value, helm_values=helm_values)
        return changed

    def _mask_secret_data(self, secret: dict[str, Any]) -> bool:
        changed = False
        for field in ("data", "stringData"):
            data = secret.get(field)
            if not isinstance(data, dict):
                continue
            for key, value in data.items():
                if value in (None, "", MASK):
                    continue
                self._remember_secret_value(str(value), encoded=field == "data")
                data[key] = MASK
                changed = True
        return changed

    def _remember_secret_value(self, value: str, *, encoded: bool) -> None:
        self.remember(value)
        if encoded:
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return
            self.remember(decoded.strip())
            self.remember(decoded)
        else:
            self.remember(base64.b64encode(value.encode()).decode())

    def _redact_last_applied(self, value: str) -> str:
        try:
            obj = json.loads(value)
        except ValueError:
            return MASK
        self._walk(obj, helm_values=False)
        return json.dumps(obj, separators=(",", ":")) + ("\n" if value.endswith("\n") else "")


def _is_sensitive_key(key: str) -> bool:
    return bool(SENSITIVE_KEY.search(key)) and not _NON_SECRET_KEYS.match(key)
