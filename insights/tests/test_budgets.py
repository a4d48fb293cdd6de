"""Monthly budgets: set by admins; at 80 % the admins are told; at 100 % new runs of the organisation or team are
refused with 429 budget_exceeded until the month turns or an admin raises the budget; runs going are not cut."""

import datetime as dt
import threading

import pytest
from django.db import connection, connections, transaction

from chats.models import Conversation, Message
from insights.budgets import budget_threshold_reached, month_start
from orgs.models import AuditEvent, Budget
from orgs.tests.matrix import as_role, assert_refused
from tests.accounts import bearer_client
from workflows.models import Run

pytestmark = pytest.mark.django_db


def budgets_url(floor) -> str:
    return f"/api/v1/orgs/{floor.trio.org.slug}/budgets/"


def post(floor, user):
    """Ask in a new conversation of the user's (a conversation runs one run at a time)."""
    conversation = Conversation.objects.create(org=floor.trio.org, cluster=floor.prod, owner=user)
    return bearer_client(user).post(
        f"/api/v1/conversations/{conversation.id}/messages/", {"content": "scale web"}, format="json"
    )


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def set_budget(floor, limit, *, kind="tokens", team=None) -> dict:
    body = {"kind": kind, "monthly_limit": str(limit), "team": str(team.id) if team else None}
    response = as_role(floor.trio, "admin").put(budgets_url(floor), body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_an_admin_sets_and_reads_budgets(floor):
    trio = floor.trio
    body = {"kind": "tokens", "monthly_limit": "1000"}
    assert_refused(trio, "put", budgets_url(floor), min_role="admin", data=body, snapshot=Budget.objects.count)
    assert_refused(trio, "get", budgets_url(floor), min_role="admin")
    floor.run(at=now(), prompt_tokens=300, completion_tokens=100)
    org_budget = set_budget(floor, 1000)
    assert (org_budget["team"], org_budget["spent"], org_budget["percent"]) == (None, "400.000000", 40)
    set_budget(floor, "2.5", kind="cost", team=floor.platform)
    listed = as_role(trio, "owner").get(budgets_url(floor)).json()["results"]
    assert [(b["team_name"], b["kind"], b["monthly_limit"]) for b in listed] == [
        (None, "tokens", "1000.000000"),
        ("platform", "cost", "2.500000"),
    ]
    assert AuditEvent.objects.filter(org=trio.org, action="budget.set").count() == 2
    bad = as_role(trio, "admin").put(budgets_url(floor), {"kind": "tokens", "monthly_limit": "1.5"}, format="json")
    assert bad.status_code == 400
    assert "monthly_limit" in bad.json()


def test_at_100_percent_new_runs_are_refused_and_running_ones_go_on(floor, settings):
    settings.BUDGET_RUN_RESERVE_TOKENS = 0
    going = floor.run(at=now(), status=Run.Status.RUNNING, prompt_tokens=900, completion_tokens=100)
    set_budget(floor, 1000)
    messages = Message.objects.count()
    response = post(floor, floor.trio.viewer)
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "budget_exceeded"
    assert body["detail"].startswith("The organisation's monthly budget of 1000 tokens is 100 % used")
    assert "until the month turns or an admin raises the budget" in body["detail"]
    assert (Message.objects.count(), Run.objects.count()) == (messages, 1)
    going.refresh_from_db()
    assert going.status == Run.Status.RUNNING


def test_raising_the_budget_lets_runs_start_again(floor):
    floor.run(at=now(), prompt_tokens=1000)
    set_budget(floor, 1000)
    assert post(floor, floor.trio.viewer).status_code == 429
    set_budget(floor, 100000)
    assert post(floor, floor.trio.viewer).status_code == 202


def test_the_month_turning_starts_a_new_budget(floor):
    last_month = dt.datetime.combine(month_start() - dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC)
    floor.run(at=last_month, prompt_tokens=50000, cost_usd="40")
    set_budget(floor, 1000)
    assert post(floor, floor.trio.viewer).status_code == 202


def test_a_team_budget_stops_only_that_teams_runs(floor):
    trio = floor.trio
    floor.run(at=now(), by=trio.operator, cost_usd="2.50")  # platform
    set_budget(floor, "2.5", kind="cost", team=floor.platform)
    refused = post(floor, trio.operator)
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("The team platform's monthly budget of 2.50 USD is 100 % used")
    assert post(floor, trio.viewer).status_code == 202  # data team: no budget reached


def test_a_run_going_counts_its_reserve(floor, settings):
    settings.BUDGET_RUN_RESERVE_TOKENS = 600
    waiting = floor.run(at=now(), status=Run.Status.AWAITING_APPROVAL, prompt_tokens=10)
    set_budget(floor, 1000)
    assert post(floor, floor.trio.viewer).status_code == 202  # 600 of 1000 before it
    assert post(floor, floor.trio.admin).status_code == 429  # 600 + 600
    Run.objects.filter(pk=waiting.pk).update(status=Run.Status.SUCCEEDED)
    assert post(floor, floor.trio.admin).status_code == 202  # 10 + 600


def test_at_80_percent_the_admins_are_told_once_a_month(floor, client, django_capture_on_commit_callbacks):
    told = []

    def receiver(sender, budget, spent, month, **kwargs):
        told.append((budget.monthly_limit, spent, month))

    budget_threshold_reached.connect(receiver)
    try:
        floor.run(at=now(), prompt_tokens=850)
        set_budget(floor, 1000)
        with django_capture_on_commit_callbacks(execute=True):
            assert post(floor, floor.trio.viewer).status_code == 202
        Run.objects.filter(status=Run.Status.QUEUED).update(status=Run.Status.SUCCEEDED)
        with django_capture_on_commit_callbacks(execute=True):
            assert post(floor, floor.trio.viewer).status_code == 202
    finally:
        budget_threshold_reached.disconnect(receiver)
    Run.objects.filter(status=Run.Status.QUEUED).update(status=Run.Status.SUCCEEDED)
    assert [(limit, spent) for limit, spent, _ in told] == [(1000, 850)]
    assert AuditEvent.objects.filter(org=floor.trio.org, action="budget.warning").count() == 1
    notice = "The organisation&#x27;s monthly budget of 1000 tokens is 85 % used (850 tokens)."
    client.force_login(floor.trio.admin)
    assert notice in client.get(f"/orgs/{floor.trio.org.slug}/insights/").content.decode()
    assert notice in client.get("/").content.decode()  # on every page, for the admins
    client.force_login(floor.trio.operator)
    assert "monthly budget" not in client.get("/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_two_runs_starting_at_the_last_token_one_gets_in(floor):
    """Both posts reach the budget while an admin's change holds its row; once it is let go, exactly one run
    starts: the second admission reads the first run's reserve."""
    trio = floor.trio
    floor.run(at=now(), prompt_tokens=999)
    set_budget(floor, 1000)
    answers = []

    def ask(user):
        try:
            answers.append(post(floor, user).status_code)
        finally:
            connections.close_all()

    with transaction.atomic():
        Budget.objects.select_for_update().get(org=trio.org)
        threads = [threading.Thread(target=ask, args=(user,)) for user in (trio.viewer, trio.admin)]
        for thread in threads:
            thread.start()
        _wait_for_lock_waiters(2)
    for thread in threads:
        thread.join(30)
    assert sorted(answers) == [202, 429]
    assert Run.objects.filter(status=Run.Status.QUEUED).count() == 1


def _wait_for_lock_waiters(count: int) -> None:
    """Until `count` other sessions wait on a row lock (pg_stat_activity): the observable condition."""
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    while dt.datetime.now(dt.UTC) < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # else the view is read once per transaction
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] >= count:
                return
    raise AssertionError(f"{count} sessions never waited on the budget's lock")
