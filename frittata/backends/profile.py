"""Where a run's time goes: `Profile`, the table `module.profile(inputs)` returns.

One row per kernel, in program order: its median wall time over the profiled runs (and its
best, the least disturbed on a shared machine), its share of the median whole run (timed in the
same loop, through the module's ordinary entry point),
its speed against the host's measured peak (`peak.Peak`) and the cost model's estimate beside
it. A kernel's speed is read on the roofline: when its FLOPs per byte are above the host's
ridge point it is compute-bound and shown in GFLOP/s against the FMA peak, otherwise it is
memory-bound and shown in GB/s against the copy bandwidth (a kernel whose working set stays in
cache can exceed that). An accelerator call (VTA, simulated) also carries the simulator's
counters for that run: cycles, GEMM utilization (its fraction of peak) and the bytes each
instruction module moved.
"""

from __future__ import annotations

import csv
import io
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from frittata.backends.peak import Peak
from frittata.errors import RuntimeInputError

VTA_FIELDS = ("cycles", "gemm_utilization", "vta_ms", "load_bytes", "compute_bytes", "store_bytes")


@dataclass(frozen=True)
class VtaCounters:
    """The simulator's counters of one accelerator call (`timing.Report`), and the accelerator
    time they stand for at `clock_hz`."""

    cycles: int
    gemm_utilization: float
    moved: Mapping[str, int]
    clock_hz: float

    @property
    def seconds(self) -> float:
        return self.cycles / self.clock_hz


@dataclass(frozen=True)
class KernelRow:
    """One kernel of a profile: `seconds` is the median measured time, `best` the shortest,
    `share` the median's fraction of the whole run, `flops` / `bytes` its work (FMA = 2 FLOPs;
    bytes read + written), `model` the cost model's seconds (None when unknown), `term` the
    program term it computes (None in a loaded module), `vta` the simulator's counters for an
    accelerator call."""

    kernel: str
    op: str
    seconds: float
    best: float
    share: float
    flops: float
    bytes: float
    model: float | None
    peak: Peak
    vta: VtaCounters | None = None
    term: Any = field(default=None, compare=False, repr=False)

    @property
    def bound(self) -> str:
        """"vta" for an accelerator call, else "compute" or "memory" (the roofline's side)."""
        if self.vta is not None:
            return "vta"
        return "compute" if self.flops > self.bytes * self.peak.ridge else "memory"

    @property
    def rate(self) -> float:
        """FLOP/s when compute-bound, bytes/s otherwise (0 for a kernel timed at zero)."""
        if self.seconds <= 0:
            return 0.0
        return (self.flops if self.bound == "compute" else self.bytes) / self.seconds

    @property
    def of_peak(self) -> float:
        """Fraction of the peak on the kernel's side of the roofline; GEMM utilization on VTA."""
        if self.vta is not None:
            return self.vta.gemm_utilization
        return self.rate / (self.peak.flops if self.bound == "compute" else self.peak.bandwidth)

    def to_dict(self) -> dict[str, Any]:
        row = {"kernel": self.kernel, "op": self.op, "ms": self.seconds * 1e3, "best_ms": self.best * 1e3,
               "share": self.share,
               "flops": self.flops, "bytes": self.bytes, "bound": self.bound,
               "gflops": self.flops / self.seconds / 1e9 if self.seconds > 0 else 0.0,
               "gbs": self.bytes / self.seconds / 1e9 if self.seconds > 0 else 0.0,
               "of_peak": self.of_peak, "model_ms": None if self.model is None else self.model * 1e3}
        if self.vta is not None:
            row |= {"cycles": self.vta.cycles, "gemm_utilization": self.vta.gemm_utilization,
                    "vta_ms": self.vta.seconds * 1e3, "load_bytes": self.vta.moved.get("load", 0),
                    "compute_bytes": self.vta.moved.get("compute", 0),
                    "store_bytes": self.vta.moved.get("store", 0)}
        return row


@dataclass(frozen=True)
class Profile:
    """Per-kernel measured times of a module (see the module docstring). `run_seconds` is the
    median whole run; `accounted` the median over the profiled runs of the fraction of each
    run's wall time its kernels' times add up to (the rest is dispatch from Python); `repeat`
    the number of profiled runs; print it for a table.

    On a shared machine a few kernels of most runs are lengthened by other processes, so the
    sum of the kernels' medians can fall short of the median run; `accounted` compares each
    run's kernels with that same run, so it holds either way."""

    target: str
    rows: tuple[KernelRow, ...]
    run_seconds: float
    accounted: float
    repeat: int
    peak: Peak

    @property
    def kernel_seconds(self) -> float:
        """The sum of the kernels' medians (close to `run_seconds`: the rest is dispatch)."""
        return sum(r.seconds for r in self.rows)

    def top(self, n: int = 5) -> list[KernelRow]:
        """The `n` slowest kernels, slowest first."""
        return sorted(self.rows, key=lambda r: -r.seconds)[:n]

    def measured(self) -> dict[int, float]:
        """Measured seconds by program term (`id(term)`), for `program_dot(..., measured=...)`."""
        times: dict[int, float] = {}
        for row in self.rows:
            if row.term is not None:
                times[id(row.term)] = times.get(id(row.term), 0.0) + row.seconds
        return times

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "cpu": self.peak.cpu, "threads": self.peak.threads,
                "repeat": self.repeat, "run_ms": self.run_seconds * 1e3, "accounted": self.accounted,
                "kernels_ms": self.kernel_seconds * 1e3,
                "peak": {"gflops": self.peak.flops / 1e9, "gbs": self.peak.bandwidth / 1e9},
                "rows": [r.to_dict() for r in self.rows]}

    def to_csv(self, path: str | Path | None = None) -> str:
        """The rows as CSV text (one header line; VTA columns empty for host kernels), also
        written to `path` when given."""
        rows = [r.to_dict() for r in self.rows]
        columns = list(rows[0]) if rows else ["kernel"]
        columns += [c for c in VTA_FIELDS if c not in columns and any(c in r for r in rows)]
        out = io.StringIO()
        writer = csv.DictWriter(out, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        if path is not None:
            Path(path).write_text(out.getvalue())
        return out.getvalue()

    def __str__(self) -> str:
        vta = any(r.vta is not None for r in self.rows)
        share = self.kernel_seconds / self.run_seconds if self.run_seconds else 0.0
        lines = [f"profile: {self.target} on {self.peak.cpu}, {self.peak.threads} thread(s), "
                 f"median of {self.repeat} runs: run {self.run_seconds * 1e3:.3f} ms, kernels "
                 f"{self.kernel_seconds * 1e3:.3f} ms ({share:.1%}); each profiled run's kernels add up "
                 f"to {self.accounted:.1%} of it",
                 f"peak: {self.peak.flops / 1e9:.1f} GFLOP/s (fp32 FMA), "
                 f"{self.peak.bandwidth / 1e9:.1f} GB/s (copy)",
                 f"{'#':>3}  {'kernel':<28} {'ms':>9} {'best ms':>9} {'share':>6} {'speed':>14} {'peak':>6} "
                 f"{'model ms':>9}" + (f" {'cycles':>10} {'GEMM':>6} {'load B':>9} {'compute B':>9} "
                                       f"{'store B':>9}" if vta else "")]
        lines += [_line(i, r, vta) for i, r in enumerate(self.rows)]
        return "\n".join(lines)


def _speed(row: KernelRow) -> str:
    """GFLOP/s or GB/s on the kernel's side of the roofline; accelerator time for a VTA call."""
    if row.vta is not None:
        return f"{row.vta.seconds * 1e3:8.3f} vta ms"
    if row.bound == "compute":
        return f"{row.rate / 1e9:8.2f} GFLOP/s"
    return f"{row.rate / 1e9:9.2f} GB/s"


def _line(index: int, row: KernelRow, vta: bool) -> str:
    model = "" if row.model is None else f"{row.model * 1e3:9.3f}"
    text = (f"{index:>3}  {row.kernel[:28]:<28} {row.seconds * 1e3:9.3f} {row.best * 1e3:9.3f} {row.share:6.1%} "
            f"{_speed(row):>14} {row.of_peak:6.1%} {model:>9}")
    if vta and row.vta is not None:
        moved = row.vta.moved
        text += (f" {row.vta.cycles:>10} {row.vta.gemm_utilization:6.1%} {moved.get('load', 0):>9} "
                 f"{moved.get('compute', 0):>9} {moved.get('store', 0):>9}")
    return text


@dataclass(frozen=True)
class Sample:
    """What one kernel is, before timing: its name, op, work, model seconds and term."""

    kernel: str
    op: str
    flops: float
    bytes: float
    model: float | None
    term: Any = None


Timed = list[tuple[Sample, float, VtaCounters | None]]
"""One profiled run: each kernel's sample, measured seconds and counters, in program order."""


def collect(target: str, run: Callable[[], object], profiled: Callable[[], Timed], repeat: int, warmup: int,
            peak: Peak) -> Profile:
    """Time `run` (a whole run) and `profiled` (a run returning each kernel's sample, seconds
    and counters, in program order), interleaved `repeat` times after `warmup` of each, and
    tabulate the medians."""
    if repeat < 1 or warmup < 0:
        raise RuntimeInputError(f"profile: expected repeat >= 1 and warmup >= 0, got repeat={repeat}, "
                                f"warmup={warmup}")
    for _ in range(warmup):
        run()
        profiled()
    whole: list[float] = []
    runs: list[Timed] = []
    accounted: list[float] = []
    for _ in range(repeat):
        whole.append(_seconds(run))
        start = time.perf_counter()
        runs.append(profiled())
        accounted.append(sum(k[1] for k in runs[-1]) / (time.perf_counter() - start))
    run_seconds = statistics.median(whole)
    rows = []
    for i, (sample, _, counters) in enumerate(runs[0]):
        times = [r[i][1] for r in runs]
        seconds = statistics.median(times)
        rows.append(KernelRow(sample.kernel, sample.op, seconds, min(times),
                              seconds / run_seconds if run_seconds else 0.0,
                              sample.flops, sample.bytes, sample.model, peak, counters, sample.term))
    return Profile(target, tuple(rows), run_seconds, statistics.median(accounted), repeat, peak)


def _seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def samples(steps: Sequence[Mapping[str, Any]], terms: Sequence[Any] | None, prefix: str = "") -> list[Sample]:
    """The samples of an llvm module's timed run (`Module.run_timed`): the wait for its threads
    to start, then its steps (their saved facts, with their terms when the program's `terms`
    are known)."""
    start = Sample(prefix + "(threads start)", "start", 0.0, 0.0, None)
    return [start] + [Sample(prefix + s["name"], s["op"], s["flops"], s["bytes"], s["model_s"], _term(terms, s))
                      for s in steps]


def _term(terms: Sequence[Any] | None, facts: Mapping[str, Any]) -> Any:
    index = facts.get("term")
    return None if terms is None or index is None else terms[index]
