"""Measuring one candidate: build its kernel alone, check it once against the interpreter, time it.

A candidate is a workload and a schedule. `candidate_program` makes the one-kernel program of
the e-node that runs it (its tiled op; a Winograd form's `winograd_conv2d`; the untiled op for
the channels-in-lanes kernel): the constant operands are parameters (weights and bias, packed at compile time as
in a model), the others inputs, all filled from `seed`, so any process rebuilds the same data.
`run_job` (what a runner's worker executes) builds it with the LLVM backend (the kernel cache
makes a candidate measured before cost nothing to build), runs it once and compares with the
reference output (`reference`, the interpreter's, computed once per task by the tuner), then
times `repeat` runs after `warmup` and keeps the shortest, less the shortest call overhead of a
one-element module on as many threads, timed in the same job (at least MIN_SECONDS).

The shortest run, not the median: other processes only ever lengthen a run, and on a machine
shared with other jobs most runs of a two-thread kernel can be lengthened (a descheduled thread
holds the other at the kernel's barrier for a scheduler slice, ~4 ms): medians of one candidate
measured twice differed up to 20x there (3.9 ms against 0.18 ms), so the median ranked the load,
not the schedules. The overhead is timed per job for the same reason: timed once per worker, a
disturbed overhead shifted every later time of that worker (small kernels read 1 us, the floor).
Any failure is a result with an error, never an exception: a build error, a wrong result, a time
that is not finite.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass
from functools import cache

import numpy as np

from frittata.extract.algorithms import scheduled_info
from frittata.extract.records import Schedule, Workload, infer_output
from frittata.terms.program import Program
from frittata.terms.term import Term, build

MIN_SECONDS = 1e-6
"""Floor of a measured time: a kernel faster than the noise of the call overhead costs about a
kernel call (a microsecond, the roofline model's launch order)."""
RTOL, ATOL = 1e-4, 1e-4
"""float32 tolerance of a kernel against the interpreter (reassociated sums of products)."""


@dataclass(frozen=True)
class Job:
    """One measurement to take (picklable, so it can go to another process or machine)."""

    workload: Workload
    schedule: Schedule
    threads: int
    reference: np.ndarray | None = None
    seed: int = 0
    repeat: int = 10
    warmup: int = 2


@dataclass(frozen=True)
class Result:
    """Seconds of one run (call overhead removed), or why there are none."""

    seconds: float | None
    error: str | None
    build_seconds: float = 0.0


def candidate_inputs(workload: Workload, seed: int) -> tuple[list[Term], dict[str, np.ndarray]]:
    """The operand leaves of a candidate program and the values of its inputs."""
    from frittata.terms.leaves import param, var

    rng = np.random.default_rng(seed)
    leaves, inputs = [], {}
    for i, ((shape, dtype), constant) in enumerate(zip(workload.operands, workload.constant)):
        scale = 1.0 / math.sqrt(max(1, int(np.prod(shape[1:])))) if i == 1 else 1.0
        data = (rng.standard_normal(shape) * scale).astype(dtype)
        if constant:
            leaves.append(param(f"p{i}", data))
        else:
            leaves.append(var(f"x{i}", shape, dtype))
            inputs[f"x{i}"] = data
    return leaves, inputs


def candidate_program(workload: Workload, schedule: Schedule | None, seed: int) -> tuple[Program, dict]:
    """The one-kernel program of `workload` with `schedule` (None: the untiled op) and its inputs:
    the e-node that runs it (`algorithms.scheduled_info`: the tiled op, or an algorithm's own)."""
    leaves, inputs = candidate_inputs(workload, seed)
    info = infer_output(workload) if schedule is None else scheduled_info(workload, schedule)
    return Program({"y": build(info.op, leaves, **dict(info.attrs))}), inputs


def reference_output(workload: Workload, seed: int) -> np.ndarray:
    """The interpreter's output of the untiled workload on the candidate data of `seed`."""
    from frittata.terms.interp import evaluate

    program, inputs = candidate_program(workload, None, seed)
    return evaluate(program, inputs)["y"]


def run_job(job: Job) -> Result:
    """Build, check and time one candidate (see the module docstring)."""
    start = time.perf_counter()
    try:
        from frittata.backends.llvm.build import build as build_llvm

        program, inputs = candidate_program(job.workload, job.schedule, job.seed)
        module = build_llvm(program, job.threads)
    except Exception as problem:  # noqa: BLE001 - any failure of a candidate is its record's error
        return Result(None, f"build failed: {type(problem).__name__}: {problem}")
    built = time.perf_counter() - start
    try:
        got = module.run(**inputs)["y"]
        if job.reference is not None and not np.allclose(got, job.reference, rtol=RTOL, atol=ATOL):
            worst = float(np.max(np.abs(got - job.reference)))
            return Result(None, f"wrong result: max abs difference {worst:.3g} from the interpreter", built)
        shortest = module.benchmark(inputs, repeat=job.repeat, warmup=job.warmup)["min_ms"] / 1e3
    except Exception as problem:  # noqa: BLE001
        return Result(None, f"run failed: {type(problem).__name__}: {problem}\n{traceback.format_exc(limit=3)}", built)
    seconds = max(shortest - call_overhead(job.threads), MIN_SECONDS)
    if not math.isfinite(seconds):
        return Result(None, f"timing failed: shortest run {shortest!r}", built)
    return Result(seconds, None, built)


OVERHEAD_RUNS = 20
"""Runs of the one-element module per job (about 30 us each on two threads)."""


def call_overhead(threads: int) -> float:
    """Shortest seconds of OVERHEAD_RUNS runs of a one-element module on `threads`: what `run`
    costs besides the kernel."""
    return overhead_module(threads).benchmark({"z": np.ones(1, np.float32)}, repeat=OVERHEAD_RUNS,
                                              warmup=2)["min_ms"] / 1e3


@cache
def overhead_module(threads: int):
    """The one-element module `call_overhead` times (built once per process and thread count)."""
    from frittata.backends.llvm.build import build as build_llvm
    from frittata.terms.leaves import var
    from frittata.terms.activations import relu

    return build_llvm(Program({"y": relu(var("z", (1,)))}), threads)
