"""The VTA simulator: decodes an instruction image, routes each instruction to the load, compute
or store module, and runs the modules in dependency order on one event loop that is both the
functional model (`Machine`) and the cycle model (`timing`).

Each module executes its instructions in order.  An instruction starts when its module is idle,
every queue it pops holds a token, and every queue it pushes has room; among the modules that can
start, the earliest start time goes first.  Pops happen at the start, pushes at completion.  A
state where no module can start, or tokens left over at the end, is a `TokenError`.
"""

from __future__ import annotations

from collections import deque
from typing import assert_never

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram
from frittata.backends.vta.hw.encode import decode_stream
from frittata.backends.vta.hw.errors import StreamError, TokenError
from frittata.backends.vta.hw.isa import (
    Alu, Finish, Gemm, Instruction, Load, Queue, Stage, Store, stage_of)
from frittata.backends.vta.hw.listing import describe
from frittata.backends.vta.hw.machine import Machine
from frittata.backends.vta.hw.timing import Counters, Report, TimingParams, cycles

Pending = dict[Stage, deque[tuple[int, Instruction]]]


class Simulator:
    """One VTA attached to `dram`.  SRAM contents persist across `run` calls, as on hardware."""

    def __init__(self, cfg: VtaConfig, dram: Dram, timing: TimingParams = TimingParams(),
                 queue_depth: int = 8, check_hazards: bool = True) -> None:
        self.cfg, self.timing = cfg, timing
        self.queue_depth, self.check_hazards = queue_depth, check_hazards
        self.machine = Machine(cfg, dram)

    def run(self, image: bytes) -> Report:
        """Fetch, decode and execute an encoded instruction stream."""
        return self.execute(decode_stream(image, self.cfg))

    def execute(self, insns: tuple[Instruction, ...], functional: bool = True) -> Report:
        """Execute decoded instructions; returns the cycle report.  With `functional=False` only
        the cycle model runs (no SRAM or DRAM is touched, as fsim's skip-exec flag): the same
        report, for design-space exploration."""
        pending = _route(insns)
        tokens: dict[Queue, deque[int]] = {q: deque() for q in Queue}
        free = dict.fromkeys(Stage, 0)
        counters = Counters()
        while any(pending.values()):
            stage, start = self._next(pending, tokens, free)
            index, insn = pending[stage].popleft()
            pops, pushes = _queues(insn, stage)
            for queue in pops:
                tokens[queue].popleft()
            if functional:
                self._apply(insn, f"instruction #{index} ({describe(insn)})")
            busy = cycles(insn, self.cfg, self.timing)
            free[stage] = start + busy
            for queue in pushes:
                tokens[queue].append(free[stage])
            counters.record(insn, stage, busy, self.cfg)
        _check_drained(tokens)
        return counters.report(max(free.values()))

    def _next(self, pending: Pending, tokens: dict[Queue, deque[int]],
              free: dict[Stage, int]) -> tuple[Stage, int]:
        """The module to run next and its start cycle; raises `TokenError` on deadlock."""
        best: tuple[int, Stage] | None = None
        for stage, queue in pending.items():
            if not queue:
                continue
            pops, pushes = _queues(queue[0][1], stage)
            if any(not tokens[q] for q in pops):
                continue
            if any(len(tokens[q]) >= self.queue_depth for q in pushes):
                continue
            start = max([free[stage]] + [tokens[q][0] for q in pops])
            if best is None or start < best[0]:
                best = (start, stage)
        if best is None:
            raise TokenError(_deadlock_message(pending, tokens, self.queue_depth))
        return best[1], best[0]

    def _apply(self, insn: Instruction, where: str) -> None:
        match insn:
            case Load():
                self.machine.load(insn, where)
            case Store():
                self.machine.store(insn, where)
            case Gemm():
                self.machine.gemm(insn, where, self.check_hazards)
            case Alu():
                self.machine.alu(insn, where)
            case Finish():
                pass
            case _:
                assert_never(insn)


def _queues(insn: Instruction, stage: Stage) -> tuple[tuple[Queue, ...], tuple[Queue, ...]]:
    """The queues `insn` pops and pushes on `stage` (`_route` has rejected meaningless flags)."""
    pops, pushes = insn.deps.moves(stage)
    return tuple(q for q in pops if q is not None), tuple(q for q in pushes if q is not None)


def _route(insns: tuple[Instruction, ...]) -> Pending:
    """Split the stream per module, rejecting flags a module cannot honour and a missing FINISH."""
    finishes = [i for i, insn in enumerate(insns) if isinstance(insn, Finish)]
    if finishes != [len(insns) - 1]:
        raise StreamError(f"expected exactly one FINISH, as the last instruction of the "
                          f"{len(insns)}-instruction stream, got FINISH at {finishes}")
    pending: Pending = {stage: deque() for stage in Stage}
    for index, insn in enumerate(insns):
        stage = stage_of(insn)
        pops, pushes = insn.deps.moves(stage)
        if None in pops or None in pushes:
            raise StreamError(f"instruction #{index} ({describe(insn)}) runs on the "
                              f"{stage.name.lower()} module, which has no neighbour for its "
                              f"flags {insn.deps}; expected only flags toward existing stages")
        pending[stage].append((index, insn))
    return pending


def _deadlock_message(pending: Pending, tokens: dict[Queue, deque[int]], depth: int) -> str:
    lines = []
    for stage, queue in pending.items():
        if not queue:
            lines.append(f"{stage.name.lower()}: done")
            continue
        index, insn = queue[0]
        pops, pushes = _queues(insn, stage)
        empty = [q.name.lower() for q in pops if not tokens[q]]
        full = [q.name.lower() for q in pushes if len(tokens[q]) >= depth]
        why = (f"waits for a token on {', '.join(empty)} (empty)" if empty
               else f"cannot push to {', '.join(full)} (full at depth {depth})")
        lines.append(f"{stage.name.lower()}: #{index} {describe(insn)} {why}")
    occupancy = ", ".join(f"{q.name.lower()}={len(t)}" for q, t in tokens.items())
    return ("deadlock: no module can proceed; expected every pop to be matched by an earlier "
            "push. " + "; ".join(lines) + f". Queues: {occupancy}")


def _check_drained(tokens: dict[Queue, deque[int]]) -> None:
    left = {q.name.lower(): len(t) for q, t in tokens.items() if t}
    if left:
        raise TokenError(f"expected all token queues empty at the end of the stream, got "
                         f"leftover tokens {left}; every push needs a matching pop")
