"""Bounded equality saturation: schedules as values, limits per phase, a report per phase.

A `Schedule` is a tuple of named `Phase`s, each running the rules of some families. A phase
runs one egglog iteration at a time (then re-saturates the type analyses) and stops at the
first of: saturated, iter-limit, node-limit, time-limit. Before a step that could cross the
node limit (current size times the largest growth seen so far, at least 2x), the e-graph is
checkpointed (`push`) and a step that crosses the limit is rolled back (`pop`); a step that
grows faster than ever seen before can still overshoot, and then ends the phase. One egglog
step cannot be interrupted, so the time limit is checked between steps against a forecast: the
next step is expected to take the last step's time times the last step's growth (step cost
follows e-graph size), and the phase stops ("time-limit") when that would end past the limit.
Without the forecast one exploding step (a GPT decoder's fuse phase grew 1.5k -> 13k -> millions
of rows) ran for more than 15 minutes after a 5-second limit.

The time limit counts this process's CPU seconds (`time.process_time`), not the wall clock: it is
a backstop behind the node and iteration limits, and on a shared host the wall clock stopped
compiles early and extracted other, slower programs (a MobileNetV2 compiled at load 11 stopped
every phase at the limit and left 35 clips and 10 adds unfused). One Zen 3 core at load ~7: every
phase of ResNet-18, ResNet-50, MobileNetV2, the EfficientNet-style model and a GPT decoder (context
128, 4 layers, width 256) saturates in at most 6 iterations and 6.3k rows, in 0.03-0.58 CPU
seconds, where the wall clock read up to 2.6 s. The report's `seconds` stay wall seconds.
Every rule is sound, so whatever the stop reason the e-graph still holds the input program.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from frittata.rewrites.compile import compile_rules
from frittata.rewrites.data import EGraphData
from frittata.rewrites.egraph import EGraphHandle
from frittata.rewrites.library import Params, Source, library_families, select_rules
from frittata.rewrites.matching import pattern_nodes
from frittata.rewrites.rule_format import Pattern, Rule
from frittata.terms.ops import Op
from frittata.terms.program import Program


@dataclass(frozen=True)
class Limits:
    """Per-phase bounds: e-graph rows (e-nodes plus analysis rows), iterations, CPU seconds of
    this process (a backstop: see the module docstring)."""

    nodes: int = 200_000
    iterations: int = 30
    seconds: float = 5.0


@dataclass(frozen=True)
class Phase:
    """A named step of a schedule: the rule families it runs, and optional own limits."""

    name: str
    families: tuple[str, ...]
    limits: Limits | None = None


Schedule = tuple[Phase, ...]

DEFAULT_SCHEDULE: Schedule = (
    Phase("simplify", ("algebraic", "cancel", "fold", "scale", "lowbit")),
    Phase("fuse", ("fusion", "fusion_elementwise", "fusion_softmax", "cancel")),
    Phase("layout", ("layout", "cancel")),
    Phase("tile", ("tiling", "algorithm")),
)


@dataclass
class PhaseReport:
    """What one phase did: why it stopped, its size after, its time, and rule fire counts."""

    name: str
    stop_reason: str
    iterations: int
    nodes: int
    seconds: float
    fired: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        return (f"{self.name:<10} {self.stop_reason:<10} iters={self.iterations:<3} "
                f"nodes={self.nodes:<7} {self.seconds:.3f}s")


@dataclass
class SaturationReport:
    """The per-phase reports of one saturation, in order, and how many (`firable`) of the
    `selected` one-way rules could fire on the program."""

    phases: list[PhaseReport]
    firable: int = 0
    selected: int = 0

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in self.phases)

    @property
    def nodes(self) -> int:
        return self.phases[-1].nodes if self.phases else 0

    def fired(self) -> dict[str, int]:
        """Total matches per rule over all phases, rules that never fired left out."""
        total: Counter[str] = Counter()
        for phase in self.phases:
            total.update(phase.fired)
        return {name: n for name, n in sorted(total.items()) if n}

    def __str__(self) -> str:
        lines = [p.line() for p in self.phases]
        lines += [f"  {name}: {n}" for name, n in self.fired().items()]
        return "\n".join(lines)


def saturate(program: Program, rules: list[Source] | tuple[Source, ...] = (), disable=(),
             schedule: Schedule | None = None, limits: Limits | None = None,
             library: bool = True, params: Params = None) -> tuple[EGraphData, SaturationReport]:
    """Saturate `program` with the library (and user `rules`), phase by phase, within limits.

    `params` bind the rules' `$parameters` (the target's configuration). Returns the e-graph
    as data (extract from it, then `to_program`) and the report.
    """
    selected = select_rules(rules, disable, library, params)
    live = firable(selected, program)
    with EGraphHandle(program) as handle:
        reports = [run_phase(handle, phase, live, phase.limits or limits or Limits())
                   for phase in with_user_phases(schedule or DEFAULT_SCHEDULE, selected)]
        data = handle.data()
    return data, SaturationReport(reports, len(live), sum(len(r.directions()) for r in selected))


def firable(rules: list[Rule], program: Program) -> list[Rule]:
    """The one-way rules that can fire on `program`: those whose left side's operators all occur
    in the program or on the right side of a rule that can fire (a fixpoint over every phase,
    so an over-approximation). A rule left out could never match; compiling it into each phase's
    ruleset cost egglog time for nothing (ResNet-18 and ResNet-50 reach 63 of the library's
    125 one-way rules)."""
    directions = [(d, _ops(d.lhs), _ops(d.rhs)) for r in rules for d in r.directions()]
    present = {t.op for t in program.terms()}
    grew = True
    while grew:
        before = len(present)
        for _, lhs, rhs in directions:
            if lhs <= present:
                present |= rhs
        grew = len(present) > before
    return [d for d, lhs, _ in directions if lhs <= present]


def _ops(pattern: Pattern) -> set[Op]:
    return {node.op for node in pattern_nodes(pattern)}


def with_user_phases(schedule: Schedule, rules: list[Rule]) -> Schedule:
    """The schedule plus one phase per user family (not a library family) it does not run."""
    covered = {f for phase in schedule for f in phase.families} | set(library_families())
    extra = sorted({r.family for r in rules} - covered)
    return tuple(schedule) + tuple(Phase(f, (f, "cancel")) for f in extra)


def run_phase(handle: EGraphHandle, phase: Phase, rules: list[Rule], limits: Limits) -> PhaseReport:
    """Run one phase step by step until saturated or a limit is hit."""
    chosen = [r for r in rules if r.family in phase.families]
    report = PhaseReport(phase.name, "saturated", 0, handle.size(), 0.0)
    if not chosen:
        return report
    compiled = compile_rules(chosen, f"phase-{phase.name}-{id(report)}")
    start, cpu_start, growth, fired = time.perf_counter(), time.process_time(), 2.0, Counter[str]()
    forecast = 0.0
    while True:
        report.stop_reason = _limit_hit(report, limits, time.process_time() - cpu_start + forecast)
        if report.stop_reason:
            break
        before, step_start = report.nodes, time.process_time()
        checkpoint = before * growth > limits.nodes
        if checkpoint:
            handle.push()
        counts = handle.run(compiled.rules, 1, compiled.analysis)
        size = handle.size()
        if size > limits.nodes and checkpoint:
            handle.pop()
            report.stop_reason = "node-limit"
            break
        updated = counts.pop("__updated__")
        fired.update(counts)
        report.iterations, report.nodes = report.iterations + 1, size
        growth = max(growth, size / max(before, 1))
        forecast = (time.process_time() - step_start) * max(1.0, size / max(before, 1))
        if size > limits.nodes:
            report.stop_reason = "node-limit"
            break
        if not updated:
            report.stop_reason = "saturated"
            break
    report.seconds = time.perf_counter() - start
    report.fired = dict(fired)
    return report


def _limit_hit(report: PhaseReport, limits: Limits, elapsed: float) -> str:
    """The limit reached (or, for time, forecast to be reached by the next step), or ""."""
    if report.nodes > limits.nodes:
        return "node-limit"
    if report.iterations >= limits.iterations:
        return "iter-limit"
    if elapsed >= limits.seconds:
        return "time-limit"
    return ""
