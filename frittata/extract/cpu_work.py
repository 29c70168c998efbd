"""How much work one operator does: FLOPs, compulsory bytes, and what kind of loop it is.

`work(info)` is a pure function of a `NodeInfo`, with one case per cost class of the operator
table (`Op.cost`), so a new operator is priced by the class it declares. FLOPs count a
fused multiply-add as 2; bytes are the operands read once plus the output written once (the
compulsory traffic of a roofline). `lanes` is the fraction of the vector lanes a kernel keeps
busy: contractions vectorize over their output channels (N of dense/matmul, O of conv2d),
blocked layouts over their channel block, so a width that is not a multiple of the vector
width wastes the rest of the last vector.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import assert_never

from frittata.extract.cost import NodeInfo
from frittata.terms.fused import expr_ops
from frittata.terms.cpu_schedules import CONV_OPS
from frittata.terms.ops import Cost, Op


class Kind(enum.Enum):
    """The loop shape of an operator, which decides the fraction of peak it reaches."""

    FREE = "free"                # leaves: no run-time work
    UNSUPPORTED = "unsupported"  # accelerator ops (VTA): the CPU cannot run them
    VIEW = "view"                # a reshape of a contiguous tensor: metadata only
    CONTRACTION = "contraction"  # dense, matmul, conv2d (register-blocked FMA loops)
    DEPTHWISE = "depthwise"      # grouped conv with one input channel per group
    BITSERIAL = "bitserial"      # popcounts of packed words, vectorized over output channels
    ELEMENTWISE = "elementwise"  # one pass over memory
    REDUCTION = "reduction"      # pools, norms, reductions
    COPY = "copy"                # contiguous data movement (concat, slice, pad, gather)
    STRIDED_COPY = "strided"     # transposing data movement (transpose, pack, unpack)


@dataclass(frozen=True, slots=True)
class Work:
    """FLOPs (FMA = 2), bytes (read + written), loop kind, busy fraction of vector lanes, and
    how many of the FLOPs are a contraction's per-output epilogue (bias, activations), which
    runs once per output rather than in the reduction loop."""

    flops: float
    bytes: float
    kind: Kind
    lanes: float = 1.0
    epilogue_flops: float = 0.0


def lane_fraction(width: int, lanes: int) -> float:
    """Useful fraction of `ceil(width / lanes)` vectors: 1.0 when lanes divides width."""
    if width <= 0:
        return 1.0
    return width / (math.ceil(width / lanes) * lanes)


def work(info: NodeInfo, transcendental_flops: float, lanes: int) -> Work:
    """The `Work` of one e-node (see the module docstring for the conventions)."""
    op, out = info.op, info.type
    moved = float(out.nbytes + sum(t.nbytes for t in info.operands))
    match op.cost:
        case Cost.FREE:
            return Work(0.0, 0.0, Kind.FREE)
        case Cost.VIEW:
            return Work(0.0, 0.0, Kind.VIEW)
        case Cost.CONTRACTION:
            return _contraction(info, moved, lanes, transcendental_flops)
        case Cost.ELEMENTWISE:
            return Work(float(out.size), moved, Kind.ELEMENTWISE)
        case Cost.TRANSCENDENTAL:
            return Work(out.size * transcendental_flops, moved, Kind.ELEMENTWISE)
        case Cost.FUSED_ELEMENTWISE:
            return _fused_elementwise(info, moved, transcendental_flops)
        case Cost.WINDOW:
            kh, kw = info.attr("kernel")
            return Work(float(out.size * kh * kw), moved, Kind.REDUCTION)
        case Cost.REDUCTION:
            return Work(float(info.operands[0].size), moved, Kind.REDUCTION)
        case Cost.NORMALIZATION:
            return _normalization(info, moved, transcendental_flops)
        case Cost.COPY | Cost.STRIDED_COPY:
            return _movement(info, moved, lanes)
        case Cost.ACCELERATOR:
            return Work(0.0, 0.0, Kind.UNSUPPORTED)
        case _:
            assert_never(op.cost)


def _movement(info: NodeInfo, moved: float, lanes: int) -> Work:
    """Copies: transposing ones are strided (blocked layouts use a channel block of the lanes)."""
    if info.op.cost == Cost.COPY:
        return Work(0.0, moved, Kind.COPY)
    if info.op in (Op.PACK_NCHWC, Op.UNPACK_NCHWC):
        return Work(0.0, moved, Kind.STRIDED_COPY, lane_fraction(info.attr("c"), lanes))
    return Work(0.0, moved, Kind.STRIDED_COPY)


WORD_PAIR_FLOPS = 32.0
"""The work of one packed word pair of a bit-serial contraction (and, popcount, shift-add of 64
bits) in fp32-FLOP units, as profiles and tuning tasks report it: about two vector instructions
per 64-bit word on AVX2, where one 8-lane FMA instruction does 16 FLOPs. Its price is
`bitserial_cost`'s (word pairs at the host's popcount rate)."""


def _bitserial(info: NodeInfo, moved: float, lanes: int) -> Work:
    """Word pairs per output: the window, both bit-plane counts, the words of one pixel."""
    out, (x, w) = info.type, info.operands[:2]
    pairs = x.shape[-2] * math.prod(w.shape[1:])
    return Work(WORD_PAIR_FLOPS * out.size * pairs, moved, Kind.BITSERIAL, lane_fraction(w.shape[0], lanes // 2))


def _contraction(info: NodeInfo, moved: float, lanes: int, transcendental_flops: float) -> Work:
    """2 FLOPs per multiply-add of the core, per element 1 for the bias and each epilogue step
    (`transcendental_flops` for a sigmoid, one more for a SiLU's multiply, 4 for a hard swish)."""
    out, (x, w) = info.type, info.operands[:2]
    match info.op:
        case Op.BITSERIAL_CONV2D | Op.BITSERIAL_DENSE:
            return _bitserial(info, moved, lanes)
        case Op.MATMUL:
            depth, width = x.shape[-1], out.shape[-1]
        case Op.DENSE | Op.FUSED_DENSE | Op.TILED_DENSE:
            depth, width = x.shape[-1], w.shape[0]
        case Op.CONV2D | Op.FUSED_CONV2D | Op.TILED_CONV2D | Op.WINOGRAD_CONV2D:
            depth, width = w.shape[1] * w.shape[2] * w.shape[3], w.shape[0] // info.attr("groups", 1)
        case _:
            raise AssertionError(f"{info.op} is not a contraction")
    epilogue = info.attr("epilogue", ())
    tail = float(out.size * (sum(_step_flops(step, transcendental_flops) for step in epilogue) + (info.op in _FUSED)))
    flops = 2.0 * out.size * depth + tail
    depthwise = info.op in CONV_OPS and info.attr("groups", 1) > 1 and w.shape[1] == 1
    if depthwise:
        return Work(flops, moved, Kind.DEPTHWISE, lane_fraction(x.shape[1], lanes), tail)
    return Work(flops, moved, Kind.CONTRACTION, lane_fraction(width, lanes), tail)


def _step_flops(step: tuple, transcendental_flops: float) -> float:
    match step[0]:
        case "sigmoid":
            return transcendental_flops
        case "silu":
            return transcendental_flops + 1.0
        case "hard_swish":
            return 4.0
        case _:
            return 1.0


_FUSED = frozenset({Op.FUSED_CONV2D, Op.FUSED_DENSE, Op.TILED_CONV2D, Op.TILED_DENSE, Op.WINOGRAD_CONV2D})


def _fused_elementwise(info: NodeInfo, moved: float, transcendental_flops: float) -> Work:
    """One pass over memory (operands read once, output written once) for the whole chain."""
    per_element = sum(transcendental_flops if op.cost == Cost.TRANSCENDENTAL else 1.0
                      for op in expr_ops(info.attr("expr")))
    return Work(info.type.size * per_element, moved, Kind.ELEMENTWISE)


SOFTMAX_PASS_FLOPS = 22.0
"""FLOP-equivalents per element of a softmax besides its exponential: the max pass, the subtract,
the double sum and the scale by the reciprocal, with their loads and stores. The vector softmax
(`softmax_rows`) took 45 us for [1, 4, 128, 128] on one AMD EPYC Zen 3 core (2026-12-05): 42
FLOP-equivalents an element at the model's elementwise rate (AVX2, efficiency 0.5), 20 of them
the exponential's. At 3 the model priced that softmax 17 us split over two cores, which made it
a solo step (thread 0 alone for 45 us, the other waiting past its spin)."""


def _normalization(info: NodeInfo, moved: float, transcendental_flops: float) -> Work:
    """Batch norm is a folded scale and shift; layer norm and softmax read their input twice; a
    softmax with a prologue (`fused_softmax`) reads its operands once and its output row again."""
    size, first = info.type.size, info.operands[0].nbytes
    match info.op:
        case Op.BATCH_NORM:
            return Work(2.0 * size, moved, Kind.ELEMENTWISE)
        case Op.LAYER_NORM:
            return Work(8.0 * size, moved + first, Kind.REDUCTION)
        case Op.SOFTMAX:
            return Work(size * (transcendental_flops + SOFTMAX_PASS_FLOPS), moved + first, Kind.REDUCTION)
        case Op.FUSED_SOFTMAX:
            prologue = _fused_elementwise(info, 0.0, transcendental_flops).flops
            softmax = size * (transcendental_flops + SOFTMAX_PASS_FLOPS)
            return Work(prologue + softmax, moved + info.type.nbytes, Kind.REDUCTION)
        case _:
            raise AssertionError(f"{info.op} is not a normalization")
