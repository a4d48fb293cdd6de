"""The driver: claims a run, builds its RunContext from the database, runs the LangGraph graph, and maps the
result onto the Run row and the run.* / approval.* events.

It runs on the process's run loop (workflows/run_loop.py), in a Celery worker or, in embedded mode, the web
process, and calls down into workflows/lifecycle.py for every state change of the run. Everything stateful lives
in PostgreSQL (rows, checkpoints), so any worker can continue any run.
"""

from __future__ import annotations

import asyncio
import json
import logging

import django.db
import psycopg
import psycopg_pool
from django.conf import settings

from agents.errors import RunCancelled, ToolServerError, run_error
from agents.tool_policy import ToolPolicy
from chats.publisher import aevent_publish, publisher_warm
from chats.selectors import conversation_has_title, conversation_history
from chats.services import conversation_title_set_if_empty
from orgs.models import ModelConnection
from orgs.selectors import model_endpoint
from skyflo.logs import log_context_bind
from skyflo.tracing import run_traced
from workflows import lifecycle
from workflows.checkpointer import checkpointer_get
from workflows.models import Run
from workflows.run_context import DjangoRunContext, RunLLM, ledger_abandon
from workflows.run_loop import WORKER_NAME, RunHandle, StartupClock, db, run_loop
from workflows.selectors import run_identity, run_policy_inputs

logger = logging.getLogger(__name__)

# A PostgreSQL restart or failover: what the ORM, the event log and the checkpointer raise when they lose it.
DATABASE_LOST = (
    django.db.OperationalError,
    django.db.InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    psycopg_pool.PoolTimeout,
)

HISTORY_MESSAGES = 40


async def run_execute(run_id: str) -> bool:
    """Start (or, after a worker died, continue) a queued run. Does nothing when there is nothing to claim.
    True when the worker was stopping and handed the run back to the queue: the caller dispatches it again."""
    return await _drive(run_id, resume=None)


async def run_resume(run_id: str, resume: dict) -> bool:
    """Continue a run parked at an approval once it was decided; `resume` = {"approval_id", "call_id"}.

    Only the approval the run waits for resumes it, and the decision is read from its row. Returns as run_execute."""
    return await _drive(run_id, resume=resume)


async def _drive(run_id: str, *, resume: dict | None) -> bool:
    loop = run_loop()
    clock = StartupClock()
    slot = await loop.setup_slot()
    clock.mark("slot")
    try:
        run = await db(lifecycle.run_claim, run_id=run_id, worker=WORKER_NAME, resume=resume)
        if run is None:
            logger.info("run %s: nothing to claim (finished, taken, a duplicate or stale delivery)", run_id)
            return False
        if resume is not None:
            resume = await db(lifecycle.run_resume_value, run=run, resume=resume)
        clock.mark("claim")
        clock.notes["resumed"] = resume is not None
        handle = loop.hold(run_id)
        handle.setup_slot = slot
        handle.clock = clock
        handle.drive = asyncio.current_task()
        if loop.stopping:
            handle.park()
        try:
            await run_traced(run, _drive_claimed(run, handle, resume), resumed=resume is not None)
        except asyncio.CancelledError:
            if not handle.parking:
                raise
            asyncio.current_task().uncancel()
            return await _hand_back(run)
        finally:
            loop.release(run_id)
    finally:
        slot.release()
    return False


async def _hand_back(run: Run) -> bool:
    """The worker is stopping: the run goes back to the queue now, as recovery would requeue it after a missed
    heartbeat, and another worker continues from its last checkpoint (the ledger keeps a change from running
    twice: a call cut short is reported as of unknown outcome, never re-run)."""
    handed_back = await db(lifecycle.run_hand_back, run_id=run.id, worker=WORKER_NAME)
    if handed_back:
        logger.info("run %s: handed back to the queue, this worker is stopping", run.id)
    return handed_back


async def _drive_claimed(run: Run, handle: RunHandle, resume: dict | None) -> None:
    log_context_bind(
        run=run.id, conversation=run.conversation_id, org=run.conversation.org.slug, user=run.requested_by_id
    )
    if run.cancel_requested:
        await _finish(run, Run.Status.CANCELLED)
        return
    if resume is None and run.attempt == 0:
        await aevent_publish(
            conversation_id=run.conversation_id, run_id=run.id, type="run.started", data=_started_data(run)
        )
    await _drive_graph(run, handle, resume)


def _started_data(run: Run) -> dict:
    cluster = run.conversation.cluster
    namespace = run.conversation.namespace or (cluster.default_namespace if cluster else None)
    return {"cluster": cluster.name if cluster else None, "namespace": namespace}


async def _drive_graph(run: Run, handle: RunHandle, resume: dict | None) -> None:
    ctx = None
    try:
        clock = handle.clock or StartupClock()
        ctx = await db(_context_build, run, handle)
        ctx.llm.ensure_configured()
        clock.mark("context")
        async with ctx.tools:
            clock.mark("mcp_session")
            clock.notes["mcp_reused"] = ctx.tools.reused
            ctx.policy = ToolPolicy(ctx.tools.tools, **await db(run_policy_inputs, run))
            clock.mark("policy")
            handle.task = asyncio.create_task(_graph_loop(run, ctx, resume))
            try:
                result = await handle.task
            finally:
                handle.task = None
        if result is not None:
            status = _status_of(result)
            await db(lifecycle.run_replans_record, run=run, replans=int(result.get("round") or 0))
            await _finish(run, status)
            if status == Run.Status.SUCCEEDED:
                await _title_generate(run, ctx, result.get("answer") or "")
    except (asyncio.CancelledError, RunCancelled):
        if not handle.cancel_requested:
            raise
        await _cancelled(run, ctx)
    except DATABASE_LOST as exc:
        # Not failed for good: the run keeps its checkpoint and its ledger; with no worker heart-beating it any
        # more, runs_recover queues it again and the next attempt continues where this one stopped.
        logger.warning("run %s: the database connection was lost (%s); left for recovery", run.id, exc)
    except Exception as exc:
        await _failed(run, exc)
    finally:
        if ctx is not None:
            await ctx.streams_close()


async def _failed(run: Run, exc: Exception) -> None:
    """run.error carries a stable code and a sentence for a person; the detail goes to the log with the run id."""
    code, sentence = run_error(exc, str(run.id))
    if code == "internal":
        logger.exception("run %s failed (internal)", run.id)
    else:
        logger.warning("run %s failed (%s): %s", run.id, code, exc, exc_info=exc)
    await _finish(run, Run.Status.FAILED, (code, sentence))


async def _graph_loop(run: Run, ctx: DjangoRunContext, resume: dict | None) -> dict | None:
    """Invoke the graph until it finishes (-> its final state) or parks at a new approval (-> None)."""
    from langgraph.types import Command  # with the graph: ~3 s of imports that a web process never needs

    graph = await _graph_get()
    config = {"configurable": {"thread_id": str(run.conversation_id)}, "metadata": {"run_id": str(run.id)}}
    graph_input = Command(resume=resume) if resume else await _start_input(graph, config, run, ctx)
    while True:
        result = await graph.ainvoke(graph_input, config=config, context=ctx)
        interrupts = result.get("__interrupt__") if isinstance(result, dict) else None
        if not interrupts:
            return result
        request = interrupts[0].value
        await ctx.streams_close()
        approval = await db(
            lifecycle.run_await_approval,
            run=run,
            call_id=str(request["call_id"]),
            tool=request["tool"],
            args=request.get("args") or {},
            preview=request.get("preview") or "",
        )
        if approval is not None:
            return None
        decided = await db(lifecycle.run_decided_resume_value, run=run, call_id=str(request["call_id"]))
        graph_input = Command(resume=decided)


_compiled = None


async def _graph_get():
    """The compiled graph, once per process: compiling it costs more CPU than a whole step."""
    global _compiled
    if _compiled is None:
        from workflows.graph import build_graph  # the agents and LangGraph: imported by workers, not web processes

        _compiled = build_graph(await checkpointer_get())
    return _compiled


async def warm_up() -> None:
    """Import the agents and the MCP client, compile the graph, open the checkpointer and the event publisher's
    connections before the first run needs them (a cold first run otherwise pays for them)."""
    import agents.mcp_client  # noqa: F401 - imported here for the same reason as in _context_build

    await _graph_get()
    await publisher_warm()


async def _start_input(graph, config: dict, run: Run, ctx: DjangoRunContext):
    """A fresh run starts from its request; a run whose worker died continues from its last checkpoint."""
    if run.attempt > 0:
        snapshot = await graph.aget_state(config)
        if snapshot.next and (snapshot.values or {}).get("run_id") == str(run.id):
            return None
    return {"request": ctx.user_request, "run_id": str(run.id), "preset_call": run.preset_call}


def _status_of(result) -> str:
    outcome = result.get("outcome") if isinstance(result, dict) else None
    if outcome in {Run.Status.SUCCEEDED, Run.Status.FAILED, Run.Status.CANCELLED, Run.Status.DENIED}:
        return outcome
    logger.error("graph ended without a known outcome: %r", outcome)
    return Run.Status.FAILED


async def _finish(run: Run, status: str, error: tuple[str, str] | None = None) -> None:
    await db(lifecycle.run_finish, run=run, status=status, error=error)


async def _cancelled(run: Run, ctx: DjangoRunContext | None) -> None:
    if ctx is not None:
        await ctx.streams_close()
    await db(ledger_abandon, run_id=run.id)
    await _finish(run, Run.Status.CANCELLED)


async def _title_generate(run: Run, ctx: DjangoRunContext, answer: str) -> None:
    """After the first exchange, the conversation gets a title from the agents' title helper."""
    from agents.titles import generate_title  # with the LLM client: imported by workers, not web processes

    try:
        if not await db(conversation_has_title, conversation_id=run.conversation_id):
            title = await generate_title(ctx.llm, ctx.user_request, answer)
            if title:
                await db(conversation_title_set_if_empty, conversation_id=run.conversation_id, title=title)
    except Exception as exc:
        logger.warning("run %s: title generation failed: %s", run.id, exc)


# --- building the context (sync, on a DB thread) ------------------------------------------------------------


def _context_build(run: Run, handle: RunHandle) -> DjangoRunContext:
    # The LLM and MCP clients (~2 s of imports): imported by workers, not web processes.
    from agents.llm import LLMClient
    from agents.mcp_client import ToolSession

    cluster = run.conversation.cluster
    if cluster is None:
        raise ToolServerError(
            "the conversation's cluster connection was deleted",
            sentence="This conversation's cluster connection was deleted: start a new conversation on another cluster.",
        )
    return DjangoRunContext(
        run=run,
        handle=handle,
        user_request=run.message.content if run.message else "",
        history=_history(run),
        default_namespace=run.conversation.namespace or cluster.default_namespace or None,
        llm=RunLLM(_llm_client(LLMClient, _model_connection(run)), handle),
        tools=ToolSession(
            url=cluster.mcp_server_url,
            token=cluster.mcp_server_token or None,
            identity=run_identity(run, cluster),
            reuse_s=settings.MCP_SESSION_REUSE_S,
        ),
        max_replans=settings.VERIFY_MAX_REPLANS,
    )


_llm_clients: dict[str, object] = {}


def _llm_client(client_class, connection=None):
    """One LLM client per endpoint per process (the org's model connection, else the environment's): its HTTP
    connection pool is shared by every run of the process that uses that endpoint."""
    endpoint = model_endpoint(connection)
    key = json.dumps(endpoint, sort_keys=True)
    if key not in _llm_clients:
        _llm_clients[key] = client_class(
            **endpoint, timeout=float(settings.LLM_TIMEOUT_S), max_output_tokens=settings.LLM_MAX_OUTPUT_TOKENS
        )
    return _llm_clients[key]


def _model_connection(run: Run):
    return ModelConnection.objects.filter(org_id=run.conversation.org_id).first()


def _history(run: Run) -> list[dict]:
    before = run.message.created_at if run.message is not None else None
    return conversation_history(conversation_id=run.conversation_id, before=before, limit=HISTORY_MESSAGES)
