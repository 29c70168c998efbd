"""A team of threads that call one native entry point together, each with its thread id.

The caller is thread 0; helpers 1..n-1 are persistent daemon threads woken per run. ctypes
releases the GIL around the native call, so the team runs in parallel; the native barrier
between kernels keeps them in step, so a run is one native call per thread.
"""

from __future__ import annotations

import queue
import threading


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
            self._entry(job[0], tid, self.threads, job[1])
            self._done.put(tid)

    def close(self) -> None:
        """Let the helper threads exit (called when the owning module is collected)."""
        for inbox in self._work:
            inbox.put(None)

    def run(self, slots: int, barrier: int) -> None:
        """One run of the entry point on every thread of the team; returns when all are done."""
        for inbox in self._work:
            inbox.put((slots, barrier))
        self._entry(slots, 0, self.threads, barrier)
        for _ in self._work:
            self._done.get()
