"""Fast path for batched float32 matmul whose right operand is an activation (attention).

`matmul(a[B..., M, K], b[B..., K, N])` with the same batch axes on both sides runs the
packed GEMM of `gemm` once per batch item: the threads pack b[i]'s panels into the scratch
buffer at run time and run the register-blocked micro-kernel over them, sharing both out from
the team's work counter. A barrier ends each item: it zeroes the counter the next item's work is
taken from, and the next item's panels overwrite the scratch.

    for i < prod(B):   pack b[i] (shared);  barrier;  blocked GEMM  c[i] = a[i] · b[i] (shared);  barrier
"""

from __future__ import annotations

import math

from frittata.backends.llvm.gemm import Gemm, emit_blocked, emit_pack_runtime
from frittata.backends.llvm.irutil import F32, i64
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.plan import Step
from frittata.backends.llvm.views import View


def lower(k: Kernel, step: Step, args: list[View], g: Gemm) -> None:
    """Emit the batched GEMM `g` (one batch item's sizes and blocking) for `step`."""
    t = step.term
    b = k.b
    a_base, b_base, c_base = k.base(args[0].buf), k.base(args[1].buf), k.base(step.out)
    assert step.scratch is not None
    panels = k.base(step.scratch)
    with k.repeat(math.prod(t.shape[:-2]), name="batch") as i:
        a_ptr = b.gep(a_base, [b.mul(i, i64(g.m * g.k))], source_etype=F32)
        b_ptr = b.gep(b_base, [b.mul(i, i64(g.k * g.n))], source_etype=F32)
        c_ptr = b.gep(c_base, [b.mul(i, i64(g.m * g.n))], source_etype=F32)

        def pack(p0, p1, b_ptr=b_ptr):
            emit_pack_runtime(k, g, b_ptr, g.n, panels, p0, p1)

        emit_blocked(k, g, a_ptr, g.k, panels, c_ptr, g.n, None, None, pack)
        k.sync()
