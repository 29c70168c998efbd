"""Fast path for batched float32 matmul whose right operand is an activation (attention).

`matmul(a[B..., M, K], b[B..., K, N])` with the same batch axes on both sides runs the
packed GEMM of `gemm` once per batch item: the threads pack b[i]'s panels into the scratch
buffer at run time and run the register-blocked micro-kernel over them, sharing both out from
the team's work counter. A barrier ends each item: it zeroes the counter the next item's work is
taken from, and the next item's panels overwrite the scratch.

    for i < prod(B):   pack b[i] (shared);  barrier;  blocked GEMM  c[i] = a[i] · b[i] (shared);  barrier

With several batch items whose packed b[i] fits `STACK_PANEL_BYTES` (attention's heads: 4 items
of 64 x 128 or 128 x 64), the threads take whole items from the work counter instead, each
packing b[i] into panels on its own stack and running the GEMM alone (`by_items`):

    for i taken from the counter:   pack b[i] (this thread);  GEMM  c[i] = a[i] · b[i] (this thread)

one barrier after the last item rather than two per item, and no scratch in the arena. (A
transformer block's per-head GEMMs, 128 x 128 x 64, are ~20 us of one thread's work: split over
two threads with two barriers each, the two attention matmuls took 52 and 55 us at two threads
where one thread ran them in 91 us, AMD EPYC Zen 3.)
"""

from __future__ import annotations

import dataclasses
import math

from frittata.backends.llvm.gemm import Gemm, emit_blocked, emit_pack_runtime
from frittata.backends.llvm.irutil import F32, PTR, entry_alloca, i64
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.plan import Step
from frittata.backends.llvm.views import View


STACK_PANEL_BYTES = 32 * 1024
"""The largest packed b[i] a thread packs on its own stack (`by_items`): an attention head's
(64 x 128 or 128 x 64 floats), far below a thread's stack (8 MiB by default on Linux) and half of
wasm-ld's default stack (64 KiB); with its a[i] and c[i], an L2-resident working set."""


def by_items(batch: int, g: Gemm) -> bool:
    """Whether the threads take whole batch items (see the module docstring)."""
    return batch >= 2 and panel_bytes(g) <= STACK_PANEL_BYTES


def panel_bytes(g: Gemm) -> int:
    """Bytes of one batch item's b packed into panels (zero-padded to whole panels)."""
    return g.panels * g.nr * g.k * 4


def scratch_bytes(batch: int, g: Gemm) -> int:
    """Arena scratch of the batched GEMM: one item's packed b when the threads share each item."""
    return 0 if by_items(batch, g) else panel_bytes(g)


def lower(k: Kernel, step: Step, args: list[View], g: Gemm) -> None:
    """Emit the batched GEMM `g` (one batch item's sizes and blocking) for `step`."""
    t = step.term
    b = k.b
    if by_items(math.prod(t.shape[:-2]), g):
        _lower_by_items(k, step, args, g)
        return
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


def _lower_by_items(k: Kernel, step: Step, args: list[View], g: Gemm) -> None:
    """Each thread takes whole batch items: packs b[i] on its stack and runs c[i] = a[i] · b[i]."""
    b = k.b
    alone = dataclasses.replace(g, split="serial")
    a_base, b_base, c_base = k.base(args[0].buf), k.base(args[1].buf), k.base(step.out)
    panels = entry_alloca(b, F32, "panels", panel_bytes(g) // 4)
    panels.align = 64
    panels.type = PTR  # an opaque pointer, as the table's buffers: vector stores through it type-check
    with k.take(math.prod(step.term.shape[:-2]), name="item") as i:
        a_ptr = b.gep(a_base, [b.mul(i, i64(g.m * g.k))], source_etype=F32)
        b_ptr = b.gep(b_base, [b.mul(i, i64(g.k * g.n))], source_etype=F32)
        c_ptr = b.gep(c_base, [b.mul(i, i64(g.m * g.n))], source_etype=F32)
        emit_pack_runtime(k, alone, b_ptr, g.n, panels, i64(0), i64(g.panels))
        emit_blocked(k, alone, a_ptr, g.k, panels, c_ptr, g.n, None, None)
