"""A barrier that waits for claimed work: after a phase whose only work is one loop taken from the
counter, every thread passes once the items are done, and a partner that comes late skips the phase
(it takes nothing of it, nor of a later phase). Runs on teams of 1, 2 and 3 threads, with a
thread entering late at several delays, equal the one-thread run bit for bit."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from llvmlite import binding as llvm
from llvmlite import ir

import frittata as ft
from frittata import terms as T
from frittata.backends.llvm import build
from frittata.backends.jit import ENTRY, host
from frittata.backends.llvm.barrier import BARRIER, BARRIER_TYPE, WHOLE_TEAM, emit_barrier
from frittata.backends.llvm.codegen import Call, _emit_entry
from frittata.backends.llvm.irutil import I32, I64, PTR, entry_alloca, for_range, i64, if_then
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.team import barrier_state
from tests.backends.llvm.helpers import rand, targets
from tests.backends.llvm.test_work_sharing import KERNEL, _count_chunks, _run_team, join_all, within_team_timeout


def _kernel() -> Kernel:
    module = ir.Module(name="kernel")
    module.triple = "x86_64-unknown-linux-gnu"
    return Kernel(module, "k", 8, ir.Function(module, BARRIER_TYPE, name=BARRIER))


def _store_outside(k: Kernel) -> None:
    k.b.store(ir.Constant(I32, 1), k.b.load(k.table, typ=PTR))


def _store_on_stack(k: Kernel) -> None:
    k.b.store(ir.Constant(I32, 1), k.b.gep(entry_alloca(k.b, I32, "scratch", 4), [i64(1)], source_etype=I32))


def _take_under_branch(k: Kernel) -> None:
    with if_then(k.b, k.b.icmp_signed("==", k.tid, ir.Constant(I32, 0)), "maybe"):
        with k.take(10):
            pass


def _load_outside(k: Kernel) -> None:
    k.b.load(k.b.load(k.table, typ=PTR), typ=I32)


def _load_on_stack_and_table(k: Kernel) -> None:
    k.b.load(k.b.gep(entry_alloca(k.b, I32, "scratch", 4), [i64(1)], source_etype=I32), typ=I32)
    k.b.load(k.b.gep(k.table, [i64(2)], source_etype=PTR), typ=PTR)


def _take(k: Kernel) -> None:
    with k.take(10) as i:
        k.b.store(ir.Constant(I32, 1), k.b.gep(k.b.load(k.table, typ=PTR), [i], source_etype=I32))


@pytest.mark.parametrize("emit, claim", [
    (lambda k: _take(k), 10),
    (lambda k: None, 0),
    (lambda k: (_store_on_stack(k), _take(k), _store_on_stack(k)), 10),
    (lambda k: (_load_on_stack_and_table(k), _take(k)), 10),
    (lambda k: (_take(k), _store_outside(k)), None),
    (lambda k: (_load_outside(k), _take(k)), None),
    (lambda k: (_take(k), _load_outside(k)), None),
    (lambda k: (_store_outside(k), _take(k)), None),
    (_take_under_branch, None),
    (lambda k: (k.split(10), _take(k)), None),
    (lambda k: k.b.call(k.splice(ir.FunctionType(ir.VoidType(), []), "f", "define void @f() {\nret void\n}"), []),
     None),
])
def test_a_phase_claims_its_items_only_when_nothing_else_in_it_is_shared(emit, claim):
    """One loop taken from the counter and only stack writes outside it: the barrier after the
    phase may wait for its items (0 when it has none). A store to memory outside the loop, a
    load of a buffer there (a late thread would read it while the team is phases ahead, after a
    later phase rewrote it), a branch around it, a static share or a call: it waits for every
    thread."""
    k = _kernel()
    emit(k)
    k.finish()
    assert k.claim_total == claim


def test_each_barrier_of_a_kernel_gets_its_own_phases_claim():
    """take | sync | store outside, take | sync | take: the first barrier waits for 10 items, the
    second for every thread, and the kernel's last phase claims 30. In a loop of passes, whose
    branch could run the take again before the barrier, no barrier claims (nor the one after
    the loop: its phase starts inside the loop)."""
    k = _kernel()
    with k.take(10):
        pass
    k.sync()
    _store_outside(k)
    with k.take(20):
        pass
    k.sync()
    with k.take(30):
        pass
    k.finish()
    calls = [i for block in k.function.blocks for i in block.instructions
             if isinstance(i, ir.CallInstr) and i.callee.name == BARRIER]
    assert [int(c.args[3].constant) for c in calls] == [10, WHOLE_TEAM] and k.claim_total == 30
    k = _kernel()
    with k.repeat(3):
        with k.take(10):
            pass
        k.sync()
    k.finish()
    assert [int(i.args[3].constant) for b in k.function.blocks for i in b.instructions
            if isinstance(i, ir.CallInstr) and i.callee.name == BARRIER] == [WHOLE_TEAM] and k.claim_total is None


def _phased_kernels(totals) -> tuple[object, dict]:
    """Per total, a kernel of three phases, each counting its chunks (`_count_chunks`) and each
    ended by a barrier that waits for claimed work (the kernel's last by its caller's: none here)."""
    machine = host()
    module = ir.Module(name="phased")
    module.triple = machine.triple
    barrier = emit_barrier(module, machine)
    for total in totals:
        k = Kernel(module, f"phased_{total}", 8, barrier)
        for phase in range(3):
            if phase:
                k.sync()
            _count_chunks(k, total, True)
        k.finish()
        assert k.claim_total == total
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(str(module)), machine.machine())
    engine.finalize_object()
    return engine, {t: KERNEL(engine.get_function_address(f"phased_{t}")) for t in totals}


def test_a_thread_entering_after_the_others_returned_takes_nothing_of_any_phase():
    """Three phases whose barriers wait for claimed work, on teams of 2 and 3: the others finish
    every phase without the last thread (which enters only after they have returned), each item
    of each phase runs once, and the late thread takes no chunk (of its phases, long finished,
    nor of any other)."""
    engine, kernels = _phased_kernels((1, 40, 97))
    for total, kernel in kernels.items():
        for threads in (2, 3):
            for late in (threads - 1, None):
                hits, chunks, claimed = _run_team(kernel, total, threads, late=late)
                np.testing.assert_array_equal(hits, 3, err_msg=f"total {total}, {threads} threads")
                assert claimed == 3 * total
                assert late is None or chunks[late] == 0
    del engine


def _program() -> ft.Program:
    """Batch 1 (one pass per convolution, so every phase is straight code): a depthwise and a
    pointwise convolution, a 3x3 one, pooling, concat, elementwise ops, a dense layer, softmax."""
    x = T.var("x", (1, 16, 20, 20))
    dw = T.fused_conv2d(x, T.param("wd", rand((16, 1, 3, 3), seed=1)), T.param("bd", rand((16,), seed=2)),
                        pads=(1, 1, 1, 1), groups=16, epilogue=(("clip", 0.0, 6.0),))
    pw = T.fused_conv2d(dw, T.param("wp", rand((24, 16, 1, 1), seed=3)), T.param("bp", rand((24,), seed=4)),
                        epilogue=(("relu",),))
    c3 = T.fused_conv2d(pw, T.param("w3", rand((16, 24, 3, 3), seed=7)), T.param("b3", rand((16,), seed=8)),
                        pads=(1, 1, 1, 1), epilogue=(("relu",),))
    pooled = T.max_pool2d(c3, kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1))
    both = T.concat(pooled, T.tanh(T.max_pool2d(x, kernel=(2, 2), strides=(2, 2))), axis=1)
    features = T.reshape(T.global_avg_pool(both), (1, 32))
    return ft.Program({"y": T.softmax(T.dense(features, T.param("wf", rand((10, 32), seed=5)))), "c": both})


def _late(mod: ft.Module, tid: int, delay: float, log: list, watch: int = 0):
    """The module's entry point; thread `tid` enters after `delay` seconds. `log` gets (event,
    time) for thread `watch`'s return and the late thread's entry."""
    entry = mod._engine.entry

    def run(slots, thread, n, barrier):
        if thread == tid:
            time.sleep(delay)
            log.append(("late enters", time.perf_counter()))
        entry(slots, thread, n, barrier)
        if thread == watch:
            log.append((f"thread {watch} returns", time.perf_counter()))

    return run


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
@within_team_timeout
def test_runs_with_late_threads_equal_one_thread(isa):
    """Teams of 2 and 3 threads (3 on this 2-core machine are descheduled in turn), the last
    thread entering late by 0 to 30 ms, 20 runs each: every run equals the one-thread module bit
    for bit and the interpreter; with a 30 ms delay thread 0 finishes the whole run before the
    late thread enters (every barrier waits for claimed work, none for the thread)."""
    target, program = targets()[isa], _program()
    one = build(program, threads=1, target=target)
    x = rand((1, 16, 20, 20), seed=6)
    want, exact = ft.evaluate(program, {"x": x}), one(x=x)
    for name in want:  # float32 sums of terms up to ~90: the error scales with the largest value
        atol = 1e-6 * float(np.abs(want[name]).max())
        np.testing.assert_allclose(exact[name], want[name], rtol=1e-5, atol=atol, err_msg=name)
    for threads in (2, 3):
        mod = build(program, threads=threads, target=target)
        assert mod.team_threads == threads and all(step["claims"] for step in mod.steps), mod.steps
        for run in range(20):
            delay = (0.0, 1e-4, 1e-3, 3e-2)[run % 4] if run % 5 else 0.0
            log: list = []
            got = mod._native(mod._checked({"x": x}), _late(mod, threads - 1, delay, log))
            for name in want:
                np.testing.assert_array_equal(got[name], exact[name], err_msg=f"{name}, {threads} threads, {delay}")
            if delay == 3e-2:
                assert [event for event, _ in sorted(log, key=lambda e: e[1])] == ["thread 0 returns", "late enters"]
        np.testing.assert_array_equal(mod(x=x)["y"], exact["y"])


@within_team_timeout
def test_a_late_thread_0_finds_the_run_done_by_its_partner():
    """Every barrier waits for claimed work (no solo steps): with thread 0 entering 30 ms late,
    thread 1 starts every phase itself and returns before thread 0 enters (were only thread 0 to
    start a phase after claimed work, thread 1 would wait for it at the first barrier); every run
    equals the one-thread module bit for bit."""
    program = _program()
    x = rand((1, 16, 20, 20), seed=6)
    exact = build(program, threads=1)(x=x)
    mod = build(program, threads=2)
    assert all(step["claims"] and not step["solo"] for step in mod.steps)
    for delay in (0.0, 1e-3, 3e-2, 3e-2):
        log: list = []
        got = mod._native(mod._checked({"x": x}), _late(mod, 0, delay, log, watch=1))
        for name in exact:
            np.testing.assert_array_equal(got[name], exact[name], err_msg=f"{name}, thread 0 late {delay}")
        if delay == 3e-2:
            assert [event for event, _ in sorted(log, key=lambda e: e[1])] == ["thread 1 returns", "late enters"]


@within_team_timeout
def test_a_run_of_solo_steps_waits_for_thread_0_alone():
    """The cheaper half of the steps run solo (on thread 0 alone): with thread 0 entering 0-30 ms
    late, thread 1 waits at each solo run's barrier until thread 0 ran the run (passing early,
    it would take the next step's items over unwritten inputs), so every run equals the
    one-thread module bit for bit; with thread 1 entering 30 ms late, thread 0 finishes the
    whole run first (the solo run's barrier waits for thread 0's work, not for thread 1)."""
    program = _program()
    x = rand((1, 16, 20, 20), seed=6)
    exact = build(program, threads=1)(x=x)
    costs = sorted(step["model_s"] for step in build(program, threads=2).steps)
    mod = build(program, threads=2, solo_below=costs[len(costs) // 2])
    solo = [step["solo"] for step in mod.steps]
    assert any(solo) and not all(solo) and all(step["claims"] for step in mod.steps if not step["solo"])
    for run in range(8):
        late, delay = run % 2, (1e-3, 3e-2)[run // 2 % 2]
        log: list = []
        got = mod._native(mod._checked({"x": x}), _late(mod, late, delay, log))
        for name in exact:
            np.testing.assert_array_equal(got[name], exact[name], err_msg=f"{name}, thread {late} late {delay}")
        if late == 1 and delay == 3e-2:
            assert [event for event, _ in sorted(log, key=lambda e: e[1])] == ["thread 0 returns", "late enters"]


def _solo_then_take():
    """An entry of two calls on the buffer {flag, seen}: a solo kernel that sleeps 20 ms and
    sets flag = 1, then a kernel taking one item that stores seen = flag. Returns the engine
    (keep it alive) and the entry."""
    machine = host()
    texts = []
    for name in ("solo", "take"):
        module = ir.Module(name=name)
        module.triple = machine.triple
        k = Kernel(module, name, 8, ir.Function(module, BARRIER_TYPE, name=BARRIER))
        flag, seen = (k.b.load(k.b.gep(k.table, [i64(j)], source_etype=PTR), typ=PTR) for j in range(2))
        if name == "solo":
            k.b.call(ir.Function(module, ir.FunctionType(I32, [I32]), name="usleep"), [ir.Constant(I32, 20_000)])
            k.b.store(ir.Constant(I32, 1), flag)
        else:
            with k.take(1):
                k.b.store(k.b.load(flag, typ=I32), seen)
        k.finish()
        texts.append(str(module))
    calls = [Call("solo", "solo", ((0, 0), (0, 4)), 0.0, solo=True, claim_total=0),
             Call("take", "take", ((0, 0), (0, 4)), 0.0, claim_total=1)]
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(_emit_entry("solo", machine, calls, {0: 0})),
                                        machine.machine())
    for text in texts:
        engine.add_module(llvm.parse_assembly(text))
    engine.finalize_object()
    return engine, KERNEL(engine.get_function_address(ENTRY))


def test_the_barrier_after_a_solo_run_holds_the_team_until_thread_0_ran_it():
    """Both threads enter at once, 5 runs: thread 1 waits at the solo run's barrier for thread 0's
    20 ms solo kernel, so whichever thread takes the next kernel's item finds the flag it set
    (passing that barrier early, thread 1 would take the item and find 0)."""
    engine, entry = _solo_then_take()
    for run in range(5):
        buffer, state = np.zeros(2, np.int32), barrier_state()
        slots = np.array([buffer.ctypes.data], np.uint64)
        join_all([threading.Thread(target=entry, args=(slots.ctypes.data, tid, 2, state.ctypes.data))
                  for tid in (0, 1)])
        assert list(buffer) == [1, 1], f"run {run}"
    del engine


@within_team_timeout
def test_concurrent_runs_of_modules_on_shared_cores_stay_exact():
    """Two 2-thread modules run at once from two Python threads (four native threads on two
    cores), 30 runs each: each result equals the one-thread run."""
    program = _program()
    x = rand((1, 16, 20, 20), seed=9)
    exact = build(program, threads=1)(x=x)["y"]
    mods = [build(program, threads=2) for _ in range(2)]
    errors: list = []

    def loop(mod) -> None:
        for _ in range(30):
            if not np.array_equal(mod(x=x)["y"], exact):
                errors.append("differs")

    join_all([threading.Thread(target=loop, args=(m,)) for m in mods])
    assert errors == []


class _ThreeBufferKernel(Kernel):
    """A kernel "k" on the host whose table holds three buffer pointers, loaded at its entry."""

    def __init__(self, name: str) -> None:
        self.machine = host()
        module = ir.Module(name=name)
        module.triple = self.machine.triple
        super().__init__(module, "k", 8, emit_barrier(module, self.machine))
        self.buffers = tuple(self.b.load(self.b.gep(self.table, [i64(j)], source_etype=PTR), typ=PTR)
                             for j in range(3))


def _compiled(k: _ThreeBufferKernel):
    """The finished kernel `k` compiled: its engine (keep it alive) and the callable entry."""
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(str(k.module)), k.machine.machine())
    engine.finalize_object()
    return engine, KERNEL(engine.get_function_address("k"))


def _counting_after_slow_phase(slow_tid: int, static_second: bool):
    """Phase 1 takes 16 items, those thread `slow_tid` runs 10x slower than the other's, each
    storing ones[i] = 1; after a barrier that waits for its 16 items, phase 2 (taken, or a static
    split) stores counts[i] = the ones it finds. Returns the compiled kernel and its engine."""
    k = _ThreeBufferKernel("slow")
    b = k.b
    ones, counts, spun = k.buffers
    with k.take(SLOW_ITEMS) as i:
        slow = b.zext(b.icmp_signed("==", k.tid, ir.Constant(I32, slow_tid)), I64)
        with for_range(b, i64(0), b.mul(b.add(b.mul(slow, i64(9)), i64(1)), i64(300_000))):
            b.load_atomic(spun, "monotonic", 4, typ=I32)
        b.store(ir.Constant(I32, 1), b.gep(ones, [i], source_etype=I32))
    k.sync()
    with (for_range(b, *k.split(SLOW_ITEMS)) if static_second else k.take(SLOW_ITEMS)) as i:
        found = entry_alloca(b, I32, "found")
        b.store(ir.Constant(I32, 0), found)
        with for_range(b, i64(0), i64(SLOW_ITEMS)) as j:
            b.store(b.add(b.load(found, typ=I32), b.load(b.gep(ones, [j], source_etype=I32), typ=I32)), found)
        b.store(b.load(found, typ=I32), b.gep(counts, [i], source_etype=I32))
    k.finish()
    assert [int(c.args[3].constant) for block in k.function.blocks for c in block.instructions
            if isinstance(c, ir.CallInstr) and c.callee.name == BARRIER] == [SLOW_ITEMS]
    return _compiled(k)


SLOW_ITEMS = 16


@pytest.mark.parametrize("slow_tid, static_second", [(1, False), (0, True)])
def test_the_phase_after_a_claimed_barrier_sees_every_item_of_the_one_before(slow_tid, static_second):
    """Two threads, one 10x slower on its items of phase 1: every count of phase 2 finds all 16
    ones, in 6 runs each. With thread 1 slow, thread 0 must wait at the barrier until the items
    are done, not only claimed (its items done, it would start phase 2 while thread 1 still
    stores); with thread 0 slow and a static phase 2, thread 1 must wait until thread 0's items
    are done (passing at once, it would count phase 1 unfinished)."""
    engine, kernel = _counting_after_slow_phase(slow_tid, static_second)
    for run in range(6):
        ones, counts, spun = np.zeros(SLOW_ITEMS, np.int32), np.zeros(SLOW_ITEMS, np.int32), np.zeros(1, np.int32)
        table = np.array([ones.ctypes.data, counts.ctypes.data, spun.ctypes.data], np.uint64)
        state = barrier_state()
        team = [threading.Thread(target=kernel, args=(table.ctypes.data, t, 2, state.ctypes.data)) for t in (1, 0)]
        join_all(team)
        np.testing.assert_array_equal(counts, SLOW_ITEMS, err_msg=f"run {run}")
    del engine


def _stale_read_kernel():
    """Phase 1 loads v = x[0] before an empty take(1); phase 2 takes one item storing x[0] = 42;
    phase 3 takes 64 slow items storing out[i] = v. Returns the compiled kernel and its engine."""
    k = _ThreeBufferKernel("stale")
    b = k.b
    x, out, spun = k.buffers
    v = b.load(x, typ=I32)
    with k.take(1):
        pass
    k.sync()
    with k.take(1):
        b.store(ir.Constant(I32, 42), x)
    k.sync()
    with k.take(64) as i:
        with for_range(b, i64(0), i64(300_000)):
            b.load_atomic(spun, "monotonic", 4, typ=I32)
        b.store(v, b.gep(out, [i], source_etype=I32))
    k.finish()
    return _compiled(k)


def _enter_after(delay: float, kernel, table: int, thread: int, state: int) -> None:
    """Thread `thread` of a team of two, entering `kernel` after `delay` seconds."""
    time.sleep(delay)
    kernel(table, thread, 2, state)


def test_a_late_thread_reads_no_buffer_a_later_phase_rewrote():
    """A phase that loads a buffer outside its taken loop ends at a barrier that waits for the
    whole team: with thread 1 entering 0-5 ms late, every out[i] is the 7 x[0] held before
    phase 2 stored 42 (waiting for claimed work only, thread 1 would load x[0] after phase 2
    and a third or more of the items would store 42)."""
    engine, kernel = _stale_read_kernel()
    for delay in (0.0, 0.002, 0.005):
        x, out, spun = np.array([7], np.int32), np.zeros(64, np.int32), np.zeros(1, np.int32)
        table = np.array([x.ctypes.data, out.ctypes.data, spun.ctypes.data], np.uint64)
        state = barrier_state()

        join_all([threading.Thread(target=_enter_after, args=(delay * t, kernel, table.ctypes.data, t,
                                                              state.ctypes.data)) for t in (0, 1)])
        np.testing.assert_array_equal(out, 7, err_msg=f"thread 1 late by {delay} s")
    del engine
