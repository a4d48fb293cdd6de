"""A burst of parallel requests meets the same rate limit as one request after another: each request's count is
taken atomically, so none overwrites another's (DRF's own throttles read and wrote the window's timestamps whole,
and parallel requests got through past the limit)."""

import asyncio

import httpx
import pytest

from tests.accounts import make_member, make_org
from tests.live import access_token, extra_stack

pytestmark = pytest.mark.e2e

LIMIT = 20
BURST = 60


@pytest.fixture(scope="module")
def limited_web(live_database):
    with extra_stack(SKYFLO_USER_RATE=f"{LIMIT}/min") as stack:
        yield stack


async def _burst(url: str, headers: dict) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=BURST, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return await asyncio.gather(*(client.get(url, headers=headers) for _ in range(BURST)))


def test_it_lets_no_more_than_the_limit_through_a_burst_of_parallel_requests(limited_web, live_db):
    headers = {"Authorization": f"Bearer {access_token(make_member(make_org()))}"}
    answers = asyncio.run(_burst(f"{limited_web.url}/api/v1/conversations/", headers))

    statuses = [a.status_code for a in answers]
    assert set(statuses) == {200, 429}
    assert statuses.count(200) <= LIMIT
    for refused in (a for a in answers if a.status_code == 429):
        assert int(refused.headers["Retry-After"]) >= 1
        assert "throttled" in refused.json()["detail"].lower() or "try again" in refused.json()["detail"].lower()
