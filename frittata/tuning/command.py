"""`frittata tune MODEL`: tune a model's kernels with a progress bar, write the records (and a plot)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from frittata.errors import TuningError
from frittata.terms.program import Program
from frittata.tuning.tuner import TaskReport, tune


@contextmanager
def tune_progress(trials: int, quiet: bool = False) -> Iterator[Callable[[TaskReport, int, int], None] | None]:
    """A `tune` progress callback drawing one bar (to stderr): trials, the task, its best so far."""
    if quiet:
        yield None
        return
    bar = tqdm(total=trials, desc="tune", unit="trial", file=sys.stderr)

    def progress(task: TaskReport, done: int, budget: int) -> None:
        bar.update(done - bar.n)
        best = "-" if task.best_seconds is None else f"{task.best_seconds * 1e3:.3f} ms"
        bar.set_postfix_str(f"{task.task.workload} best {best}")

    try:
        yield progress
    finally:
        bar.close()


def run_tune(program: Program, records: str, trials: int, resume: bool, ray: str | None, search: str,
             threads: int | None, time_limit: float | None, plot: str | None, quiet: bool) -> int:
    """Tune `program` into the log `records`; a log that exists needs `resume` (never overwritten)."""
    if not resume and Path(records).exists() and Path(records).stat().st_size:
        raise TuningError(f"tune: {records} already holds records; pass --resume to continue that run, "
                          "or name another file")
    runner = None
    if ray is not None:
        from frittata.tuning.fleet import RayRunner

        runner = RayRunner(address=ray or None, threads=threads)
    try:
        with tune_progress(trials, quiet) as progress:
            report = tune(program, trials=trials, records=records, runner=runner, resume=resume, search=search,
                          threads=threads, time_limit=time_limit, progress=progress)
    finally:
        if runner is not None:
            runner.close()
    print(report)
    if plot:
        from frittata.tuning.plot import plot_curves

        plot_curves({search: report}, plot)
        print(f"tuning curve: {plot}")
    return 0
