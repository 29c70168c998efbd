"""A team of threads that call one native entry point together, each with its thread id.

The caller is thread 0; helpers 1..n-1 are persistent daemon threads. Between runs a helper
waits inside native code (`frittata.backends.llvm.serve`): a run of a native entry is posted and
run without Python on the helpers, and thread 0 returns as soon as its own part is done (the
team's barriers keep the threads in step; a helper still passing the last phases, which it
finds finished, is waited for only if it has not started that run when the next one is posted).
An entry given as a Python function (tests wrap the entry to delay a thread) runs through a
queue per helper instead, and such a run returns when every helper has finished it.
"""

from __future__ import annotations

import ctypes
import os
import queue
import threading
import weakref
from dataclasses import dataclass

import numpy as np

from frittata.backends.jit import BARRIER_WORDS, NATIVE, PROFILE, PYTHON, STOP
from frittata.backends.packing import aligned
from frittata.errors import TeamClosedError

_LIVE: weakref.WeakSet[Team] = weakref.WeakSet()
"""Every team with helpers, so that a forked child (which has none of their threads) can mark
them gone (`_after_fork`)."""


def barrier_state() -> np.ndarray:
    """A zeroed team state of BARRIER_WORDS int32s, ALIGN-aligned (its 64-bit work word, at
    word 2, needs 8-byte alignment, which an int32 array does not promise)."""
    return aligned(4 * BARRIER_WORDS, "int32")


def native_address(entry) -> int | None:
    """The address of a ctypes function pointer (a JIT entry point), None for a Python function."""
    native = isinstance(entry, ctypes._CFuncPtr)  # type: ignore[attr-defined]  # every CFUNCTYPE's base
    return ctypes.cast(entry, ctypes.c_void_p).value if native else None


class Team:
    """Threads 0..threads-1 running one entry point together; thread 0 is the caller of `run`.

    Helpers exist only for threads > 1; the native team loop they wait in is compiled on the
    first such team of the process. In a child made by `os.fork` the helpers' threads are gone:
    its runs then go on thread 0 alone, as a team of one (the kernels then take every item)."""

    def __init__(self, entry, threads: int) -> None:
        self._entry = entry
        self.threads = max(1, int(threads))
        self._closed = False
        self._alone = self.threads == 1
        """No helpers: a team of one, or one inherited by a forked child."""
        if self._alone:
            return
        # The llvm package's build imports this module, so its team loop is imported here.
        from frittata.backends.llvm.serve import CONTROL_WORDS, team_loop

        self._loop = team_loop()
        self._control = aligned(4 * CONTROL_WORDS, "int32")
        self._address = self._control.ctypes.data
        self._inboxes: list[queue.SimpleQueue] = [queue.SimpleQueue() for _ in range(self.threads - 1)]
        self._unsettled = False
        """A Python job was posted: its helpers may still run it (the next post waits for them)."""
        self._helpers = [threading.Thread(target=self._serve, args=(tid, inbox), daemon=True, name=f"frittata-{tid}")
                         for tid, inbox in enumerate(self._inboxes, start=1)]
        for helper in self._helpers:
            helper.start()
        _LIVE.add(self)

    def _serve(self, tid: int, inbox: queue.SimpleQueue) -> None:
        """A helper: native runs in `frittata_serve`; back here for each Python job and the end."""
        while self._loop.serve(self._address, tid, self.threads) == PYTHON:
            entry, slots, barrier = inbox.get()
            try:
                entry(slots, tid, self.threads, barrier)
            finally:
                self._loop.finished(self._address)

    def wait(self) -> None:
        """Wait until every helper has finished every run posted (a run of an entry that does
        not end at a barrier of the team returns when thread 0's part is done); after `close`,
        return at once (close waited)."""
        if not (self._alone or self._closed):
            self._loop.settle(self._address, self.threads)

    def close(self) -> None:
        """Let the helper threads exit once they finished their runs (called when the owning
        module is collected); a later `run` raises TeamClosedError."""
        if self._closed:
            return
        self._closed = True
        if not self._alone:
            self._loop.settle(self._address, self.threads)
            self._loop.post(self._address, self.threads, STOP, 0, 0, 0, 0)

    def run(self, slots: int, barrier: int, entry=None, extra: int = 0) -> None:
        """One run of the entry point on every thread of the team; `entry` (default: the team's)
        is a ctypes entry `(slots, tid, n, barrier)` or a ctypes profiling entry taking `extra`
        as its fifth argument, which returns once thread 0's part is done (the entry must end
        at a barrier of the team, or the caller `wait`s), or a Python function of the four
        arguments, which starts once every helper finished the runs before it and returns once
        they finished it (a run whose Python entry raises on thread 0 leaves them running, and
        the next run first waits for them)."""
        if self._closed:
            raise TeamClosedError(f"team of {self.threads} threads: expected a run before close, got one after it "
                                  "(the module owning the team was collected, or close was called)")
        entry = entry if entry is not None else self._entry
        address = native_address(entry)
        if self._alone:
            entry(slots, 0, 1, barrier, *([extra] if extra else []))
            return
        if address is not None:
            if self._unsettled:
                self._loop.settle(self._address, self.threads)
                self._unsettled = False
            kind = PROFILE if extra else NATIVE
            self._loop.post(self._address, self.threads, kind, address, extra, slots, barrier)
            return
        self._loop.settle(self._address, self.threads)
        for inbox in self._inboxes:
            inbox.put((entry, slots, barrier))
        self._loop.post(self._address, self.threads, PYTHON, 0, 0, slots, barrier)
        self._unsettled = True
        entry(slots, 0, self.threads, barrier)
        self._loop.settle(self._address, self.threads)
        self._unsettled = False


def _after_fork() -> None:
    """In a forked child: the helpers' threads did not come along, so every team runs alone
    (waiting for them would hang) and closes without posting to them."""
    for team in list(_LIVE):
        team._alone = True
    _LIVE.clear()


os.register_at_fork(after_in_child=_after_fork)


@dataclass(frozen=True)
class TeamTrace:
    """One traced run (`runtime.Module.run_traced`): each thread's monotonic clock readings in
    nanoseconds, `stamps[t]` = [entry, then arriving at and leaving the barrier that ends each
    phase, then return]; `phases` names each phase's steps."""

    phases: tuple[str, ...]
    stamps: np.ndarray

    @property
    def start_lag(self) -> np.ndarray:
        """Seconds each thread entered the run after thread 0."""
        return (self.stamps[:, 0] - self.stamps[0, 0]) * 1e-9

    @property
    def work(self) -> np.ndarray:
        """[thread, phase] seconds from leaving the last barrier (or entering) to arriving at this one."""
        return (self.stamps[:, 1:-1:2] - self.stamps[:, 0:-2:2]) * 1e-9

    @property
    def wait(self) -> np.ndarray:
        """[thread, phase] seconds spent in the barrier that ends the phase."""
        return (self.stamps[:, 2:-1:2] - self.stamps[:, 1:-1:2]) * 1e-9
