"""Where designs are evaluated: this process, a pool of local worker processes, or Ray.

All three have `run(jobs) -> outcomes` (a `DesignResult`, or an error: a string, or the tuning
runner's `Result` for a worker that crashed or overran), in job order.  The local pool is the
tuning engine's `LocalRunner` running `evaluate_job`; Ray evaluates the same function as remote
tasks, on a local Ray or the cluster at `address`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from frittata.backends.vta.dse.evaluate import DesignJob, evaluate_job
from frittata.errors import FrittataError

WORK = "frittata.backends.vta.dse.evaluate:evaluate_job"
TIMEOUT_SECONDS = 600.0
"""A design whose evaluation overruns this is recorded as an error."""


class DesignRunner(Protocol):
    """Evaluates `DesignJob`s; returns one outcome per job, in order."""

    def run(self, jobs: Sequence[Any]) -> list[Any]: ...


class InProcess:
    """Evaluate in this process, one design after another (`workers=0`)."""

    def run(self, jobs: Sequence[DesignJob]) -> list[Any]:
        return [evaluate_job(job) for job in jobs]


class RayPool:
    """Evaluate as Ray tasks, `workers` at a time on a local Ray, or on the cluster at `address`."""

    def __init__(self, workers: int, address: str | None) -> None:
        try:
            import ray
        except ImportError:
            raise FrittataError("explore: runner 'ray': expected the ray package, got none installed "
                                "(pip install 'frittata[fleet]')") from None
        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started:
            options = {"address": address} if address else {"num_cpus": max(workers, 1), "include_dashboard": False}
            ray.init(logging_level=logging.ERROR, **options)
        self.remote = ray.remote(num_cpus=1, max_retries=0)(evaluate_job)

    def run(self, jobs: Sequence[DesignJob]) -> list[Any]:
        outcomes: list[Any] = []
        for ref in [self.remote.remote(job) for job in jobs]:
            try:
                outcomes.append(self.ray.get(ref, timeout=TIMEOUT_SECONDS))
            except (self.ray.exceptions.RayError, TimeoutError) as problem:
                outcomes.append(f"ray task failed: {type(problem).__name__}")
        return outcomes

    def close(self) -> None:
        if self.started and self.ray.is_initialized():
            self.ray.shutdown()


@contextmanager
def design_runner(runner: str, workers: int, address: str | None = None) -> Iterator[DesignRunner]:
    """The runner called `runner` ("local": `workers` processes, or this one when 0; "ray")."""
    match runner:
        case "local" if workers == 0:
            yield InProcess()
        case "local":
            from frittata.tuning.runners import LocalRunner

            with LocalRunner(parallel=workers, timeout=TIMEOUT_SECONDS, work=WORK) as pool:
                yield pool
        case "ray":
            ray_pool = RayPool(workers, address)
            try:
                yield ray_pool
            finally:
                ray_pool.close()
        case _:
            raise FrittataError(f"explore: expected runner 'local' or 'ray', got {runner!r}")
