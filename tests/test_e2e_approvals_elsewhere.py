"""Approvals decided outside the browser, with the real processes: a run parks at its approval, the worker posts
it to (scripted) Slack, an operator presses Approve there, the run continues and the Slack message is updated; a
webhook receives each request signed and decides with the request's token, which no other approval accepts."""

import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from integrations.models import SlackConnection, SlackMessage
from integrations.slack import APPROVE
from tests.browser.flows import scale_script
from tests.scripted_llm import call, plan, say, verdict

pytestmark = pytest.mark.e2e
WEBHOOK_SECRET = "whsec-" + uuid.uuid4().hex


def eventually(check, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return result


def test_an_approval_decided_in_slack_continues_the_run_and_updates_the_message(shop, live_llm, slack_server):
    workspace = slack_server.workspace()
    operator2 = workspace.add_user(shop.operator2.email)
    with shop.client(shop.owner) as owner:
        body = {"channel": "C0APPROVALS", "bot_token": workspace.token, "signing_secret": workspace.signing_secret}
        assert owner.put(f"/orgs/{shop.org.slug}/integrations/slack/", json=body).status_code == 200
    connection = SlackConnection.objects.get(org=shop.org)
    live_llm.set_script(scale_script(shop.namespace))

    with shop.socket() as events:
        shop.ask(f"scale web in {shop.namespace} to 3 replicas")
        requested = events.until("approval.requested")["data"]
        [post] = eventually(workspace.posted, "the approval's Slack message")
        assert f'"value": "{requested["approval_id"]}"' in json.dumps(post["blocks"])
        message = eventually(lambda: SlackMessage.objects.filter(approval_id=requested["approval_id"]).first(), "ts")

        forged_body, forged_headers = workspace.interaction(
            user_id=operator2, action_id=APPROVE, approval_id=requested["approval_id"], secret="forged"
        )
        url = f"{shop.stack.url}/api/v1/integrations/slack/{connection.id}/interactions/"
        assert httpx.post(url, content=forged_body, headers=forged_headers).status_code == 401

        body, headers = workspace.interaction(
            user_id=operator2,
            action_id=APPROVE,
            approval_id=requested["approval_id"],
            message={"channel": message.channel, "ts": message.ts},
        )
        assert httpx.post(url, content=body, headers=headers).status_code == 200
        resolved = events.until("approval.resolved")["data"]
        assert (resolved["decision"], resolved["by"], resolved["source"]) == (
            "approve",
            str(shop.operator2.id),
            "slack",
        )
        assert events.until("run.finished")["data"]["status"] == "succeeded"
    assert shop.replicas()[0] == 3

    [update] = eventually(workspace.updates, "the message's update")
    assert (update["channel"], update["ts"]) == (message.channel, message.ts)
    assert f"Approved by {shop.operator2.email} in Slack." in json.dumps(update["blocks"])
    assert "actions" not in json.dumps([b["type"] for b in update["blocks"]])
    [answer] = eventually(workspace.ephemerals, "the answer to the person")
    assert (answer["user"], answer["text"]) == (operator2, "You approved k8s_scale on staging; the run continues.")


class _Receiver(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()


@pytest.fixture
def receiver():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    httpd.received = []
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()


def test_a_webhook_decides_with_its_tokens_and_no_token_decides_another_approval(shop, live_llm, receiver):
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/skyflo"
    with shop.client(shop.owner) as owner:
        assert (
            owner.put(
                f"/orgs/{shop.org.slug}/integrations/webhook/", json={"url": hook, "secret": WEBHOOK_SECRET}
            ).status_code
            == 200
        )
    ns = shop.namespace
    scale = lambda n: call("k8s_scale", {"kind": "deployment", "name": "web", "namespace": ns, "replicas": n})  # noqa: E731
    live_llm.set_script([
        plan([("Scale web to 2", "k8s_scale"), ("Scale web to 3", "k8s_scale")]), scale(2), scale(3),
        verdict(True, "web has 3 replicas"), say("Scaled web to 2, then 3.", agent="responder"),
    ])  # fmt: skip

    def delivered(approval_id: str) -> dict:
        for headers, body in receiver.received:
            payload = json.loads(body)
            if payload["approval"]["id"] == approval_id:
                stamp = headers["X-Skyflo-Timestamp"]
                signed = hmac.new(WEBHOOK_SECRET.encode(), f"v1:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
                assert headers["X-Skyflo-Signature"] == f"v1={signed}"
                return payload
        return {}

    def decide(approval_id: str, token_of: dict) -> httpx.Response:
        headers = token_of["decide"]["headers"]
        url = f"{shop.stack.url}{token_of['decide']['path'].replace(token_of['approval']['id'], approval_id)}"
        return httpx.post(url, headers=headers, json={"decision": "approve", "reason": "paged and checked"})

    with shop.socket() as events:
        shop.ask("scale web to 2 then 3")
        first = events.until("approval.requested")["data"]["approval_id"]
        first_request = eventually(lambda: delivered(first), "the first delivery")
        assert decide(first, first_request).status_code == 200
        second = events.until("approval.requested", lambda f: f["data"]["approval_id"] != first)["data"]["approval_id"]
        second_request = eventually(lambda: delivered(second), "the second delivery")

        refused = decide(second, first_request)  # the first request's token, on the second approval
        assert refused.status_code == 401
        assert refused.json()["detail"] == "This approval token was issued for another approval."
        assert shop.run(events.of("run.queued")[0]["run"])["status"] == "awaiting_approval"

        assert decide(second, second_request).status_code == 200
        resolved = [f["data"] for f in events.of("approval.resolved")] + [
            events.until("approval.resolved", lambda f: f["data"]["approval_id"] == second)["data"]
        ]
        assert {(r["source"], r["by"]) for r in resolved} == {("webhook", str(shop.owner.id))}
        assert events.until("run.finished")["data"]["status"] == "succeeded"
    assert shop.replicas()[0] == 3
