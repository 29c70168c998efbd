"""Designs evaluated on a workload: every layer compiled for the design and timed.

Each layer becomes the design's `vta_conv2d` / `vta_dense` term (batch padded to a multiple of
BATCH, channels to the blocks, as the tensorization rules pad them), is lowered by the backend's
own lowering into an instruction stream with one and with two virtual threads, and the stream
runs on the simulator's cycle model (`functional=False`: the event loop with its token queues,
no data); the faster schedule is the layer's. A layer the design cannot lower (no tile fits its
buffers) runs on the host, as extraction would put it. A layer's seconds are its cycles at the
design's clock plus its operand and result bytes over the host link (the VTA cost model's
`link_bytes_per_s`); the latency is the sum over layers, each its count times, plus the
workload's host part. The streams depend on the architecture only (GEMM shape and buffers), not
on the circuit knobs (clock, bus width, GEMM stages), so designs of one architecture are
evaluated together: each stream is emitted once and timed for each of them. Bit-exactness of the
same lowering is what the backend's tests check; here only time is wanted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from frittata.backends.vta.cost import VtaCostModel
from frittata.backends.vta.dse.workload import Layer, Workload
from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.config_file import config_to_dict
from frittata.backends.vta.hw.dram import Dram
from frittata.backends.vta.hw.resources import Part, check_fits, estimate, get_part
from frittata.backends.vta.hw.simulator import Simulator
from frittata.backends.vta.lower import config_block, emit_vta_term
from frittata.errors import FrittataError
from frittata.terms import builders as tb
from frittata.terms.term import Term

EPILOGUE = (("shift", 8), ("clip", -127, 127), ("relu",), ("cast", "int8"))
"""The requantizing epilogue of a quantized layer: rounding shift, clip, relu, int8."""
LINK_BYTES_PER_S = VtaCostModel.link_bytes_per_s
AREA = ("dsp", "lut", "bram18")


@dataclass(frozen=True, slots=True)
class LayerTime:
    """A layer on a design: where it ran, its cycles and virtual threads on VTA (0 on the
    host), its non-reset GEMM micro-ops, and the seconds of one such layer."""

    on: str
    cycles: int
    threads: int
    gemm_uops: int
    seconds: float
    why: str = ""


@dataclass(frozen=True, slots=True)
class DesignResult:
    """A design's resources on its part and its time on the workload; `area` is the mean
    utilization of the part's DSP slices, LUTs and block RAMs (the Pareto front's cost axis)."""

    design: str
    config: dict
    resources: dict
    utilization: dict
    clock_mhz: float
    layers: dict[str, LayerTime]
    latency_s: float
    gops: float
    gemm_utilization: float
    eval_seconds: float
    area: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "area", sum(self.utilization[k] for k in AREA) / len(AREA))

    def record(self) -> dict:
        """The JSON line of this design."""
        return {"design": self.design, "config": self.config, "resources": self.resources,
                "utilization": {k: round(v, 4) for k, v in self.utilization.items()},
                "area": round(self.area, 4), "clock_mhz": self.clock_mhz,
                "cycles": {k: t.cycles for k, t in self.layers.items()},
                "layers": {k: asdict(t) for k, t in self.layers.items()},
                "latency_ms": self.latency_s * 1e3, "gops": self.gops,
                "gemm_utilization": self.gemm_utilization, "eval_seconds": round(self.eval_seconds, 3)}


def layer_term(layer: Layer, cfg: VtaConfig) -> Term:
    """`layer` as the design's accelerator call, its dimensions padded to the GEMM block."""
    block = config_block(cfg)
    n, c, o = (_round_up(layer.n, cfg.batch), _round_up(layer.c, cfg.block_in), _round_up(layer.o, cfg.block_out))
    bias = tb.var("b", (o,), "int32")
    if layer.kind == "dense":
        x, w = tb.var("x", (n, c), "int8"), tb.var("w", (o, c), "int8")
        return tb.vta_dense(tb.vta_pack(x, "act", block), tb.vta_pack(w, "wgt", block), bias, EPILOGUE, block)
    x, w = tb.var("x", (n, c, layer.h, layer.w), "int8"), tb.var("w", (o, c, layer.kh, layer.kw), "int8")
    return tb.vta_conv2d(tb.vta_pack(x, "act", block), tb.vta_pack(w, "wgt", block), bias,
                         layer.strides, layer.pads, EPILOGUE, block)


def link_bytes(node: Term) -> int:
    """Bytes `node`'s call moves over the host link: its operands and its int8 result."""
    return sum(math.prod(a.shape) * np.dtype(a.dtype).itemsize for a in node.args) + math.prod(node.shape)


def call_seconds(cycles: int, moved: int, cfg: VtaConfig) -> float:
    """A layer's seconds on `cfg`: its `cycles` at the design's clock plus `moved` bytes over
    the host link."""
    return cycles / cfg.clock_hz + moved / LINK_BYTES_PER_S


def circuit_free(cfg: VtaConfig) -> VtaConfig:
    """`cfg` with its circuit knobs (clock, bus width, GEMM stages) at their defaults: designs
    equal under it emit the same instruction streams (only their timing differs)."""
    default = VtaConfig()
    return replace(cfg, clock_mhz=default.clock_mhz, log_bus_width=default.log_bus_width,
                   gemm_stages=default.gemm_stages)


def time_layer(layer: Layer, cfgs: Sequence[VtaConfig]) -> list[LayerTime]:
    """Per design of `cfgs` (one architecture: equal under `circuit_free`), the faster of the
    one- and two-thread schedules of `layer`, or the host; each stream is emitted once and timed
    for every design."""
    node = layer_term(layer, cfgs[0])
    args = [np.zeros(a.shape, a.dtype) for a in node.args]
    moved = link_bytes(node)
    best: list[LayerTime | None] = [None] * len(cfgs)
    why = ""
    for threads in (1, 2):
        try:
            stream = emit_vta_term(node, args, cfgs[0], Dram(), threads).program
        except FrittataError as error:
            why = str(error)
            continue
        for i, cfg in enumerate(cfgs):
            report = Simulator(cfg, Dram()).execute(stream.instructions, functional=False)
            seconds = call_seconds(report.cycles, moved, cfg)
            if best[i] is None or seconds < best[i].seconds:  # type: ignore[union-attr]
                best[i] = LayerTime("vta", report.cycles, threads, report.gemm_uops, seconds)
    host = LayerTime("cpu", 0, 0, 0, layer.cpu_seconds, why or "faster on the host")
    return [host if t is None or t.seconds > layer.cpu_seconds else t for t in best]


def evaluate_designs(cfgs: Sequence[VtaConfig], workload: Workload, part: Part) -> list[DesignResult | str]:
    """Per design of `cfgs` (one architecture, see `time_layer`): its resources on `part` and
    its time on `workload`, or why it does not fit."""
    start = time.perf_counter()
    fitting: list[VtaConfig] = []
    outcomes: dict[VtaConfig, DesignResult | str] = {}
    for cfg in cfgs:
        if circuit_free(cfg) != circuit_free(cfgs[0]):
            raise FrittataError(f"explore: expected designs of one architecture, got {cfgs[0].name} and {cfg.name}")
        try:
            check_fits(cfg, part)
            fitting.append(cfg)
        except FrittataError as error:
            outcomes[cfg] = f"{cfg.design}: {error}"
    times = [time_layer(layer, fitting) for layer in workload.layers] if fitting else []
    share = (time.perf_counter() - start) / max(len(fitting), 1)
    for i, cfg in enumerate(fitting):
        outcomes[cfg] = _result(cfg, workload, part, {layer.name: t[i] for layer, t in zip(workload.layers, times)},
                                share)
    return [outcomes[cfg] for cfg in cfgs]


def evaluate_design(cfg: VtaConfig, workload: Workload, part: Part) -> DesignResult:
    """`cfg`'s resources on `part` and its time on `workload`; ResourceError when it does not fit."""
    check_fits(cfg, part)
    (outcome,) = evaluate_designs((cfg,), workload, part)
    assert isinstance(outcome, DesignResult), "a design that fits is evaluated"
    return outcome


def _result(cfg: VtaConfig, workload: Workload, part: Part, layers: dict[str, LayerTime],
            seconds: float) -> DesignResult:
    usage = estimate(cfg, part)
    counts = {layer.name: layer.count for layer in workload.layers}
    latency = workload.host_seconds + sum(t.seconds * counts[k] for k, t in layers.items())
    on_vta = [(t, counts[k]) for k, t in layers.items() if t.on == "vta"]
    cycles = sum(t.cycles * n for t, n in on_vta)
    uops = sum(t.gemm_uops * n for t, n in on_vta)
    return DesignResult(cfg.design, config_to_dict(cfg), asdict(usage), usage.utilization(part), cfg.clock_mhz,
                        layers, latency, 2 * workload.macs / latency / 1e9, uops / cycles if cycles else 0.0, seconds)


@dataclass(frozen=True, slots=True)
class DesignJob:
    """What a worker process evaluates (picklable): designs of one architecture."""

    cfgs: tuple[VtaConfig, ...]
    workload: Workload
    part: str


def evaluate_job(job: DesignJob) -> list[DesignResult | str]:
    """A pool worker's work: each design's result, or why it could not be evaluated."""
    try:
        return evaluate_designs(job.cfgs, job.workload, get_part(job.part))
    except FrittataError as error:
        return [f"{cfg.design}: {error}" for cfg in job.cfgs]


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m
