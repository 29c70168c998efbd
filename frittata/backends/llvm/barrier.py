"""The team's barrier, `barrier(state, n, tid, claimed)`, and the waits it and the work counter use.

A thread that waits (for the team's phase to change, or, at a barrier after claimed work, for
the phase's items to be done) spins `SPINS` rounds of the CPU's pause hint, then sleeps on a Linux futex until the
thread that ends the wait wakes it. A partner the OS descheduled then costs the waiting thread
no CPU, and on a shared core the waiting thread no longer takes the time slices its late partner
needs. The words of the team's state are this module's `STATE_*`.
Sleeping is announced before the wait is checked again (a sequentially consistent add to a
count of sleepers), and the waker reads that count after its sequentially consistent change of
the word waited on, so one of the two sees the other: no wake-up is lost, and the futex call
itself returns at once when the word no longer holds the value slept on. Where there is no futex
(not Linux, or an architecture not in FUTEX_SYSCALL) a wait past `SPINS` sleeps a growing few
microseconds between checks instead (`BACK_OFF_US`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from llvmlite import ir

from frittata.backends.jit import BARRIER_WORDS, MAX_THREADS, Machine
from frittata.backends.llvm_targets import llvm_target
from frittata.backends.llvm.irutil import I32, I64, PTR, VOID, i64, if_then, intrinsic, smin
from frittata.terms.cpu_geometry import X86_ARCHS

BARRIER = "frittata_barrier"
BARRIER_TYPE = ir.FunctionType(VOID, [PTR, I32, I32, I32])
"""`barrier(state, nthreads, tid, claimed)`: `claimed` is the items of the phase's one loop when
`Kernel.phase_claim` says the barrier may wait for them alone, else WHOLE_TEAM."""
WHOLE_TEAM = -1
"""The barrier's `claimed` argument after a phase that waits for every thread."""
THREAD_0 = -2
"""The barrier's `claimed` argument after a phase whose work thread 0 alone does (a run of solo
steps): the others wait for thread 0 to start the next phase."""
LOCKED = 2**31
"""The bit of the work word's low half set by the thread that starts the next phase after a
phase of claimed work: no item can be claimed past it, no other thread can start that phase."""
STATE_ARRIVALS = 0
STATE_WORK = 2
"""The int32 index of the 64-bit word {phase, items claimed} (8-byte aligned)."""
STATE_DONE = 4
STATE_SLEEPERS = 5
"""Threads asleep on the phase (or about to sleep)."""
STATE_DRAINING = 6
"""Threads asleep on the events (or about to sleep): waiting for a phase's claimed items."""
STATE_EVENTS = 7
"""A count of events a thread waiting for claimed items sleeps on: the last item of a phase
done, a phase started (the items done alone cannot serve: the next phase zeroes them, so a
sleeper could miss the change and the word be back at the value it slept on)."""
STATE_OWN = 16
"""Thread t's own phase is word STATE_OWN + t (written by thread t only)."""
assert STATE_OWN + MAX_THREADS == BARRIER_WORDS
SPINS = 2000
"""Pause rounds a waiting thread spins before it sleeps: 2000 `pause`s took 50 us of thread CPU
on the shared AMD EPYC (Zen 3), past a chunk's imbalance in a running team, short beside a
descheduled partner's scheduler tick. Shorter spins measured at load 7-9 (two threads, in one
process, interleaved, 30x5 runs; the helpers' wait for runs spinning as long): 200 rounds
MobileNetV2 wall 0.92, CPU 0.98, ResNet-18 wall 0.98, CPU 0.98; 20 rounds 0.88 / 0.96 and
1.00 / 1.00. Kept at 2000: on an idle machine every wait past the spin pays a futex wake-up
(MobileNetV2 has 54 barriers per run), not measured idle."""
BACK_OFF_US = 1000
"""Where there is no futex, a waiting thread past SPINS sleeps 1, 2, ... up to this many
microseconds between checks: an idle helper of a live module then costs ~nothing, and a wait
ends at most a millisecond late."""
FUTEX_SYSCALL = {"x86_64": 202, "aarch64": 98}
"""Linux's system call number of futex per architecture."""
FUTEX_WAIT_PRIVATE = 128
FUTEX_WAKE_PRIVATE = 129
WAKE_ALL = 2**31 - 1


def futex_syscall(triple: str) -> int | None:
    """The futex system call number for `triple`, None where the barrier has no futex (not
    Linux, or an architecture not in FUTEX_SYSCALL)."""
    return FUTEX_SYSCALL.get(triple.split("-")[0]) if "linux" in triple else None


@cache
def phase_word(triple: str) -> int:
    """The int32 index of the work word's half that holds the phase (the word's high half: the
    second int32 on a little-endian machine, the first on a big-endian one), which threads
    waiting for the phase to change read and sleep on. A 64-bit exchange of the word and 32-bit
    atomic loads of its half are mixed-size atomics, outside LLVM's formal memory model, but
    x86 and AArch64 order them as single-copy atomic accesses of the bytes they share."""
    layout = str(llvm_target(triple, "the team barrier").create_target_machine().target_data)
    return STATE_WORK if layout.startswith("E") else STATE_WORK + 1


def emit_barrier(module: ir.Module, target: Machine) -> ir.Function:
    """`barrier(state, n, tid, claimed)` on the team's state. A team of one returns at once (its
    kernels take from no shared counter). Else, by `claimed`:
    - WHOLE_TEAM: each thread counts itself in; the last to arrive starts the next phase (zeroes
      the count and the items done, then stores the word {phase + 1, nothing claimed}); the
      others wait until the phase changes.
    - THREAD_0: thread 0 starts the next phase; the others wait until it has.
    - the items of the phase's one loop: every thread waits until that many are done or the
      phase changed (a thread that came late passes at once: it found nothing to take); the
      first to lock the word (`LOCKED`, by compare-and-swap) starts the next phase, so a
      descheduled thread, thread 0 too, holds up only the items it took. The lock makes one
      thread zero the items done, before any thread can add to the next phase's.
    Every thread then counts the phase in its own word. WebAssembly modules run on one thread,
    and their kernels take no work from the counter, so there the barrier returns at once.

    Blocks: entry ─(n > 1)─► team ─(claimed = WHOLE_TEAM)─► arrive; team ─(THREAD_0)─► lead or
    wait; team ─(items)─► finish (`_finish_items`); each ─► passed; else ─► return."""
    fn = ir.Function(module, BARRIER_TYPE, name=BARRIER)
    state, n, tid, claimed = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    if target.arch.startswith("wasm"):
        b.ret_void()
        return fn
    with if_then(b, b.icmp_signed(">", n, ir.Constant(I32, 1)), "team"):
        own_at = int32_at(b, state, b.add(tid, ir.Constant(I32, STATE_OWN)))
        own = b.load(own_at, typ=I32, align=4)
        with b.if_else(b.icmp_signed("<", claimed, ir.Constant(I32, 0))) as (whole, items):
            with whole:
                _pass_whole_or_thread_0(b, target, fn.args, own)
            with items:
                _finish_items(b, target, state, own, claimed)
        b.store(b.add(own, ir.Constant(I32, 1)), own_at, align=4)
    b.ret_void()
    return fn


def _pass_whole_or_thread_0(b: ir.IRBuilder, target: Machine, args: tuple[ir.Argument, ...], own: ir.Value) -> None:
    """A barrier of the whole team (`_arrive`), or one where thread 0 starts the next phase and
    the others wait for it (`claimed` THREAD_0)."""
    state, n, tid, claimed = args
    with b.if_else(b.icmp_signed("==", claimed, ir.Constant(I32, WHOLE_TEAM))) as (every, alone):
        with every:
            _arrive(b, target, state, n, own)
        with alone:
            with b.if_else(b.icmp_signed("==", tid, ir.Constant(I32, 0))) as (lead, wait):
                with lead:
                    _start_next_phase(b, target, state, own)
                with wait:
                    _wait_for_phase(b, target, state, own)


def int32_at(b: ir.IRBuilder, words: ir.Value, index: int | ir.Value) -> ir.Value:
    """The address of int32 word `index` of `words` (a team's state or control block)."""
    return b.gep(words, [i64(index) if isinstance(index, int) else index], source_etype=I32)


def _arrive(b: ir.IRBuilder, target: Machine, state: ir.Value, n: ir.Value, own: ir.Value) -> None:
    """Count this thread in; the last to arrive starts the next phase, the others wait for it."""
    arrivals = int32_at(b, state, STATE_ARRIVALS)
    arrived = b.atomic_rmw("add", arrivals, ir.Constant(I32, 1), "acq_rel")
    with b.if_else(b.icmp_signed("==", arrived, b.sub(n, ir.Constant(I32, 1)))) as (release, wait):
        with release:
            b.atomic_rmw("xchg", arrivals, ir.Constant(I32, 0), "monotonic")
            _start_next_phase(b, target, state, own)
        with wait:
            _wait_for_phase(b, target, state, own)


def _finish_items(b: ir.IRBuilder, target: Machine, state: ir.Value, own: ir.Value, claimed: ir.Value) -> None:
    """Wait while the phase is `own` and fewer than `claimed` items are done (asleep on the
    events); then, if the phase is still `own` and its word unlocked, lock it and start the next
    phase; a thread that loses the race waits for the winner to start it."""
    word = int32_at(b, state, STATE_WORK)

    def pending(_events: ir.Value) -> ir.Value:
        ours = b.icmp_unsigned("==", _phase_of(b, b.load_atomic(word, "acquire", 8, typ=I64)), own)
        done = b.load_atomic(int32_at(b, state, STATE_DONE), "acquire", 4, typ=I32)
        return b.and_(ours, b.icmp_signed("!=", done, claimed))

    wait_while(b, target, int32_at(b, state, STATE_EVENTS), pending, int32_at(b, state, STATE_DRAINING))
    seen = b.load_atomic(word, "acquire", 8, typ=I64)
    unlocked = b.icmp_unsigned("==", b.and_(seen, i64(LOCKED)), i64(0))
    with if_then(b, b.and_(b.icmp_unsigned("==", _phase_of(b, seen), own), unlocked), "finish"):
        pair = b.cmpxchg(word, seen, b.or_(seen, i64(LOCKED)), "acq_rel", "acquire")
        with if_then(b, b.extract_value(pair, 1), "finish.won"):
            _start_next_phase(b, target, state, own)
    _wait_for_phase(b, target, state, own)


def _phase_of(b: ir.IRBuilder, word: ir.Value) -> ir.Value:
    return b.trunc(b.lshr(word, i64(32)), I32)


def _start_next_phase(b: ir.IRBuilder, target: Machine, state: ir.Value, own: ir.Value) -> None:
    """Zero the items done, store the word {own + 1, nothing claimed} (sequentially consistent,
    so it is ordered before the read of the sleepers), wake the threads asleep on the phase, then
    count an event and wake those asleep on the events. That event is needed: a thread in
    `_finish_items` that read the phase still `own`, then the items done just after they were
    zeroed here, before the new phase was stored, finds its wait pending and sleeps on the
    events; no item of the old phase will be done again, so only this event wakes it."""
    b.atomic_rmw("xchg", int32_at(b, state, STATE_DONE), ir.Constant(I32, 0), "monotonic")
    next_phase = b.shl(b.zext(b.add(own, ir.Constant(I32, 1)), I64), i64(32))
    b.atomic_rmw("xchg", int32_at(b, state, STATE_WORK), next_phase, "seq_cst")
    wake_sleepers(b, int32_at(b, state, phase_word(target.triple)), int32_at(b, state, STATE_SLEEPERS))
    signal_event(b, state)


def signal_event(b: ir.IRBuilder, state: ir.Value) -> None:
    """Count an event (sequentially consistent) and wake the threads asleep on the events."""
    events = int32_at(b, state, STATE_EVENTS)
    b.atomic_rmw("add", events, ir.Constant(I32, 1), "seq_cst")
    wake_sleepers(b, events, int32_at(b, state, STATE_DRAINING))


def _wait_for_phase(b: ir.IRBuilder, target: Machine, state: ir.Value, own: ir.Value) -> None:
    """Wait while the team's phase (the high half of the work word) is still `own`."""
    wait_while(b, target, int32_at(b, state, phase_word(target.triple)), lambda seen: b.icmp_unsigned("==", seen, own),
               int32_at(b, state, STATE_SLEEPERS))


def wait_while(b: ir.IRBuilder, target: Machine, at: ir.Value, waiting: Callable[[ir.Value], ir.Value],
               sleepers: ir.Value) -> None:
    """Wait while `waiting(value)` holds for the int32 at `at` (read with acquire): spin SPINS
    pause rounds, then sleep on `at` (a futex wait for its value to change) between checks,
    announced in the count at `sleepers` (`wake_sleepers` wakes them); where there is no futex,
    sleep a growing few microseconds between checks instead (`_back_off`).

    Blocks: spin ─(waiting)─► again ─(round <= SPINS)─► spin; again ─► sleep ─► spin;
    spin ─► out."""
    pre = b.block
    spin, again = b.append_basic_block("spin"), b.append_basic_block("spin.again")
    sleep, out = b.append_basic_block("spin.sleep"), b.append_basic_block("spin.out")
    b.branch(spin)
    b.position_at_end(spin)
    rounds = b.phi(I32, name="rounds")
    rounds.add_incoming(ir.Constant(I32, 0), pre)
    _pause(b, target)
    seen = b.load_atomic(at, "acquire", 4, typ=I32)
    b.cbranch(waiting(seen), again, out)
    b.position_at_end(again)
    rounds.add_incoming(b.add(rounds, ir.Constant(I32, 1)), again)
    b.cbranch(b.icmp_signed(">", rounds, ir.Constant(I32, SPINS)), sleep, spin)
    b.position_at_end(sleep)
    number = futex_syscall(target.triple)
    if number is None:
        rounds.add_incoming(_back_off(b, rounds), b.block)
    else:
        b.atomic_rmw("add", sleepers, ir.Constant(I32, 1), "seq_cst")
        now = b.load_atomic(at, "seq_cst", 4, typ=I32)
        with if_then(b, waiting(now), "sleep"):
            _futex(b, number, at, FUTEX_WAIT_PRIVATE, now)
        b.atomic_rmw("sub", sleepers, ir.Constant(I32, 1), "monotonic")
        rounds.add_incoming(rounds, b.block)
    b.branch(spin)
    b.position_at_end(out)


def _back_off(b: ir.IRBuilder, rounds: ir.Value) -> ir.Value:
    """Where there is no futex: sleep (usleep) one microsecond more each round past SPINS, up to
    BACK_OFF_US; the next round's count (a thread waiting long then wakes ~1000 times a second,
    not at every yield of a core)."""
    last = ir.Constant(I32, SPINS + BACK_OFF_US)
    step = smin(b, b.add(rounds, ir.Constant(I32, 1)), last)
    usleep = intrinsic(b.module, "usleep", I32, [I32])
    b.call(usleep, [b.sub(step, ir.Constant(I32, SPINS))])
    return step


def wake_sleepers(b: ir.IRBuilder, at: ir.Value, sleepers: ir.Value) -> None:
    """Wake every thread asleep on the int32 at `at` (`wait_while`), if the count at `sleepers`
    says there is one: called after a sequentially consistent change of the word at `at`."""
    number = futex_syscall(b.module.triple)
    if number is None:
        return
    asleep = b.load_atomic(sleepers, "seq_cst", 4, typ=I32)
    with if_then(b, b.icmp_signed("!=", asleep, ir.Constant(I32, 0)), "wake"):
        _futex(b, number, at, FUTEX_WAKE_PRIVATE, ir.Constant(I32, WAKE_ALL))


def _futex(b: ir.IRBuilder, number: int, at: ir.Value, op: int, value: ir.Value) -> None:
    """syscall(futex, at, op, value, NULL): a wait with no timeout, or a wake of `value` threads."""
    syscall = intrinsic(b.module, "syscall", I64, [I64], var_arg=True)
    b.call(syscall, [i64(number), at, ir.Constant(I32, op), value, ir.Constant(PTR, None)])


def _pause(b: ir.IRBuilder, target: Machine) -> None:
    """The CPU's spin-wait hint, where it has one."""
    match target.arch:
        case arch if arch in X86_ARCHS:
            b.call(intrinsic(b.module, "llvm.x86.sse2.pause", VOID, []), [])
        case "aarch64" | "arm64":
            b.call(intrinsic(b.module, "llvm.aarch64.hint", VOID, [I32]), [ir.Constant(I32, 1)])
        case _:
            pass
