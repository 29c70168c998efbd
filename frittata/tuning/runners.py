"""Runners take measurements: a local pool of worker processes (the default) or a Ray fleet.

A runner's `run(jobs)` returns one `measure.Result` per job, in order (or what the work function
returns, for other work such as design-space exploration), and never raises for a
bad candidate: a worker that crashes (a segfault in generated code, say) or overruns `timeout`
seconds (counted from when a started worker got the job) is killed, its job becomes an error
result, and a fresh worker takes the next job. Every worker runs `measure.run_job` (or the
function `work` names, "module:function").

`LocalRunner(parallel=1)`: `parallel` worker processes (`python -m frittata.tuning.worker`, so no
state of the tuner leaks into them and a script needs no `__main__` guard); on a 2-core machine
one worker at a time keeps measurements from disturbing each other. `RayRunner` lives in
`frittata.tuning.fleet`. `RecordedRunner` measures nothing: it answers from a tuning log, so
two searches can be compared on the same measurements (a replay), free of the machine's noise.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from collections.abc import Sequence
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, Protocol

from frittata.errors import TuningError
from frittata.extract.records import Records
from frittata.tuning.measure import Job, Result
from frittata.tuning.pipe import READY, receive, send

WORK = "frittata.tuning.measure:run_job"
STARTUP_SECONDS = 120.0
"""How long a worker may take to import what it runs (a job's timeout starts after that)."""


class Runner(Protocol):
    """What the tuner measures with: `run(jobs)` -> one result per job, in order; `name`."""

    name: str

    def run(self, jobs: Sequence[Job]) -> list[Result]: ...

    def close(self) -> None: ...


class _Worker:
    """One `frittata.tuning.worker` process and the job it is running."""

    def __init__(self, work: str) -> None:
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
        self.process = subprocess.Popen([sys.executable, "-m", "frittata.tuning.worker", work],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.started: float = 0.0
        self.index: int = -1
        ready = wait([self.process.stdout], timeout=STARTUP_SECONDS)  # type: ignore[list-item]
        if not ready or self._receive() != READY:
            self.stop()
            raise TuningError(f"local runner: expected a worker to start within {STARTUP_SECONDS} s, got "
                              f"{'none' if not ready else 'one that failed (its error is above)'} ({work})")

    def give(self, index: int, job: Job) -> None:
        self.index, self.started = index, time.perf_counter()
        assert self.process.stdin is not None
        send(self.process.stdin, job)  # type: ignore[arg-type]

    def answer(self) -> Any:
        """What the work function returned for the running job (a `Result` for measurements),
        or None when the process died."""
        return self._receive()

    def _receive(self) -> object:
        try:
            return receive(self.process.stdout)  # type: ignore[arg-type]
        except (EOFError, pickle.UnpicklingError):
            return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


class LocalRunner:
    """Measure in `parallel` local worker processes, each job at most `timeout` seconds."""

    name = "local"

    def __init__(self, parallel: int = 1, timeout: float = 60.0, work: str = WORK) -> None:
        self.parallel, self.timeout, self.work = max(1, parallel), timeout, work
        self._workers: list[_Worker] = []

    def run(self, jobs: Sequence[Job]) -> list[Result]:
        results: list[Result | None] = [None] * len(jobs)
        pending = list(enumerate(jobs))[::-1]
        while len(self._workers) < min(self.parallel, len(jobs)):
            self._workers.append(_Worker(self.work))
        busy: list[_Worker] = []
        while pending or busy:
            for worker in [w for w in self._workers if w not in busy]:
                if pending:
                    if worker.process.poll() is not None:  # died between jobs
                        worker = self._replace(worker)
                    index, job = pending.pop()
                    worker.give(index, job)
                    busy.append(worker)
            self._collect(busy, results)
        return [r for r in results if r is not None]

    def _collect(self, busy: list[_Worker], results: list[Result | None]) -> None:
        """Wait for a busy worker to answer, die or overrun; replace the ones that failed."""
        soonest = min(w.started for w in busy) + self.timeout
        streams: list[Any] = [w.process.stdout for w in busy]
        ready = wait(streams, timeout=max(0.0, soonest - time.perf_counter()))
        now = time.perf_counter()
        for worker in list(busy):
            error = None
            if worker.process.stdout in ready:
                result = worker.answer()
                if result is None:
                    error = f"worker crashed (exit code {worker.process.wait()})"
                results[worker.index] = result
            elif now - worker.started >= self.timeout:
                error = f"timeout after {self.timeout:g} s"
            else:
                continue
            busy.remove(worker)
            if error is not None:
                results[worker.index] = Result(None, error)
                self._replace(worker)

    def _replace(self, worker: _Worker) -> _Worker:
        worker.stop()
        fresh = _Worker(self.work)
        self._workers[self._workers.index(worker)] = fresh
        return fresh

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()
        self._workers.clear()

    def __enter__(self) -> LocalRunner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class RecordedRunner:
    """Answer each job with what `records` logged for its workload and schedule on `device`
    (the last such record): its seconds, or its error. A candidate the log does not hold is an
    error result, never a measurement."""

    name = "recorded"

    def __init__(self, records: Records, device: str) -> None:
        self._answers = {(r.workload.key, r.schedule): Result(r.seconds, r.error)
                         for r in records if r.device == device}
        self.device = device

    def run(self, jobs: Sequence[Job]) -> list[Result]:
        missing = Result(None, f"recorded runner: expected a record of this candidate on {self.device}, got none")
        return [self._answers.get((job.workload.key, job.schedule), missing) for job in jobs]

    def close(self) -> None:
        """Nothing to release."""
