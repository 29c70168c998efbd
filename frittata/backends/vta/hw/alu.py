"""ALU lane semantics (the fsim reference the TVM compiler assumes), on int64 lanes wrapped to
int32: MIN, MAX, ADD (wrap), MUL (wrap), SHR (arithmetic right shift by a non-negative amount,
left shift by the negated amount otherwise).  Shift amounts beyond the word are defined, not
undefined: a right shift by >= 31 leaves only the sign, a left shift by >= 32 gives 0.
"""

from __future__ import annotations

from typing import assert_never

import numpy as np

from frittata.backends.vta.hw.isa import Alu, AluOp


def _shift(x: np.ndarray, amount: np.ndarray | np.int64) -> np.ndarray:
    amount = np.broadcast_to(amount, x.shape)
    right = x >> np.clip(amount, 0, 63)
    left = x << np.clip(-amount, 0, 32)
    return np.where(amount >= 0, right, left)


def alu_apply(op: AluOp, x: np.ndarray, y: np.ndarray | np.int64) -> np.ndarray:
    """op(x, y) lane-wise on int64 inputs holding int32 values; the int32 result."""
    match op:
        case AluOp.MIN:
            result = np.minimum(x, y)
        case AluOp.MAX:
            result = np.maximum(x, y)
        case AluOp.ADD:
            result = x + y
        case AluOp.SHR:
            result = _shift(x, y)
        case AluOp.MUL:
            result = x * y
        case _:
            assert_never(op)
    return result.astype(np.int32)


def vectorisable(dst: np.ndarray, src: np.ndarray, use_imm: bool) -> bool:
    """True when applying all executions at once equals applying them in order: no row is
    written twice, and no execution reads a row an earlier execution wrote."""
    if np.unique(dst).size != dst.size:
        return False
    if use_imm or dst.size == 0:
        return True
    writer = np.full(int(max(dst.max(), src.max())) + 1, dst.size, dtype=np.int64)
    writer[dst] = np.arange(dst.size)
    return not np.any(writer[src] < np.arange(dst.size))


def alu_sequential(acc: np.ndarray, insn: Alu, dst: np.ndarray, src: np.ndarray) -> None:
    """The reference order, one execution at a time (used when rows repeat)."""
    for d, s in zip(dst.tolist(), src.tolist()):
        operand = np.int64(insn.imm) if insn.use_imm else acc[s].astype(np.int64)
        acc[d] = alu_apply(insn.op, acc[d].astype(np.int64), operand)
