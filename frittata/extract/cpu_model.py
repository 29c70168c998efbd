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
(`schedule_cost`), a depthwise one on the vectorized depthwise kernel its tiles' and ring's
cycles (`depthwise_cost`),
a Winograd one its transforms and GEMMs (`winograd_cost`), a bit-serial one its word pairs at the
host's popcount rate and its register block's efficiency (`bitserial_cost`);
one it runs on generic loop nests (integers, grouped convolutions with several channels per
group, dense weights computed at run time) the generic loops' efficiency. Accelerator
(VTA) ops cost `inf`: the CPU cannot run them, so extraction never picks them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from llvmlite import binding as llvm

from frittata.extract.bitserial_cost import bitserial_seconds, popcount_rate
from frittata.extract.cost import NodeInfo
from frittata.extract.cpu_work import Kind, Work, work
from frittata.extract.depthwise_cost import depthwise_seconds
from frittata.terms.cpu_geometry import byte_quads, throughput_lanes, vector_lanes
from frittata.terms.cpu_schedules import blocked_schedule, is_winograd, kernel_of
from frittata.extract.schedule_cost import blocked_compute_seconds
from frittata.extract.winograd_cost import int8_winograd_seconds, winograd_seconds

KIB = 1024
VNNI_INT8_PER_FP32 = 870 / 242
"""int8 OP/s per fp32 FLOP/s with AVX-512 VNNI (VPDPBUSD): 870 vs 242 G per core, microbenchmark
peaks measured on a Sapphire Rapids core."""
PAIRS_INT8_PER_FP32 = 2.0
"""int8 OP/s per fp32 FLOP/s without VNNI: VPMADDWD does 2 x lanes multiply-adds of int16 pairs
(4 x lanes OPs) per instruction against an FMA's 2 x lanes FLOPs, at the same throughput (two
a cycle on Zen 3)."""


@dataclass(frozen=True)
class CpuModel:
    """Roofline CPU model; invariant: cost >= 0 seconds, more FLOPs or bytes never cost less.

    Compute figures describe the project's first machine (a Sapphire Rapids Xeon: microbenchmark
    peaks of its cores); `for_host` reads the last-level cache's size from the host; the other
    memory and launch figures were measured by `bench/calibrate_cpu_model.py` (best of 7,
    2026-11, 2-core VM). Rerun that script and pass its output as keyword arguments to
    calibrate for another machine.
    """

    name: str = "cpu"
    cores: int = 2
    """Cores used by one kernel (the outer parallel loop is split across them)."""
    vector_lanes: int = 16
    """fp32 lanes of one vector register: 512-bit AVX-512."""
    fp32_flops_per_core: float = 242e9
    """FLOP/s: zmm FMA microbenchmark peak per core (Sapphire Rapids: two 512-bit FMAs a cycle)."""
    throughput_lanes: int = 16
    """fp32 lanes the vector units complete per instruction slot (`cpu_geometry.throughput_lanes`):
    `vector_lanes`, or 8 where 512-bit instructions run as two halves (Zen 4), so that a vector
    narrower than the host's issues at its own width's cost."""
    int8_ops_per_core: float = 870e9
    """OP/s: AVX-512 VNNI int8 microbenchmark peak per core (Sapphire Rapids); `for_machine` scales it to the
    host's fp32 peak by `VNNI_INT8_PER_FP32` or `PAIRS_INT8_PER_FP32`."""
    byte_quads: bool = False
    """The int8 convolution kernel multiplies quads of bytes (`cpu_geometry.byte_quads`: AVX-512
    VNNI's vpdpbusd), not int16 pairs; `schedule_cost.int8_conv_seconds` prices it faster."""
    word_pairs_per_core: float = 242e9 / 64 * 4.0
    """64-bit word pairs (AND, popcount, accumulate) per second per core of the bit-serial
    kernels: VPOPCNTQ at the default machine's clock (`bitserial_cost.popcount_rate`)."""
    generic_contraction_efficiency: float = 0.003
    """Fraction of peak of a contraction on the generic loop nests (a scalar accumulator per
    output, no register blocking): 0.002-0.003 for a 256 x 512 x 512 dense with run-time weights,
    2 threads (calibrate_cpu_model.py, 2026-12, AMD EPYC AVX2, shared machine)."""
    elementwise_efficiency: float = 0.50
    """Streaming elementwise and reduction loops: one load/store port pair per FMA (estimate)."""
    transcendental_flops: float = 20.0
    """FLOP-equivalents per exp/erf/tanh element: a vectorized degree-~10 polynomial with range
    reduction (SLEEF expf u10); numpy's non-vectorized exp measures far higher here."""
    dram_bandwidth: float = 22.9e9
    """Bytes/s (read + written) of a 256 MiB copy (calibrate_cpu_model.py)."""
    cache_bandwidth: float = 48.1e9
    """Bytes/s of a 512 KiB copy, an L2-resident working set (calibrate_cpu_model.py)."""
    llc_bandwidth: float = 60e9
    """Bytes/s (read + written) one core copies at when the working set misses its L2 but fits
    the last-level cache: np.copyto of 1 to 6 MiB, one thread, CPU time, 62-67 GB/s (12 MiB:
    41, 200 MiB: 32; 2026-12-05, AMD EPYC Zen 3, load 2.4). Each Zen 3 core has its own path
    to the L3, so the cores' rates add up. Only the depthwise kernel's traffic is priced at it
    (`memory_seconds`)."""
    cache_bytes: int = 2 * 2048 * KIB
    """L2 of both cores (2 MiB each, Sapphire Rapids): working sets below this stream from cache. A
    fitted figure, not read from the host: the efficiencies above were calibrated with it, and on
    the AMD EPYC (512 KiB each) the real size changes ResNet-50's and the transformer block's
    extracted programs, unmeasured (so it stays until a measured change moves it)."""
    last_level_cache_bytes: int = 32 * 1024 * KIB
    """The shared last-level cache (32 MiB: the L3 of a Zen 3 CCD on the measured AMD EPYC; `for_host`
    reads the host's): weights larger than this stream from DRAM on every read, also when one
    layer re-reads them."""
    strided_copy_efficiency: float = 0.30
    """Bandwidth of an NCHW -> NCHW16c pack relative to a plain copy (calibrate_cpu_model.py)."""
    launch_seconds: float = 0.6e-6
    """Seconds to call one kernel that does nothing (a 16-element ufunc, calibrate_cpu_model.py)."""

    @classmethod
    def for_host(cls, **overrides) -> CpuModel:
        """The model of the CPU this process runs on: `for_machine` of its triple, features and
        CPU's name, with its last-level cache's size where the system reports it
        (`host_last_level_cache_bytes`). The extraction and the build's thread decisions price
        at the CPU's own rates: on Zen 4 at 16 lanes' rates the direct kernels ran 1.8-2.0x their
        price against Winograd's 1.2-1.3x, and the extractor took SqueezeNet's 3x3 16 -> 64 at
        54x54 direct (0.574 ms) over F(4x4) (0.323; bench/cost_choices.py, one Zen 4 core, CPU
        time); at Zen 4's rates ResNet-18's 3x3 stride-2 256 -> 512 from 14x14 goes to im2col and
        the pixel GEMM, 1.18 ms against the channels-in-lanes kernel's 1.41 (one core, one
        process, interleaved, loaded)."""
        llc = host_last_level_cache_bytes()
        measured = {} if llc is None else {"last_level_cache_bytes": llc}
        return cls.for_machine(llvm.get_process_triple(), llvm.get_host_cpu_features().flatten(),
                               llvm.get_host_cpu_name(), **{**measured, **overrides})

    @classmethod
    def for_machine(cls, triple: str, features: str, cpu: str = "", **overrides) -> CpuModel:
        """The model of a CPU from its LLVM triple, features and CPU name: its fp32 vector lanes,
        the FMA peak scaled to the lanes its units complete a cycle (`throughput_lanes`: half of
        the 512-bit peak with 256-bit vectors, and on a CPU that splits 512-bit instructions in
        two), the int8 peak from its multiply-add instructions and the word-pair rate of its
        popcount; the other figures are the measured machine's."""
        lanes = vector_lanes(triple, features)
        through = throughput_lanes(triple, features, cpu)
        fp32 = cls.fp32_flops_per_core * through / 16
        vnni = {"+avx512vnni", "+avxvnni"} & set(features.split(","))
        scaled = {"vector_lanes": lanes, "fp32_flops_per_core": fp32, "throughput_lanes": through,
                  "byte_quads": byte_quads(triple, features),
                  "int8_ops_per_core": fp32 * (VNNI_INT8_PER_FP32 if vnni else PAIRS_INT8_PER_FP32),
                  "word_pairs_per_core": popcount_rate(features, lanes, fp32)}
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

    def epilogue_seconds(self, info: NodeInfo) -> float:
        """The part of `node_cost(info)` a contraction's epilogue (its bias and activation steps,
        applied on the accumulators) adds: the cost less that of the same loops without it (0 for
        a memory-bound kernel, whose epilogue hides under the traffic, and for other ops)."""
        if info.constant:
            return 0.0
        done = work(info, self.transcendental_flops, self.vector_lanes)
        if done.kind not in (Kind.CONTRACTION, Kind.DEPTHWISE) or not done.epilogue_flops:
            return 0.0
        bare = self.launch_seconds + max(self.compute_seconds(done, info, epilogue=False), self.memory_seconds(done))
        return max(0.0, self.node_cost(info) - bare)

    def compute_seconds(self, done: Work, info: NodeInfo, epilogue: bool = True) -> float:
        """FLOPs over the reachable FMA throughput of this kind of loop (a contraction's
        epilogue, applied once per output, at the streaming loops' rate; left out with
        `epilogue` false). Winograd's price charges no epilogue: the kernel applies it in its
        output transform, beside the store per output element that the price counts, so its
        `epilogue_seconds` is 0 and a measured ratio scales its whole price."""
        if done.flops == 0:
            return 0.0
        if done.kind is Kind.BITSERIAL:
            return bitserial_seconds(info, self.cores, self.word_pairs_per_core, self.vector_lanes)
        core = done.flops - done.epilogue_flops
        rate = self.cores * self.fp32_flops_per_core * self.elementwise_efficiency
        epilogue_s = done.epilogue_flops / rate if epilogue else 0.0
        if done.kind in (Kind.CONTRACTION, Kind.DEPTHWISE):
            constant = tuple(info.operand_constant(i) for i in range(len(info.operands)))
            schedule = blocked_schedule(info.op, info.attrs, info.type, info.operands, constant,
                                        self.vector_lanes)
            if schedule is not None and is_winograd(schedule):
                return winograd_seconds(info, schedule, self)
            if schedule is not None and kernel_of(schedule) == "int8_winograd":
                return int8_winograd_seconds(info, schedule, self)
            if schedule is not None and kernel_of(schedule) == "depthwise":
                return depthwise_seconds(info, schedule, self) + epilogue_s
            if schedule is not None:
                return blocked_compute_seconds(info, schedule, core, self) + epilogue_s
        int8 = bool(info.operands) and all(t.dtype in ("int8", "uint8") for t in info.operands[:2])
        peak = self.int8_ops_per_core if int8 and done.kind is Kind.CONTRACTION else self.fp32_flops_per_core
        return core / (self.cores * peak * self._efficiency(done.kind) * done.lanes) + epilogue_s

    def memory_seconds(self, done: Work) -> float:
        """Bytes over the bandwidth of the level the working set fits in. A depthwise
        convolution's bytes are its activations (kh x kw weights per channel), which the layer
        before it leaves in the cache: up to the last-level cache they stream at each core's
        `llc_bandwidth`, the cores' rates added (MobileNetV2's 96-channel 3x3 stride-2 layer at
        112x112, 6 MB, ran 167 us on two cores, CPU time, where DRAM's 22.9 GB/s priced 264)."""
        if done.kind is Kind.DEPTHWISE and done.bytes <= self.last_level_cache_bytes:
            return done.bytes / (self.llc_bandwidth * self.cores)
        bandwidth = self.cache_bandwidth if done.bytes <= self.cache_bytes else self.dram_bandwidth
        copy = self.strided_copy_efficiency if done.kind is Kind.STRIDED_COPY else 1.0
        lanes = done.lanes if done.kind is Kind.STRIDED_COPY else 1.0
        return done.bytes / (bandwidth * copy * lanes)

    def _efficiency(self, kind: Kind) -> float:
        match kind:
            case Kind.CONTRACTION | Kind.DEPTHWISE:
                return self.generic_contraction_efficiency
            case Kind.BITSERIAL:
                raise AssertionError("a bit-serial contraction is priced by bitserial_cost")
            case (Kind.ELEMENTWISE | Kind.REDUCTION | Kind.COPY | Kind.STRIDED_COPY | Kind.FREE | Kind.VIEW
                  | Kind.UNSUPPORTED):
                return self.elementwise_efficiency


CACHE_INFO = Path("/sys/devices/system/cpu/cpu0/cache")
"""Linux's description of the caches the first CPU sees: an indexN directory per cache, each with
its `level`, `type` (Data, Instruction, Unified) and `size` ("32768K")."""
SIZE_UNITS = {"K": KIB, "M": KIB * KIB, "G": KIB * KIB * KIB}


def host_last_level_cache_bytes(info: Path = CACHE_INFO) -> int | None:
    """Bytes of the highest-level data or unified cache `info` describes, or None where the system
    does not say (no such directory, an unreadable entry: not Linux, a restricted container)."""
    sizes = {}
    try:
        for index in info.glob("index*"):
            if (index / "type").read_text().strip() in ("Data", "Unified"):
                size = (index / "size").read_text().strip()
                scale = SIZE_UNITS.get(size[-1:], 1)
                sizes[int((index / "level").read_text())] = int(size.rstrip("KMG")) * scale
    except (OSError, ValueError):
        return None
    return sizes[max(sizes)] if sizes else None
