"""Redaction of secrets in everything the tool server returns: Secret data (YAML, JSON, describe, the
last-applied-configuration annotation), secret-looking env values, credentials in URLs, bearer tokens, JWTs,
private keys and password-like values.

One `Redactor` serves one tool call: it remembers the Secret values that call has seen and scrubs them from the
rest of that call's output, never from another call's (a value someone stored in a Secret must not mask words in
everybody's output). Redaction never fails open: structured output that cannot be parsed (cut at the read limit,
invalid) gets every `data` block and last-applied annotation masked line by line.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections.abc import Callable
from typing import Any

import yaml

from mcp_server import yaml_input

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
MASK = "***REDACTED***"
# Shorter remembered values ("admin", "default") would mask ordinary words in the call's output.
MIN_REMEMBERED = 8
MAX_REMEMBERED = 2000  # each is searched for in the whole output
MAX_STRUCTURED_BYTES = 16 * 1024 * 1024
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
_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----")
_PEM_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----")
_TEXT_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(_PEM_BEGIN.pattern + r"[\s\S]*?(?:" + _PEM_END.pattern + "|$)"),
        "-----BEGIN PRIVATE KEY-----" + MASK + "-----END PRIVATE KEY-----",
    ),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + MASK),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}"), MASK),
    (re.compile(r"\b(?:ghp|gho|ghs|github_pat|xox[abprs]|sk|AKIA)[-_A-Za-z0-9]{16,}\b"), MASK),
    # postgres://user:password@host — the user stays, the password goes
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,30}://[^\s/:@\"']*):[^\s/@\"']+@"), r"\1:" + MASK + "@"),
]
# Applied only to lines holding a secret-looking word (they backtrack over every word otherwise).
_KEYED_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # --set adminPassword=x, --token=x, password=x in echoed commands and text
    (re.compile(rf"(?i)((?:^|[\s,{{]|--?){_SENSITIVE_WORD}\s*=\s*)([^\s,}}]+)"), r"\1" + MASK),
    # YAML / describe `password: value` lines (value on the same line)
    (re.compile(rf"(?im)^(\s*-?\s*{_SENSITIVE_WORD}\s*:[ \t]+)(?!\s*$)(?!\|)(?!>)(\S.*)$"), r"\1" + MASK),
    # JSON "password": "value"
    (re.compile(rf'(?i)("{_SENSITIVE_WORD}"\s*:\s*)"(?:[^"\\]|\\.)*"'), r'\1"' + MASK + '"'),
]
_SENSITIVE_STEM = re.compile(
    r"(?i)pass|pwd|secret|token|credential|api[-_]?key|access[-_]?key|private[-_]?key|client[-_]?key|auth[-_]?key"
)
# A Kubernetes object as JSON on one line (describe's annotations, logs), to the end of the line.
_JSON_ON_A_LINE = re.compile(r"\{\"(?:apiVersion|kind)\"[^\n]*")
_SECRET_KIND = re.compile(r"(?m)^\s*-?\s*kind: *Secret\s*$")
_NAME_LINE = re.compile(r"(?m)^\s*-?\s*name: *[\"']?([A-Za-z_][\w.-]*)[\"']?\s*$")
_KEY_COLUMN = re.compile(r"^(\s*(?:-\s+)?)")
_BLOCK_SCALAR_KEY = re.compile(rf"(?i)^\s*(?:-\s+)?\"?{_SENSITIVE_WORD}\"?\s*:\s*[|>][-+0-9]*\s*$")
_ENV_NAME = re.compile(r"^(\s*(?:-\s+)?)\"?name\"?\s*:\s*[\"']?([A-Za-z_][\w.-]*)[\"']?,?\s*$")
_ENV_STYLE_PAIR = re.compile(r"^(\s*([A-Z][A-Z0-9_]*):[ \t]+)(?![|>]\s*$)\S.*$")
_ENV_VALUE = re.compile(r"^(\s*)(\"?value\"?\s*:\s*)(.*?)(,?)\s*$")
_DATA_BLOCK = re.compile(r"^(\s*(?:-\s+)?)\"?(?:data|stringData|binaryData)\"?\s*:\s*\{?\s*$")
_KEY_VALUE = re.compile(r"^(\s*(?:-\s+)?\"?[^\":]+\"?\s*:\s*)(.*?)(,?)\s*$")
_NOT_WORTH_REMEMBERING = re.compile(r"(?i)^(?:[-+]?[\d.,:_ ]+|true|false|null|none|yes|no)$")


class Redactor:
    """Scrubs secrets from one call's text; remembers the Secret values this call has seen; thread-safe."""

    def __init__(self) -> None:
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def remember(self, value: str) -> None:
        value = value.strip()
        if len(value) >= MIN_REMEMBERED and value != MASK and not _NOT_WORTH_REMEMBERING.match(value):
            with self._lock:
                self._known.add(value)

    def redact(self, text: str, *, complete: bool = True) -> str:
        """Full redaction of an output; `complete=False` when it was cut, so structure cannot be trusted."""
        if not text:
            return text
        text, parsed = self._redact_structured(text)
        text = _JSON_ON_A_LINE.sub(self._redact_json_match, text)
        lines = _Lines(self, unparsed=not (parsed and complete))
        kept = (lines.scrub(line) for line in text.split("\n"))
        return self.redact_line("\n".join(line for line in kept if line is not None))

    def redact_line(self, text: str) -> str:
        """Pattern and known-value redaction; safe on a fragment such as one streamed line."""
        for pattern, replacement in _TEXT_PATTERNS:
            text = pattern.sub(replacement, text)
        text = _on_lines_with(_SENSITIVE_STEM, text, _keyed_patterns)
        with self._lock:
            known = sorted(self._known, key=len, reverse=True)[:MAX_REMEMBERED]
        for value in known:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def stream(self) -> Callable[[str], str | None]:
        """A scrubber for consecutive lines of live output; None means the line is withheld entirely."""
        lines = _Lines(self, unparsed=False)

        def scrub(line: str) -> str | None:
            kept = lines.scrub(_JSON_ON_A_LINE.sub(self._redact_json_match, line))
            return None if kept is None else self.redact_line(kept)

        return scrub

    def redact_object(self, obj: Any, *, helm_values: bool = False) -> Any:
        """Redact a parsed Kubernetes object / list / helm values in place and return it."""
        self._walk(obj, helm_values=helm_values)
        return obj

    def _redact_structured(self, text: str) -> tuple[str, bool]:
        """(text, True) when structured redaction did its work or had none to do; False when it could not parse."""
        stripped = text.lstrip()
        if stripped.startswith(("{", "[")):
            try:
                obj = json.loads(text)
            except ValueError:
                return text, False
            if self._walk(obj, helm_values=False):
                return json.dumps(obj, indent=4) + "\n", True
            return text, True
        if not _yaml_needs_parse(text):
            return text, True
        try:
            docs = yaml_input.load_all(text, max_bytes=MAX_STRUCTURED_BYTES)
        except (yaml.YAMLError, yaml_input.YamlRefused):
            return text, False
        if not any(self._walk(doc, helm_values=False) for doc in docs if doc is not None):
            return text, True
        dumped = [
            yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False) for doc in docs if doc is not None
        ]
        return "---\n".join(dumped), True

    def _redact_json_match(self, match: re.Match[str]) -> str:
        """The object is redacted; what cannot be parsed (a cut line) is masked whole."""
        text = match.group(0)
        end = text.rfind("}") + 1
        try:
            obj = json.loads(text[:end])
        except ValueError:
            return MASK
        if self._walk(obj, helm_values=False):
            return json.dumps(obj, separators=(",", ":")) + text[end:]
        return text

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
        changed |= self._mask_env_value(obj)
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

    def _mask_env_value(self, entry: dict[str, Any]) -> bool:
        """`{name: DB_PASSWORD, value: x}` (a container's env entry): the value goes."""
        name, value = entry.get("name"), entry.get("value")
        if not (isinstance(name, str) and isinstance(value, str) and _is_sensitive_key(name)):
            return False
        if value in ("", MASK):
            return False
        self.remember(value)
        entry["value"] = MASK
        return True

    def _mask_secret_data(self, secret: dict[str, Any]) -> bool:
        changed = False
        for field in ("data", "stringData"):
            data = secret.get(field)
            if not isinstance(data, dict):
                continue
            for key, value in data.items():
                if value in (None, "", MASK):
                    continue
                self.remember_secret_value(str(value), encoded=field == "data")
                data[key] = MASK
                changed = True
        return changed

    def remember_secret_value(self, value: str, *, encoded: bool) -> None:
        """A Secret's value, and its base64 counterpart (decoded when `encoded`), for the rest of this call."""
        self.remember(value)
        if encoded:
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return
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


class _Lines:
    """What spans lines, for full outputs and live streams alike: private key blocks, block scalars under
    secret-looking keys, the `value` that follows a secret-looking env `name`; and, when the output could not
    be parsed (`unparsed`), every value inside `data`/`stringData` blocks and last-applied annotations."""

    def __init__(self, redactor: Redactor, *, unparsed: bool) -> None:
        self.redactor = redactor
        self.unparsed = unparsed
        self.in_pem = False
        self.masked_below: int | None = None  # lines indented deeper than this column are masked whole
        self.data_below: int | None = None  # lines deeper than this are `key: value` pairs of a data block
        self.env_column: int | None = None  # column of a secret-looking env `name`, awaiting its `value`
        # describe prints ConfigMap data as `key:` / `----` / value lines / blank line
        self.describe_key: str | None = None  # "key" after a secret-looking `key:`, "value" under its `----`

    def scrub(self, line: str) -> str | None:
        if self.in_pem or "-----BEGIN" in line and _PEM_BEGIN.search(line):
            return self._pem(line)
        if self.masked_below is not None:
            indent = len(line) - len(line.lstrip())
            if not line.strip():
                return line
            if indent > self.masked_below:
                return line[:indent] + MASK
            self.masked_below = None
        if self.describe_key is not None or line.endswith(":"):
            return self._describe_data(line)
        if self.unparsed:
            line = self._unparsed(line)
        return self._env(line)

    def _describe_data(self, line: str) -> str:
        state, self.describe_key = self.describe_key, None
        if state == "value" and line.strip():
            self.describe_key = "value"
            return MASK
        if state == "key" and line == "----":
            self.describe_key = "value"
            return line
        key = line[:-1]
        if line.endswith(":") and line[:1].strip() and ":" not in key and _is_sensitive_key(key):
            self.describe_key = "key"
            return line
        return self._env(self._unparsed(line) if self.unparsed else line)

    def _pem(self, line: str) -> str | None:
        if self.in_pem:
            end = _PEM_END.search(line)
            if end is None:
                return None
            self.in_pem = False
            return line[end.start() :]
        begin = _PEM_BEGIN.search(line)
        assert begin is not None
        if _PEM_END.search(line, begin.end()):
            return line  # one-line block: the text patterns mask it
        self.in_pem = True
        return line[: begin.end()] + MASK

    def _env(self, line: str) -> str:
        if line.rstrip().rstrip("-+0123456789")[-1:] in ("|", ">") and _BLOCK_SCALAR_KEY.match(line):
            self.masked_below = _column(line)
            return line
        if (pair := _ENV_STYLE_PAIR.match(line)) and _is_sensitive_key(pair.group(2)):
            return pair.group(1) + MASK  # describe's `SIGNING_KEY:  value` under Environment
        if "name" in line and (name := _ENV_NAME.match(line)):
            self.env_column = len(name.group(1)) if _is_sensitive_key(name.group(2)) else None
            return line
        if self.env_column is None or not line.strip():
            return line
        value = _ENV_VALUE.match(line) if "value" in line else None
        if value and len(value.group(1)) == self.env_column:
            self.env_column = None
            if value.group(3).startswith(("|", ">")):
                self.masked_below = _column(line)
                return line
            self.redactor.remember(value.group(3).strip("\"'"))
            return f"{value.group(1)}{value.group(2)}{_masked_like(value.group(3))}{value.group(4)}"
        if _column(line) < self.env_column:
            self.env_column = None
        return line

    def _unparsed(self, line: str) -> str:
        column = _column(line)
        if self.data_below is not None and (line.strip() == "" or column > self.data_below):
            pair = _KEY_VALUE.match(line)
            if pair is None:
                return line[:column] + MASK if line.strip() else line
            if pair.group(2) in ("", "{"):
                return line
            if pair.group(2).startswith(("|", ">")):  # a multi-line value: its lines go whole
                self.masked_below = column
                return line
            self.redactor.remember_secret_value(pair.group(2).strip("\"'"), encoded=True)
            return f"{pair.group(1)}{_masked_like(pair.group(2))}{pair.group(3)}"
        self.data_below = None
        if _DATA_BLOCK.match(line):
            self.data_below = column
        elif LAST_APPLIED in line:
            self.masked_below = column
            return line[: line.index(LAST_APPLIED) + len(LAST_APPLIED)] + ": " + MASK
        return line


def _keyed_patterns(line: str) -> str:
    for pattern, replacement in _KEYED_PATTERNS:
        line = pattern.sub(replacement, line)
    return line


def _on_lines_with(stem: re.Pattern[str], text: str, scrub: Callable[[str], str]) -> str:
    """`scrub` applied to each line of `text` that holds a match of `stem`; other lines untouched."""
    pieces, done = [], 0
    for match in stem.finditer(text):
        if match.start() < done:
            continue
        start = text.rfind("\n", 0, match.start()) + 1
        end = text.find("\n", match.end())
        end = len(text) if end < 0 else end
        pieces += [text[done:start], scrub(text[start:end])]
        done = end
    return "".join([*pieces, text[done:]]) if pieces else text


def _column(line: str) -> int:
    """Column of a line's key (after indentation and a list dash)."""
    return len(_KEY_COLUMN.match(line).group(1))  # type: ignore[union-attr]


def _yaml_needs_parse(text: str) -> bool:
    if LAST_APPLIED in text or _SECRET_KIND.search(text):
        return True
    return any(_is_sensitive_key(match.group(1)) for match in _NAME_LINE.finditer(text))


def _masked_like(value: str) -> str:
    """MASK in the value's own quoting, so JSON stays JSON-shaped."""
    return f'"{MASK}"' if value.startswith('"') else MASK


def _is_sensitive_key(key: str) -> bool:
    return bool(SENSITIVE_KEY.search(key)) and not _NON_SECRET_KEYS.match(key)
