"""The cyclic garbage collector, tuned for a long-running service (`settle()`, once started).

Measured under the gate's load (issue 11), CPython's defaults spent a tenth of policy's and
ingest's CPU collecting: a young-generation pass every 700 net allocations (0.3–0.6 ms each;
1,291 in policy over one benchmark run) and a full pass over the ~150,000 objects the imports
built (modules, pydantic schemas, SQLAlchemy and FastAPI internals) every few seconds, ~100 ms
each. With `settle()`, policy made no pass at all over the same run.
Nearly everything a message allocates is freed by reference counting anyway; the collector is
only needed for the rare cycles.

`settle()` moves what exists once the service is built into the permanent generation
(`gc.freeze`: never traversed again; frozen objects freed by reference counting still are)
and lets the young generation grow to `YOUNG` objects before a pass. A cycle lives a little
longer before it is collected: a few megabytes at most.
"""

import gc

# Net allocations of container objects before a young-generation pass (CPython: 700).
YOUNG = 20_000
# Young passes per middle-generation pass, and middle per full (CPython: 10 and 10).
OLDER = 20


def settle() -> None:
    """Freeze what the process has built so far and collect less often from now on; called by
    each service's entry point, after its imports and before it serves."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, OLDER, OLDER)
