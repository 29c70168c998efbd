"""The native side of a thread team: helpers wait for runs in native code, thread 0 posts them.

A team's control block is int32 words (`CONTROL_WORDS`): a run's generation, which helpers
sleep on; counts of helper runs started and finished; the posted job (its kind, the entry's
address, an extra argument, the slots and the team state); and from `CONTROL_SEEN` on each
helper's last generation seen. Four functions, compiled once per process (`team_loop`):

    i32  frittata_serve(ptr control, i32 tid, i32 n)  a helper's loop: wait for a new generation,
         count it started, run it (the entry, or the profiling entry with its extra argument),
         count it finished; return its kind when it is a job for Python (`PYTHON`) or `STOP`
    void frittata_post(ptr control, i32 n, i32 kind, i64 entry, i64 extra, i64 slots, i64 state)
         thread 0: wait until every helper has started the last job, post this one and wake
         them, then run a native job's entry itself (tid 0); returns without waiting for the
         helpers to finish
    void frittata_settle(ptr control, i32 n)  wait until every helper has finished every job
    void frittata_finished(ptr control)       a helper's count of a Python job finished

A helper the OS descheduled therefore delays a run's start only when it has not yet started the
previous run, and never its end: the team's barriers let thread 0 pass the phases whose work is
claimed without it, and a helper that comes late to them takes nothing (the barrier's words,
`frittata.backends.llvm.barrier`). Waits spin, then sleep on a futex (`barrier.wait_while`).
"""

from __future__ import annotations

import ctypes
from functools import cache

from llvmlite import binding as llvm
from llvmlite import ir

from frittata.backends.jit import MAX_THREADS, PROFILE, PYTHON, host, verify
from frittata.backends.llvm.barrier import int32_at, wait_while, wake_sleepers
from frittata.backends.llvm.irutil import I32, I64, PTR, VOID, i64, if_then

GENERATION, SLEEPERS, STARTED, FINISHED, WAITING, KIND = 0, 1, 2, 3, 4, 5
"""Control words: the job's generation; helpers asleep on it; helper runs started and finished
(each helper counts one per job); thread 0 asleep on either count; the job's kind."""
ENTRY, EXTRA, SLOTS, STATE = 8, 10, 12, 14
"""Control words of the job's 64-bit fields (8-byte aligned pairs)."""
CONTROL_SEEN = 16
CONTROL_WORDS = CONTROL_SEEN + MAX_THREADS
ENTRY_FN = ir.FunctionType(VOID, [PTR, I32, I32, PTR])
PROFILE_FN = ir.FunctionType(VOID, [PTR, I32, I32, PTR, PTR])
SERVE_TYPE = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32)
POST_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_int64, ctypes.c_int64,
                             ctypes.c_int64, ctypes.c_int64)
SETTLE_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32)
FINISHED_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class TeamLoop:
    """The compiled functions (ctypes, which release the GIL around each call)."""

    def __init__(self) -> None:
        target = host()
        self._engine = llvm.create_mcjit_compiler(verify(emit_team_loop(), "team loop"), target.machine())
        self._engine.finalize_object()
        address = self._engine.get_function_address
        self.serve = SERVE_TYPE(address("frittata_serve"))
        self.post = POST_TYPE(address("frittata_post"))
        self.settle = SETTLE_TYPE(address("frittata_settle"))
        self.finished = FINISHED_TYPE(address("frittata_finished"))


@cache
def team_loop() -> TeamLoop:
    """The team's native functions, compiled once per process."""
    return TeamLoop()


def emit_team_loop() -> str:
    """The IR text of the module defining the functions of the module docstring."""
    module = ir.Module(name="team")
    module.triple = host().triple
    _emit_serve(module)
    _emit_post(module)
    settle = ir.Function(module, ir.FunctionType(VOID, [PTR, I32]), name="frittata_settle")
    b = ir.IRBuilder(settle.append_basic_block("entry"))
    _wait_for_helpers(b, settle.args[0], settle.args[1], FINISHED)
    b.ret_void()
    finished = ir.Function(module, ir.FunctionType(VOID, [PTR]), name="frittata_finished")
    b = ir.IRBuilder(finished.append_basic_block("entry"))
    _count(b, finished.args[0], FINISHED)
    b.ret_void()
    return str(module)


def _count(b: ir.IRBuilder, control: ir.Value, which: int) -> None:
    """Count one helper run in word `which` (STARTED or FINISHED) and wake thread 0 if it sleeps."""
    b.atomic_rmw("add", int32_at(b, control, which), ir.Constant(I32, 1), "seq_cst")
    wake_sleepers(b, int32_at(b, control, which), int32_at(b, control, WAITING))


def _wait_for_helpers(b: ir.IRBuilder, control: ir.Value, n: ir.Value, which: int) -> None:
    """Wait until word `which` counts (n - 1) helper runs per generation posted."""
    generation = b.load_atomic(int32_at(b, control, GENERATION), "acquire", 4, typ=I32)
    expected = b.mul(generation, b.sub(n, ir.Constant(I32, 1)))
    wait_while(b, host(), int32_at(b, control, which), lambda seen: b.icmp_signed("!=", seen, expected),
               int32_at(b, control, WAITING))


def _field(b: ir.IRBuilder, control: ir.Value, index: int) -> ir.Value:
    return b.load(b.gep(control, [i64(index)], source_etype=I32), typ=I64, align=8)


def _read_job(b: ir.IRBuilder, control: ir.Value) -> tuple[ir.Value, ...]:
    """The posted job's entry address, slots, state and extra argument (read before the helper
    counts the job started: thread 0 may post the next job over them once every helper has)."""
    entry = _field(b, control, ENTRY)
    return (entry, *(b.inttoptr(_field(b, control, i), PTR) for i in (SLOTS, STATE, EXTRA)))


def _call_entry(b: ir.IRBuilder, job: tuple[ir.Value, ...], kind: ir.Value, tid: ir.Value, n: ir.Value) -> None:
    """Call the job's entry (or the profiling entry with its extra argument) as thread `tid`
    (an indirect call: the entry's address cast to a pointer of the function's type)."""
    entry, slots, state, extra = job
    with b.if_else(b.icmp_signed("==", kind, ir.Constant(I32, PROFILE))) as (profile, plain):
        with profile:
            b.call(b.inttoptr(entry, PROFILE_FN.as_pointer()), [slots, tid, n, state, extra])
        with plain:
            b.call(b.inttoptr(entry, ENTRY_FN.as_pointer()), [slots, tid, n, state])


def _emit_serve(module: ir.Module) -> None:
    """frittata_serve. Blocks: entry ─► wait (for a generation past the helper's seen one) ─►
    job ─(Python or stop)─► return kind; job ─► run ─► wait."""
    fn = ir.Function(module, ir.FunctionType(I32, [PTR, I32, I32]), name="frittata_serve")
    control, tid, n = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    seen_at = int32_at(b, control, b.add(tid, ir.Constant(I32, CONTROL_SEEN)))
    loop, done = fn.append_basic_block("serve.wait"), fn.append_basic_block("serve.python")
    b.branch(loop)
    b.position_at_end(loop)
    seen = b.load(seen_at, typ=I32, align=4)
    wait_while(b, host(), int32_at(b, control, GENERATION), lambda now: b.icmp_signed("==", now, seen),
               int32_at(b, control, SLEEPERS))
    b.store(b.add(seen, ir.Constant(I32, 1)), seen_at, align=4)
    kind = b.load(int32_at(b, control, KIND), typ=I32, align=4)
    ours = b.icmp_signed("<", kind, ir.Constant(I32, PYTHON))
    with if_then(b, ours, "serve.run"):
        job = _read_job(b, control)
        _count(b, control, STARTED)
        _call_entry(b, job, kind, tid, n)
        _count(b, control, FINISHED)
    b.cbranch(ours, loop, done)
    b.position_at_end(done)
    _count(b, control, STARTED)
    b.ret(kind)


def _emit_post(module: ir.Module) -> None:
    """frittata_post: wait for the helpers to start the last job, store the job's fields, then
    its generation (sequentially consistent, before the read of the sleepers), wake the helpers
    and run a native job's entry as thread 0."""
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, I32, I32, I64, I64, I64, I64]), name="frittata_post")
    control, n, kind, entry, extra, slots, state = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    _wait_for_helpers(b, control, n, STARTED)
    b.store(kind, int32_at(b, control, KIND), align=4)
    for index, value in ((ENTRY, entry), (EXTRA, extra), (SLOTS, slots), (STATE, state)):
        b.store(value, b.gep(control, [i64(index)], source_etype=I32), align=8)
    b.atomic_rmw("add", int32_at(b, control, GENERATION), ir.Constant(I32, 1), "seq_cst")
    wake_sleepers(b, int32_at(b, control, GENERATION), int32_at(b, control, SLEEPERS))
    with if_then(b, b.icmp_signed("<", kind, ir.Constant(I32, PYTHON)), "lead"):
        _call_entry(b, _read_job(b, control), kind, ir.Constant(I32, 0), n)
    b.ret_void()
