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
        self._pending = 0
        """Helpers given a run that have not yet reported it done (each puts one token)."""
        for tid, inbox in enumerate(self._work, start=1):
            threading.Thread(target=self._serve, args=(tid, inbox), daemon=True,
                             name=f"frittata-{tid}").start()

    def _serve(self, tid: int, inbox: queue.SimpleQueue) -> None:
        while (job := inbox.get()) is not None:
            entry, slots, barrier = job
            try:
                entry(slots, tid, self.threads, barrier)
            finally:
                self._done.put(tid)

    def close(self) -> None:
        """Let the helper threads exit (called when the owning module is collected)."""
        for inbox in self._work:
            inbox.put(None)

    def run(self, slots: int, barrier: int, entry=None) -> None:
        """One run of the entry point (or of `entry`, a function of the same four arguments) on
        every thread of the team; returns when all are done. A run interrupted while it waits
        (KeyboardInterrupt) leaves its helpers' tokens pending: the next run first waits for
        them, so it neither starts while they still use the team's state nor takes their
        tokens for its own helpers'."""
        entry = entry or self._entry
        self._wait_for_helpers()
        for inbox in self._work:
            inbox.put((entry, slots, barrier))
            self._pending += 1
        entry(slots, 0, self.threads, barrier)
        self._wait_for_helpers()

    def _wait_for_helpers(self) -> None:
        """Take the token of every helper still running a run."""
        while self._pending:
            self._done.get()
            self._pending -= 1
