"""The garbage collector of a long-lived server process (daphne, a Celery worker), settled once it has started.

Full passes over the ~250 000 objects of start-up, which are never garbage, stalled token streams under load.
`gc.freeze()` hides them from the collector, and THRESHOLDS keep the younger passes short; cycles are still
collected (figures: bench/README.md, "gc_settle").
"""

import gc

THRESHOLDS = (2_000, 10, 100)


def gc_settle() -> None:
    """Collect, freeze what survives and set THRESHOLDS. Call once, after warm-up."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
