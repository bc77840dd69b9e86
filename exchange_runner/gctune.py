"""Keep the cyclic garbage collector's full collections short in a long-running runner.

A runner's heap after startup (modules, instruments, actors, sockets: 70 000–100 000 tracked
objects) never becomes garbage, yet every full collection walks all of it: 15–30 ms on the
development machine, a stall of every book and command (``docs/performance.md``). Full
collections are rare under a steady stream, but over days they come. :func:`settle_heap`
collects once and moves everything alive into the permanent generation (``gc.freeze()``), so
later collections only walk objects created since (microseconds instead of milliseconds).
Reference counting still frees the per-message objects at once; the collector only looks for
cycles.
"""

from __future__ import annotations

import gc

__all__ = ["settle_heap"]


def settle_heap() -> int:
    """Collect, then freeze what survives; returns the number of objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
