"""An expanding pointwise float32 convolution as the blocked GEMM of its weights and its pixels.

out[n][o, p] = sum_c w[o, c] x[n][c, p] is, per image, the GEMM C = A · B of `gemm` with A the
weights ([O, C] row-major, a compile-time parameter), B the image's input ([C, P]: the reduction
down its rows, the pixels along them) and C the image's output ([O, P]): the output channels are
the GEMM's rows, MR to a register block, the pixels its columns, NR to a panel
(`cpu_schedules.channel_gemm_schedule`). The bias is per row; a residual has the output's layout.
The direct kernel (`conv`) reads the input in place, a tile's NR pixels of each channel a row of
P floats apart, so a tile's stream of input spans two cache lines per channel; packed, it is
one contiguous panel that stays in L1 across the row blocks.

    for n:  barrier (but before the first image: the caller's barrier ends the last)
            pack x[n] into panels of NR pixels (threads take chunks of panels); barrier
            blocked GEMM  out[n] = steps(w · x[n] + bias)  (threads take items of rows x panels)
"""

from __future__ import annotations

from frittata.backends.llvm.gemm import Gemm, emit_blocked, emit_pack_runtime
from frittata.backends.llvm.irutil import F32, i64
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.plan import Plan, Step
from frittata.backends.llvm.views import View
from frittata.terms.ops import Op
from frittata.terms.term import Term


def _gemm(t: Term, schedule: dict) -> Gemm:
    """One image's GEMM: O rows, P columns, C deep."""
    (_, c, h, w), o = t.args[0].shape, t.args[1].shape[0]
    fused = t.op in (Op.FUSED_CONV2D, Op.TILED_CONV2D)
    return Gemm.of(o, h * w, c, schedule, "row" if fused else None, t.attr("epilogue") if fused else ())


def scratch_bytes(term: Term, schedule: dict) -> int:
    """One image's input packed into panels (`gemm.emit_pack_runtime`)."""
    g = _gemm(term, schedule)
    return g.panels * g.nr * g.k * 4


def lower(k: Kernel, plan: Plan, step: Step, args: list[View], schedule: dict) -> None:
    """Emit the channel GEMM for `step` (see the module docstring)."""
    t, g, b = step.term, _gemm(step.term, schedule), k.b
    name = k.function.name
    weights = k.base(plan.add_param(f"{name}.w", t.args[1].attr("ref").data.reshape(g.m, g.k)))
    bias = k.base(plan.add_param(f"{name}.bias", t.args[2].attr("ref").data.reshape(g.m))) if g.bias else None
    x, out = k.base(args[0].buf), k.base(step.out)
    residual = k.base(args[3].buf) if len(t.args) > 3 else None
    assert step.scratch is not None
    panels = k.base(step.scratch)
    with k.repeat(t.args[0].shape[0], name="image", sync_first=True) as n:
        image, at = b.mul(n, i64(g.k * g.n)), b.mul(n, i64(g.m * g.n))
        source = b.gep(x, [image], source_etype=F32)

        def pack(p0, p1):
            emit_pack_runtime(k, g, source, g.n, panels, p0, p1)

        res = None if residual is None else b.gep(residual, [at], source_etype=F32)
        emit_blocked(k, g, weights, g.k, panels, b.gep(out, [at], source_etype=F32), g.n, bias, res, pack)
