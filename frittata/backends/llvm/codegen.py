"""Emit the LLVM module of a planned program: one kernel per step, a barrier, one entry point.

    void frittata_run(ptr slots, i32 tid, i32 nthreads, ptr barrier):
        k0(slots, tid, nthreads); barrier(...); k1(...); barrier(...); ...

Every thread runs the same entry; each kernel does its thread's share and the barrier (a
sense-counting spin barrier on {count, generation}) keeps the steps in order.
"""

from __future__ import annotations

from llvmlite import ir

from frittata.backends.jit import ENTRY, HostTarget
from frittata.backends.llvm.irutil import I32, PTR, VOID, i64, if_then, intrinsic
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.lower import lower_step
from frittata.backends.llvm.plan import Plan

SPINS = 2000


def emit_module(plan: Plan, target: HostTarget, name: str = "frittata") -> ir.Module:
    module = ir.Module(name=name)
    module.triple = target.triple
    barrier = _emit_barrier(module)
    kernels = []
    for index, step in enumerate(plan.steps):
        name = f"k{index}_{step.term.op.value}" + ("_copy" if step.copy_of else "")
        kernel = Kernel(module, name, target.lanes, barrier)
        lower_step(kernel, plan, step)
        kernels.append(kernel.finish())
    _emit_entry(module, kernels, barrier)
    return module


def _emit_entry(module: ir.Module, kernels: list[ir.Function], barrier: ir.Function) -> None:
    entry = ir.Function(module, ir.FunctionType(VOID, [PTR, I32, I32, PTR]), name=ENTRY)
    slots, tid, nthreads, state = entry.args
    b = ir.IRBuilder(entry.append_basic_block("entry"))
    for kernel in kernels:
        b.call(kernel, [slots, tid, nthreads, state])
        b.call(barrier, [state, nthreads])
    b.ret_void()


def _emit_barrier(module: ir.Module) -> ir.Function:
    """Blocks: entry ─(n > 1)─► arrive ─(last)─► release ─► done; arrive ─► spin ⟲ ─► done."""
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, I32]), name="frittata_barrier")
    fn.linkage = "internal"
    state, n = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    count, generation = state, b.gep(state, [i64(1)], source_etype=I32)
    with if_then(b, b.icmp_signed(">", n, ir.Constant(I32, 1)), "parallel"):
        seen = b.load_atomic(generation, "acquire", 4, typ=I32)
        arrived = b.atomic_rmw("add", count, ir.Constant(I32, 1), "acq_rel")
        last = b.icmp_signed("==", arrived, b.sub(n, ir.Constant(I32, 1)))
        with b.if_else(last) as (release, wait):
            with release:
                b.atomic_rmw("xchg", count, ir.Constant(I32, 0), "monotonic")
                b.atomic_rmw("add", generation, ir.Constant(I32, 1), "release")
            with wait:
                _spin_until_changed(b, generation, seen)
    b.ret_void()
    return fn


def _spin_until_changed(b: ir.IRBuilder, generation: ir.Value, seen: ir.Value) -> None:
    """Blocks: spin ─(same generation)─► spin; spin ─► out. After SPINS pauses each round also
    yields the CPU (sched_yield), so a descheduled partner on a busy machine is not starved."""
    pre = b.block
    spin = b.append_basic_block("spin")
    out = b.append_basic_block("spin.out")
    b.branch(spin)
    b.position_at_end(spin)
    rounds = b.phi(I32, name="rounds")
    rounds.add_incoming(ir.Constant(I32, 0), pre)
    b.call(intrinsic(b.module, "llvm.x86.sse2.pause", VOID, []), [])
    with if_then(b, b.icmp_signed(">", rounds, ir.Constant(I32, SPINS)), "yield"):
        b.call(intrinsic(b.module, "sched_yield", I32, []), [])
    rounds.add_incoming(b.add(rounds, ir.Constant(I32, 1)), b.block)
    now = b.load_atomic(generation, "acquire", 4, typ=I32)
    b.cbranch(b.icmp_signed("==", now, seen), spin, out)
    b.position_at_end(out)
