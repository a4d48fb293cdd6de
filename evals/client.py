"""Skyflo as a user sees it: the REST API (`/api/v1`, JWT) and a conversation's WebSocket. Nothing else."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


class SkyfloError(Exception):
    """Skyflo answered something the harness cannot go on from; the message is a sentence."""


@dataclass
class Credentials:
    email: str
    password: str


class Session:
    """One signed-in account: bearer tokens, refreshed (or signed in again) when an access token expires."""

    def __init__(self, url: str, credentials: Credentials):
        self.url = url.rstrip("/")
        self.credentials = credentials
        self.http = httpx.Client(base_url=f"{self.url}/api/v1", timeout=60)
        self.access = self.refresh = ""
        self.sign_in()

    def close(self) -> None:
        self.http.close()

    def sign_in(self) -> None:
        body = {"email": self.credentials.email, "password": self.credentials.password}
        response = self.http.post("/auth/token/", json=body)
        if response.status_code != 200:
            raise SkyfloError(
                f"signing in as {self.credentials.email} failed ({response.status_code}): {_detail(response)}"
            )
        self.access, self.refresh = response.json()["access"], response.json()["refresh"]

    def renew(self) -> None:
        response = self.http.post("/auth/token/refresh/", json={"refresh": self.refresh})
        if response.status_code == 200:
            self.access, self.refresh = response.json()["access"], response.json().get("refresh", self.refresh)
        else:
            self.sign_in()

    def call(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201, 202, 204), **kwargs) -> httpx.Response:
        response = self.http.request(method, path, headers={"Authorization": f"Bearer {self.access}"}, **kwargs)
        if response.status_code == 401:
            self.renew()
            response = self.http.request(method, path, headers={"Authorization": f"Bearer {self.access}"}, **kwargs)
        if response.status_code not in ok:
            raise SkyfloError(f"{method} /api/v1{path} answered {response.status_code}: {_detail(response)}")
        return response

    def get(self, path: str, **kwargs) -> dict:
        return self.call("GET", path, **kwargs).json()

    def post(self, path: str, body: dict, **kwargs) -> dict:
        response = self.call("POST", path, json=body, **kwargs)
        return response.json() if response.content else {}


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("detail", body) if isinstance(body, dict) else body)[:300]


class EventStream:
    """The frames of one conversation, as a browser receives them; reconnects with `resume` after a drop
    (an access token expires after a few minutes and the server closes the socket)."""

    def __init__(self, session: Session, conversation_id: str):
        self.session, self.conversation_id = session, conversation_id
        self.last_seq = 0
        self.ws = None

    def open(self) -> None:
        ws_url = self.session.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        self._connection = connect(
            f"{ws_url}/ws/conversations/{self.conversation_id}/",
            subprotocols=["skyflo.v1", f"bearer.{self.session.access}"],
            additional_headers={"Origin": self.session.url},
            open_timeout=30,
        )
        self.ws = self._connection.__enter__()
        if self.last_seq:
            self.ws.send(json.dumps({"type": "resume", "after": self.last_seq}))

    def close(self) -> None:
        if self.ws is not None:
            self._connection.__exit__(None, None, None)
            self.ws = None

    def frames(self, deadline: float) -> Iterator[dict]:
        """Frames in order (each once) until `deadline` (time.monotonic()); raises TimeoutError after it."""
        if self.ws is None:
            self.open()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            try:
                frame = json.loads(self.ws.recv(timeout=min(remaining, 30)))
            except TimeoutError:
                continue
            except ConnectionClosed:
                self.close()
                self.session.renew()
                self.open()
                continue
            if frame.get("seq", 0) <= self.last_seq:
                continue
            self.last_seq = frame["seq"]
            yield frame
