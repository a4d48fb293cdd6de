"""Finding 25: no Content-Security-Policy, and /api/v1/docs/ loaded swagger-ui unpinned from a CDN. Every page
now carries a strict policy (this origin only, no inline script or style) and still works under it in a real
browser: the chat (its WebSocket included), profile, settings, the admin and the API docs (vendored swagger-ui)."""

import pytest
from playwright.sync_api import expect

from tests.accounts import make_user

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def _watch_csp(page) -> list[str]:
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    return violations


def test_finding_25_every_page_works_under_a_strict_csp(shop, pages, password_hash):
    page = pages.login(shop.owner)
    violations = _watch_csp(page)
    response = page.goto(f"/c/{shop.conversation_id}/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    expect(page.locator("#conn-status")).to_have_attribute("data-state", "live")  # the WebSocket connected
    for path in ("/", "/profile/", f"/orgs/{shop.org.slug}/settings/", f"/orgs/{shop.org.slug}/settings/clusters/"):
        assert page.goto(path).headers["content-security-policy"] == policy
    page.get_by_role("button", name="Test connection").first.click()
    expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible()

    response = page.goto("/api/v1/docs/")
    assert "cdn" not in page.content()
    assert "/static/vendor/swagger-ui-dist-5.35.0/swagger-ui-bundle.js" in page.content()
    expect(page.locator(".opblock").first).to_be_visible()  # swagger-ui rendered the schema's operations

    staff = make_user(is_staff=True, is_superuser=True)
    type(staff).objects.filter(pk=staff.pk).update(password=password_hash)
    admin = pages.new()
    violations += _watch_csp(admin)
    admin.goto("/admin/login/")
    admin.get_by_label("Email").fill(staff.email)
    admin.get_by_label("Password").fill("correct horse battery staple")
    admin.get_by_role("button", name="Log in").click()
    expect(admin.get_by_role("heading", name="Site administration")).to_be_visible()
    admin.goto(f"/admin/orgs/user/{staff.pk}/change/")
    expect(admin.get_by_role("heading", name="Change user")).to_be_visible()
    admin.goto("/admin/orgs/clusterconnection/")
    expect(admin.get_by_role("heading", name="Select cluster connection to change")).to_be_visible()

    assert violations == []
