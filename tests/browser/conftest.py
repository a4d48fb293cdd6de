"""Headless Chromium (the Debian package) driven by Python playwright, against the live stack of tests/live.py."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.accounts import PASSWORD

CHROMIUM = os.environ.get("SKYFLO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
WIDE = {"width": 1280, "height": 860}
NARROW = {"width": 390, "height": 844}

expect.set_options(timeout=30_000)
# Playwright's sync API keeps an event loop running in the test thread; Django's ORM (fixtures, flush) would
# otherwise refuse to run next to it although nothing here is actually async.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="package")  # not the session's: playwright's loop would outlive these tests and break
def browser() -> Iterator[Browser]:  # every async test that runs after them (`scripts/test.sh tests workflows`)
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (scripts/bootstrap.sh does it as root)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class Pages:
    """Browser contexts for a test; records every JavaScript dialog (an XSS would open one)."""

    def __init__(self, browser: Browser, base_url: str):
        self.browser, self.base_url = browser, base_url
        self.contexts = []
        self.dialogs: list[str] = []

    def new(self, viewport: dict = WIDE) -> Page:
        context = self.browser.new_context(base_url=self.base_url, viewport=viewport)
        self.contexts.append(context)
        page = context.new_page()
        page.on("dialog", self._dialog)
        return page

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def login(self, user, viewport: dict = WIDE) -> Page:
        from orgs.services import login_failures_reset

        # Failed sign-ins of other tests on 127.0.0.1 (same Redis cache) must not throttle this one.
        login_failures_reset(email=user.email, ip="127.0.0.1")
        page = self.new(viewport)
        page.goto("/login/")
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{self.base_url}/")
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture(scope="session", autouse=True)
def _test_database_released(live_database, django_db_blocker) -> Iterator[None]:
    """After the live processes stopped, end this process's other connections to the test database (Django
    keeps one per thread and per context, and playwright's greenlets are contexts of their own), so the
    database can be dropped at the end of the session."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    connection.close()


@pytest.fixture
def pages(browser, live_stack) -> Iterator[Pages]:
    from orgs.services import login_failures_reset

    login_failures_reset(ip="127.0.0.1")  # failed sign-ins of other tests (same IP, same Redis) must not throttle
    made = Pages(browser, live_stack.url)
    yield made
    made.close()


@pytest.fixture(scope="session")
def password_hash() -> str:
    """PASSWORD hashed with the live processes' own hasher (the default one), computed once per session."""
    from django.contrib.auth.hashers import make_password

    return make_password(PASSWORD)


@pytest.fixture
def shop(shop, password_hash):
    """The e2e tests' shop (tests/live.py: committed rows, never flushed), whose people can also sign in with
    PASSWORD: `shop_make` stores MD5 hashes to be quick, and the live daphne only knows the default hashers."""
    from orgs.models import User

    people = [shop.owner, shop.operator, shop.operator2, shop.viewer]
    User.objects.filter(pk__in=[person.pk for person in people]).update(password=password_hash)
    for person in people:  # their API tokens carry a fingerprint of the password (CHECK_REVOKE_TOKEN)
        person.password = password_hash
    return shop


def screenshot(page: Page, name: str) -> None:
    """Save a full-page screenshot under test-artifacts/screenshots/ (git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"]
    page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True, animations="disabled")
