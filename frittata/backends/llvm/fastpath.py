"""Fast float32 contraction paths: which terms take them, their scratch, and their lowering.

    dense / fused_dense / tiled_dense      x[..., K] · w[N, K]ᵀ: w packed into panels at compile
                                           time (bias per column)
    matmul                                 a[..., M, K] · b[K, N]: b packed at compile time (a
                                           parameter) or at run time
    conv2d / fused_conv2d / tiled_conv2d   groups = 1: the register-blocked direct convolution of `conv`

A tiled op runs with its schedule's vector width, register block, reduction block and parallel
loop; the other ops with the heuristics of `gemm.tile_shape` and `conv.Geometry`.

Everything else (integers, casts in the epilogue, grouped convolutions, batched right operands)
takes the generic loops of `nn`.
"""

from __future__ import annotations

import numpy as np

from frittata.backends.llvm import conv
from frittata.backends.llvm.gemm import Gemm, emit_blocked, emit_pack_runtime, pack_panels
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.plan import Plan, Step
from frittata.backends.llvm.views import View
from frittata.terms.ops import Op
from frittata.terms.term import Term
from frittata.terms.tiled import schedule_of

FLOAT_STEPS = frozenset({"add", "relu", "clip"})
EPILOGUE_OPS = frozenset({Op.FUSED_DENSE, Op.FUSED_CONV2D, Op.TILED_DENSE, Op.TILED_CONV2D})
DENSE_OPS = frozenset({Op.FUSED_DENSE, Op.TILED_DENSE})
CONV_OPS = frozenset({Op.CONV2D, Op.FUSED_CONV2D, Op.TILED_CONV2D})


def accepts(term: Term, lanes: int) -> bool:
    if lanes < 8 or any(a.dtype != "float32" for a in term.args) or term.dtype != "float32":
        return False
    steps = term.attr("epilogue") if term.op in EPILOGUE_OPS else ()
    if any(step[0] not in FLOAT_STEPS for step in steps):
        return False
    match term.op:
        case Op.DENSE | Op.FUSED_DENSE | Op.TILED_DENSE:
            return all(a.op == Op.PARAM for a in term.args[1:3])
        case Op.MATMUL:
            return term.args[1].type.rank == 2
        case Op.CONV2D | Op.FUSED_CONV2D | Op.TILED_CONV2D:
            return term.attr("groups") == 1 and all(a.op == Op.PARAM for a in term.args[1:3])
        case _:
            return False


def scratch_bytes(term: Term, lanes: int, threads: int) -> int:
    if not accepts(term, lanes):
        return 0
    if term.op in CONV_OPS:
        return conv.scratch_bytes(term, lanes)
    if term.op == Op.MATMUL and term.args[1].op != Op.PARAM:
        g = _gemm(term, lanes)
        return g.panels * g.nr * g.k * 4
    return 0


def _gemm(term: Term, lanes: int) -> Gemm:
    x, w = term.args[0], term.args[1]
    k = x.shape[-1]
    m = x.type.size // k if k else 0
    n = w.shape[0] if term.op != Op.MATMUL else w.shape[1]
    bias = "col" if term.op in DENSE_OPS else None
    steps = term.attr("epilogue") if term.op in DENSE_OPS else ()
    if term.op != Op.TILED_DENSE:
        return Gemm(m, n, k, lanes, bias, steps)
    s = schedule_of(term)
    return Gemm(m, n, k, s["vec"], bias, steps, (s["m_block"], s["n_block"] // s["vec"], s["k_block"]), s["parallel"])


def lower(k: Kernel, plan: Plan, step: Step, args: list[View], lanes: int) -> bool:
    """Emit the fast path for `step` if it has one; False leaves it to the generic loops."""
    t = step.term
    if not accepts(t, lanes) or t.type.size == 0 or t.args[0].shape[-1] == 0:
        return False
    if t.op in CONV_OPS:
        conv.lower(k, plan, step, args, lanes)
        return True
    g = _gemm(t, lanes)
    name = f"{k.function.name}.packed"
    ptr = k.base
    out, residual = ptr(step.out), (ptr(args[3].buf) if len(args) > 3 else None)
    bias = None
    if g.bias:
        padded = np.zeros(g.panels * g.nr, np.float32)
        padded[:g.n] = t.args[2].attr("ref").data
        bias = ptr(plan.add_param(f"{name}.bias", padded))
    if t.op == Op.MATMUL and t.args[1].op != Op.PARAM:
        assert step.scratch is not None
        panels = ptr(step.scratch)
        pack = lambda p0, p1: emit_pack_runtime(k, g, ptr(args[1].buf), g.n, panels, p0, p1)  # noqa: E731
    else:
        weights = t.args[1].attr("ref").data
        panels = ptr(plan.add_param(name, pack_panels(weights.T if t.op != Op.MATMUL else weights, g.nr)))
        pack = None
    emit_blocked(k, g, ptr(args[0].buf), g.k, panels, out, g.n, bias, residual, pack)
    return True
