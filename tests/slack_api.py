"""A scripted Slack: the Web API methods Skyflo calls, and interactivity requests built and signed as Slack does.

The server speaks Slack's documented shapes over real HTTP (slack_sdk's WebClient points at it with base_url):
`chat.postMessage`, `chat.update`, `chat.postEphemeral`, `users.info`, `users.lookupByEmail`. Arguments come as
JSON, a form or the query string, like Slack accepts them; the bot token must be the workspace's (else
`invalid_auth`); an unknown channel is `channel_not_found`, an unknown user `user_not_found`. `down = True` makes
every method answer 503, as during an outage. Each call is kept in `calls` (method, arguments).

Fixtures: `slack_server` (session) and `slack` (a fresh workspace on it per test: `.add_user(...)`, `.posted()`,
`.updates()`, `.ephemerals()`, `.interaction(...)` -> a signed request).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest


@dataclass
class Workspace:
    token: str = field(default_factory=lambda: f"xoxb-{uuid.uuid4().hex}")
    signing_secret: str = field(default_factory=lambda: uuid.uuid4().hex)
    team_id: str = field(default_factory=lambda: "T" + uuid.uuid4().hex[:8].upper())
    channels: set = field(default_factory=lambda: {"C0APPROVALS", "C0STAGING"})
    users: dict = field(default_factory=dict)
    calls: list = field(default_factory=list)
    messages: dict = field(default_factory=dict)  # (channel, ts) -> the message's last text and blocks
    down: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_user(self, email: str | None, *, confirmed: bool = True, is_bot: bool = False) -> str:
        user_id = "U" + uuid.uuid4().hex[:10].upper()
        profile = {"real_name": email or "bot", "display_name": (email or "bot").split("@")[0]}
        if email:
            profile["email"] = email
        self.users[user_id] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": profile["display_name"],
            "deleted": False,
            "is_bot": is_bot,
            "is_email_confirmed": confirmed,
            "profile": profile,
        }
        return user_id

    def of(self, method: str) -> list[dict]:
        with self.lock:
            return [args for name, args in self.calls if name == method]

    def posted(self) -> list[dict]:
        return self.of("chat.postMessage")

    def updates(self) -> list[dict]:
        return self.of("chat.update")

    def ephemerals(self) -> list[dict]:
        return self.of("chat.postEphemeral")

    def interaction(self, *, user_id: str, action_id: str, approval_id: str, message: dict | None = None,
                    timestamp: int | None = None, secret: str | None = None) -> tuple[bytes, dict]:  # fmt: skip
        """A block_actions request as Slack sends it: a form with one `payload` field of JSON, signed v0."""
        channel, ts = (message["channel"], message["ts"]) if message else ("C0APPROVALS", "1700000000.000100")
        user = self.users.get(user_id, {"id": user_id, "name": "someone"})
        payload = {
            "type": "block_actions",
            "user": {"id": user_id, "username": user["name"], "name": user["name"], "team_id": self.team_id},
            "api_app_id": "A0SKYFLO",
            "token": "legacy-verification-token",
            "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
            "trigger_id": f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}",
            "team": {"id": self.team_id, "domain": "shop"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": "approvals"},
            "message": {"type": "message", "ts": ts, "bot_id": "B0SKYFLO", "text": "Approval needed"},
            "state": {"values": {}},
            "response_url": "https://hooks.slack.com/actions/T0/1/abc",
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "decide",
                    "text": {"type": "plain_text", "text": "Approve", "emoji": True},
                    "value": approval_id,
                    "style": "primary" if action_id.endswith("approve") else "danger",
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        digest = hmac.new((secret or self.signing_secret).encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": f"v0={digest.hexdigest()}",
        }
        return body, headers


class _Handler(BaseHTTPRequestHandler):
    server: _SlackServer

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._answer()

    def do_POST(self) -> None:  # noqa: N802
        self._answer()

    def _arguments(self) -> dict:
        url = urlsplit(self.path)
        args = dict(parse_qsl(url.query))
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if raw and "json" in (self.headers.get("Content-Type") or ""):
            args.update(json.loads(raw))
        elif raw:
            args.update(parse_qsl(raw.decode()))
        return args

    def _answer(self) -> None:
        method = urlsplit(self.path).path.rsplit("/", 1)[-1]
        args = self._arguments()
        workspace = self.server.workspace
        if workspace.down:
            return self._send(503, {"ok": False, "error": "service_unavailable"})
        with workspace.lock:
            workspace.calls.append((method, args))
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        if token != workspace.token:
            return self._send(200, {"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "m_" + method.replace(".", "_"), None)
        if handler is None:
            return self._send(200, {"ok": False, "error": "unknown_method"})
        return self._send(200, handler(workspace, args))

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    @staticmethod
    def m_chat_postMessage(ws: Workspace, args: dict) -> dict:  # noqa: N802
        channel = args.get("channel", "").lstrip("#")
        if channel not in ws.channels:
            return {"ok": False, "error": "channel_not_found"}
        ts = f"{time.time():.6f}"
        ws.messages[(channel, ts)] = {"text": args.get("text"), "blocks": args.get("blocks")}
        message = {"type": "message", "bot_id": "B0SKYFLO", "text": args.get("text"), "ts": ts}
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    @staticmethod
    def m_chat_update(ws: Workspace, args: dict) -> dict:
        key = (args.get("channel"), args.get("ts"))
        if key not in ws.messages:
            return {"ok": False, "error": "message_not_found"}
        ws.messages[key] = {"text": args.get("text"), "blocks": args.get("blocks")}
        return {"ok": True, "channel": key[0], "ts": key[1], "text": args.get("text")}

    @staticmethod
    def m_chat_postEphemeral(ws: Workspace, args: dict) -> dict:  # noqa: N802
        if args.get("channel") not in ws.channels:
            return {"ok": False, "error": "channel_not_found"}
        if args.get("user") not in ws.users:
            return {"ok": False, "error": "user_not_in_channel"}
        return {"ok": True, "message_ts": f"{time.time():.6f}"}

    @staticmethod
    def m_users_info(ws: Workspace, args: dict) -> dict:
        user = ws.users.get(args.get("user"))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    @staticmethod
    def m_users_lookupByEmail(ws: Workspace, args: dict) -> dict:  # noqa: N802
        email = (args.get("email") or "").lower()
        user = next((u for u in ws.users.values() if u["profile"].get("email", "").lower() == email), None)
        return {"ok": True, "user": user} if user else {"ok": False, "error": "users_not_found"}


class _SlackServer(ThreadingHTTPServer):
    daemon_threads = True
    workspace: Workspace


@dataclass
class SlackServer:
    url: str
    httpd: _SlackServer

    def workspace(self) -> Workspace:
        self.httpd.workspace = Workspace()
        return self.httpd.workspace


@pytest.fixture(scope="session")
def slack_server() -> Iterator[SlackServer]:
    httpd = _SlackServer(("127.0.0.1", 0), _Handler)
    httpd.workspace = Workspace()
    threading.Thread(target=httpd.serve_forever, name="scripted-slack", daemon=True).start()
    yield SlackServer(url=f"http://127.0.0.1:{httpd.server_address[1]}/api/", httpd=httpd)
    httpd.shutdown()


@pytest.fixture
def slack(slack_server, settings) -> Workspace:
    """A fresh workspace; this process's Slack calls go to the scripted server."""
    settings.SLACK_API_URL = slack_server.url
    return slack_server.workspace()
