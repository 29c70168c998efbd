"""Kernels share their parallel loops out in chunks from the team's work counter: a run whose
other thread starts late (as the OS may deschedule it) still completes, and computes exactly
what a one-thread run does."""

from __future__ import annotations

import ctypes
import functools
import threading
import time
from contextlib import nullcontext

import numpy as np
import pytest
from llvmlite import binding as llvm
from llvmlite import ir

import frittata as ft
from frittata import terms as T
from frittata.backends.llvm import build
from frittata.backends.llvm.barrier import BARRIER, BARRIER_TYPE, emit_barrier
from frittata.backends.jit import MAX_THREADS, host
from frittata.backends.llvm.irutil import I32, PTR, for_range, i64
from frittata.backends.llvm.kernel import TAKE_CHUNKS, TAKE_LIMIT, Kernel
from frittata.backends.team import barrier_state
from frittata.errors import DeployError, LoweringError
from tests.backends.llvm.helpers import rand, targets

STALL_SECONDS = 0.03
"""How long the late thread sleeps before it enters the run: far longer than the whole run."""


def _program() -> ft.Program:
    """A depthwise and a pointwise convolution, a pooling, a concat, elementwise ops, a global
    pooling, a dense layer and a softmax: every kind of kernel MobileNet-like models run, on a
    batch of two (the convolutions' per-image passes each take from the counter)."""
    x = T.var("x", (2, 16, 20, 20))
    dw = T.fused_conv2d(x, T.param("wd", rand((16, 1, 3, 3), seed=1)), T.param("bd", rand((16,), seed=2)),
                        pads=(1, 1, 1, 1), groups=16, epilogue=(("clip", 0.0, 6.0),))
    pw = T.fused_conv2d(dw, T.param("wp", rand((24, 16, 1, 1), seed=3)), T.param("bp", rand((24,), seed=4)),
                        epilogue=(("relu",),))
    pooled = T.max_pool2d(pw, kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1))
    both = T.concat(pooled, T.tanh(T.max_pool2d(x, kernel=(2, 2), strides=(2, 2))), axis=1)
    features = T.reshape(T.global_avg_pool(both), (2, 40))
    logits = T.dense(features, T.param("wf", rand((10, 40), seed=5)))
    return ft.Program({"y": T.softmax(logits), "c": both})


def _late(mod: ft.Module, tid: int):
    """The module's entry point, run by thread `tid` only after a sleep (the other threads start
    at once and take the work)."""
    entry = mod._engine.entry

    def run(slots, thread, n, barrier):
        if thread == tid:
            time.sleep(STALL_SECONDS)
        return entry(slots, thread, n, barrier)

    return run


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_a_run_with_a_late_thread_completes_equal_to_one_thread(isa):
    """Every step a team step (no solo steps), on two threads, thread 0 or thread 1 starting
    30 ms after the other: each run equals the one-thread module's bit for bit, and the
    interpreter. Both ISAs' kernels run here (`helpers.targets`: the 16-lane ones built for AVX2
    on an AVX2 host)."""
    target, program = targets()[isa], _program()
    one, two = build(program, threads=1, target=target), build(program, threads=2, target=target)
    assert two.team_threads == 2 and not any(step["solo"] for step in two.steps)
    assert {"fused_conv2d", "max_pool2d", "concat", "global_avg_pool"} <= {step["op"] for step in two.steps}
    x = rand((2, 16, 20, 20), seed=6)
    want, exact = ft.evaluate(program, {"x": x}), one(x=x)
    for late in (0, 1, 0, 1):
        got = two._native(two._checked({"x": x}), _late(two, late))
        for name in want:
            np.testing.assert_array_equal(got[name], exact[name], err_msg=f"{name}, thread {late} late")
            np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-5, err_msg=name)
        np.testing.assert_array_equal(two(x=x)["y"], exact["y"])


def _x86_kernel() -> Kernel:
    """A kernel "k" of 8 lanes in a fresh x86-64 module, for emission-only checks."""
    module = ir.Module(name="kernel")
    module.triple = "x86_64-unknown-linux-gnu"
    return Kernel(module, "k", 8, ir.Function(module, BARRIER_TYPE, name=BARRIER))


def test_a_kernel_takes_from_the_work_counter_once_between_barriers():
    """The barrier zeroes the counter: a second loop taking from it before a barrier would start
    where the first one stopped, so emitting one is refused; after `sync` it is allowed."""
    k = _x86_kernel()
    with k.take(10):
        pass
    with pytest.raises(LoweringError, match="kernel k: expected a barrier .*got a second loop"):
        with k.take(10):
            pass
    k.sync()
    with k.take(10):
        pass


def test_a_repeated_pass_that_takes_must_end_with_a_barrier():
    """A per-image loop whose pass takes from the counter and does not `sync` before the next
    pass is refused; with the `sync` it is emitted."""
    k = _x86_kernel()
    with k.repeat(2):
        with k.take(10):
            pass
        k.sync()
    with pytest.raises(LoweringError, match="kernel k: expected a barrier .* each pass of loop 'n'"):
        with k.repeat(2):
            with k.take(10):
                pass


def test_a_repeated_pass_may_sync_at_the_start_of_the_next_pass_instead():
    """`sync_first` puts the barrier at the start of every pass but the first (the caller's
    barrier ends the last), so the pass may end after taking; the kernel must sync before it
    takes again, and before the loop if it took earlier."""
    k = _x86_kernel()
    with k.repeat(2, sync_first=True):
        with k.take(10):
            pass
    assert "n.sync.then" in str(k.module)
    with pytest.raises(LoweringError, match="kernel k: expected a barrier .*got a second loop"):
        with k.take(10):
            pass
    with pytest.raises(LoweringError, match="kernel k: expected a barrier .*before loop 'n'"):
        with k.repeat(2, sync_first=True):
            pass


def test_a_sync_first_loop_is_the_kernels_last_code():
    """The last pass of a `sync_first` loop ends without a barrier, so code after the loop (here a
    `sync`, or a loop) is refused when the kernel is finished; the loop alone is not."""

    def loop(k: Kernel) -> None:
        with for_range(k.b, 0, 2):
            pass

    for after in (Kernel.sync, loop):
        k = _x86_kernel()
        with k.repeat(2, sync_first=True):
            with k.take(10):
                pass
        after(k)
        with pytest.raises(LoweringError, match="kernel k: expected loop 'n' .* last code, got code after it"):
            k.finish()
    k = _x86_kernel()
    with k.repeat(2, sync_first=True):
        with k.take(10):
            pass
    k.finish()


KERNEL = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_void_p)
COUNTED_TOTALS = (*range(71), 95, 96, 97, 4097)


def _counting_kernels(totals, per_item: bool = True, triple: str = "",
                      passes: int = 0) -> tuple[object, dict[int, KERNEL]]:
    """One kernel per total: for each chunk of `k.chunks(total)`, add (atomically) 1 to
    chunks[tid], the chunk's length to claimed[0] (i64) and, `per_item`, 1 to hits[i] for each
    of its items; the table holds hits, chunks and claimed. With `passes`, all that in each pass
    of `k.repeat(passes, sync_first=True)`. Emitted for `triple` (this host's by default), with
    the runtime's barrier, run here."""
    machine = host()
    module = ir.Module(name="counting")
    module.triple = triple or machine.triple
    barrier = emit_barrier(module, machine)
    for total in totals:
        k = Kernel(module, f"count_{total}", 8, barrier)
        with k.repeat(passes, sync_first=True) if passes else nullcontext():
            _count_chunks(k, total, per_item)
        k.finish()
    module.triple = machine.triple
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(str(module)), machine.machine())
    engine.finalize_object()
    return engine, {t: KERNEL(engine.get_function_address(f"count_{t}")) for t in totals}


def _count_chunks(k: Kernel, total: int, per_item: bool) -> None:
    hits, chunks, claimed = (k.b.load(k.b.gep(k.table, [i64(j)], source_etype=PTR), typ=PTR) for j in range(3))
    with k.chunks(total) as (first, end):
        k.b.atomic_rmw("add", k.b.gep(chunks, [k.tid], source_etype=I32), ir.Constant(I32, 1), "monotonic")
        k.b.atomic_rmw("add", claimed, k.b.sub(end, first), "monotonic")
        if per_item:
            with for_range(k.b, first, end) as i:
                k.b.atomic_rmw("add", k.b.gep(hits, [i], source_etype=I32), ir.Constant(I32, 1), "monotonic")


def _run_team(kernel, total: int, threads: int, late: int | None = None, per_item: bool = True):
    """Run `kernel` on a team of `threads` Python threads (ctypes drops the GIL); thread `late`
    enters only after every other thread has returned. Returns (hits, chunks per thread, items
    claimed)."""
    hits, chunks = np.zeros(max(total, 1) if per_item else 1, np.int32), np.zeros(threads, np.int32)
    claimed = np.zeros(1, np.int64)
    table = np.array([hits.ctypes.data, chunks.ctypes.data, claimed.ctypes.data], np.uint64)
    state = barrier_state()
    run = [threading.Thread(target=kernel, args=(table.ctypes.data, t, threads, state.ctypes.data))
           for t in range(threads)]
    others = [t for tid, t in enumerate(run) if tid != late]
    if late is None:
        join_all(others)
    else:
        join_all(others)
        join_all([run[late]])
    return hits[:total], chunks, int(claimed[0])


TEAM_TIMEOUT = 60.0
"""Seconds a test waits for a team's threads before failing (a broken barrier spins forever;
the spinning daemon threads are left behind, the test fails instead of hanging CI)."""


def join_all(team: list[threading.Thread]) -> None:
    """Start `team`'s threads (daemons, so a hung one cannot keep the process alive), then join
    each, failing when any is still running TEAM_TIMEOUT seconds after the start."""
    for thread in team:
        thread.daemon = True
        thread.start()
    deadline = time.monotonic() + TEAM_TIMEOUT
    for thread in team:
        thread.join(max(0.0, deadline - time.monotonic()))
        assert not thread.is_alive(), f"expected the team to finish within {TEAM_TIMEOUT} s, got {thread.name} running"


def within_team_timeout(test):
    """`test` run in a daemon thread joined for TEAM_TIMEOUT seconds: a test blocked in a native
    wait of the team (which pytest cannot interrupt) fails instead of hanging CI; its exception,
    if any, is raised again here."""

    @functools.wraps(test)
    def bounded(*args, **kwargs):
        raised: list[BaseException] = []

        def body():
            try:
                test(*args, **kwargs)
            except BaseException as error:  # noqa: BLE001 - raised again in the test's thread
                raised.append(error)

        thread = threading.Thread(target=body, daemon=True, name=f"bounded-{test.__name__}")
        thread.start()
        thread.join(TEAM_TIMEOUT)
        assert not thread.is_alive(), f"expected {test.__name__} to finish within {TEAM_TIMEOUT} s, got it blocked"
        if raised:
            raise raised[0]

    return bounded


def test_every_item_is_taken_exactly_once():
    """Over totals 0-70, 95-97 and 4097 on teams of 1, 2, 3 and 5 threads, each item's body runs
    exactly once (a chunk claiming one item too many, or a thread re-running one, is caught
    here; the kernels' out = f(in) cannot tell)."""
    engine, kernels = _counting_kernels(COUNTED_TOTALS)
    for total, kernel in kernels.items():
        for threads in (1, 2, 3, 5):
            hits, _, claimed = _run_team(kernel, total, threads)
            np.testing.assert_array_equal(hits, 1, err_msg=f"total {total}, {threads} threads")
            assert claimed == total, (total, threads)
    del engine


def test_a_sync_first_loop_takes_every_item_once_per_pass():
    """Three passes of `repeat(sync_first=True)` that each take from the counter, on teams of 1,
    2 and 3 threads: every item is claimed once per pass (without the barrier that starts the
    second and third passes, they would find the counter spent and claim nothing)."""
    engine, kernels = _counting_kernels((1, 40, 97), passes=3)
    for total, kernel in kernels.items():
        for threads in (1, 2, 3):
            hits, _, claimed = _run_team(kernel, total, threads)
            np.testing.assert_array_equal(hits, 3, err_msg=f"total {total}, {threads} threads")
            assert claimed == 3 * total, (total, threads)
    del engine


def test_an_empty_static_share_runs_no_chunk():
    """A static share (NVPTX's: its barrier keeps no counter) of fewer items than threads: the
    threads past the items run no chunk at all, not an empty one (a consumer may compute
    end - 1)."""
    engine, kernels = _counting_kernels((3,), triple="nvptx64-nvidia-cuda")
    hits, chunks, claimed = _run_team(kernels[3], 3, 5)
    np.testing.assert_array_equal(hits, 1)
    assert claimed == 3 and sorted(chunks.tolist()) == [0, 0, 1, 1, 1]
    del engine


def test_a_thread_entering_late_finds_the_work_taken():
    """Thread 1 enters only after thread 0 has returned: a dynamic share leaves it nothing, so
    thread 0 took every chunk (a static split would leave thread 1 its half)."""
    engine, kernels = _counting_kernels((96, 4097))
    for total, kernel in kernels.items():
        hits, chunks, _ = _run_team(kernel, total, 2, late=1)
        np.testing.assert_array_equal(hits, 1)
        assert chunks.tolist() == [-(-total // max(1, total // TAKE_CHUNKS)), 0], total
    del engine


def test_the_work_counter_does_not_wrap_on_the_largest_team():
    """The longest loop that takes from the counter, on MAX_THREADS threads: each thread adds one
    chunk past the end, taking the int32 counter past 2**31 (read unsigned, it never wraps),
    and the chunks claimed cover the loop exactly once."""
    total = TAKE_LIMIT - 1
    engine, kernels = _counting_kernels((total,), per_item=False)
    _, chunks, claimed = _run_team(kernels[total], total, MAX_THREADS, per_item=False)
    assert claimed == total and chunks.sum() == -(-total // (total // TAKE_CHUNKS))
    del engine


def test_a_team_larger_than_the_counter_allows_is_refused(tmp_path):
    ft.compile(ft.Program({"y": T.relu(T.var("x", (4,)))})).save(tmp_path / "relu.ft")
    with pytest.raises(DeployError, match=f"expected 1 to {MAX_THREADS} threads.*got {MAX_THREADS + 1}"):
        ft.load(tmp_path / "relu.ft", threads=MAX_THREADS + 1)


def _ordering_kernel(total: int):
    """A kernel whose chunks of `k.chunks(total)` each append their first item to order[] and
    store their thread's id at owner[first] (the table: order (i64), a count of chunks (i64),
    owner (i32))."""
    machine = host()
    module = ir.Module(name="ordering")
    module.triple = machine.triple
    k = Kernel(module, "order", 8, emit_barrier(module, machine))
    order, count, owner = (k.b.load(k.b.gep(k.table, [i64(j)], source_etype=PTR), typ=PTR) for j in range(3))
    with k.chunks(total) as (first, _):
        seq = k.b.atomic_rmw("add", count, i64(1), "monotonic")
        k.b.store(first, k.b.gep(order, [seq], source_etype=ir.IntType(64)))
        k.b.store(k.tid, k.b.gep(owner, [first], source_etype=I32))
    k.finish()
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(str(module)), machine.machine())
    engine.finalize_object()
    return engine, KERNEL(engine.get_function_address("order"))


def test_even_threads_take_chunks_from_the_front_odd_ones_from_the_back():
    """A thread alone in the phase (its partner enters after it returned) takes every chunk:
    thread 0 from the loop's first item up, thread 1 from its last chunk down; on a team of two
    running together, thread 0's chunks are a prefix of the loop and thread 1's the rest (so
    each kernel's thread works on the same end of every loop)."""
    total = 4097
    starts = list(range(0, total, total // TAKE_CHUNKS))
    engine, kernel = _ordering_kernel(total)
    for lone in (0, 1, None):
        order, count = np.full(len(starts), -1, np.int64), np.zeros(1, np.int64)
        owner = np.full(total, -1, np.int32)
        table = np.array([order.ctypes.data, count.ctypes.data, owner.ctypes.data], np.uint64)
        state = barrier_state()
        run = [threading.Thread(target=kernel, args=(table.ctypes.data, t, 2, state.ctypes.data)) for t in range(2)]
        if lone is None:
            join_all(run)
            owners = owner[starts].tolist()
            assert owners == sorted(owners) and set(owners) <= {0, 1}, owners
            assert sorted(order.tolist()) == starts
        else:
            join_all([run[lone]])
            join_all([run[1 - lone]])
            assert order.tolist() == (starts if lone == 0 else starts[::-1]), lone
    del engine
