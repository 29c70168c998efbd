"""Emit the LLVM IR of a planned program: one unit per distinct kernel, and an entry unit.

    unit fk_<hash>:  void fk_<hash>(ptr table, i32 tid, i32 nthreads, ptr barrier)
    entry unit:      void frittata_run(ptr slots, i32 tid, i32 nthreads, ptr barrier):
                         table0 = {slots[s] + offset, ...}; fk_a(table0, ...); barrier(...)
                         table1 = {...};                    fk_b(table1, ...); barrier(...) ...
                     void frittata_profile(ptr slots, i32 tid, i32 nthreads, ptr barrier, ptr ns):
                         ns[0] = now(); barrier(...); ns[1] = now()
                         fk_a(table0, ...); barrier(...); ns[2] = now() ...
                     a run of solo steps (`solo`):
                         if tid == 0: fk_c(table2, 0, 1, ...); fk_d(table3, 0, 1, ...) ...
                         barrier(...)

A kernel reads its buffers' addresses from the table its call passes (`Kernel.base`), so its
text names no slot or offset: two steps with the same workload and schedule emit the same text,
named by its hash, and are compiled once. Every thread runs the same entry; each kernel does its
thread's share (chunks of items taken from the shared work counter, or a static range) and the
barrier (on the team's phase, which also starts the counter afresh) keeps the steps in order.
After a kernel whose last phase's only work is one loop taken from the counter
(`Kernel.claim_total`), the barrier waits for that loop's items to be done rather than for every
thread, and whichever thread finds them done starts the next phase: a thread the OS descheduled
(thread 0 too) holds the others up only while it holds items; one that took none skips the
phase. A *solo* step (one the cost model prices below `runtime.SOLO_STEP_SECONDS`)
runs on thread 0 alone, as a team of one, and a run of consecutive solo steps ends at one
barrier of the team: the other threads go straight to it, so small kernels (im2col's tap
slices, a pad, a pooling) pay no wake-up or barrier of their own. That barrier waits for
thread 0 alone (`barrier.THREAD_0`): the others wait for thread 0 to start the next phase, and
thread 0 passes at once, not waiting for a partner the OS descheduled (which skips the
phase). Parameters no kernel reads (weights a fast path packed) get no slot.
`frittata_profile` makes the same calls and, on thread 0, reads the monotonic clock
(`clock_gettime`, nanoseconds) on entry and after each barrier: ns[1] - ns[0] is the wait for
the team's other threads to arrive, and kernel i took ns[i + 2] - ns[i + 1]; the last kernel's
time also holds the wait for the team's other threads to finish (a barrier that waits for every
thread: a partner that came late may still be skipping phases thread 0 finished; a plain run
returns without waiting for it, `frittata.backends.team`). It is a separate function, so a
plain run pays nothing for profiling.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from llvmlite import ir

from frittata.backends.jit import ENTRY, PROFILE_ENTRY, TRACE_ENTRY, Machine
from frittata.backends.llvm.irutil import I8, I32, I64, PTR, VOID, entry_alloca, i64, if_then, intrinsic
from frittata.backends.llvm.barrier import BARRIER, BARRIER_TYPE, THREAD_0, WHOLE_TEAM, emit_barrier
from frittata.backends.llvm.kernel import KERNEL_TYPE, Kernel
from frittata.backends.llvm.lower import lower_step
from frittata.backends.llvm.plan import Plan, Step

CLOCK_MONOTONIC = 1
"""Linux's clock id of `clock_gettime(CLOCK_MONOTONIC, ...)`."""
PLACEHOLDER = "kernel"
UNIT_MARK = "; unit "


@dataclass(frozen=True)
class Call:
    """One step of the program: the kernel unit it calls and the (slot, offset) of each table entry."""

    step: str
    symbol: str
    buffers: tuple[tuple[int, int], ...]
    emit_seconds: float
    solo: bool = False
    """Run on thread 0 alone (see the module docstring)."""
    claim_total: int | None = None
    """The kernel's `Kernel.claim_total`: the barrier after it waits for that many items done."""


@dataclass
class Emitted:
    """The program's units: `kernels` (symbol -> IR text, each distinct kernel once), the calls in
    program order, the entry unit's IR, and the parameters the kernels read (runtime slot order)."""

    kernels: dict[str, str]
    calls: list[Call]
    entry: str
    params: list[str]

    def units(self) -> dict[str, str]:
        """Every unit's IR by name: "entry", then the kernels."""
        return {"entry": self.entry} | self.kernels

    def text(self) -> str:
        """All units, each after a line `; unit NAME` (what a reader or a snapshot looks at)."""
        return "".join(f"{UNIT_MARK}{name}\n{text}" for name, text in self.units().items())


def split_units(text: str) -> dict[str, str]:
    """The units of an `Emitted.text()`, by name."""
    parts = text.split(UNIT_MARK)[1:]
    return {part.split("\n", 1)[0]: part.split("\n", 1)[1] for part in parts}


def step_name(index: int, step: Step) -> str:
    """The name of the `index`th step of a plan: k<index>_<op>, `_copy` for an output copy."""
    return f"k{index}_{step.term.op.value}" + ("_copy" if step.copy_of else "")


def emit_module(plan: Plan, target: Machine, name: str = "frittata",
                on_kernel: Callable[[str, str, Step], None] | None = None,
                solo: Sequence[bool] = (), trace: bool = False) -> Emitted:
    """The units of `plan`; `on_kernel(symbol, text, step)` is told of each distinct kernel as
    soon as it is emitted (the build compiles it while the next ones are emitted); `solo[i]`
    says step i runs on thread 0 alone (missing: no); `trace` adds `frittata_trace`."""
    kernels: dict[str, str] = {}
    calls = []
    for index, step in enumerate(plan.steps):
        start = time.perf_counter()
        label = step_name(index, step)
        module = ir.Module(name=PLACEHOLDER)
        module.triple = target.triple
        kernel = Kernel(module, label, target.lanes, ir.Function(module, BARRIER_TYPE, name=BARRIER),
                        byte_quads=target.byte_quads)
        lower_step(kernel, plan, step)
        kernel.finish()
        symbol, text = _named_by_hash(kernel.text(), label)
        if symbol not in kernels:
            kernels[symbol] = text
            if on_kernel is not None:
                on_kernel(symbol, text, step)
        calls.append(Call(label, symbol, tuple(kernel.buffers), time.perf_counter() - start,
                          index < len(solo) and solo[index], kernel.claim_total))
    slots, params = _compact_slots(plan, calls)
    return Emitted(kernels, calls, _emit_entry(name, target, calls, slots, trace), params)


def _named_by_hash(text: str, step_name: str) -> tuple[str, str]:
    """The kernel's symbol (a hash of its text with its own names taken out) and its text under it."""
    neutral = text.replace(f'@"{step_name}', f'@"{PLACEHOLDER}')
    symbol = "fk_" + hashlib.sha256(neutral.encode()).hexdigest()[:24]
    return symbol, neutral.replace(f'@"{PLACEHOLDER}', f'@"{symbol}')


def _compact_slots(plan: Plan, calls: list[Call]) -> tuple[dict[int, int], list[str]]:
    """Runtime slot of each plan slot: arena, inputs and outputs keep theirs; parameters that some
    kernel reads are numbered after them in plan order, the others are dropped."""
    first = 1 + len(plan.inputs) + len(plan.outputs)
    read = {slot for call in calls for slot, _ in call.buffers}
    names = list(plan.params)
    used = [slot for slot in range(first, first + len(names)) if slot in read]
    slots = {slot: slot for slot in range(first)} | {slot: first + i for i, slot in enumerate(used)}
    return slots, [names[slot - first] for slot in used]


def _emit_entry(name: str, target: Machine, calls: list[Call], slots: dict[int, int], trace: bool = False) -> str:
    """The entry unit: `frittata_run`, and (except on WebAssembly, which has no clock to call)
    `frittata_profile` timing each call, and with `trace` `frittata_trace`."""
    module = ir.Module(name=name)
    module.triple = target.triple
    barrier = emit_barrier(module, target)
    entry = ir.Function(module, ir.FunctionType(VOID, [PTR, I32, I32, PTR]), name=ENTRY)
    b = ir.IRBuilder(entry.append_basic_block("entry"))
    _emit_calls(b, calls, slots, barrier, entry.args, lambda index: None)
    b.ret_void()
    if target.arch.startswith("wasm"):
        return str(module)
    profile = ir.Function(module, ir.FunctionType(VOID, [PTR, I32, I32, PTR, PTR]), name=PROFILE_ENTRY)
    b = ir.IRBuilder(profile.append_basic_block("entry"))
    stamp = _clock_stamp(b, profile.args[1], profile.args[4])
    stamp(0)
    b.call(barrier, [profile.args[3], profile.args[2], profile.args[1], ir.Constant(I32, WHOLE_TEAM)])
    stamp(1)

    def after(index: int) -> None:
        if index == len(calls) - 1:  # wait for the team
            b.call(barrier, [profile.args[3], profile.args[2], profile.args[1], ir.Constant(I32, WHOLE_TEAM)])
        stamp(index + 2)

    _emit_calls(b, calls, slots, barrier, profile.args[:4], after)
    b.ret_void()
    if trace:
        _emit_trace(module, barrier, calls, slots)
    return str(module)


def team_phases(calls: Sequence[Call]) -> list[str]:
    """The steps of each phase the team's barriers end, in order: one step's name, or the names
    of a run of solo steps joined by "+"."""
    phases: list[str] = []
    for index, call in enumerate(calls):
        if index and call.solo and calls[index - 1].solo:
            phases[-1] += "+" + call.step
        else:
            phases.append(call.step)
    return phases


def _emit_trace(module: ir.Module, barrier: ir.Function, calls: list[Call], slots: dict[int, int]) -> None:
    """`frittata_trace(slots, tid, n, state, ns)`: `frittata_run`'s calls, with every thread
    reading the monotonic clock into its row of ns (`TRACE_WIDTH` int64s per phase plus two):
    on entry, on arriving at and on leaving each barrier of the team, and on return."""
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, I32, I32, PTR, PTR]), name=TRACE_ENTRY)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    phases = len(team_phases(calls))
    stamp = _clock_stamp(b, fn.args[1], fn.args[4], row=2 + 2 * phases)
    ends = [i for i, call in enumerate(calls) if i + 1 == len(calls) or not (call.solo and calls[i + 1].solo)]
    ordinal = {index: phase for phase, index in enumerate(ends)}
    stamp(0)
    _emit_calls(b, calls, slots, barrier, fn.args[:4], lambda i: stamp(2 + 2 * ordinal[i]) if i in ordinal else None,
                arrive=lambda i: stamp(1 + 2 * ordinal[i]))
    stamp(1 + 2 * phases)
    b.ret_void()


def _emit_calls(b: ir.IRBuilder, calls: list[Call], slots: dict[int, int], barrier: ir.Function,
                args, after, arrive=lambda index: None) -> None:
    """Each call: fill its table from the slots, call its kernel, `arrive(i)`, wait at the
    barrier, `after(i)`; a run of solo calls on thread 0 alone (a team of one, `after(i)` after
    each but the last), then `arrive(i)` and one barrier of the team that waits for thread 0
    alone (THREAD_0), then `after(i)` (i: the run's last call)."""
    _, tid, nthreads, state = args
    one, whole = ir.Constant(I32, 1), ir.Constant(I32, WHOLE_TEAM)
    index = 0
    while index < len(calls):
        if not calls[index].solo:
            _emit_call(b, calls[index], slots, args, nthreads)
            claimed = calls[index].claim_total
            arrive(index)
            b.call(barrier, [state, nthreads, tid, whole if claimed is None else ir.Constant(I32, claimed)])
            after(index)
            index += 1
            continue
        end = index
        while end < len(calls) and calls[end].solo:
            end += 1
        with if_then(b, b.icmp_signed("==", tid, ir.Constant(I32, 0)), "solo"):
            for i in range(index, end):
                _emit_call(b, calls[i], slots, args, one)
                b.call(barrier, [state, one, tid, whole])
                if i < end - 1:
                    after(i)
        arrive(end - 1)
        b.call(barrier, [state, nthreads, tid, ir.Constant(I32, THREAD_0)])
        after(end - 1)
        index = end


def _emit_call(b: ir.IRBuilder, call: Call, slots: dict[int, int], args, nthreads: ir.Value) -> None:
    """Fill the call's table (an entry-block alloca: the call may sit in a solo run's branch)
    from the slots and call its kernel as a team of `nthreads`."""
    table_arg, tid, _, state = args
    callee = b.module.globals.get(call.symbol) or ir.Function(b.module, KERNEL_TYPE, name=call.symbol)
    table = entry_alloca(b, PTR, call.step, max(1, len(call.buffers)))
    for i, (slot, offset) in enumerate(call.buffers):
        base = b.load(b.gep(table_arg, [i64(slots[slot])], source_etype=PTR, inbounds=True), typ=PTR, align=8)
        address = b.gep(base, [i64(offset)], source_etype=I8, inbounds=True)
        b.store(address, b.gep(table, [i64(i)], source_etype=PTR, inbounds=True))
    b.call(callee, [table, tid, nthreads, state])


def _clock_stamp(b: ir.IRBuilder, tid: ir.Value, ns: ir.Value, row: int | None = None):
    """A function `stamp(k)` emitting: on thread 0, ns[k] = the monotonic clock in nanoseconds;
    with `row`, on every thread, ns[tid * row + k]."""
    timespec = ir.LiteralStructType([I64, I64])
    clock = intrinsic(b.module, "clock_gettime", I32, [I32, PTR])
    now = b.alloca(timespec, name="now")

    def read(k: int) -> None:
        b.call(clock, [ir.Constant(I32, CLOCK_MONOTONIC), now])
        seconds = b.load(b.gep(now, [ir.Constant(I32, 0), ir.Constant(I32, 0)], source_etype=timespec), typ=I64)
        nanos = b.load(b.gep(now, [ir.Constant(I32, 0), ir.Constant(I32, 1)], source_etype=timespec), typ=I64)
        at = i64(k) if row is None else b.add(b.mul(b.zext(tid, I64), i64(row)), i64(k))
        b.store(b.add(b.mul(seconds, i64(1_000_000_000)), nanos), b.gep(ns, [at], source_etype=I64, inbounds=True))

    def stamp(k: int) -> None:
        if row is not None:
            read(k)
            return
        with if_then(b, b.icmp_signed("==", tid, ir.Constant(I32, 0)), "stamp"):
            read(k)

    return stamp
