"""Run one VTA kernel term (`vta_dense` / `vta_conv2d`) on the simulator.

`run_vta_term(node, args, cfg)` puts the packed operands and the bias rows in DRAM, emits the
stream (`lower_dense` / `lower_conv2d`), simulates it and returns the packed result with the
cycle report.  `emit_vta_term` stops before simulating, for benchmarks of compile time.

The output buffer holds one int8 plane per byte of the output dtype (`planes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram, DramBuffer
from frittata.backends.vta.hw.emitter import Emitter, InstructionStream
from frittata.backends.vta.lower_conv2d import ConvGeom, ConvTiling, emit_conv2d
from frittata.backends.vta.lower_dense import emit_dense
from frittata.backends.vta.planes import plane_buffers, read_planes
from frittata.backends.vta.hw.simulator import Simulator
from frittata.backends.vta.hw.timing import Report
from frittata.errors import LoweringError
from frittata.terms.ops import Op
from frittata.terms.term import Term


@dataclass(frozen=True, slots=True)
class Lowered:
    """An emitted kernel: its stream, the x and w buffers, the output byte planes
    (int8 [planes, *shape]), the output dtype and the tiling."""

    program: InstructionStream
    inputs: tuple[DramBuffer, DramBuffer]
    out: DramBuffer
    dtype: str
    tiling: object

    def read(self, dram: Dram) -> np.ndarray:
        """The output as its dtype, reassembled from its byte planes."""
        return read_planes(dram, self.out, self.dtype)


def config_block(cfg: VtaConfig) -> tuple[int, int, int]:
    return (cfg.batch, cfg.block_in, cfg.block_out)


def bias_rows(bias: np.ndarray, cfg: VtaConfig) -> np.ndarray:
    """The bias as ACC elements: one (BATCH, BLOCK_OUT) int32 row per output block."""
    blocks = bias.astype(np.int32).reshape(-1, 1, cfg.block_out)
    return np.ascontiguousarray(np.broadcast_to(blocks, (blocks.shape[0], cfg.batch, cfg.block_out)))


def fold_rounding(epilogue: tuple, bias: np.ndarray, terms: int) -> tuple[tuple, np.ndarray]:
    """A first rounding shift by s >= 1, alone or after a relu, as h = 2^(s-1) added to the bias
    and a flooring shift ("floor_shift", s), in one ALU pass instead of three:
    floor((u + h) / 2^s) is the rounding shift of u = v + b, and so is floor(relu(u + h) / 2^s)
    of relu(u) (for u < 0 both are 0: 0 <= relu(u + h) < h < 2^s).  Only when no sum can wrap:
    |b| + h + terms * 2^14 < 2^31 (`terms` int8 x int8 products of magnitude <= 2^14 per
    output)."""
    match epilogue:
        case (("relu",), ("shift", s), *rest) if s >= 1:
            head: tuple = (("relu",),)
        case (("shift", s), *rest) if s >= 1:
            head = ()
        case _:
            return epilogue, bias
    wide = bias.astype(np.int64)
    if int(np.abs(wide).max(initial=0)) + 2 ** (s - 1) + terms * 2 ** 14 >= 2 ** 31:
        return epilogue, bias
    return (*head, ("floor_shift", s), *rest), (wide + 2 ** (s - 1)).astype(np.int32)


def conv_geom(node: Term) -> ConvGeom:
    """The blocked geometry of a `vta_conv2d` from its packed operands' shapes."""
    (nb, cb, h, w, *_), (ob, _, kh, kw, *_) = node.args[0].shape, node.args[1].shape
    return ConvGeom(nb, cb, ob, h, w, kh, kw, node.attr("strides"), node.attr("pads"))


def emit_vta_term(node: Term, args: list[np.ndarray], cfg: VtaConfig, dram: Dram,
                  threads: int = 2, tiling: ConvTiling | None = None) -> Lowered:
    """Put `node`'s operands in `dram` and emit its instruction stream (a conv with `tiling`
    when given, see `emit_conv2d`)."""
    if node.op not in (Op.VTA_DENSE, Op.VTA_CONV2D):
        raise LoweringError(f"vta lowering: expected vta_dense or vta_conv2d, got {node.op.value}")
    if node.attr("block") != config_block(cfg):
        raise LoweringError(f"{node.op.value}: expected block {config_block(cfg)} of {cfg.name}, "
                            f"got {node.attr('block')}; tensorize for this configuration")
    if node.op == Op.VTA_DENSE and tiling is not None:
        raise LoweringError(f"vta_dense: expected no conv tiling, got {tiling}")
    x, w = dram.put(np.ascontiguousarray(args[0])), dram.put(np.ascontiguousarray(args[1]))
    terms = args[1].size // (args[1].shape[0] * cfg.block_out)
    epilogue, bias_values = fold_rounding(node.attr("epilogue"), np.asarray(args[2]), terms)
    bias = dram.put(bias_rows(bias_values, cfg))
    out = dram.alloc((np.dtype(node.dtype).itemsize, *node.shape), np.int8)
    em = Emitter(cfg, dram)
    planes = plane_buffers(out)
    used: object
    if node.op == Op.VTA_DENSE:
        used = emit_dense(em, x, w, bias, planes, epilogue, threads)
    else:
        used = emit_conv2d(em, x, w, bias, planes, conv_geom(node), epilogue, threads, tiling)
    return Lowered(em.synchronize(), (x, w), out, node.dtype, used)


def run_vta_term(node: Term, args: list[np.ndarray], cfg: VtaConfig = VtaConfig(),
                 threads: int = 2) -> tuple[np.ndarray, Report]:
    """Simulate `node` on packed numpy operands; returns its packed output and the report."""
    sim = Simulator(cfg, Dram())
    lowered = emit_vta_term(node, args, cfg, sim.machine.dram, threads)
    report = sim.run(lowered.program.image())
    return lowered.read(sim.machine.dram), report
