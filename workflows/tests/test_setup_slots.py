"""A worker process sets up at most SETUP_SLOTS runs at once (workflows/run_loop.py), first come first served."""

import asyncio

from agents.llm import LLMClient
from tests.scripted_llm import say
from workflows.run_context import RunLLM
from workflows.run_loop import SETUP_SLOTS, RunHandle, RunLoop

LONG = 3600.0  # no slot is given back by the clock in these tests unless they say so


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_it_holds_the_next_set_up_until_a_run_is_set_up():
    runs = RunLoop(asyncio.get_running_loop(), setup_slot_max_s=LONG)
    handles = [RunHandle(f"run-{i}") for i in range(SETUP_SLOTS)]
    for handle in handles:
        handle.setup_slot = await runs.setup_slot()

    waiting = asyncio.ensure_future(runs.setup_slot())
    await _settle()
    assert not waiting.done()

    handles[0].set_up()
    slot = await asyncio.wait_for(waiting, timeout=5)
    slot.release()
    for handle in handles[1:]:
        handle.set_up()


async def test_it_gives_a_slot_back_once_only():
    runs = RunLoop(asyncio.get_running_loop(), setup_slot_max_s=LONG)
    handles = [RunHandle(f"run-{i}") for i in range(SETUP_SLOTS)]
    for handle in handles:
        handle.setup_slot = await runs.setup_slot()

    handles[0].set_up()
    handles[0].set_up()  # a run that streams a second answer, then ends: its slot was given back already
    handles[0].setup_slot.release()

    first = await asyncio.wait_for(runs.setup_slot(), timeout=5)
    second = asyncio.ensure_future(runs.setup_slot())
    await _settle()
    assert not second.done()  # the three extra releases freed one slot, not three

    first.release()
    (await asyncio.wait_for(second, timeout=5)).release()
    for handle in handles[1:]:
        handle.set_up()


async def test_a_set_up_that_waits_long_does_not_hold_the_others_back():
    """A run whose tool server is slow to answer gives its slot back after SETUP_SLOT_MAX_S anyway."""
    runs = RunLoop(asyncio.get_running_loop(), setup_slot_max_s=0.05)
    stuck = [await runs.setup_slot() for _ in range(SETUP_SLOTS)]

    slot = await asyncio.wait_for(runs.setup_slot(), timeout=10)

    slot.release()
    for held in stuck:
        held.release()


async def test_a_run_waiting_for_the_model_gives_its_slot_to_the_next_run(scripted_llm):
    scripted_llm.set_script([say("planning")], tokens_per_second=0)
    client = LLMClient(base_url=scripted_llm.base_url, api_key="k", model="scripted")
    runs = RunLoop(asyncio.get_running_loop(), setup_slot_max_s=LONG)
    handles = [RunHandle(f"run-{i}") for i in range(SETUP_SLOTS)]
    for handle in handles:
        handle.setup_slot = await runs.setup_slot()
    waiting = asyncio.ensure_future(runs.setup_slot())

    try:
        response = await RunLLM(client, handles[0]).chat([{"role": "user", "content": "scale web"}])

        assert response.content == "planning"
        await _settle()
        assert waiting.done()
        waiting.result().release()
    finally:
        await client.aclose()
        for handle in handles:
            handle.set_up()
