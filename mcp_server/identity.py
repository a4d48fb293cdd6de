"""Identity assertions: which person a tool call runs as ("act as the person"), signed by the engine, verified here.

The engine signs one assertion per tool call and sends it in the MCP request's `_meta` under `META_KEY` (never a
tool argument: the model neither sets nor sees it). Its form is `base64url(claims JSON) "." base64url(HMAC-SHA256)`
with a key both sides read from their environment. Claims: `aud`, `sub` (the Kubernetes user name), `groups`,
`call` (the call id), `tool` and `args` (SHA-256 of the canonical arguments) binding it to exactly that call,
`approver` (who approved a mutating call; the call still runs as `sub`, the requester), `iat`, `exp`, `jti`.

The tool server refuses a call whose assertion is missing, badly signed, expired, longer-lived than `MAX_TTL_S`,
for another tool or other arguments, already used (`jti` remembered until it expires), names a `system:` identity,
or is for a mutating tool without an approver. Then it runs kubectl with `--as`/`--as-group` (helm:
`--kube-as-user`/`--kube-as-group`); those flags stay refused as tool arguments (mcp_server/safety.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

META_KEY = "dev.skyflo/identity"
AUDIENCE = "skyflo-tool-server"
DEFAULT_TTL_S = 60
MAX_TTL_S = 300
CLOCK_SKEW_S = 30
MAX_ASSERTION_CHARS = 8192
MAX_GROUPS = 64
MAX_NAME_CHARS = 256
MIN_KEY_CHARS = 32


class AssertionRefused(Exception):
    """The call's identity assertion is not acceptable; the message says why in a few words."""


@dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...]
    approver: str | None
    call_id: str


def args_digest(args: Mapping[str, Any] | None) -> str:
    canonical = json.dumps(args or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def identity_name_problem(name: object) -> str | None:
    """Why `name` cannot be a Kubernetes user or group we act as, or None."""
    if not isinstance(name, str) or not name.strip():
        return "an empty name"
    if len(name) > MAX_NAME_CHARS or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return "a name that is too long or holds control characters"
    if name.startswith("system:"):
        return f"{name[:60]!r}, a name reserved for Kubernetes itself (system:)"
    return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())


def assertion_sign(
    key: bytes,
    *,
    user: str,
    groups: Sequence[str],
    call_id: str,
    tool: str,
    args: Mapping[str, Any] | None,
    approver: str | None = None,
    ttl_s: float = DEFAULT_TTL_S,
    now: float | None = None,
) -> str:
    issued = int(time.time() if now is None else now)
    claims = {
        "aud": AUDIENCE,
        "sub": user,
        "groups": list(groups),
        "call": call_id,
        "tool": tool,
        "args": args_digest(args),
        "approver": approver,
        "iat": issued,
        "exp": issued + int(ttl_s),
        "jti": secrets.token_urlsafe(16),
    }
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{body}.{_mac(key, body)}"


class AssertionVerifier:
    """Checks assertions with the shared key and remembers each one used until it expires (replays refused)."""

    def __init__(self, key: bytes, *, clock: Callable[[], float] = time.time) -> None:
        self.key = key
        self.clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def verify(self, token: object, *, tool: str, args: Mapping[str, Any] | None, mutating: bool) -> Identity:
        claims = self._claims(token)
        now = self.clock()
        if claims.get("aud") != AUDIENCE:
            raise AssertionRefused("it is meant for another audience")
        issued, expires = claims.get("iat"), claims.get("exp")
        if not isinstance(issued, int) or not isinstance(expires, int):
            raise AssertionRefused("it has no validity period")
        if expires <= now:
            raise AssertionRefused("it has expired")
        if issued > now + CLOCK_SKEW_S or expires - issued > MAX_TTL_S:
            raise AssertionRefused("its validity period is not acceptable")
        if claims.get("tool") != tool or claims.get("args") != args_digest(args):
            raise AssertionRefused("it was issued for another call")
        user, groups, approver = claims.get("sub"), claims.get("groups"), claims.get("approver")
        if not isinstance(groups, list) or len(groups) > MAX_GROUPS:
            raise AssertionRefused("its groups are not a list")
        for name in (user, *groups):
            if (problem := identity_name_problem(name)) is not None:
                raise AssertionRefused(f"it names {problem}")
        if mutating and (not isinstance(approver, str) or not approver):
            raise AssertionRefused("it names no approver for a call that changes the cluster")
        self._first_use(claims.get("jti"), expires, now)
        return Identity(user=user, groups=tuple(groups), approver=approver, call_id=str(claims.get("call") or ""))

    def _claims(self, token: object) -> dict:
        if not isinstance(token, str) or not token:
            raise AssertionRefused("the call carries none")
        if len(token) > MAX_ASSERTION_CHARS or token.count(".") != 1:
            raise AssertionRefused("it is malformed")
        body, mac = token.split(".")
        if not hmac.compare_digest(mac.encode(), _mac(self.key, body).encode()):
            raise AssertionRefused("its signature is wrong")
        try:
            claims = json.loads(_unb64(body))
        except ValueError:
            raise AssertionRefused("it is malformed") from None
        if not isinstance(claims, dict):
            raise AssertionRefused("it is malformed")
        return claims

    def _first_use(self, jti: object, expires: float, now: float) -> None:
        if not isinstance(jti, str) or not 16 <= len(jti) <= 64:
            raise AssertionRefused("it has no usable id")
        with self._lock:
            for old in [k for k, until in self._seen.items() if until <= now]:
                del self._seen[old]
            if jti in self._seen:
                raise AssertionRefused("it was used already")
            self._seen[jti] = expires


def impersonation_flags(program: str, identity: Identity) -> list[str]:
    """kubectl's or helm's global flags that make the API server act as `identity` (one argv element each)."""
    if program == "helm":
        return [f"--kube-as-user={identity.user}", *(f"--kube-as-group={group}" for group in identity.groups)]
    return [f"--as={identity.user}", *(f"--as-group={group}" for group in identity.groups)]
