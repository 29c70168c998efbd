"""`tune`: measure candidate kernels of a program's tasks and log them as tuning records.

    program ─saturate─► e-graph ─tasks─► per task: proposed schedules, then batches the search
    picks ─runner─► results ─► records (appended to the JSONL log as they arrive)

Trials go to the tasks the analytical extraction's program runs (`Task.in_program`), the e-graph's
other workloads (a layer without its fused activation, ...) only once those have all stopped.
Each task's first batch is measured in task order (costliest first): the schedules the e-graph
holds, and the default's blocks with the other parallel split axis (the analytical rule that
picks the axis is wrong for 3-channel stems: split over output channels they ran 17-24% faster
alone, one Zen 3 core). Every later batch goes to the task whose time in the network the next
trials are expected to cut most, by the gradient of Ansor's task scheduler (Zheng et al., OSDI
2020, sec. 6; TVM's `auto_scheduler.TaskScheduler`):

    priority = count x (ALPHA x seconds per trial its last batch took off its best
                        + (1 - ALPHA) x max(its best seconds / its trials so far,
                                            its best seconds - BETA x its FLOPs / its family's best FLOP/s))

the second term the optimistic guess that a task's time can fall like 1 / trials, so the budget
is shared in proportion to measured time in the network, and a task that stops gaining falls
back as its trials accrue; the family term (only in a family of more than one task: depthwise,
or the same op) can only raise that guess, for a task far slower than its family's fastest
(TVM's g_next = min(best - best / t, BETA x FLOPs / best FLOP/s), as a gain). (The shares were
fixed before, by model seconds over every task; how they compared is in the tuning results.)
Within a task the batches after the first are chosen by the search:

  "learned"  the `RankModel`, refitted on the device's records after every batch, or the
             roofline (its prior) ranks the unmeasured candidates; a batch is the best
             (1 - epsilon) share plus random others (epsilon-greedy). The refitted model ranks
             a task's next batch only where it ordered the task's last batch (scored before it
             was measured) in more agreeing pairs than the roofline did: refitted after every
             batch and trusted always, it cost ~7 trials against the roofline alone (replayed,
             median trials to reach random search's best 21 against 14). The spaces are
             enumerable (a few hundred schedules), so all of them are scored instead of sampled
             by simulated annealing.
  "roofline" the same batches ranked by the analytical (roofline) model alone, never refitted:
             the prior the learned search starts from, kept to measure what refitting adds.
  "random"   uniformly random unmeasured candidates (the baseline of the tuning curve).

Every search is bounded: a task stops when its space is exhausted, when every candidate it
measured failed (its model price would otherwise keep drawing trials), or when `early_stop`
trials passed without a better time; the run stops when the budget or `time_limit` is spent or every task
stopped. The report says why each stopped. With
`resume`, candidates the log already holds for this device are not measured again.

When the search ends, each task with a best schedule other than its default (`Task.default`:
what the untuned program runs) has both measured once more, best then default, and logged
(`confirmed` in the report; re-measurements of candidates already tried, not trials): extraction
prices a candidate by the median of its records, so a best that won by a lucky measurement
regresses toward its time, and the default (measured once, first, when the machine may have been
busier) gets a second time taken beside it. On a shared machine the best of 8 candidates often
won that way: a MobileNetV2 layer's default measured 402 us and its best 325, both measured
again 296 and 334 (one thread, load ~5). Then the best schedules still other than their defaults
are timed against them inside the compiled network (`in_network.check_in_network`), and each
keeps its place only if it wins there by more than the measured noise; the verdicts are logged
with the records.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from frittata.errors import TuningError
from frittata.extract.cpu_model import CpuModel
from frittata.extract.records import Record, Records, Schedule, is_depthwise_workload
from frittata.terms.cpu_schedules import WINOGRAD
from frittata.terms.program import Program
from frittata.tuning.device import Device, host_device
from frittata.tuning.in_network import TIME_LIMIT, NetworkCheck, check_in_network
from frittata.tuning.measure import Job, reference_output
from frittata.tuning.model import RankModel
from frittata.tuning.runners import LocalRunner, Runner
from frittata.tuning.tasks import Task, gflops, program_tasks

SEARCHES = ("learned", "roofline", "random")
BATCH = 8
"""Candidates measured between two refits of the learned search's model."""
EPSILON = 0.2
"""The share of a ranked search's batch picked at random from the candidates it ranks lower."""
ALPHA = 0.2
"""The weight of a task's last gain in its priority against the optimistic guess (Ansor's 0.2)."""
BETA = 2.0
"""How much slower than its family's best rate a task is assumed able to run (Ansor's 2)."""


@dataclass
class TaskReport:
    """One task's outcome: trials measured here, errors among them, best time, stop reason."""

    task: Task
    trials: int = 0
    errors: int = 0
    resumed: int = 0
    best_seconds: float | None = None
    best_schedule: Schedule | None = None
    confirmed: int = 0
    """Successful re-measurements of the best and the default schedule (see the module docstring)."""
    stop: str = "not started (budget spent)"
    curve: list[float] = field(default_factory=list)
    """Best GFLOP/s after each trial of this task (0 before the first success)."""


@dataclass
class TuneReport:
    """What `tune` did: per task, the totals, the device, and why the run stopped."""

    device: Device
    tasks: list[TaskReport]
    records: Records
    stop: str = ""
    seconds: float = 0.0
    network: NetworkCheck | None = None
    """The in-network check of the tasks' best schedules (None when not asked for; `ran` False when
    the time limit had passed)."""

    @property
    def trials(self) -> int:
        return sum(t.trials for t in self.tasks)

    def __str__(self) -> str:
        lines = [f"tune on {self.device.cpu_name} ({self.device.key}): {self.trials} trials, "
                 f"{sum(t.errors for t in self.tasks)} errors, {self.seconds:.1f} s; stopped: {self.stop}"]
        for t in self.tasks:
            if not t.trials and not t.resumed:
                continue
            best = "-" if t.best_seconds is None else (f"{t.best_seconds * 1e3:.3f} ms "
                                                      f"({gflops(t.task, t.best_seconds):.1f} GFLOP/s)")
            confirmed = f", {t.confirmed} confirmed" if t.confirmed else ""
            lines.append(f"  {t.task}: {t.trials} trials (+{t.resumed} resumed{confirmed}), best {best}; {t.stop}")
        untouched = sum(not t.trials and not t.resumed for t in self.tasks)
        if untouched:
            lines.append(f"  {untouched} more tasks not measured (budget spent first)")
        if self.network is not None:
            lines.append(str(self.network))
        return "\n".join(lines)


Progress = Callable[[TaskReport, int, int], None]
"""Told after every batch: the task's report, trials so far in the run, the run's budget."""


def tune(program: Program, target: str = "llvm", *, trials: int = 200, records: str | Path | None = None,
         runner: Runner | None = None, resume: bool = True, search: str = "learned", batch: int = BATCH,
         threads: int | None = None, early_stop: int | None = None, time_limit: float | None = None,
         epsilon: float = EPSILON, max_tasks: int | None = None, progress: Progress | None = None,
         seed: int = 0, confirm: bool = True) -> TuneReport:
    """Tune `program`'s kernels for `target` (the host's "llvm") with at most `trials` measurements.

    `records` is the JSONL log (appended as measurements arrive; with `resume`, what it holds
    for this device is not measured again); `runner` a `LocalRunner` (default) or `RayRunner`;
    `max_tasks` tunes only the first tasks (the costliest the analytical extraction uses);
    `confirm` measures each task's best and default once more, then times the best against the
    default in the compiled network (see the module docstring; off for comparing searches trial
    by trial).
    """
    if target != "llvm":
        raise TuningError(f"tune: expected target 'llvm' (kernels are measured on the host), got {target!r}")
    start = time.perf_counter()
    device = host_device(threads)
    log = Records.load(records) if records is not None and resume and Path(records).exists() else Records()
    if records is not None and not resume:
        Path(records).write_text("")
    every = program_tasks(program, device)
    tasks = every[:max_tasks]
    own_runner = runner is None
    runner = runner or LocalRunner()
    deadline = None if time_limit is None else start + time_limit
    try:
        report = tune_tasks(tasks, device, log, runner, trials=trials, path=records, search=search, batch=batch,
                            early_stop=early_stop, epsilon=epsilon, progress=progress, seed=seed, confirm=confirm,
                            deadline=deadline)
    finally:
        if own_runner:
            runner.close()
    if confirm and deadline is not None and time.perf_counter() >= deadline:
        report.network = NetworkCheck(ran=False, stop="time limit")
    elif confirm:
        left = TIME_LIMIT if deadline is None else min(TIME_LIMIT, deadline - time.perf_counter())
        report.network = check_in_network(program, log, device, records, time_limit=left, tasks=every)
    report.seconds = time.perf_counter() - start
    return report


def tune_tasks(tasks: list[Task], device: Device, log: Records, runner: Runner, *, trials: int,
               path: str | Path | None = None, search: str = "learned", batch: int = BATCH,
               early_stop: int | None = None, epsilon: float = EPSILON, progress: Progress | None = None,
               seed: int = 0, confirm: bool = False, deadline: float | None = None,
               cpu_model: CpuModel | None = None) -> TuneReport:
    """The search of `tune` over given `tasks` on `device`, measured by `runner` and appended to
    `log` (and to the file `path`): the in-network check aside, what `tune` does. `cpu_model`
    is the analytical model the learned model's features read (the host's by default; a replay
    passes the recorded device's)."""
    if search not in SEARCHES:
        raise TuningError(f"tune: expected search in {SEARCHES}, got {search!r}")
    report = TuneReport(device, [TaskReport(t) for t in tasks], log)
    session = _Session(report, runner, path, search, batch, early_stop, epsilon, progress, seed, device, confirm,
                       cpu_model)
    report.stop = session.run(trials, deadline)
    return report


def _family(task: Task) -> str:
    """Which tasks are alike in how fast they can run: depthwise convolutions (bound by memory),
    or the workload's op."""
    return "depthwise" if is_depthwise_workload(task.workload) else task.workload.op


def _family_rates(searches: list[_TaskSearch]) -> dict[str, float]:
    """For each task (by workload key), the best FLOP/s a task of its family (itself included)
    reached; 0 where it is alone in its family or none was measured. A task whose best runs
    Winograd adds no rate: its FLOPs are the direct convolution's, which it does not compute (the
    3x3 layers of ResNet-18 read 220-260 GFLOP/s so, above one Zen 3 core's FMA peak, and drew
    112 of 200 trials to the 7x7 layer, at 91 GFLOP/s on Winograd or the direct kernel)."""
    rates: dict[str, list[float]] = {}
    for search in searches:
        tr = search.report
        winograd = tr.best_schedule is not None and dict(tr.best_schedule).get("kernel") == WINOGRAD
        rate = tr.task.flops / tr.best_seconds if tr.best_seconds and not winograd else 0.0
        rates.setdefault(_family(tr.task), []).append(rate)
    result: dict[str, float] = {}
    for search in searches:
        family = rates[_family(search.report.task)]
        result[search.report.task.workload.key] = max(family) if len(family) > 1 else 0.0
    return result


@dataclass
class _TaskSearch:
    """One task's search between its batches."""

    report: TaskReport
    left: list[Schedule]
    """Its candidates not measured yet."""
    space: int
    reference: np.ndarray | None = None
    """The interpreter's output of the task's inputs (`measure.reference_output`, computed for its
    first batch; None before it)."""
    since_better: int = 0
    gain: float = 0.0
    """Seconds per trial its last batch took off its best."""
    stopped: bool = False


class _Session:
    """One run's state: the log, the runner, the search and the ranking model."""

    def __init__(self, report: TuneReport, runner: Runner, path, search: str, batch: int, early_stop,
                 epsilon: float, progress, seed: int, device: Device, confirm: bool,
                 cpu_model: CpuModel | None = None) -> None:
        self.report, self.runner, self.path, self.search = report, runner, path, search
        self.batch, self.early_stop, self.epsilon, self.progress = max(1, batch), early_stop, epsilon, progress
        self.random, self.device = random.Random(seed), device
        self.model = RankModel(device.lanes, device.threads, cpu_model)
        self.spent = self.trials = 0
        self.confirm = confirm
        self._ranked: dict[Schedule, tuple[float, float]] = {}
        self._trust: dict[str, bool] = {}
        if search == "learned":  # what a resumed log (or earlier workloads) taught carries over
            self.model.fit([r for r in report.records if r.device == device.key])

    def run(self, trials: int, deadline: float | None) -> str:
        self.trials = trials
        searches = [self._start(tr) for tr in self.report.tasks]
        stop = "every task stopped"
        for in_program in (True, False):
            stop = self._share_out([s for s in searches if s.report.task.in_program == in_program], deadline)
            if stop != "every task stopped":
                break
        for search in searches:
            if not search.stopped and search.report.trials:
                search.report.stop = f"the run stopped: {stop}"
        for tr in self.report.tasks:
            if self.confirm and tr.trials and (deadline is None or time.perf_counter() < deadline):
                self._confirm(tr)
        return stop

    def _share_out(self, searches: list[_TaskSearch], deadline: float | None) -> str:
        """Each task's first batch in order (only its `Task.first` schedules not measured yet: a
        resumed run whose log holds them goes straight on by priority), then every next batch to
        the task of the highest `_priority` (the first such on a tie) until the budget or the time
        is spent or every task stopped; which of the three."""
        for search in searches:
            if stop := self._limit(deadline):
                return stop
            if not search.stopped and any(s in search.left for s in search.report.task.first):
                self._step(search)
        while active := [s for s in searches if not s.stopped]:
            if stop := self._limit(deadline):
                return stop
            rates = _family_rates(searches)
            self._step(max(active, key=lambda s: self._priority(s, rates)))
        return "every task stopped"

    def _limit(self, deadline: float | None) -> str | None:
        if self.spent >= self.trials:
            return f"trial budget spent ({self.trials})"
        if deadline is not None and time.perf_counter() >= deadline:
            return "time limit"
        return None

    @staticmethod
    def _priority(search: _TaskSearch, rates: dict[str, float]) -> float:
        """Network seconds the task's next trials are expected to save, per trial (see the module
        docstring); the model's seconds stand in for a best no trial measured."""
        tr = search.report
        best = tr.best_seconds if tr.best_seconds is not None else tr.task.model_seconds
        optimistic = best / max(1, tr.trials + tr.resumed)
        if rate := rates[tr.task.workload.key]:
            optimistic = max(optimistic, best - BETA * tr.task.flops / rate)
        return tr.task.count * (ALPHA * search.gain + (1 - ALPHA) * optimistic)

    def _start(self, tr: TaskReport) -> _TaskSearch:
        """The task's search before its first batch: the candidates the log does not hold yet."""
        key = tr.task.workload.key
        tried = self.report.records.tried(self.device.key)
        space = tr.task.space(self.device.lanes)
        tr.resumed = sum((key, s) in tried for s in space)
        self._note_best(tr, self.report.records.best(self.device.key).get(key))
        search = _TaskSearch(tr, [s for s in space if (key, s) not in tried], len(space))
        self._check_stop(search)
        return search

    def _step(self, search: _TaskSearch) -> None:
        """Measure one batch of the task's candidates, picked by the search."""
        tr = search.report
        if search.reference is None:
            search.reference = reference_output(tr.task.workload, 0)
        picked = self._pick(tr.task, search.left, min(self.batch, self.trials - self.spent))
        search.left = [s for s in search.left if s not in picked]
        before = tr.best_seconds
        improved = self._measure(tr, picked, search.reference)
        after = tr.best_seconds
        search.gain = (before - after) / len(picked) if improved and before is not None and after is not None else 0.0
        search.since_better = 0 if improved else search.since_better + len(picked)
        self._check_stop(search)

    def _check_stop(self, search: _TaskSearch) -> None:
        tr = search.report
        if tr.trials and tr.errors == tr.trials and tr.best_seconds is None:
            search.stopped, tr.stop = True, f"every candidate failed ({tr.errors} errors)"
        elif not search.left:
            search.stopped, search.report.stop = True, f"space exhausted ({search.space} schedules)"
        elif self.early_stop is not None and search.since_better >= self.early_stop:
            search.stopped = True
            search.report.stop = f"no better time in {search.since_better} trials (early stop)"

    def _confirm(self, tr: TaskReport) -> None:
        """Measure the task's best and default schedules once more, if they differ and both were
        measured (see the module docstring)."""
        task, key = tr.task, tr.task.workload.key
        default, times = task.default, self.report.records.measured(self.device.key)
        if default is None or tr.best_schedule in (None, default) or (key, default) not in times:
            return
        schedules = [tr.best_schedule, default]
        reference = reference_output(task.workload, 0)
        jobs = [Job(task.workload, s, self.device.threads, reference) for s in schedules]
        for schedule, result in zip(schedules, self.runner.run(jobs)):
            self.report.records.append(Record(task.workload, schedule, self.device.key, self.device.target(),
                                              result.seconds, result.error, time.time()), self.path)
            tr.confirmed += result.error is None

    def _pick(self, task: Task, left: list[Schedule], n: int) -> list[Schedule]:
        self._ranked = {}
        waiting = set(left)
        proposed = [s for s in task.first if s in waiting]  # in `Task.first`'s order: the default first
        if proposed:
            return proposed[:n]
        if self.search == "random" or len(left) <= n:
            return self.random.sample(left, min(n, len(left)))
        scores = self._scores(task, left)
        ranked = [left[i] for i in sorted(range(len(left)), key=lambda i: -scores[i])]
        greedy = ranked[:n - int(self.epsilon * n)]
        rest = ranked[len(greedy):]
        return greedy + self.random.sample(rest, min(n - len(greedy), len(rest)))

    def _scores(self, task: Task, left: list[Schedule]) -> np.ndarray:
        """The ranking of `left`: the roofline's, or the refitted model's where it ranked the
        task's last batch better than the roofline did (compared before that batch was fitted)."""
        prior = self.model.prior(task.workload, left)
        if self.search == "roofline" or not self.model.trained:
            return prior
        fitted = self.model.scores(task.workload, left)
        self._ranked = {s: (f, p) for s, f, p in zip(left, fitted, prior)}
        return fitted if self._trust.get(task.workload.key, False) else prior

    def _judge(self, key: str, records: list[Record]) -> None:
        """Trust the fitted model for workload `key` if it ordered `records` (one batch, scored
        before it was measured) in more agreeing pairs than the roofline did."""
        timed = [(r.seconds, *self._ranked[r.schedule]) for r in records
                 if r.ok and r.seconds and r.schedule in self._ranked]
        pairs = [(a, b) for a in timed for b in timed if a[0] < b[0]]
        if pairs:
            fitted = sum(a[1] > b[1] for a, b in pairs)
            prior = sum(a[2] > b[2] for a, b in pairs)
            self._trust[key] = fitted > prior

    def _measure(self, tr: TaskReport, schedules: list[Schedule], reference: np.ndarray) -> bool:
        """Measure `schedules`, log them, refit the model; True if the task's best improved."""
        jobs = [Job(tr.task.workload, s, self.device.threads, reference) for s in schedules]
        before = tr.best_seconds
        for schedule, result in zip(schedules, self.runner.run(jobs)):
            record = Record(tr.task.workload, schedule, self.device.key, self.device.target(), result.seconds,
                            result.error, time.time())
            self.report.records.append(record, self.path)
            tr.trials += 1
            tr.errors += not record.ok
            self._note_best(tr, record)
            tr.curve.append(gflops(tr.task, tr.best_seconds) if tr.best_seconds else 0.0)
        self.spent += len(schedules)
        if self.search == "learned":
            self._judge(tr.task.workload.key, self.report.records.records[-len(schedules):])
            self.model.fit([r for r in self.report.records if r.device == self.device.key])
        if self.progress:
            self.progress(tr, self.spent, self.trials)
        return tr.best_seconds is not None and (before is None or tr.best_seconds < before)

    @staticmethod
    def _note_best(tr: TaskReport, record: Record | None) -> None:
        if record is None or record.seconds is None or record.error is not None:
            return
        if tr.best_seconds is None or record.seconds < tr.best_seconds:
            tr.best_seconds, tr.best_schedule = record.seconds, record.schedule
