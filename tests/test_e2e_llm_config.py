"""No LLM configured: the run fails at once with run.error naming the variable to set."""

import pytest

from tests.live import extra_stack, shop_make
from workflows.models import Run

pytestmark = pytest.mark.e2e


@pytest.fixture
def unconfigured_shop(live_db, toolserver, sandbox_cluster):
    with extra_stack(llm_base_url=None) as stack:
        yield shop_make(stack, toolserver, sandbox_cluster)


def test_it_names_the_missing_llm_variable(unconfigured_shop):
    shop = unconfigured_shop
    with shop.socket() as events:
        run_id = shop.ask("scale web in shop to 3 replicas")["run"]["id"]
        error = events.until("run.error")["data"]
        finished = events.until("run.finished")["data"]
    assert error["code"] == "llm_not_configured"
    assert "LLM_BASE_URL" in error["detail"]
    assert finished["status"] == "failed"
    run = Run.objects.get(pk=run_id)
    assert (run.status, run.error_code) == ("failed", "llm_not_configured")
    assert shop.replicas() == (1, 1)
