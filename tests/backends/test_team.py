"""The thread team: native runs post and return without waiting for late helpers, yet every
helper runs every job once with its own arguments; Python entries run through queues and wait
for their helpers; a run whose wait is interrupted does not let the next run return early."""

from __future__ import annotations

import ctypes
import threading
import time

import numpy as np
import pytest
from llvmlite import binding as llvm
from llvmlite import ir

from frittata.backends.jit import ENTRY_TYPE, host, verify
from frittata.backends.llvm import build
from frittata.backends.llvm.irutil import I32, I64, PTR, VOID, i64, if_then
from frittata.backends.team import Team, barrier_state
from frittata.errors import ModuleFormatError
from tests.backends.llvm.helpers import rand
from tests.backends.llvm.test_work_sharing import TEAM_TIMEOUT, join_all


def test_a_run_after_an_interrupted_one_waits_for_its_own_helpers():
    """Run 1's thread 0 raises at once while its two helpers still work (as a KeyboardInterrupt
    in its wait would leave them); run 2 returns only after both helpers ran run 2, not on the
    tokens run 1's helpers leave behind."""
    log: list[tuple[str, int]] = []
    lock = threading.Lock()

    def first(slots, tid, n, barrier):
        if tid == 0:
            raise KeyboardInterrupt
        time.sleep(0.2)

    def second(slots, tid, n, barrier):
        time.sleep(0.05 if tid else 0.0)
        with lock:
            log.append(("second", tid))

    team = Team(first, 3)
    with pytest.raises(KeyboardInterrupt):
        team.run(0, 0)
    team.run(0, 0, entry=second)
    assert sorted(log) == [("second", 0), ("second", 1), ("second", 2)]
    team.close()


def test_the_team_state_is_aligned_and_zeroed():
    """The 64-bit work word at int32 word 2 needs 8-byte alignment (an int32 array promises 4)."""
    state = barrier_state()
    assert state.ctypes.data % 8 == 0 and not state.any()


RUNS = 40


def _native_entries():
    """JIT-compiled entries on a table of int64 sums: `count(slots, tid, n, sums)` adds `slots`
    (an integer here) to sums[tid], a helper first sleeping 20 ms in every third run (slots % 3
    == 0); `count_extra(slots, tid, n, sums, extra)` adds slots + extra. Returns the engine
    (keep it alive) and the two ctypes entries."""
    target = host()
    module = ir.Module(name="entries")
    module.triple = target.triple
    usleep = ir.Function(module, ir.FunctionType(I32, [I32]), name="usleep")
    for name, extra in (("count", False), ("count_extra", True)):
        args = [PTR, I32, I32, PTR] + ([I64] if extra else [])
        fn = ir.Function(module, ir.FunctionType(VOID, args), name=name)
        slots, tid, _, sums = fn.args[:4]
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        value = b.ptrtoint(slots, I64)
        late = b.and_(b.icmp_signed(">", tid, ir.Constant(I32, 0)), b.icmp_signed("==", b.srem(value, i64(3)), i64(0)))
        with if_then(b, late, "late"):
            b.call(usleep, [ir.Constant(I32, 20_000)])
        added = b.add(value, fn.args[4]) if extra else value
        b.atomic_rmw("add", b.gep(sums, [b.zext(tid, I64)], source_etype=I64), added, "seq_cst")
        b.ret_void()
    engine = llvm.create_mcjit_compiler(verify(str(module), "entries"), target.machine())
    engine.finalize_object()
    count = ENTRY_TYPE(engine.get_function_address("count"))
    count_extra = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_void_p,
                                   ctypes.c_int64)(engine.get_function_address("count_extra"))
    return engine, count, count_extra


def _within_timeout(body) -> None:
    """Run `body` on a daemon thread, failing when it has not returned within TEAM_TIMEOUT
    seconds (a team whose wake-up is lost would otherwise hang the test run), and re-raise
    what it raised."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            body()
        except BaseException as error:  # noqa: BLE001 - re-raised on the test's thread
            failure.append(error)

    join_all([threading.Thread(target=run)])
    if failure:
        raise failure[0]


@pytest.mark.parametrize("threads", [2, 3])
def test_native_runs_return_before_late_helpers_and_each_helper_runs_each_once(threads):
    """40 native runs posted back to back, each with its own `slots` value (1..40), every other
    one through the entry taking an extra argument (10), helpers sleeping 20 ms in every third:
    a run returns before its late helpers have run it (thread 0 does not wait for them), yet
    after `wait` every thread has run every job once with that job's own arguments (a post
    that overwrote a job a helper had not yet read would lose or repeat a value)."""
    _within_timeout(lambda: _native_runs(threads))


def _native_runs(threads: int) -> None:
    engine, count, count_extra = _native_entries()
    team = Team(count, threads)
    sums = np.zeros(threads, np.int64)
    early, through = 0, 0
    for run in range(1, RUNS + 1):
        through += run + (0 if run % 2 else 10)
        if run % 2:
            team.run(run, sums.ctypes.data)
        else:
            team.run(run, sums.ctypes.data, count_extra, 10)
        early += run % 3 == 0 and sums[1] < through  # helper 1 has not added this run's value yet
    team.wait()
    want = RUNS * (RUNS + 1) // 2 + 10 * (RUNS // 2)
    assert through == want
    np.testing.assert_array_equal(sums, want)
    assert early >= 1, "expected runs to return while a late helper had not run them"
    team.close()
    for helper in team._helpers:
        helper.join(TEAM_TIMEOUT)
        assert not helper.is_alive()
    del engine


def test_a_python_run_after_native_ones_waits_for_their_helpers():
    """A native run whose helper sleeps (20 ms), then a run of a Python entry: the Python run
    starts only once the helper has finished the native one, and returns after its helpers."""
    _within_timeout(_python_after_native)


def _python_after_native() -> None:
    engine, count, _ = _native_entries()
    team = Team(count, 2)
    sums = np.zeros(2, np.int64)
    seen: list[int] = []
    team.run(3, sums.ctypes.data)
    team.run(0, 0, entry=lambda slots, tid, n, barrier: seen.append(int(sums[1])))
    assert seen == [3, 3]
    team.close()
    del engine


def test_a_traced_run_stamps_every_thread_around_every_barrier_of_the_team():
    """A module built with `trace`, the cheaper half of its steps solo: `run_traced` equals a
    plain run, names one phase per barrier of the team (a run of solo steps is one), and each
    thread's readings never go back (entry, then arrival and departure at each barrier, then
    return); a module built without it refuses."""
    from tests.backends.llvm.test_claimed_work import _program

    program, x = _program(), rand((1, 16, 20, 20), seed=6)
    costs = sorted(step["model_s"] for step in build(program, threads=2).steps)
    mod = build(program, threads=2, solo_below=costs[len(costs) // 2], trace=True)
    solo = [step["solo"] for step in mod.steps]
    runs_of_solo = sum(1 for i, s in enumerate(solo) if s and (i == 0 or not solo[i - 1]))
    for _ in range(3):
        got, trace = mod.run_traced(x=x)
        for name, want in mod(x=x).items():
            np.testing.assert_array_equal(got[name], want)
        assert len(trace.phases) == len(solo) - sum(solo) + runs_of_solo
        assert trace.stamps.shape == (2, 2 + 2 * len(trace.phases)) and (np.diff(trace.stamps, axis=1) >= 0).all()
        assert trace.work.shape == trace.wait.shape == (2, len(trace.phases)) and trace.start_lag[0] == 0
    with pytest.raises(ModuleFormatError, match="build it with trace=True"):
        build(program, threads=2).run_traced(x=x)
