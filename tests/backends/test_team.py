"""The thread team: native runs post and return without waiting for late helpers, yet every
helper runs every job once with its own arguments; Python entries run through queues and wait
for their helpers; a Python run whose thread 0 raises does not let the next run return early;
a closed team refuses runs; a forked child runs its teams alone."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from llvmlite import binding as llvm
from llvmlite import ir

import frittata as ft
from frittata import terms as T
from frittata.backends.jit import ENTRY_TYPE, host, verify
from frittata.backends.llvm import build
from frittata.backends.llvm.irutil import I32, I64, PTR, VOID, i64, if_then
from frittata.backends.llvm import barrier
from frittata.backends.llvm.serve import team_loop
from frittata.backends.team import Team, barrier_state
from frittata.errors import ModuleFormatError, TeamClosedError
from tests.backends.llvm.helpers import rand
from tests.backends.llvm.test_work_sharing import TEAM_TIMEOUT, within_team_timeout


@within_team_timeout
def test_a_run_after_an_interrupted_one_waits_for_its_own_helpers():
    """Run 1's thread 0 raises at once while its two helpers still work (the run returns
    without waiting for them); run 2 returns only after both helpers ran run 2, not on the
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


@pytest.mark.parametrize("threads", [2, 3])
@within_team_timeout
def test_native_runs_return_before_late_helpers_and_each_helper_runs_each_once(threads):
    """40 native runs posted back to back, each with its own `slots` value (1..40), every other
    one through the entry taking an extra argument (10), helpers sleeping 20 ms in every third:
    a run returns before its late helpers have run it (thread 0 does not wait for them), yet
    after `wait` every thread has run every job once with that job's own arguments (a post
    that overwrote a job a helper had not yet read would lose or repeat a value)."""
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


@within_team_timeout
def test_a_python_run_after_native_ones_waits_for_their_helpers():
    """A native run whose helper sleeps (20 ms), then a run of a Python entry: the Python run
    starts only once the helper has finished the native one, and returns after its helpers."""
    engine, count, _ = _native_entries()
    team = Team(count, 2)
    sums = np.zeros(2, np.int64)
    seen: list[int] = []
    team.run(3, sums.ctypes.data)
    team.run(0, 0, entry=lambda slots, tid, n, barrier: seen.append(int(sums[1])))
    assert seen == [3, 3]
    team.close()
    del engine


@within_team_timeout
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


@pytest.fixture
def fresh_loop():
    """The team loop compiled afresh for this test (it may patch what `barrier` emits), and
    afresh again after it."""
    team_loop.cache_clear()
    yield
    team_loop.cache_clear()


IDLE_SECONDS = 2.0
IDLE_CPU = 0.07
"""CPU seconds an idle team of 2 may use over IDLE_SECONDS: a helper yielding the CPU in a loop
uses its share of a core (a quarter at load 8 on 2 cores). Measured over 2 s at load 3-4 with
the fallback (no futex): 0.029-0.030 s sleeping up to BACK_OFF_US, 0.24-0.26 s with every sleep
`usleep(0)` (BACK_OFF_US = 0); over 0.5 s the latter had measured 0.055 s, too near a bound."""


@pytest.mark.parametrize("futex", [True, False])
@within_team_timeout
def test_idle_helpers_sleep_between_runs(futex, fresh_loop, monkeypatch):
    """A team of 2 after one run, with the futex and with the fallback where there is none
    (`futex_syscall` None, as on macOS): over IDLE_SECONDS of idleness the process uses < IDLE_CPU s CPU."""
    if not futex:
        monkeypatch.setattr(barrier, "futex_syscall", lambda triple: None)
    engine, count, _ = _native_entries()
    team = Team(count, 2)
    sums = np.zeros(2, np.int64)
    team.run(1, sums.ctypes.data)
    team.wait()
    start = time.process_time()
    time.sleep(IDLE_SECONDS)
    used = time.process_time() - start
    np.testing.assert_array_equal(sums, 1)
    assert used < IDLE_CPU, f"futex {futex}: expected an idle team to use < {IDLE_CPU} s CPU, got {used:.3f} s"
    team.close()
    del engine


@within_team_timeout
def test_every_wait_sleeps_and_no_wake_up_is_lost(fresh_loop, monkeypatch):
    """With SPINS = 0 every wait of the team loop goes to the futex: 3000 native runs posted
    back to back on a team of 2 each run once on both threads (a wake-up lost between a
    sleeper's check and its sleep hangs here, and fails at the timeout)."""
    monkeypatch.setattr(barrier, "SPINS", 0)
    engine, count, _ = _native_entries()
    team = Team(count, 2)
    sums = np.zeros(2, np.int64)
    for _ in range(3000):
        team.run(1, sums.ctypes.data)  # 1 % 3: the helper never sleeps in the entry
    team.wait()
    np.testing.assert_array_equal(sums, 3000)
    team.close()
    del engine


@within_team_timeout
def test_a_closed_team_waits_at_once_and_refuses_runs():
    """After a run, close (twice: the second does nothing), then `wait` returns at once and a
    run raises TeamClosedError; the run before close was counted once per thread."""
    engine, count, _ = _native_entries()
    team = Team(count, 2)
    sums = np.zeros(2, np.int64)
    team.run(1, sums.ctypes.data)
    team.close()
    team.close()
    team.wait()
    with pytest.raises(TeamClosedError, match="expected a run before close"):
        team.run(1, sums.ctypes.data)
    np.testing.assert_array_equal(sums, 1)
    del engine


def _child_runs_alone(team: Team, sums: np.ndarray) -> int:
    """In a forked child: two runs (thread 0 alone adds both), then close; 0 when they did."""
    before = sums.copy()
    team.run(1, sums.ctypes.data)
    team.run(1, sums.ctypes.data)
    team.close()
    return 0 if sums[0] == before[0] + 2 and sums[1] == before[1] else 1


@pytest.mark.parametrize("runs_in_child", [True, False])
@within_team_timeout
def test_a_forked_child_runs_its_teams_alone_and_closes_them(runs_in_child):
    """After runs of a team of 2, `os.fork` while the helper is still in a run (it sleeps 20 ms
    in it; thread 0 returned): the child (which has no helper thread) runs on thread 0 alone and
    closes the team, or only closes it, without waiting for the helper that is not there (it
    would wait forever); the parent's team still runs."""
    engine, count, _ = _native_entries()
    team = Team(count, 2)
    sums = np.zeros(2, np.int64)
    for _ in range(3):
        team.run(1, sums.ctypes.data)
    team.run(3, sums.ctypes.data)
    pid = os.fork()
    if pid == 0:
        code = 2
        try:
            code = _child_runs_alone(team, sums) if runs_in_child else (team.close() or 0)
        finally:
            os._exit(code)
    code = _exit_code_within(pid, TEAM_TIMEOUT / 2)
    assert code == 0, f"expected the child to exit with 0, got {code} (None: it hung)"
    team.run(1, sums.ctypes.data)
    team.wait()
    np.testing.assert_array_equal(sums, 7)
    team.close()
    del engine


def _exit_code_within(pid: int, seconds: float) -> int | None:
    """The forked child's exit code, or None (the child killed) when it has not exited within `seconds`."""
    deadline = time.monotonic() + seconds
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return None
    return os.waitstatus_to_exitcode(done[1])


@within_team_timeout
def test_a_child_forked_while_another_thread_runs_the_module_runs_it():
    """Another thread is inside a run of a module of 2 threads (its lock held, its helper still
    in the run) when the main thread forks: the child's runs (on thread 0 alone) give the
    one-thread module's outputs, not a wait for a lock no thread of the child will release."""
    shape = (1, 16, 20, 20)
    x = T.var("x", shape)
    program = ft.Program({"y": T.relu(T.add(T.mul(T.tanh(x), x), x))})
    mod = build(program, threads=2)
    assert mod.team_threads == 2
    given = rand(shape, seed=1)
    want = build(program, threads=1)(x=given)["y"]
    entry, inside, release = mod._engine.entry, threading.Barrier(3), threading.Event()

    def held(slots, tid, n, state):
        if tid < 2:
            inside.wait()
            release.wait()
        entry(slots, tid, n, state)

    runner = threading.Thread(target=mod._native, args=(mod._checked({"x": given}), held), daemon=True)
    runner.start()
    inside.wait()
    pid = os.fork()
    if pid == 0:
        code = 2
        try:
            code = 0 if all(np.array_equal(mod(x=given)["y"], want) for _ in range(2)) else 1
        finally:
            os._exit(code)
    code = _exit_code_within(pid, TEAM_TIMEOUT / 2)
    release.set()
    runner.join()
    assert code == 0, f"expected the child to exit with 0, got {code} (None: it hung)"
    np.testing.assert_array_equal(mod(x=given)["y"], want)


def test_the_interpreter_exits_with_a_helper_stuck_in_a_run():
    """A helper never finishes its run (as one lost in a native wait): the process still exits
    (the module's finalizer does not wait for it at exit)."""
    script = textwrap.dedent("""
        import threading, time
        import frittata as ft
        from frittata import terms as T
        from frittata.backends.llvm import build
        from tests.backends.llvm.helpers import rand
        mod = build(ft.Program({"y": T.relu(T.var("x", (1, 16, 20, 20)))}), threads=2)
        assert mod.team_threads == 2
        entry, stuck = mod._engine.entry, threading.Event()

        def never(slots, tid, n, state):
            if tid == 1:
                stuck.set()
                time.sleep(10_000)
            entry(slots, tid, n, state)

        given = mod._checked({"x": rand((1, 16, 20, 20), seed=1)})
        threading.Thread(target=mod._native, args=(given, never), daemon=True).start()
        assert stuck.wait(10)
        print("exiting", flush=True)
    """)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    try:
        done = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True,
                              timeout=60)
    except subprocess.TimeoutExpired as hung:
        raise AssertionError(f"expected the interpreter to exit, got it hung at exit: {hung.stdout!r}") from None
    assert done.returncode == 0 and "exiting" in done.stdout, done.stderr


@within_team_timeout
def test_a_caller_that_frees_its_arrays_right_after_a_run_keeps_exact_results():
    """A real model on the native path, whose thread 0 returns without waiting for its helper:
    after each run the caller drops the input and outputs (2 MB each, returned to the OS by
    the allocator) and fills fresh memory with NaN; every run's outputs, copied at return,
    equal the one-thread module's (a helper still writing them, or reading the input, after
    the return would show here)."""
    shape = (1, 32, 128, 128)
    x = T.var("x", shape)
    y = T.relu(T.add(T.mul(T.tanh(x), x), x))
    program = ft.Program({"y": y, "z": T.max_pool2d(y, kernel=(2, 2), strides=(2, 2))})
    one, mod = build(program, threads=1), build(program, threads=2)
    for run in range(8):
        given = rand(shape, seed=run % 3)
        want = one(x=given)
        got = mod(x=given)
        copies = {name: array.copy() for name, array in got.items()}
        del given, got
        junk = np.full(shape, np.nan, np.float32)
        for name, array in want.items():
            np.testing.assert_array_equal(copies[name], array, err_msg=f"{name}, run {run}")
        del junk


def test_a_team_of_one_runs_on_the_caller_without_compiling_the_team_loop(fresh_loop):
    """A team of 1 runs its entry on the caller (thread 0 adds to its sum), waits and closes at
    once, and never compiles the native team loop (its cache stays empty)."""
    engine, count, _ = _native_entries()
    team = Team(count, 1)
    sums = np.zeros(1, np.int64)
    team.run(2, sums.ctypes.data)
    team.wait()
    team.close()
    assert sums[0] == 2 and team_loop.cache_info().currsize == 0
    del engine
