"""The VTA cost model: accelerator ops priced by the cycle model, the rest by the CPU model.

`vta_dense` / `vta_conv2d` cost `cycles / clock_hz + transfer`, where cycles come from the
emitted instruction stream and the timing model (the busiest module's total, which is what a
perfectly overlapped double-buffered pipeline takes), and transfer is the operand and result
bytes over the host link; one whose bias is computed at run time costs `inf` (the build loads
the bias into the accumulator from constants only), so extraction never picks it, and so does one
the configuration cannot lower (no tile fits the buffers, padding too wide): the extractor keeps
that layer on the CPU and `unavailable` says why, for the compile report.
`vta_pack` / `vta_unpack` run on the host as a transpose.  Every other op is priced by the
analytical CPU model of the host the accelerator is attached to — by default the Pynq-Z1's
dual Cortex-A9 (`PYNQ_HOST`), not the compiling machine.  Units: seconds; the cost is monotone
in the work (more GEMM micro-ops, DMA rows or bytes never cost less).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram
from frittata.backends.vta.hw.isa import stage_of
from frittata.backends.vta.lower import emit_vta_term
from frittata.backends.vta.hw.timing import TimingParams, cycles
from frittata.extract.cost import NodeInfo
from frittata.extract.cpu_model import CpuModel
from frittata.errors import LoweringError
from frittata.terms import builders as tb
from frittata.terms.ops import Op
from frittata.terms.term import Term


PYNQ_HOST = CpuModel(
    name="cortex-a9", cores=2, vector_lanes=4, fp32_flops_per_core=2.6e9, int8_ops_per_core=5.2e9,
    dram_bandwidth=1.0e9, cache_bandwidth=2.0e9, cache_bytes=512 * 1024, launch_seconds=2e-6)
"""Estimates for a 650 MHz dual Cortex-A9 with NEON (4 fp32 / 8 int8 MACs per cycle, 512 KiB L2)."""


def stream_cycles(node: Term, cfg: VtaConfig, timing: TimingParams = TimingParams()) -> int:
    """Cycles of the busiest module for `node`'s stream (emitted on zero data, not simulated)."""
    args = [np.zeros(a.shape, a.dtype) for a in node.args]
    program = emit_vta_term(node, args, cfg, Dram()).program
    busy: dict[object, int] = {}
    for insn in program.instructions:
        stage = stage_of(insn)
        busy[stage] = busy.get(stage, 0) + cycles(insn, cfg, timing)
    return max(busy.values())


@dataclass
class VtaCostModel:
    """Seconds on a CPU + VTA system; invariant: finite, >= 0, monotone in work and bytes."""

    name: str = "vta"
    cfg: VtaConfig = VtaConfig()
    timing: TimingParams = TimingParams()
    clock_hz: float | None = None
    """The accelerator clock; None: the configuration's."""
    link_bytes_per_s: float = 1e9
    """Host <-> accelerator DRAM copy bandwidth (estimate for a shared-DRAM SoC)."""
    cpu: CpuModel = PYNQ_HOST
    unavailable: dict[str, str] = field(default_factory=dict)
    """Accelerator alternatives priced `inf` because they cannot be lowered: what -> why."""
    _memo: dict = field(default_factory=dict)

    def node_cost(self, info: NodeInfo) -> float:
        match info.op:
            case Op.VTA_DENSE | Op.VTA_CONV2D if info.constant_operands and not info.operand_constant(2):
                return math.inf
            case Op.VTA_DENSE | Op.VTA_CONV2D:
                key = (info.op, info.attrs, info.operands)
                if key not in self._memo:
                    self._memo[key] = self._priced(info)
                return self._memo[key]
            case Op.VTA_PACK | Op.VTA_UNPACK:
                return self.cpu.node_cost(replace(info, op=Op.TRANSPOSE, attrs=(("perm", ()),)))
            case _:
                return self.cpu.node_cost(info)

    def _priced(self, info: NodeInfo) -> float:
        try:
            return self._accelerator(info)
        except LoweringError as error:
            shapes = " x ".join(str(list(t.shape)) for t in info.operands[:2])
            self.unavailable[f"{info.op.value} {shapes}"] = str(error)
            return math.inf

    def _accelerator(self, info: NodeInfo) -> float:
        args = [tb.var(f"a{i}", t.shape, t.dtype) for i, t in enumerate(info.operands)]
        attrs = dict(info.attrs)
        x, w, bias = args
        if info.op == Op.VTA_DENSE:
            node = tb.vta_dense(x, w, bias, attrs["epilogue"], attrs["block"])
        else:
            node = tb.vta_conv2d(x, w, bias, attrs["strides"], attrs["pads"], attrs["epilogue"], attrs["block"])
        moved = sum(t.nbytes for t in info.operands) + info.type.nbytes
        clock = self.cfg.clock_hz if self.clock_hz is None else self.clock_hz
        return stream_cycles(node, self.cfg, self.timing) / clock + moved / self.link_bytes_per_s
