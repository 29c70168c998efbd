"""The in-network check: a task's best schedule replaces its default only if it wins in place.

A kernel measured faster alone can run slower inside the network: there its input comes from
the previous kernel (warm or cold in cache as in the real run), its neighbours compete for the
caches and its threads wake from the previous kernel's barrier. On this project's AMD EPYC
(Zen 3, one thread) the kernels a tuned MobileNetV2 swapped in ran 10-18% slower in the network
than the defaults they replaced, although measured faster alone (the 64 -> 384 1x1 layers at
14x14: 126 -> 145 us), so tuning lost 3-4% against the untuned module.

`check_in_network` compiles the program twice with the tuning records: "tuned", where
extraction is free to choose the candidates' best schedules (`Records.free`; earlier verdicts
on their workloads left out; every other workload runs its pin or default), and "baseline",
where every candidate's workload is pinned to its default (the schedule it runs now: see
`candidates`). It times both in turn, round after round,
and reads each kernel's time from the module's timed run (`Module.run_timed`: the compiled
network with a time stamp between kernels), so each kernel runs after its real predecessor, on
its real input, with its real threads. Rounds go in pairs, the baseline first in one and the
tuned module first in the other; per candidate, a pair gives one ratio: the baseline's seconds
of the candidate's layer over the tuned module's, both summed over the pair, so what running
first or second costs cancels.

A candidate's layer is the steps that run its workload (by workload key), and the steps of the
same contraction (`measured.geometry`) that are no other tuned workload (an unfused variant, a
Winograd form), with the elementwise passes that take their output. Where either network runs
the layer only as another tuned workload (SqueezeNet's stem, tuned bias-only, ran in the
baseline fused with its ReLU, a workload of its own), the layer is every step of its contraction
in both networks: before, such a candidate was left untimed, and ran in the tuned network
unchecked. Two candidates of one contraction could not both be told apart that way, so one check
times the first of them only: the others are skipped, not judged, and offered again by the next
check.

`decide`, from MIN_PAIRS pairs on: gain = median ratio - 1, noise = NOTCH * IQR / sqrt(n), the
half-width of a notched box plot's notch (McGill, Tukey and Larsen, 1978: two medians whose
notches do not overlap differ at about the 5% level; as an interval of one median of normal
data it covers about 91%, 1.70 standard errors); KEPT when gain - noise > MIN_GAIN, REJECTED
when gain + noise < MIN_GAIN, undecided otherwise. The check stops when every candidate is
decided, the round budget is spent or the time limit passes, and says which. A decision is
logged as a `Verdict`, which pins the schedule its workload runs (`Records.pinned`), and a
candidate a verdict judged is not checked again; an undecided candidate (too few pairs, or a
gain inside the noise) is not logged: it keeps the schedule it runs now (a compile with the
records runs a measured workload's schedule other than its default or pin only where a decided
verdict kept it: `extract.measured`) and the next check offers it again.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from frittata.errors import TuningError
from frittata.extract.cost import NodeInfo, term_infos
from frittata.extract.measured import info_geometry, layer_of
from frittata.extract.records import (MIN_GAIN, MIN_PAIRS, Records, Schedule, Verdict, Workload, infer_output,
                                      workload_of)
from frittata.terms import ops
from frittata.terms.cpu_schedules import CONV_OPS, DENSE_OPS
from frittata.terms.ops import Op
from frittata.terms.program import Program
from frittata.tuning.device import Device
from frittata.tuning.tasks import Task, held_defaults, program_tasks

KEPT, REJECTED = "kept", "rejected"
MAX_ROUNDS = 600
"""The round budget (300 pairs): at one thread a round of MobileNetV2 (both networks, their
kernels timed) took about 50 ms on a loaded AMD EPYC (Zen 3)."""
TIME_LIMIT = 60.0
"""Seconds the rounds may take at most (compiles not counted)."""
NOTCH = 1.58
"""A median's interval half-width in IQRs per sqrt(rounds) (notched box plots)."""


@dataclass(frozen=True)
class Candidate:
    """A workload whose fastest schedule measured alone, `schedule`, is not the one it runs now,
    `default` (its pinned schedule, else its untuned default; see `candidates`)."""

    workload: Workload
    default: Schedule
    schedule: Schedule


@dataclass
class NetworkCheck:
    """What the check did: its verdicts, the candidates it did not time, rounds, why it stopped."""

    ran: bool = True
    """False when the check was not run (then `stop` says why)."""
    timed: list[Candidate] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    """The decisions logged (kept or rejected; an undecided candidate is not logged)."""
    decisions: dict[str, str | None] = field(default_factory=dict)
    """Per timed candidate's workload key: KEPT, REJECTED, or None (undecided)."""
    outcomes: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Per timed candidate's workload key: (gain, noise) in place (see `decide`)."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Candidates not timed (by workload) and why."""
    rounds: int = 0
    stop: str = "no candidate (every task's best is the schedule it runs or was judged before)"
    whole: float | None = None
    """Median over the rounds of the baseline network's time over the tuned one's."""

    def __str__(self) -> str:
        if not self.ran:
            return f"in-network check: not run ({self.stop})"
        kept = sum(v.kept for v in self.verdicts)
        whole = "" if self.whole is None else f", whole network baseline / tuned {self.whole:.3f}"
        lines = [f"in-network check: {len(self.timed)} candidates timed in place, {kept} kept, "
                 f"{self.rounds} rounds{whole}; stopped: {self.stop}"]
        for c in self.timed:
            gain, noise = self.outcomes[c.workload.key]
            decision = self.decisions[c.workload.key] or "undecided (keeps its schedule; offered again)"
            lines.append(f"  {c.workload}: {decision}, in place {gain:+.1%} +- {noise:.1%}")
        lines += [f"  {workload}: not timed ({why})" for workload, why in self.skipped.items()]
        return "\n".join(lines)


def decide(ratios: Sequence[float], min_pairs: int = MIN_PAIRS) -> tuple[str | None, float, float]:
    """(KEPT, REJECTED or None when undecided, gain, noise) of paired ratios default / candidate
    (see the module docstring); no ratio: undecided, gain 0, noise inf. TuningError if a ratio
    is not positive and finite."""
    if not ratios:
        return None, 0.0, math.inf
    if not all(math.isfinite(r) and r > 0 for r in ratios):
        raise TuningError(f"in-network check: expected positive finite ratios, got {list(ratios)}")
    q1, median, q3 = np.percentile(ratios, [25, 50, 75])
    gain, noise = float(median) - 1.0, NOTCH * float(q3 - q1) / len(ratios) ** 0.5
    if len(ratios) < min_pairs:
        return None, gain, noise
    if gain - noise > MIN_GAIN:
        return KEPT, gain, noise
    if gain + noise < MIN_GAIN:
        return REJECTED, gain, noise
    return None, gain, noise


Round = Callable[[int], dict[str, tuple[float, float]]]
"""Times one round (its index given): per candidate key, (baseline seconds, tuned seconds)."""


def run_rounds(keys: Sequence[str], measure: Round, max_rounds: int = MAX_ROUNDS, min_pairs: int = MIN_PAIRS,
               deadline: float | None = None) -> tuple[dict[str, list[float]], dict[str, str | None], int, str]:
    """Paired ratios per key (one per pair of rounds, see the module docstring), the decisions,
    the rounds run and why they stopped: only ever after a whole pair (an odd round budget
    leaves its last round out). TuningError naming the key and round if a time is not positive
    and finite."""
    ratios: dict[str, list[float]] = {key: [] for key in keys}
    decisions: dict[str, str | None] = dict.fromkeys(keys)
    budget = max_rounds - max_rounds % 2
    for n in range(0, budget, 2):
        if deadline is not None and time.perf_counter() >= deadline:
            return ratios, decisions, n, f"time limit after {n} rounds"
        first, second = measure(n), measure(n + 1)
        for key in keys:
            (b0, t0), (b1, t1) = _seconds(first, key, n), _seconds(second, key, n + 1)
            ratios[key].append((b0 + b1) / (t0 + t1))
        decisions = {key: decide(values, min_pairs)[0] for key, values in ratios.items()}
        if all(decisions.values()):
            return ratios, decisions, n + 2, f"every candidate decided after {n + 2} rounds"
    return ratios, decisions, budget, f"round budget spent ({budget} rounds)"


def _seconds(times: dict[str, tuple[float, float]], key: str, n: int) -> tuple[float, float]:
    """The (baseline, tuned) seconds of `key` in round `n`; TuningError unless both are positive
    and finite."""
    found = times.get(key)
    if found is None or not all(math.isfinite(t) and t > 0 for t in found):
        raise TuningError(f"in-network check: expected positive finite seconds (baseline, tuned) of workload "
                          f"{key} in round {n}, got {found}")
    return found


def candidates(records: Records, device: str, defaults: Mapping[str, Schedule | None]) -> list[Candidate]:
    """Per workload, its schedule of the shortest median time alone, where that is not the
    schedule it runs now (measured too) and no verdict decided on it (`Verdict.decided`). The
    schedule it runs now, the candidate's `default`, is the one a verdict pins (`Records.pinned`)
    where there is one, else its held default in `defaults` (per workload key,
    `tasks.held_defaults`: chosen from the schedules the program's e-graph holds, the list a
    compile with the records chooses it from); a workload `defaults` lacks is not the program's.
    A candidate rejected against a kept schedule leaves that one pinned."""
    medians, pinned = records.measured(device), records.pinned(device)
    judged = {(v.workload.key, v.candidate) for v in records.verdicts if v.device == device and v.decided}
    fastest: dict[str, tuple[float, Schedule]] = {}
    workloads: dict[str, Workload] = {}
    for (key, schedule), seconds in medians.items():
        if key not in fastest or seconds < fastest[key][0]:
            fastest[key] = (seconds, schedule)
    for record in records:
        workloads.setdefault(record.workload.key, record.workload)
    found = []
    for key, (_, schedule) in fastest.items():
        default = pinned.get(key, defaults.get(key))
        if default is not None and default != schedule and (key, default) in medians \
                and (key, schedule) not in judged:
            found.append(Candidate(workloads[key], default, schedule))
    return found


def check_in_network(program: Program, records: Records, device: Device, path: str | Path | None = None, *,
                     max_rounds: int = MAX_ROUNDS, time_limit: float = TIME_LIMIT, seed: int = 0,
                     tasks: list[Task] | None = None) -> NetworkCheck:
    """Time each candidate against the schedule it runs now inside `program`'s compiled network
    and log a verdict for each decided one (appended to `records`, and to the log at `path`);
    `tasks` are `program`'s (`tasks.program_tasks`, derived here when not given), whose held
    defaults (`tasks.held_defaults`) the candidates are timed against."""
    from frittata.driver import compile as compile_program

    report = NetworkCheck()
    tasks = program_tasks(program, device) if tasks is None else tasks
    found = candidates(records, device.key, held_defaults(tasks, records, device.key, device.lanes))
    if not found:
        return report
    free = unpinned(records, found)
    tuned = compile_program(program, threads=device.threads, records=free)
    chosen, report.skipped = _timeable(found, _running(tuned, device.lanes))
    if not chosen:
        report.stop = "no candidate to time in the tuned network"
        return report
    pins = [_pin(c, device.key) for c in chosen]
    baseline = compile_program(program, threads=device.threads, records=Records(records.records, free.verdicts + pins))
    others = {r.workload.key for r in records} - {c.workload.key for c in chosen}
    steps = (_layer_steps(baseline, chosen, others, device.lanes), _layer_steps(tuned, chosen, others, device.lanes))
    loose = {i for i in range(len(chosen)) if not (steps[0][i] and steps[1][i])}
    if loose:  # a network runs the layer as another tuned workload: its whole contraction in both
        steps = (_layer_steps(baseline, chosen, others, device.lanes, loose),
                 _layer_steps(tuned, chosen, others, device.lanes, loose))
    for i, c in reversed(list(enumerate(chosen))):
        if not (steps[0][i] and steps[1][i]):
            report.skipped[str(c.workload)] = "no kernel of its layer found in both networks' timed steps"
            del chosen[i], steps[0][i], steps[1][i]
    if not chosen:
        report.stop = "no candidate's layer found in both networks"
        return report
    rng = np.random.default_rng(seed)
    inputs = {n: rng.standard_normal(t.shape).astype(t.dtype) for n, t in program.inputs.items()}
    wholes: list[float] = []
    ratios, report.decisions, report.rounds, report.stop = run_rounds(
        [c.workload.key for c in chosen], _round_timer((baseline, tuned), steps, inputs, chosen, wholes),
        max_rounds, deadline=time.perf_counter() + time_limit)
    report.whole = statistics.median(wholes) if wholes else None
    report.timed = chosen
    for c in chosen:
        decision, gain, noise = decide(ratios[c.workload.key])
        report.outcomes[c.workload.key] = (gain, noise)
        if decision is not None:
            verdict = Verdict(c.workload, device.key, c.schedule, c.default, decision == KEPT, gain, noise,
                              report.rounds, time.time())
            records.append(verdict, path)
            report.verdicts.append(verdict)
    return report


def _pin(candidate: Candidate, device: str) -> Verdict:
    """A verdict that pins `candidate`'s workload to the schedule it runs now, for the baseline
    compile only (never logged): a rejection by construction (gain -1, as if the candidate took
    forever, no noise), so it decides (`Verdict.decided`)."""
    return Verdict(candidate.workload, device, candidate.schedule, candidate.default, False, -1.0, 0.0, MIN_PAIRS,
                   time.time())


def _timeable(found: list[Candidate], running: set[tuple[str, Schedule]]) -> tuple[list[Candidate], dict[str, str]]:
    """The candidates one check times: those the tuned network runs, the first of each
    contraction (`layer_of`); and the others with why they are not timed."""
    chosen: list[Candidate] = []
    skipped: dict[str, str] = {}
    layers: set[tuple] = set()
    for c in found:
        if (c.workload.key, c.schedule) not in running:
            skipped[str(c.workload)] = "extraction did not choose it in the tuned network"
        elif layer_of(c.workload) in layers:
            skipped[str(c.workload)] = "another candidate of its contraction is timed first; offered again next check"
        else:
            layers.add(layer_of(c.workload))
            chosen.append(c)
    return chosen, skipped


def unpinned(records: Records, found: Sequence[Candidate]) -> Records:
    """`records` with the candidates' workloads free (`Records.free`: extraction may choose their
    fastest schedules without a verdict; every other workload runs its pin or default), without
    the verdicts on the candidates' workloads or on any workload of the same contraction
    (`layer_of`): else another workload's verdict of the same geometry would still price the
    candidate out of the tuned network."""
    keys, layers = {c.workload.key for c in found}, {layer_of(c.workload) for c in found}
    return Records(records.records, [v for v in records.verdicts
                                     if v.workload.key not in keys and layer_of(v.workload) not in layers],
                   frozenset(keys))


def _running(module, lanes: int) -> set[tuple[str, Schedule]]:
    """(workload key, schedule) of every schedulable kernel `module` runs."""
    found = (workload_of(info, lanes) for _, info in term_infos(module.program))
    return {(workload.key, schedule) for workload, schedule in filter(None, found)}


LAYER_OPS = CONV_OPS | DENSE_OPS | {Op.WINOGRAD_CONV2D}
"""Contractions a layer may run as: a convolution or dense layer whatever its fusion, schedule or
algorithm (Winograd computes the convolution of its operands)."""


def _geometry(info: NodeInfo) -> tuple | None:
    """The contraction `info` computes (`measured.geometry`), or None if it is none."""
    if info.op not in LAYER_OPS:
        return None
    return info_geometry(replace(info, op=Op.CONV2D) if info.op == Op.WINOGRAD_CONV2D else info)


EPILOGUE_PASSES = ops.ELEMENTWISE | {Op.FUSED_ELEMENTWISE}
"""Kernels that may run a contraction's epilogue as a separate pass over its output."""


def _layer_steps(module, chosen: list[Candidate], others: set[str], lanes: int,
                 loose: frozenset[int] | set[int] = frozenset()) -> list[list[int]]:
    """Per candidate, the indices of `module`'s timed steps that run its layer (see the module
    docstring): a kernel of its workload; a kernel of its contraction (`geometry`) that is no
    workload in `others` (another layer of the same shapes, which `chosen` holds at most one of
    per contraction), or any kernel of its contraction for the candidates in `loose` (those a
    network runs only as another tuned workload); and the elementwise kernels that take their
    output (an epilogue run as a separate pass)."""
    from frittata.backends.profile import samples

    keys = {c.workload.key: i for i, c in enumerate(chosen)}
    layers = {_geometry(infer_output(c.workload)): i for i, c in enumerate(chosen)}
    infos = dict((id(term), info) for term, info in term_infos(module.program))
    steps: list[list[int]] = [[] for _ in chosen]
    producers: dict[int, int] = {}
    for i, sample in enumerate(samples(module.steps, module.program.terms())):
        if sample.term is None:
            continue
        info = infos[id(sample.term)]
        found = workload_of(info, lanes)
        key = None if found is None else found[0].key
        layer = layers.get(_geometry(info))
        index = layer if layer in loose else keys.get(key) if key in keys else None if key in others else layer
        if index is not None:
            producers[id(sample.term)] = index
            steps[index].append(i)
        elif sample.term.op in EPILOGUE_PASSES:
            for fed in {producers[id(a)] for a in sample.term.args if id(a) in producers}:
                steps[fed].append(i)
    return steps


def _round_timer(modules: tuple[Any, Any], steps: tuple[list[list[int]], list[list[int]]], inputs: dict,
                 chosen: list[Candidate], wholes: list[float]) -> Round:
    """A `Round` timing the baseline and the tuned module once each (the first alternating, after
    two warm-up runs of each): per candidate, the seconds of its layer's steps in each; each
    round's whole-network ratio baseline / tuned is appended to `wholes`."""
    (base, tune), (base_steps, tune_steps) = modules, steps
    for _ in range(2):
        base.run_timed(**inputs)
        tune.run_timed(**inputs)

    def measure(n: int) -> dict[str, tuple[float, float]]:
        if n % 2:
            after, before = tune.run_timed(**inputs)[1], base.run_timed(**inputs)[1]
        else:
            before, after = base.run_timed(**inputs)[1], tune.run_timed(**inputs)[1]
        wholes.append(float(before.sum() / after.sum()))
        return {c.workload.key: (float(before[base_steps[i]].sum()), float(after[tune_steps[i]].sum()))
                for i, c in enumerate(chosen)}

    return measure
