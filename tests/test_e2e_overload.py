"""A web process sent more requests than it can serve at once: every request gets an answer — 200, or 503 with
Retry-After and a sentence — never a 500, a timeout or a closed connection, and the process holds no more
PostgreSQL connections than its pool allows."""

import asyncio
import subprocess

import httpx
import pytest
from redis import Redis

from tests.accounts import make_member, make_org
from tests.live import access_token, extra_stack

pytestmark = pytest.mark.e2e

POOL_SIZE = 4
BURST = 120


@pytest.fixture(scope="module")
def busy_web(live_database):
    with extra_stack(SKYFLO_DB_POOL_SIZE=str(POOL_SIZE), SKYFLO_HTTP_CONCURRENCY="2", SKYFLO_HTTP_QUEUE="8") as stack:
        yield stack


@pytest.fixture
def reader(live_db):
    return make_member(make_org())


async def _burst(url: str, headers: dict, n: int, *, also: tuple[str, ...] = ()) -> list:
    limits = httpx.Limits(max_connections=n + len(also), max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        requests = [client.get(url, headers=headers) for _ in range(n)] + [client.get(u) for u in also]
        return await asyncio.gather(*requests, return_exceptions=True)


def _postgres_connections(pid: int) -> int:
    """What an operator's `ss -tnp` shows: the process's TCP connections to PostgreSQL."""
    out = subprocess.run(
        ["ss", "-Htnp", "state", "established", "( dport = :5432 )"], capture_output=True, text=True, check=True
    ).stdout
    return sum(f"pid={pid}," in line for line in out.splitlines())


def test_it_answers_every_request_of_a_burst_with_200_or_503_and_retry_after(busy_web, reader):
    headers = {"Authorization": f"Bearer {access_token(reader)}"}
    health = (f"{busy_web.url}/healthz",) * 5
    answers = asyncio.run(_burst(f"{busy_web.url}/api/v1/conversations/", headers, BURST, also=health))

    assert [a for a in answers if isinstance(a, Exception)] == []
    answers, health_answers = answers[:BURST], answers[BURST:]
    assert [a.status_code for a in health_answers] == [200] * 5  # liveness is never held back
    statuses = sorted({a.status_code for a in answers})
    assert statuses == [200, 503]
    for busy in (a for a in answers if a.status_code == 503):
        assert busy.headers["Retry-After"] == "1"
        assert busy.json() == {"detail": "Skyflo is busy right now. Please try again in a moment."}
    assert busy_web.web.alive()


def test_it_keeps_postgresql_connections_within_the_pool_under_a_burst(busy_web, reader):
    headers = {"Authorization": f"Bearer {access_token(reader)}"}
    asyncio.run(_burst(f"{busy_web.url}/api/v1/conversations/", headers, BURST))

    assert 1 <= _postgres_connections(busy_web.web.pid) <= POOL_SIZE
    assert httpx.get(f"{busy_web.url}/api/v1/conversations/", headers=headers).status_code == 200


def test_it_reuses_its_redis_connections_from_request_to_request(busy_web, reader):
    """Every API request checks its throttle in Redis; under ASGI each request has a thread of its own, and with
    Django's own Redis cache each one opened a new Redis connection (what `INFO stats` counts)."""
    redis = Redis.from_url(busy_web.env["REDIS_URL"])
    headers = {"Authorization": f"Bearer {access_token(reader)}"}
    with httpx.Client(base_url=busy_web.url, headers=headers) as client:
        client.get("/api/v1/conversations/")  # the process's first connection
        opened = redis.info("stats")["total_connections_received"]
        statuses = {client.get("/api/v1/conversations/").status_code for _ in range(40)}
        opened = redis.info("stats")["total_connections_received"] - opened

    assert statuses == {200}
    assert opened < 10  # other processes of the test session may connect meanwhile; 40 requests once opened 40
