"""GC experiments on a running `liveblog serve`, without editing liveblog.

Put this directory on PYTHONPATH and set BENCH_GC_EXP; bench/fanout.py passes its
environment to the servers it starts, and this hook acts only in liveblog's server processes
(the interpreter `liveblog serve` execs), writing to their log (kept as
<out>/liveblog-server.log):

    PYTHONPATH=bench/experiments BENCH_GC_EXP=stats  python bench/fanout.py ...
    PYTHONPATH=bench/experiments BENCH_GC_EXP=thr:700,10,100 python bench/fanout.py ...

BENCH_GC_EXP values:
  stats             log every full (generation 2) collection and its pause, and totals
  off               gc.disable() (upper bound; leaks cycles)
  thr:A,B,C         gc.set_threshold(A, B, C), plus the stats

While it runs, `touch /tmp/bench-gc-census` logs a census of the tracked objects by type at
the next collection, and `touch /tmp/bench-gc-freeze` calls gc.freeze() there.
"""

from __future__ import annotations

import collections
import gc
import os
import sys
import time
from typing import Any

MODE = os.environ.get("BENCH_GC_EXP", "")
CENSUS = "/tmp/bench-gc-census"
FREEZE = "/tmp/bench-gc-freeze"


def _log(text: str) -> None:
    sys.stderr.write(f"[gcexp {os.getpid()}] {text}\n")


def _census() -> None:
    objects = gc.get_objects()
    kinds = collections.Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in objects)
    _log(f"census {len(objects)} tracked objects, frozen {gc.get_freeze_count()}")
    for kind, count in kinds.most_common(30):
        _log(f"  {count:8d} {kind}")


def _install() -> None:
    if MODE == "off":
        gc.disable()
    elif MODE.startswith("thr:"):
        gc.set_threshold(*(int(v) for v in MODE[4:].split(",")))
    started: dict[int, float] = {}
    totals = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
    last = [time.monotonic()]

    def callback(phase: str, info: dict[str, Any]) -> None:
        generation = info["generation"]
        if phase == "start":
            started[generation] = time.perf_counter()
            return
        pause = time.perf_counter() - started.get(generation, time.perf_counter())
        totals[generation][0] += 1
        totals[generation][1] += pause
        if generation == 2:
            _log(f"gen2 {pause * 1000:.1f} ms collected={info['collected']}")
        if time.monotonic() - last[0] > 5:
            last[0] = time.monotonic()
            _log("agg " + " ".join(f"g{g}:{n}x/{t * 1000:.0f}ms" for g, (n, t) in totals.items()))
        if os.path.exists(FREEZE):
            os.unlink(FREEZE)
            gc.freeze()
            _log(f"frozen {gc.get_freeze_count()}")
        if os.path.exists(CENSUS):
            os.unlink(CENSUS)
            _census()

    gc.callbacks.append(callback)
    _log(f"mode {MODE}: enabled={gc.isenabled()} thresholds={gc.get_threshold()}")


if MODE and any("liveblog.server" in arg for arg in getattr(sys, "orig_argv", [])):
    _install()
