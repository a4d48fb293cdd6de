"""Runs kubectl/helm as argv lists (never a shell) in their own process group, with a timeout, an output
cap, line-by-line progress callbacks, redaction, and a kill of the whole group on timeout or cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import anyio

from mcp_server.observability import command_traced
from mcp_server.redaction import Redactor

OUTPUT_CAP = 64 * 1024
_READ_LIMIT = 8 * 1024 * 1024  # kept in memory for redaction; beyond this only counted
_CHUNK = 64 * 1024

LineCallback = Callable[[str], Awaitable[None]]


class CommandTimeout(Exception):
    """The command ran past its deadline; its process group was killed."""


@dataclass(frozen=True)
class CommandResult:
    command: str
    output: str
    stderr: str
    truncated: bool
    exit_code: int


def command_line(argv: Sequence[str], redactor: Redactor) -> str:
    shown = [os.path.basename(argv[0]), *argv[1:]]
    return redactor.redact_line(shlex.join(shown))


def cap_output(text: str, limit: int = OUTPUT_CAP, *, extra_omitted: int = 0) -> tuple[str, bool]:
    """Cut `text` to `limit` bytes (UTF-8) and append a visible marker saying how much was dropped."""
    encoded = text.encode()
    omitted = max(len(encoded) - limit, 0) + extra_omitted
    if omitted == 0:
        return text, False
    kept = encoded[:limit].decode(errors="ignore")
    return f"{kept}\n… [output truncated: {omitted} bytes omitted]", True


class _Collector:
    """Accumulates a stream up to _READ_LIMIT bytes and hands out complete lines."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.dropped = 0
        self._pending = b""
        self._overlong = False

    def feed(self, chunk: bytes) -> list[str]:
        room = _READ_LIMIT - len(self.data)
        self.data += chunk[: max(room, 0)]
        self.dropped += max(len(chunk) - max(room, 0), 0)
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        if self._overlong and lines:  # the rest of a line too long to stream: only the result carries it
            lines, self._overlong = lines[1:], False
        if len(self._pending) > _CHUNK:
            self._pending, self._overlong = b"", True
        return [line.decode(errors="replace") for line in lines]

    def text(self) -> str:
        return self.data.decode(errors="replace")


@command_traced
async def run_command(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout_s: float,
    redactor: Redactor,
    stdin: str | None = None,
    on_line: LineCallback | None = None,
    cwd: str | None = None,
    shown: bool = True,
) -> CommandResult:
    """Run `argv`; raise `CommandTimeout` past `timeout_s`. Cancellation kills the process group too.

    `shown=False`: stdout is for the server's own checks and never leaves it, so it is kept whole (up to the
    read limit; `truncated` says it was cut) and unredacted.
    """
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env),
        start_new_session=True,
    )
    stdout, stderr = _Collector(), _Collector()
    try:
        with anyio.fail_after(timeout_s):
            async with anyio.create_task_group() as tg:
                tg.start_soon(_pump, proc.stdout, stdout, on_line)
                tg.start_soon(_pump, proc.stderr, stderr, None)
                if stdin is not None:
                    tg.start_soon(_feed_stdin, proc, stdin)
            await proc.wait()
    except TimeoutError:
        raise CommandTimeout(f"timed out after {timeout_s:g}s; the process was killed") from None
    finally:
        await _kill_group(proc)
    # parsing up to 8 MiB for redaction is CPU work: off the event loop
    return await anyio.to_thread.run_sync(_result, argv, proc.returncode or 0, stdout, stderr, redactor, shown)


def _result(
    argv: Sequence[str], code: int, stdout: _Collector, stderr: _Collector, redactor: Redactor, shown: bool
) -> CommandResult:
    if shown:
        redacted = redactor.redact(stdout.text(), complete=stdout.dropped == 0)
        output, truncated = cap_output(redacted, extra_omitted=stdout.dropped)
    else:
        output, truncated = stdout.text(), stdout.dropped > 0
    err, _ = cap_output(
        redactor.redact(stderr.text(), complete=stderr.dropped == 0), 16 * 1024, extra_omitted=stderr.dropped
    )
    return CommandResult(command_line(argv, redactor), output, err, truncated, code)


async def _pump(stream: asyncio.StreamReader | None, sink: _Collector, on_line: LineCallback | None) -> None:
    if stream is None:
        return
    while chunk := await stream.read(_CHUNK):
        for line in sink.feed(chunk):
            if on_line is not None:
                await on_line(line)


async def _feed_stdin(proc: asyncio.subprocess.Process, data: str) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(data.encode())
        await proc.stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        proc.stdin.close()


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    with anyio.CancelScope(shield=True):
        await proc.wait()
