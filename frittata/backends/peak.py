"""The host's measured peaks, which a profile holds each kernel's speed against.

FMA throughput: every thread of a team runs a native loop of independent vector FMA chains (as
many chains as hide the FMA latency on current cores, at the host's vector width), compiled
here through LLVM; the figure is the best of a few runs. Memory bandwidth: the best of a few
copies of a buffer far larger than the caches, bytes read plus bytes written. Both are
measured once per process and thread count (a fraction of a second) and only when a profile
asks for them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache

import numpy as np
from llvmlite import ir

from frittata.backends.jit import ENTRY, Engine, compile_unit, host, marketing_name
from frittata.backends.team import Team, barrier_state

CHAINS = 12
"""Independent accumulators: FMA latency (4 cycles) x FMA units (2) with room to spare."""
ITERATIONS = 100_000
"""Loop trips per thread and run: ~25 MFLOP per thread at 8 lanes, about a millisecond."""
RUNS = 7
COPY_BYTES = 64 << 20
"""Bytes of the bandwidth copy: far above any L2 / L3 slice of the machines seen so far."""


@dataclass(frozen=True)
class Peak:
    """What the host reaches: `flops` per second on `threads` threads (fp32 FMA = 2 FLOPs),
    `bandwidth` in bytes per second (read + written), and the CPU's name."""

    flops: float
    bandwidth: float
    threads: int
    cpu: str

    @property
    def ridge(self) -> float:
        """FLOPs per byte above which a kernel is bound by compute rather than memory."""
        return self.flops / self.bandwidth


@cache
def host_peak(threads: int) -> Peak:
    """The measured peaks of this host with `threads` threads (memoised for the process)."""
    return Peak(fma_flops(threads), copy_bandwidth(), threads, cpu_name())


def cpu_name() -> str:
    """The CPU's marketing name, with LLVM's name for its core."""
    return f"{marketing_name()} ({host().cpu})"


def fma_flops(threads: int) -> float:
    """FLOP/s of `CHAINS` vector FMA chains per thread, on `threads` threads (best of `RUNS`)."""
    target = host()
    unit, _ = compile_unit("peak", _fma_loop(target.lanes, target.triple), target, 2)
    engine = Engine([unit], target.cpu, target.features)
    team = Team(engine.entry, threads)
    buffer = np.ones((threads + 1) * target.lanes, np.float32)
    barrier = barrier_state()
    best = float("inf")
    for _ in range(RUNS):
        start = time.perf_counter()
        team.run(buffer.ctypes.data, barrier.ctypes.data)
        team.wait()
        best = min(best, time.perf_counter() - start)
    team.close()
    return threads * ITERATIONS * CHAINS * target.lanes * 2 / best


def _fma_loop(lanes: int, triple: str) -> str:
    """`frittata_run(ptr data, i32 tid, i32 n, ptr unused)`: CHAINS accumulators, each
    acc = fma(acc, x, x) ITERATIONS times (x read from data, so nothing folds), their sum
    stored at data[(tid + 1) * lanes]. Blocks: entry -> loop (acc phis) -> loop ... -> done."""
    module = ir.Module(name="peak")
    module.triple = triple
    vector = ir.VectorType(ir.FloatType(), lanes)
    fma = ir.Function(module, ir.FunctionType(vector, [vector] * 3), name=f"llvm.fma.v{lanes}f32")
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [ir.PointerType(), ir.IntType(32),
                                                             ir.IntType(32), ir.PointerType()]), name=ENTRY)
    data, tid = fn.args[0], fn.args[1]
    entry, loop, done = (fn.append_basic_block(n) for n in ("entry", "loop", "done"))
    b = ir.IRBuilder(entry)
    x = b.load(data, typ=vector, align=4)
    b.branch(loop)
    b.position_at_end(loop)
    count = b.phi(ir.IntType(64))
    accs = [b.phi(vector) for _ in range(CHAINS)]
    count.add_incoming(ir.Constant(ir.IntType(64), 0), entry)
    for acc in accs:
        acc.add_incoming(x, entry)
    nexts = [b.call(fma, [acc, x, x]) for acc in accs]
    for acc, value in zip(accs, nexts):
        acc.add_incoming(value, loop)
    step = b.add(count, ir.Constant(ir.IntType(64), 1))
    count.add_incoming(step, loop)
    b.cbranch(b.icmp_unsigned("<", step, ir.Constant(ir.IntType(64), ITERATIONS)), loop, done)
    b.position_at_end(done)
    total = nexts[0]
    for value in nexts[1:]:
        total = b.fadd(total, value)
    slot = b.mul(b.add(b.zext(tid, ir.IntType(64)), ir.Constant(ir.IntType(64), 1)),
                 ir.Constant(ir.IntType(64), lanes))
    b.store(total, b.gep(data, [slot], source_etype=ir.FloatType()), align=4)
    b.ret_void()
    return str(module)


def copy_bandwidth() -> float:
    """Bytes/s (read + written) of the fastest of `RUNS` copies of `COPY_BYTES`."""
    source = np.ones(COPY_BYTES // 4, np.float32)
    target = np.empty_like(source)
    np.copyto(target, source)
    best = float("inf")
    for _ in range(RUNS):
        start = time.perf_counter()
        np.copyto(target, source)
        best = min(best, time.perf_counter() - start)
    return 2 * COPY_BYTES / best
