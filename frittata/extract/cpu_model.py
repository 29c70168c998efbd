"""The analytical CPU cost model: a roofline per kernel, with fusion, layout and vector effects.

One e-node runs as one kernel call. Its time is

    launch + max(flops / (cores * peak(dtype) * efficiency(kind) * lanes),
                 bytes / (bandwidth(bytes) * copy_efficiency(kind) * lanes))

so a kernel is bound either by vector FMA throughput or by memory traffic. The effects that
make one equivalent term cheaper than another follow from it: a fused kernel
(`fused_conv2d`/`fused_dense` with an epilogue) neither writes nor re-reads the intermediate
tensors nor pays their launches; `pack_nchwc`/`unpack_nchwc` cost a strided copy, so a pack
that cancels an unpack saves it; channel blocks and output widths that are multiples of the
16 fp32 lanes of AVX-512 keep every lane busy; a working set that fits in the L2 caches streams
at cache bandwidth. Leaves, reshapes (views) and constant nodes (folded at compile time) are
free. A contraction the backend runs on its register-blocked path (`cpu_schedules`: a tiled one
with its own schedule, an untiled one with the default) costs its schedule's compute time
(`schedule_cost`), a depthwise one on the vectorized depthwise kernel its measured efficiency,
a Winograd one its transforms and GEMMs (`winograd_cost`);
one it runs on generic loop nests (integers, grouped convolutions with several channels per
group, dense weights computed at run time) the generic loops' efficiency. Accelerator
(VTA) ops cost `inf`: the CPU cannot run them, so extraction never picks them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from frittata.extract.cost import NodeInfo
from frittata.extract.cpu_work import Kind, Work, work
from frittata.terms.cpu_schedules import blocked_schedule, is_winograd
from frittata.extract.schedule_cost import blocked_compute_seconds, host_vector_lanes
from frittata.extract.winograd_cost import winograd_seconds

KIB = 1024


@dataclass(frozen=True)
class CpuModel:
    """Roofline CPU model; invariant: cost >= 0 seconds, more FLOPs or bytes never cost less.

    Compute figures describe the project's machine (Sapphire Rapids, ../shared/CPU_PERF_NOTES.md);
    memory and launch figures were measured by `bench/calibrate_cpu_model.py` (best of 7,
    2026-11, 2-core VM). Rerun that script and pass its output as keyword arguments to
    calibrate for another machine.
    """

    name: str = "cpu"
    cores: int = 2
    """Cores used by one kernel (the outer parallel loop is split across them)."""
    vector_lanes: int = 16
    """fp32 lanes of one vector register: 512-bit AVX-512 (CPU_PERF_NOTES)."""
    fp32_flops_per_core: float = 242e9
    """FLOP/s: zmm FMA microbenchmark peak per core (CPU_PERF_NOTES)."""
    int8_ops_per_core: float = 870e9
    """OP/s: AVX-512 VNNI int8 peak per core (CPU_PERF_NOTES)."""
    generic_contraction_efficiency: float = 0.003
    """Fraction of peak of a contraction on the generic loop nests (a scalar accumulator per
    output, no register blocking): 0.002-0.003 for a 256 x 512 x 512 dense with run-time weights,
    2 threads (calibrate_cpu_model.py, 2026-12, AMD EPYC AVX2, shared machine)."""
    depthwise_efficiency: float = 0.10
    """Fraction of peak of the vectorized depthwise kernel (`cpu_schedules.depthwise_schedule`),
    full tiles: 0.14 for 3x3 over 32 channels at 112x112 on 1 thread, 0.06-0.14 on 2
    (calibrate_cpu_model.py, 2026-12, AMD EPYC AVX2, load average ~8 on the shared machine)."""
    bitserial_efficiency: float = 0.35
    """Fraction of the fp32 peak reached by the bit-serial kernels, their work counted in
    `cpu_work.WORD_PAIR_FLOPS`: 0.33 for A1W1 3x3 64 -> 64 at 56x56 on 2 threads, 0.75 on 1
    (2026-12, AMD EPYC Zen 3 AVX2, shared machine)."""
    elementwise_efficiency: float = 0.50
    """Streaming elementwise and reduction loops: one load/store port pair per FMA (estimate)."""
    transcendental_flops: float = 20.0
    """FLOP-equivalents per exp/erf/tanh element: a vectorized degree-~10 polynomial with range
    reduction (SLEEF expf u10); numpy's non-vectorized exp measures far higher here."""
    dram_bandwidth: float = 22.9e9
    """Bytes/s (read + written) of a 256 MiB copy (calibrate_cpu_model.py)."""
    cache_bandwidth: float = 48.1e9
    """Bytes/s of a 512 KiB copy, an L2-resident working set (calibrate_cpu_model.py)."""
    cache_bytes: int = 2 * 2048 * KIB
    """L2 of both cores (2 MiB each, CPU_PERF_NOTES): working sets below this stream from cache."""
    strided_copy_efficiency: float = 0.30
    """Bandwidth of an NCHW -> NCHW16c pack relative to a plain copy (calibrate_cpu_model.py)."""
    launch_seconds: float = 0.6e-6
    """Seconds to call one kernel that does nothing (a 16-element ufunc, calibrate_cpu_model.py)."""

    @classmethod
    def for_host(cls, **overrides) -> CpuModel:
        """The model with the vector width of the CPU this process runs on (AVX2: 8 lanes)."""
        return cls.for_lanes(host_vector_lanes(), **overrides)

    @classmethod
    def for_lanes(cls, lanes: int, **overrides) -> CpuModel:
        """The model of a CPU with `lanes` fp32 vector lanes, the FMA peak scaled to it (half of
        the 512-bit peak with 256-bit vectors); the other figures are the measured machine's."""
        scaled = {"vector_lanes": lanes, "fp32_flops_per_core": cls.fp32_flops_per_core * lanes / 16}
        return cls(**{**scaled, **overrides})

    def node_cost(self, info: NodeInfo) -> float:
        """Estimated seconds of one kernel call (see the module docstring)."""
        if info.constant:
            return 0.0
        done = work(info, self.transcendental_flops, self.vector_lanes)
        if done.kind is Kind.UNSUPPORTED:
            return math.inf
        if done.kind in (Kind.FREE, Kind.VIEW):
            return 0.0
        return self.launch_seconds + max(self.compute_seconds(done, info), self.memory_seconds(done))

    def compute_seconds(self, done: Work, info: NodeInfo) -> float:
        """FLOPs over the reachable FMA throughput of this kind of loop (a contraction's
        epilogue, applied once per output, at the streaming loops' rate)."""
        if done.flops == 0:
            return 0.0
        if done.kind in (Kind.CONTRACTION, Kind.DEPTHWISE):
            constant = tuple(info.operand_constant(i) for i in range(len(info.operands)))
            schedule = blocked_schedule(info.op, info.attrs, info.type, info.operands, constant,
                                        self.vector_lanes)
            if schedule is not None and is_winograd(schedule):
                return winograd_seconds(info, schedule, self)
            if schedule is not None:
                return blocked_compute_seconds(info, schedule, done.flops, self)
        int8 = bool(info.operands) and all(t.dtype in ("int8", "uint8") for t in info.operands[:2])
        peak = self.int8_ops_per_core if int8 and done.kind is Kind.CONTRACTION else self.fp32_flops_per_core
        core = done.flops - done.epilogue_flops
        epilogue = done.epilogue_flops / (self.cores * self.fp32_flops_per_core * self.elementwise_efficiency)
        return core / (self.cores * peak * self._efficiency(done.kind) * done.lanes) + epilogue

    def memory_seconds(self, done: Work) -> float:
        """Bytes over the bandwidth of the level the working set fits in."""
        bandwidth = self.cache_bandwidth if done.bytes <= self.cache_bytes else self.dram_bandwidth
        copy = self.strided_copy_efficiency if done.kind is Kind.STRIDED_COPY else 1.0
        lanes = done.lanes if done.kind is Kind.STRIDED_COPY else 1.0
        return done.bytes / (bandwidth * copy * lanes)

    def _efficiency(self, kind: Kind) -> float:
        match kind:
            case Kind.CONTRACTION | Kind.DEPTHWISE:
                return self.generic_contraction_efficiency
            case Kind.BITSERIAL:
                return self.bitserial_efficiency
            case (Kind.ELEMENTWISE | Kind.REDUCTION | Kind.COPY | Kind.STRIDED_COPY | Kind.FREE | Kind.VIEW
                  | Kind.UNSUPPORTED):
                return self.elementwise_efficiency
