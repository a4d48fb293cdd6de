"""The garbage collector of a long-lived server process (daphne, a Celery worker), settled once it has started.

A full collection walks every object the collector tracks. After start-up that is ~250 000 objects (modules,
the compiled graph, URL resolvers, pydantic schemas) that will never be garbage, and a full pass over them took
100-340 ms on a loaded 2-core machine: the worker relays no token while it runs, so a stream stalled that long
every few seconds under load (bench/workflow_stream.py, 50 concurrent runs). `gc.freeze()` moves what exists
after start-up out of the collector's sight, so full passes only walk what the process made since; a larger
first-generation threshold (CPython's default is 700) makes young collections rarer while runs and streams
allocate thousands of short-lived objects a second. Cycles are still collected.
"""

import gc

YOUNG_THRESHOLD = 10_000


def gc_settle() -> None:
    """Collect, freeze what survives and raise the young-generation threshold. Call once, after warm-up."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
