"""One design evaluated on a workload: every layer compiled for the design and timed.

Each layer becomes the design's `vta_conv2d` / `vta_dense` term (batch padded to a multiple of
BATCH, channels to the blocks, as the tensorization rules pad them), is lowered by the backend's
own lowering into an instruction stream with one and with two virtual threads, and the stream
runs on the simulator's cycle model (`functional=False`: the event loop with its token queues,
no data); the faster schedule is the layer's.  A layer the design cannot lower (no tile fits its
buffers) runs on the host, as extraction would put it.  A layer's seconds are its cycles at the
design's clock plus its operand and result bytes over the host link (the VTA cost model's
`link_bytes_per_s`); the latency is the sum over layers, each its count times, plus the
workload's host part.  Bit-exactness of the same lowering is what the backend's tests check;
here only time is wanted.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from frittata.backends.vta.cost import VtaCostModel
from frittata.backends.vta.dse.workload import Layer, Workload
from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.config_file import config_to_dict
from frittata.backends.vta.hw.dram import Dram
from frittata.backends.vta.hw.resources import Part, check_fits, get_part
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


def time_layer(layer: Layer, cfg: VtaConfig) -> LayerTime:
    """The faster of the one- and two-thread schedules of `layer` on `cfg`, or the host."""
    node = layer_term(layer, cfg)
    args = [np.zeros(a.shape, a.dtype) for a in node.args]
    moved = sum(a.nbytes for a in args) + int(np.prod(node.shape))
    best: LayerTime | None = None
    why = ""
    for threads in (1, 2):
        try:
            stream = emit_vta_term(node, args, cfg, Dram(), threads).program
        except FrittataError as error:
            why = str(error)
            continue
        report = Simulator(cfg, Dram()).execute(stream.instructions, functional=False)
        seconds = report.cycles / cfg.clock_hz + moved / LINK_BYTES_PER_S
        if best is None or seconds < best.seconds:
            best = LayerTime("vta", report.cycles, threads, report.gemm_uops, seconds)
    if best is None or best.seconds > layer.cpu_seconds:
        return LayerTime("cpu", 0, 0, 0, layer.cpu_seconds, why or "faster on the host")
    return best


def evaluate_design(cfg: VtaConfig, workload: Workload, part: Part) -> DesignResult:
    """`cfg`'s resources on `part` (ResourceError when it does not fit) and its time on `workload`."""
    start = time.perf_counter()
    usage = check_fits(cfg, part)
    layers = {layer.name: time_layer(layer, cfg) for layer in workload.layers}
    counts = {layer.name: layer.count for layer in workload.layers}
    latency = workload.host_seconds + sum(t.seconds * counts[k] for k, t in layers.items())
    on_vta = [(t, counts[k]) for k, t in layers.items() if t.on == "vta"]
    cycles = sum(t.cycles * n for t, n in on_vta)
    uops = sum(t.gemm_uops * n for t, n in on_vta)
    return DesignResult(cfg.design, config_to_dict(cfg), asdict(usage), usage.utilization(part), cfg.clock_mhz,
                        layers, latency, 2 * workload.macs / latency / 1e9, uops / cycles if cycles else 0.0,
                        time.perf_counter() - start)


@dataclass(frozen=True, slots=True)
class DesignJob:
    """What a worker process evaluates (picklable)."""

    cfg: VtaConfig
    workload: Workload
    part: str


def evaluate_job(job: DesignJob) -> DesignResult | str:
    """A pool worker's work: the design's result, or why it could not be evaluated."""
    try:
        return evaluate_design(job.cfg, job.workload, get_part(job.part))
    except FrittataError as error:
        return f"{job.cfg.design}: {error}"


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m
