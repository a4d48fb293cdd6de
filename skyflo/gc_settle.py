"""The garbage collector of a long-lived server process (daphne, a Celery worker), settled once it has started.

A full collection walks every object the collector tracks. After start-up that is ~250 000 objects (modules,
the compiled graph, URL resolvers, pydantic schemas) that will never be garbage, and a full pass over them took
100-340 ms on a loaded 2-core machine: the worker relays no token while it runs, so a stream stalled that long
every few seconds under load (bench/workflow_stream.py, 50 concurrent runs). `gc.freeze()` moves what exists
after start-up out of the collector's sight, so full passes only walk what the process made since.

The thresholds trade pause length against pause count. With CPython's (700, 10, 10) full passes came every
second or so under load; with a young threshold of 10 000 the middle generation grew to ~100 000 objects and
its passes took 20-36 ms, one per run of the benchmark, right in the streams. With (2 000, 10, 100) middle
passes stay at 3-7 ms and a full pass waits for 100 of them (~2 million allocations). Cycles are still
collected.
"""

import gc

THRESHOLDS = (2_000, 10, 100)


def gc_settle() -> None:
    """Collect, freeze what survives and set THRESHOLDS. Call once, after warm-up."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
