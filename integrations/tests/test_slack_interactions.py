"""Buttons pressed in Slack: signed, fresh and never-seen requests decide, as the Skyflo member with the Slack
user's confirmed email, by the same rules as the browser. Everything else changes nothing."""

import json
import time

import pytest
from django.utils import timezone

from chats.models import RunEvent
from integrations.slack import APPROVE, DENY
from orgs.models import AuditEvent, Role
from tests.accounts import bearer_client, make_member, make_org
from workflows.models import Approval

pytestmark = pytest.mark.django_db


def press(client, connection, request):
    body, headers = request
    extra = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items() if k != "Content-Type"}
    url = f"/api/v1/integrations/slack/{connection.id}/interactions/"
    return client.post(url, data=body, content_type=headers["Content-Type"], **extra)


def unchanged(approval) -> bool:
    approval.refresh_from_db()
    return approval.decision == "pending" and not RunEvent.objects.filter(run_id=approval.run_id).exists()


@pytest.fixture
def waiting(room):
    return room.waiting(by=room.trio.viewer)  # asked by the viewer, so the operator may approve under four eyes


def test_it_approves_as_the_member_with_the_slack_users_email(client, room, connected, slack, waiting, eager_tasks):
    operator = slack.add_user(room.trio.operator.email.upper())  # Slack keeps the case people typed
    response = press(
        client, connected, slack.interaction(user_id=operator, action_id=APPROVE, approval_id=str(waiting.id))
    )
    assert response.status_code == 200
    waiting.refresh_from_db()
    assert (waiting.decision, waiting.decided_by) == ("approved", room.trio.operator)
    audit = AuditEvent.objects.get(action="approval.approved", target_id=str(waiting.id))
    assert (audit.actor, audit.data["source"]) == (room.trio.operator, "slack")
    event = RunEvent.objects.get(run_id=waiting.run_id, type="approval.resolved")
    assert (event.data["source"], event.data["by"]) == ("slack", str(room.trio.operator.id))
    [answer] = slack.ephemerals()
    assert (answer["user"], answer["channel"]) == (operator, "C0APPROVALS")
    assert answer["text"] == "You approved k8s_scale on staging; the run continues."
    assert slack.of("users.info") == [{"user": operator}]


def test_the_audit_shows_where_it_was_decided(client, room, connected, slack, waiting, eager_tasks):
    operator = slack.add_user(room.trio.operator.email)
    press(client, connected, slack.interaction(user_id=operator, action_id=APPROVE, approval_id=str(waiting.id)))
    admin = bearer_client(room.trio.admin)
    listed = admin.get(f"/api/v1/orgs/{room.trio.org.slug}/audit/").json()["results"]
    [decided] = [e for e in listed if e["action"] == "approval.approved"]
    assert (decided["actor_email"], decided["data"]["source"]) == (room.trio.operator.email, "slack")
    export = admin.get(f"/api/v1/orgs/{room.trio.org.slug}/audit/export/?output=jsonl")
    rows = [json.loads(line) for line in b"".join(export.streaming_content).decode().splitlines()]
    [row] = [r for r in rows if r["action"] == "approval.approved"]
    assert (row["decided_by"], row["source"]) == (room.trio.operator.email, "slack")


def test_it_denies(client, room, connected, slack, waiting, eager_tasks):
    operator = slack.add_user(room.trio.operator.email)
    assert (
        press(
            client, connected, slack.interaction(user_id=operator, action_id=DENY, approval_id=str(waiting.id))
        ).status_code
        == 200
    )
    waiting.refresh_from_db()
    assert waiting.decision == "denied"
    assert slack.ephemerals()[0]["text"] == "You denied k8s_scale on staging; the run will not make this change."


@pytest.mark.parametrize(
    "forgery",
    ["wrong secret", "stale", "from the future", "body changed", "no signature", "unknown connection"],
)
def test_forged_and_stale_requests_change_nothing(client, room, connected, slack, waiting, forgery, eager_tasks):
    operator = slack.add_user(room.trio.operator.email)
    now = int(time.time())
    request = slack.interaction(
        user_id=operator,
        action_id=APPROVE,
        approval_id=str(waiting.id),
        secret="not-the-signing-secret" if forgery == "wrong secret" else None,
        timestamp={"stale": now - 301, "from the future": now + 301}.get(forgery, now),
    )
    body, headers = request
    if forgery == "body changed":
        body = body.replace(b"skyflo_approve", b"skyflo_deny")
    if forgery == "no signature":
        headers = {k: v for k, v in headers.items() if k != "X-Slack-Signature"}
    if forgery == "unknown connection":
        connected.id = waiting.id  # any UUID that names no connection
    response = press(client, connected, (body, headers))
    assert response.status_code == 401
    assert response.json()["detail"]
    assert unchanged(waiting)
    assert slack.calls == []  # not even users.info: nothing is read before the signature holds


def test_a_replayed_request_is_refused(client, room, connected, slack, waiting, eager_tasks):
    viewer = slack.add_user(room.trio.viewer.email)
    request = slack.interaction(user_id=viewer, action_id=APPROVE, approval_id=str(waiting.id))
    assert press(client, connected, request).status_code == 200  # taken (and refused: a viewer)
    replay = press(client, connected, request)
    assert replay.status_code == 401
    assert replay.json()["detail"] == "This request was already taken (a replay)."
    assert unchanged(waiting)
    assert len(slack.ephemerals()) == 1


@pytest.mark.parametrize(
    ("who", "answer"),
    [
        ("no account", "No member of {org} in Skyflo has your email (nobody-{n}@example.com); nothing was decided."),
        ("viewer", "Only operators who may operate this cluster decide its approvals. Nothing was decided."),
        ("outsider", "No member of {org} in Skyflo has your email ({email}); nothing was decided."),
        ("unconfirmed email", "Your Slack email is not confirmed; confirm it in Slack, then decide again."),
        ("bot", "Only people decide approvals; nothing was decided."),
        ("no email scope", "Skyflo cannot read the email of your Slack profile"),
    ],
)
def test_wrong_people_change_nothing(client, room, connected, slack, waiting, who, answer, eager_tasks):
    n = time.monotonic_ns()
    email = {
        "no account": f"nobody-{n}@example.com",
        "viewer": room.trio.viewer.email,
        "outsider": room.trio.outsider.email,
        "unconfirmed email": room.trio.operator.email,
        "bot": room.trio.operator.email,
        "no email scope": None,
    }[who]
    slack_user = slack.add_user(email, confirmed=who != "unconfirmed email", is_bot=who == "bot")
    press(client, connected, slack.interaction(user_id=slack_user, action_id=APPROVE, approval_id=str(waiting.id)))
    assert unchanged(waiting)
    [reply] = slack.ephemerals()
    assert reply["text"].startswith(answer.format(org=room.trio.org.name, n=n, email=email))


def test_an_operator_who_cannot_see_the_conversation_decides_nothing(client, room, connected, slack, eager_tasks):
    from guardian.shortcuts import assign_perm

    # May operate the cluster, but the conversation was never shared with them: as in the browser (404), no.
    stranger = make_member(room.trio.org, Role.OPERATOR, email=f"op-{time.monotonic_ns()}@example.com")
    assign_perm("orgs.operate_cluster", stranger, room.cluster)
    waiting = room.waiting(by=room.trio.viewer)
    press(client, connected, slack.interaction(user_id=slack.add_user(stranger.email), action_id=APPROVE,
                                               approval_id=str(waiting.id)))  # fmt: skip
    assert unchanged(waiting)
    assert slack.ephemerals()[0]["text"] == (
        "You cannot see this conversation in Skyflo, so you cannot decide its approval."
    )


def test_four_eyes_refuses_the_requester_in_slack_too(client, room, connected, slack, eager_tasks):
    room.trio.org.four_eyes = True
    room.trio.org.save()
    own = room.waiting(by=room.trio.operator)
    operator = slack.add_user(room.trio.operator.email)
    press(client, connected, slack.interaction(user_id=operator, action_id=APPROVE, approval_id=str(own.id)))
    assert unchanged(own)
    assert slack.ephemerals()[0]["text"] == (
        "Four-eyes rule: someone else must approve a change you requested. Nothing was decided."
    )
    # ... and denying one's own request stays allowed, as in the browser
    press(client, connected, slack.interaction(user_id=operator, action_id=DENY, approval_id=str(own.id)))
    own.refresh_from_db()
    assert own.decision == "denied"


def test_decided_and_expired_approvals_answer_like_a_409(client, room, connected, slack, waiting, eager_tasks):
    admin = slack.add_user(room.trio.admin.email)
    operator = slack.add_user(room.trio.operator.email)
    press(client, connected, slack.interaction(user_id=admin, action_id=DENY, approval_id=str(waiting.id)))
    press(client, connected, slack.interaction(user_id=operator, action_id=APPROVE, approval_id=str(waiting.id)))
    waiting.refresh_from_db()
    assert (waiting.decision, waiting.decided_by) == ("denied", room.trio.admin)
    assert slack.ephemerals()[1]["text"] == "This approval was already decided (denied)."

    late = room.waiting(by=room.trio.viewer)
    Approval.objects.filter(pk=late.pk).update(expires_at=timezone.now() - timezone.timedelta(seconds=1))
    press(client, connected, slack.interaction(user_id=operator, action_id=APPROVE, approval_id=str(late.id)))
    assert unchanged(late)
    assert slack.ephemerals()[2]["text"] == "This approval has expired."


def test_another_organisations_approval_is_not_decided(client, room, connected, slack, eager_tasks):
    other_org = make_org()
    other_admin = make_member(other_org, Role.ADMIN, email=f"x-{time.monotonic_ns()}@example.com")
    from integrations.services import slack_connection_set

    other = slack_connection_set(
        actor=other_admin, org=other_org, channel="C0APPROVALS", bot_token=slack.token, signing_secret="other-secret-1"
    )
    waiting = room.waiting(by=room.trio.viewer)
    operator = slack.add_user(room.trio.operator.email)
    request = slack.interaction(
        user_id=operator, action_id=APPROVE, approval_id=str(waiting.id), secret="other-secret-1"
    )
    assert press(client, other, request).status_code == 200
    assert unchanged(waiting)
    assert slack.ephemerals()[0]["text"] == "This approval is not one of your organisation's; nothing was decided."


def test_slack_down_decides_nothing_and_says_so_in_the_log(
    client, room, connected, slack, waiting, eager_tasks, caplog
):
    operator = slack.add_user(room.trio.operator.email)
    request = slack.interaction(user_id=operator, action_id=APPROVE, approval_id=str(waiting.id))
    slack.down = True
    assert press(client, connected, request).status_code == 200
    assert unchanged(waiting)
    assert "users.info failed for a button press" in caplog.text


def test_signed_but_odd_requests_decide_nothing(client, room, connected, slack, waiting, eager_tasks):
    operator = slack.add_user(room.trio.operator.email)
    body, headers = slack.interaction(user_id=operator, action_id=APPROVE, approval_id="not-an-id")
    assert press(client, connected, (body, headers)).status_code == 200
    assert slack.ephemerals()[0]["text"] == "This approval is not one of your organisation's; nothing was decided."
    body, headers = slack.interaction(user_id=operator, action_id="someone_elses_button", approval_id=str(waiting.id))
    assert press(client, connected, (body, headers)).status_code == 200
    assert len(slack.ephemerals()) == 1  # not our button: no answer
    assert unchanged(waiting)


def test_a_signed_request_without_a_payload_is_bad_input(client, room, connected, slack, eager_tasks):
    import hashlib
    import hmac

    stamp, body = str(int(time.time())), b"command=%2Fdeploy"
    signature = hmac.new(slack.signing_secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp,
               "X-Slack-Signature": f"v0={signature}"}  # fmt: skip
    response = press(client, connected, (body, headers))
    assert response.status_code == 400
    assert response.json()["detail"] == "Expected a form with a JSON `payload`."
