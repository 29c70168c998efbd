"""Tiled kernel ops: a fused contraction together with the loop schedule that computes it.

`tiled_conv2d(x, w, b, [r], ..., schedule=S)` and `tiled_dense(x, w, b, [r], epilogue, schedule=S)`
have the operands, attributes and meaning of `fused_conv2d` / `fused_dense`; the schedule says
how a CPU backend runs them. It is a tuple of `(key, value)` pairs, in this order:

  tiled_conv2d  ("vec", L) ("oc_block", MR) ("oc_tail", O % MR) ("ow_block", NR) ("ow_tail", OW % NR)
                ("c_block", CB) ("c_tail", C % CB) ("parallel", "oc" | "pixel")
  tiled_dense   ("vec", L) ("m_block", MR) ("m_tail", M % MR) ("n_block", NR) ("n_tail", N % NR)
                ("k_block", KC) ("parallel", "n" | "m")

L is the fp32 lanes of one vector (4, 8 or 16); a register block is MR output channels (rows)
by NR output pixels (columns), NR a multiple of L of at most `MAX_VECTORS` vectors; KC (dense)
and CB (input channels of a convolution) are the depth of a cache block of the reduction. The
tails are the explicit remainders: type inference checks that they equal the dimension modulo
the block, so a schedule states how big the remainder tiles are (0: the blocks divide it). "parallel" names the
loop that runs outermost and is split across threads (output-channel blocks or pixel tiles of a
convolution; column panels or row blocks of a dense layer). Grouped convolutions have no
tiled form.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from frittata.terms.dtypes import TensorType
from frittata.terms.kernels import Epilogue, fused_conv2d, fused_dense, infer_kernel
from frittata.terms.ops import Op
from frittata.terms.term import Term

Schedule = tuple[tuple[str, Any], ...]

VECTOR_WIDTHS = (4, 8, 16)
MAX_VECTORS = 4
MAX_ROWS = 32
PARALLEL = {Op.TILED_CONV2D: ("oc", "pixel"), Op.TILED_DENSE: ("n", "m")}
KEYS = {
    Op.TILED_CONV2D: ("vec", "oc_block", "oc_tail", "ow_block", "ow_tail", "c_block", "c_tail", "parallel"),
    Op.TILED_DENSE: ("vec", "m_block", "m_tail", "n_block", "n_tail", "k_block", "parallel"),
}
UNTILED = {Op.TILED_CONV2D: Op.FUSED_CONV2D, Op.TILED_DENSE: Op.FUSED_DENSE}


def tiled_conv2d(x: Term, w: Term, bias: Term, *residual: Term, strides=(1, 1), pads=(0, 0, 0, 0),
                 dilations=(1, 1), groups: int = 1, epilogue: Epilogue = (), schedule: Schedule) -> Term:
    """`fused_conv2d` computed with `schedule` (see the module docstring); same type."""
    plain = fused_conv2d(x, w, bias, *residual, strides=strides, pads=pads, dilations=dilations,
                         groups=groups, epilogue=epilogue)
    return Term.make(Op.TILED_CONV2D, plain.args, plain.attrs + (("schedule", normalize_schedule(schedule)),))


def tiled_dense(x: Term, w: Term, bias: Term, *residual: Term, epilogue: Epilogue = (), schedule: Schedule) -> Term:
    """`fused_dense` computed with `schedule` (see the module docstring); same type."""
    plain = fused_dense(x, w, bias, *residual, epilogue=epilogue)
    return Term.make(Op.TILED_DENSE, plain.args, plain.attrs + (("schedule", normalize_schedule(schedule)),))


def normalize_schedule(schedule) -> Schedule:
    """Pairs as tuples, numbers as Python ints (the form rules and builders both produce)."""
    out = []
    for pair in schedule:
        key, value = pair
        out.append((str(key), value if isinstance(value, str) else int(value)))
    return tuple(out)


def schedule_of(term_or_attrs) -> dict[str, Any]:
    """The schedule of a tiled term (or of its attribute tuple) as a dict."""
    attrs = term_or_attrs.attrs if isinstance(term_or_attrs, Term) else term_or_attrs
    return dict(dict(attrs)["schedule"])


def untiled(node: Term) -> Term:
    """The fused op a tiled op computes: same operands and attributes, no schedule."""
    attrs = tuple((k, v) for k, v in node.attrs if k != "schedule")
    return Term.make(UNTILED[node.op], node.args, attrs)


def infer_tiled(op: Op, types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    """The fused op's type, after checking the schedule against the operand shapes."""
    from frittata.terms.infer import fail

    plain = {k: v for k, v in attrs.items() if k != "schedule"}
    out = infer_kernel(UNTILED[op], types, plain)
    schedule = attrs.get("schedule", ())
    keys = tuple(k for k, _ in schedule)
    if keys != KEYS[op]:
        raise fail(op, f"a schedule with keys {KEYS[op]}", keys)
    s = dict(schedule)
    if op == Op.TILED_CONV2D and plain["groups"] != 1:
        raise fail(op, "groups = 1 (grouped convolutions have no tiled form)", plain["groups"])
    rows, cols = _blocked_dims(op, types, out)
    row_key, col_key = ("oc", "ow") if op == Op.TILED_CONV2D else ("m", "n")
    _check_block(op, s, row_key, rows, lambda mr: 1 <= mr <= MAX_ROWS, f"1..{MAX_ROWS} rows")
    vec = s["vec"]
    if vec not in VECTOR_WIDTHS:
        raise fail(op, f"a vector width in {VECTOR_WIDTHS}", vec)
    _check_block(op, s, col_key, cols, lambda nr: nr % vec == 0 and 1 <= nr // vec <= MAX_VECTORS,
                 f"a multiple of vec = {vec}, at most {MAX_VECTORS} vectors")
    if op == Op.TILED_CONV2D:
        _check_block(op, s, "c", types[0].shape[1], lambda cb: cb >= 1, "at least 1 channel")
    elif s["k_block"] < 1:
        raise fail(op, "a reduction block k_block >= 1", s["k_block"])
    if s["parallel"] not in PARALLEL[op]:
        raise fail(op, f"a parallel loop in {PARALLEL[op]}", s["parallel"])
    return out


def _blocked_dims(op: Op, types: list[TensorType], out: TensorType) -> tuple[int, int]:
    """(rows, columns) of the register blocks: (O, OW) of a convolution, (M, N) of a dense."""
    if op == Op.TILED_CONV2D:
        return out.shape[1], out.shape[3]
    return int(np.prod(out.shape[:-1])), out.shape[-1]


def _check_block(op: Op, s: dict, key: str, size: int, ok, expected: str) -> None:
    from frittata.terms.infer import fail

    block, tail = s[f"{key}_block"], s[f"{key}_tail"]
    if not isinstance(block, int) or not ok(block):
        raise fail(op, f"{key}_block {expected}", block)
    if tail != size % block:
        raise fail(op, f"{key}_tail = {size} % {block} = {size % block} (the remainder)", tail)


def eval_tiled(node: Term, args: list[np.ndarray], contraction) -> np.ndarray:
    """Reference semantics: exactly the fused op's (a schedule never changes the value)."""
    from frittata.terms.kernels import eval_kernel

    return eval_kernel(untiled(node), args, contraction)
