"""A team of threads that call one native entry point together, each with its thread id.

The caller is thread 0; helpers 1..n-1 are persistent daemon threads woken per run. ctypes
releases the GIL around the native call, so the team runs in parallel; the native barrier
between kernels keeps them in step, so a run is one native call per thread.
"""

from __future__ import annotations

import queue
import threading

import numpy as np

from frittata.backends.jit import BARRIER_WORDS
from frittata.backends.packing import aligned


def barrier_state() -> np.ndarray:
    """A zeroed team state of BARRIER_WORDS int32s, ALIGN-aligned (its 64-bit work word, at
    word 2, needs 8-byte alignment, which an int32 array does not promise)."""
    return aligned(4 * BARRIER_WORDS, "int32")


class Team:
    def __init__(self, entry, threads: int) -> None:
        self._entry = entry
        self.threads = max(1, int(threads))
        self._work: list[queue.SimpleQueue] = [queue.SimpleQueue() for _ in range(self.threads - 1)]
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        for tid, inbox in enumerate(self._work, start=1):
            threading.Thread(target=self._serve, args=(tid, inbox), daemon=True,
                             name=f"frittata-{tid}").start()

    def _serve(self, tid: int, inbox: queue.SimpleQueue) -> None:
        while (job := inbox.get()) is not None:
            entry, slots, barrier = job
            entry(slots, tid, self.threads, barrier)
            self._done.put(tid)

    def close(self) -> None:
        """Let the helper threads exit (called when the owning module is collected)."""
        for inbox in self._work:
            inbox.put(None)

    def run(self, slots: int, barrier: int, entry=None) -> None:
        """One run of the entry point (or of `entry`, a function of the same four arguments) on
        every thread of the team; returns when all are done."""
        entry = entry or self._entry
        for inbox in self._work:
            inbox.put((entry, slots, barrier))
        entry(slots, 0, self.threads, barrier)
        for _ in self._work:
            self._done.get()
