"""The team's barrier sleeps while it waits: a thread waiting for a late partner (at a barrier of
the whole team) or for a slow partner's claimed items (at a barrier that waits for claimed
work) spends a small fraction of the wait on the CPU, and is woken when the wait ends."""

from __future__ import annotations

import ctypes
import threading
import time

import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir

from frittata.backends.jit import Machine, host, verify
from frittata.backends.llvm.barrier import (BARRIER, STATE_OWN, STATE_WORK, THREAD_0, emit_barrier, futex_syscall,
                                            phase_word)
from frittata.backends.llvm.irutil import I32
from frittata.backends.team import barrier_state
from tests.backends.llvm.test_claimed_work import _compiled, _ThreeBufferKernel
from tests.backends.llvm.test_work_sharing import join_all

WAIT_SECONDS = 0.5
BUSY_SECONDS = 0.05
"""CPU seconds a thread may use over a WAIT_SECONDS wait: spinning through it would use most of
it, or at least its share of a core on a loaded machine (a quarter at load 8 on 2 cores)."""


def _kernel(whole_team: bool):
    """Two items taken from the counter, item 0 sleeping WAIT_SECONDS (usleep) and both
    storing ones[i] = 1; with `whole_team`, a store to a buffer after the loop makes its
    barrier wait for every thread, else it waits for the 2 items."""
    k = _ThreeBufferKernel("sleepy")
    b = k.b
    ones, marks, _ = k.buffers
    usleep = ir.Function(k.module, ir.FunctionType(I32, [I32]), name="usleep")
    with k.take(2) as i:
        first = b.icmp_signed("==", i, ir.Constant(i.type, 0))
        b.call(usleep, [b.select(first, ir.Constant(I32, int(WAIT_SECONDS * 1e6)), ir.Constant(I32, 0))])
        b.store(ir.Constant(I32, 1), b.gep(ones, [i], source_etype=I32))
    if whole_team:
        b.store(ir.Constant(I32, 1), b.gep(marks, [k.tid], source_etype=I32))
    k.sync()
    k.finish()
    claims = [int(c.args[3].constant) for block in k.function.blocks for c in block.instructions
              if isinstance(c, ir.CallInstr) and c.callee.name == BARRIER]
    assert claims == ([-1] if whole_team else [2])
    return _compiled(k)


def _timed(kernel, table: int, tid: int, state: int, cpu: dict, delay: float) -> None:
    time.sleep(delay)
    start = time.thread_time()
    kernel(table, tid, 2, state)
    cpu[tid] = time.thread_time() - start


def test_the_barrier_sleeps_on_linux():
    assert futex_syscall("x86_64-unknown-linux-gnu") == 202 and futex_syscall("aarch64-unknown-linux-gnu") == 98
    assert futex_syscall("x86_64-apple-darwin") is None and futex_syscall("wasm32-unknown-unknown") is None


def test_a_thread_waiting_for_its_partners_items_sleeps():
    """Thread 1 takes item 0 (entering first) and sleeps in it for 0.5 s; thread 0, entering 50 ms
    later, takes item 1 and waits at the barrier, for the items (claimed) or for thread 1 (whole
    team): it uses under 0.05 s of CPU, and both items are done when it passes."""
    for whole_team in (False, True):
        engine, kernel = _kernel(whole_team)
        ones, marks, spare = np.zeros(2, np.int32), np.zeros(2, np.int32), np.zeros(1, np.int32)
        table = np.array([ones.ctypes.data, marks.ctypes.data, spare.ctypes.data], np.uint64)
        state, cpu = barrier_state(), {}
        join_all([threading.Thread(target=_timed, args=(kernel, table.ctypes.data, tid, state.ctypes.data, cpu, delay))
                  for tid, delay in ((1, 0.0), (0, 0.05))])
        np.testing.assert_array_equal(ones, 1)
        assert cpu[0] < BUSY_SECONDS, f"whole team {whole_team}: thread 0 used {cpu[0]:.3f} s of CPU in its wait"
        del engine


def test_the_phase_is_the_work_words_high_half_on_either_byte_order():
    """Threads wait on the int32 half of the 64-bit work word that holds the phase, its high
    half: word 3 on little-endian machines, word 2 on big-endian ones (a cross target such as
    powerpc64, whose barrier still emits and verifies)."""
    for triple, half in (("x86_64-unknown-linux-gnu", STATE_WORK + 1), ("aarch64-unknown-linux-gnu", STATE_WORK + 1),
                         ("powerpc64-unknown-linux-gnu", STATE_WORK), ("aarch64_be-unknown-linux-gnu", STATE_WORK)):
        machine = Machine.parse(f"llvm -mtriple={triple}")
        assert phase_word(triple) == half, triple
        module = ir.Module(name="barrier")
        module.triple = triple
        emit_barrier(module, machine)
        verify(str(module), f"barrier for {triple}")


def test_a_thread_asleep_on_the_events_wakes_when_the_next_phase_starts():
    """Thread 1 at a barrier waiting for 5 claimed items, none done (as a waiter that read the
    items done just after the phase's winner zeroed them, before it stored the next phase),
    falls asleep on the events; thread 0 then starts the next phase (a THREAD_0 barrier): the
    event that start counts wakes thread 1 (no item is done again to wake it)."""
    target = host()
    module = ir.Module(name="barrier_only")
    module.triple = target.triple
    emit_barrier(module, target)
    engine = llvm.create_mcjit_compiler(verify(str(module), "barrier_only"), target.machine())
    engine.finalize_object()
    call = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32,
                            ctypes.c_int32)(engine.get_function_address(BARRIER))
    state = barrier_state()
    waiter = threading.Thread(target=call, args=(state.ctypes.data, 2, 1, 5), daemon=True)
    waiter.start()
    time.sleep(0.2)  # past SPINS: asleep on the events
    assert waiter.is_alive()
    call(state.ctypes.data, 2, 0, THREAD_0)
    waiter.join(10.0)
    assert not waiter.is_alive(), "expected the next phase's start to wake the thread asleep on the events"
    assert state[STATE_OWN] == state[STATE_OWN + 1] == 1
    del engine
