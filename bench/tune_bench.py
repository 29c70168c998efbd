"""Tuned against untuned against onnxruntime, in the same run, and the tuning curve.

For each model (ResNet-18 and MobileNetV2 from the zoo, or a torchvision architecture such as
squeezenet1_0, exported with random weights): `ft.tune` with at most --trials
measurements (the learned search; the log is resumed if it exists; the run ends with the
in-network check, which prints each task's best against its default timed in place and the
verdict that pins which one runs), then the module compiled
with those records (its outputs checked against the interpreter), the module `ft.compile` builds
untuned (the roofline model prices every kernel) and onnxruntime on the same number of threads,
timed in turn for ROUNDS rounds (`alternated`), so the three meet the same load: median
milliseconds of each and the paired speed-up (the median over the rounds of untuned / tuned).
Wall time, and with --threads 1 also the thread's CPU time (what a machine shared with other
jobs leaves comparable: the time the run was descheduled does not count). With --profile, the
kernels whose shortest profiled time differs by more than 10% between the two modules
(`kernel_diff`): where tuning gained or lost in the network. Then the tuning curve: the costliest layer of
ResNet-18 alone (3x3 conv 64->64 at 56x56 with bias and ReLU) tuned --curve-trials times by
the learned search and by random search, a batch of each in turn so both meet the same load,
best GFLOP/s against trials, written as a PNG. With --bound-trials N, after the timings the
log is resumed for N more trials and the best-alone bound printed: the untuned module's
schedulable kernels summed at their untuned schedules' measured times against each task's best
(what tuning could gain at most if every best ran in place as fast as alone).

The replay (--replay SEEDS, 10 by default) compares the three searches (learned, roofline,
random) free of the machine's noise (`frittata.tuning.replay`): a recorded table holds a time for
every candidate of seven layers (ResNet-18's 3x3 convolutions with bias and ReLU, 64 channels at
56x56 to 512 at 7x7, and three 1x1 ones of ResNet-50's bottlenecks; --table, by default the one
the tests read, measured by --measure-table at --threads), and each search runs SEEDS times per
layer, from seed --replay-first-seed (10: seeds 0-9 chose the model's features and variants),
with --replay-trials trials against it, the learned model starting from nothing and, in a second
replay, from the other layers' records (--transfer off | on | both, both by default; a layer's
own records are never transferred). It prints, per layer and over all, the median, quartiles and
mean of the trials each search took to reach random search's final best (same layer and seed),
the learned search against the roofline paired by (layer, seed) with an exact two-sided sign
test, the runs that never reached it, and the share of the layer's best found after 8, 16, 32
and --replay-trials trials, and plots the medians with the quartiles as bands.
Prints the host CPU and its vector ISA first.

Run: python bench/tune_bench.py [--trials 200] [--models resnet18 mobilenet_v2] [--curve-trials 48]
     [--replay SEEDS] [--replay-trials 64] [--replay-first-seed 10] [--table T] [--measure-table]
     [--transfer off|on|both]
     [--out bench/tune_out] [--repeat 45] [--threads 2] [--profile] [--bound-trials N]
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import numpy as np

import frittata as ft
from frittata.errors import TuningError
from frittata.extract.records import Records
from frittata.terms import zoo
from frittata.tuning import LocalRunner
from frittata.tuning.command import tune_progress
from frittata.tuning.tasks import gflops
from frittata.tuning.tuner import SEARCHES
from frittata.tuning.plot import plot_curves
from frittata.tuning.replay import paired, reach_of_random_best, recorded_device, replay, sign_test

sys.path.insert(0, str(Path(__file__).parent))
from llvm_bench import conv, host_description, inputs_of, ort_session  # noqa: E402


def load_model(name: str, out: Path) -> tuple[ft.Program, dict[str, np.ndarray]]:
    """A zoo model, or a torchvision architecture (random weights, never downloaded) exported to
    ONNX at 224x224 as bench/torch_models_bench.py does, and its inputs."""
    if name in zoo.ZOO | zoo.LARGE | zoo.SMALL:
        program = zoo.get(name)
        return program, inputs_of(program)
    import onnx

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.models.torchvision_export import export  # needs torch and torchvision

    path, sample = export(name, 224, out)
    return ft.from_onnx(onnx.load(str(path))), {"x": sample}


def bench_model(name: str, trials: int, out: Path, repeat: int, threads: int, profile: bool = False,
                bound_trials: int = 0) -> None:
    program, inputs = load_model(name, out)
    untuned = ft.compile(program, threads=threads)
    records = out / f"{name}.jsonl"
    start = time.perf_counter()
    with tune_progress(trials) as progress:
        report = ft.tune(program, trials=trials, records=records, threads=threads, progress=progress)
    tune_s = time.perf_counter() - start
    print(report, flush=True)
    tuned = ft.compile(program, threads=threads, records=records)
    check(program, tuned, inputs)
    for side, module in (("untuned", untuned), ("tuned", tuned)):
        timed_out = [p["name"] for p in module.report["stages"]["saturate"]["phases"] if p["stop"] == "time-limit"]
        if timed_out:
            print(f"{name}: the {side} compile's saturation stopped at its time limit in {', '.join(timed_out)} "
                  f"(a busy machine: its extraction may differ from a quiet one's)", flush=True)
    session = ort_session(program, threads)
    sides = {"untuned": lambda: untuned.run(**inputs), "tuned": lambda: tuned.run(**inputs),
             "onnxruntime": functools.partial(session.run, None, inputs)}
    measured = sum(r["priced_by"] == "measured" for r in tuned.report["stages"]["extract"]["kernels"])
    clocks = {"wall": time.perf_counter} | ({"thread CPU": time.thread_time} if threads == 1 else {})
    if profile:
        kernel_diff(untuned.profile(inputs, repeat=repeat), tuned.profile(inputs, repeat=repeat))
    for clock_name, clock in clocks.items():
        ms, speedup = alternated(sides, repeat, clock)
        print(f"{name:14s} t={threads} {clock_name:10s} untuned {ms['untuned']:8.3f} ms  tuned {ms['tuned']:8.3f} ms  "
              f"onnxruntime {ms['onnxruntime']:8.3f} ms  tuned/ort {ms['tuned'] / ms['onnxruntime']:5.2f}  "
              f"untuned/ort {ms['untuned'] / ms['onnxruntime']:5.2f}  speed-up {speedup:5.2f}x (paired)  "
              f"({report.trials} trials this run, {len(report.records)} records, {measured} chosen kernels "
              f"measured, tuning {tune_s:.0f} s)", flush=True)
    if bound_trials:
        ft.tune(program, trials=bound_trials, records=records, threads=threads, confirm=False)
        untuned_s, best_s, measured_kernels, kernels = best_alone_bound(untuned, Records.load(records), threads)
        print(f"{name:14s} best alone: the untuned module's {kernels} schedulable kernels ({measured_kernels} with "
              f"both times measured) take {untuned_s * 1e3:.3f} ms with their untuned schedules, "
              f"{best_s * 1e3:.3f} ms with each task's best: at most {untuned_s / best_s:.3f}x "
              f"({len(Records.load(records))} records)", flush=True)


def best_alone_bound(untuned: ft.Module, records: Records, threads: int) -> tuple[float, float, int, int]:
    """What the best schedules could gain at most: the sums, over the schedulable kernels the
    untuned module runs (its own program's terms), of the median measured time of its untuned
    schedule and of its task's best median (kernels with both measured), the count of those
    kernels, and of all of them."""
    from frittata.extract.cost import term_infos
    from frittata.extract.records import workload_of
    from frittata.tuning.device import host_device

    device = host_device(threads)
    times = records.measured(device.key)
    best: dict[str, float] = {}
    for (key, _), seconds in times.items():
        best[key] = min(best.get(key, np.inf), seconds)
    untuned_s = best_s = 0.0
    measured = kernels = 0
    for _, info in term_infos(untuned.program):
        found = workload_of(info, device.lanes)
        if found is None:
            continue
        kernels += 1
        workload, schedule = found
        if (workload.key, schedule) in times:
            measured += 1
            untuned_s += times[workload.key, schedule]
            best_s += best[workload.key]
    return untuned_s, best_s, measured, kernels


def kernel_diff(untuned, tuned, threshold: float = 0.1) -> None:
    """Where the tuned module gains or loses against the untuned one, kernel by kernel (the
    shortest of the profiled runs of each; rows paired in program order when the two modules have
    as many kernels), rows that differ by more than `threshold`, and the sums."""
    print(f"kernels: untuned {len(untuned.rows)}, sum of shortest {sum(r.best for r in untuned.rows) * 1e3:.3f} ms; "
          f"tuned {len(tuned.rows)}, {sum(r.best for r in tuned.rows) * 1e3:.3f} ms", flush=True)
    if len(untuned.rows) != len(tuned.rows):
        return
    for before, after in zip(untuned.rows, tuned.rows):
        if abs(after.best - before.best) > threshold * before.best:
            print(f"  {before.kernel:28s} {before.best * 1e6:8.1f} us -> {after.kernel:28s} {after.best * 1e6:8.1f} us "
                  f"({after.best / before.best:4.2f}x)", flush=True)


ROUNDS = 9
"""Rounds of `alternated`: each side runs repeat // ROUNDS times (at least 3) per round, in turn."""


def alternated(sides: dict, repeat: int, clock) -> tuple[dict[str, float], float]:
    """Median milliseconds of each side on `clock`, the sides timed in turn for ROUNDS rounds (so
    all meet the same load on a shared machine; one warm-up call each first; each round starts
    with the next side, so no side always runs first), and the median over
    the rounds of the untuned / tuned ratio of that round's medians (the paired speed-up)."""
    for run in sides.values():
        run()
    times: dict[str, list[float]] = {side: [] for side in sides}
    ratios = []
    order = list(sides.items())
    for round_ in range(ROUNDS):
        medians = {}
        for side, run in order[round_ % len(order):] + order[:round_ % len(order)]:
            runs = []
            for _ in range(max(3, repeat // ROUNDS)):
                begin = clock()
                run()
                runs.append((clock() - begin) * 1e3)
            times[side] += runs
            medians[side] = float(np.median(runs))
        ratios.append(medians["untuned"] / medians["tuned"])
    return {side: float(np.median(values)) for side, values in times.items()}, float(np.median(ratios))


def check(program: ft.Program, module, inputs: dict) -> None:
    want = ft.evaluate(program, inputs)
    got = module.run(**inputs)
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-3, atol=1e-3, err_msg=f"tuned output {name}")


def tuning_curve(trials: int, out: Path, threads: int, batch: int = 8) -> None:
    """The learned and the random search on one layer, a batch of each in turn (so both meet the
    same load on a shared machine), each resuming its own log; curves read from the logs."""
    program = conv()
    logs = {search: out / f"curve-{search}.jsonl" for search in ("learned", "random")}
    for path in logs.values():
        path.unlink(missing_ok=True)
    task = None
    with LocalRunner() as runner:
        for step in range(0, trials, batch):
            for search, path in logs.items():
                report = ft.tune(program, trials=min(batch, trials - step), records=path, search=search,
                                 threads=threads, max_tasks=1, batch=batch, runner=runner, seed=step, confirm=False)
                task = report.tasks[0].task
    assert task is not None
    curves = {search: best_curve(task, Records.load(path)) for search, path in logs.items()}
    for search, curve in curves.items():
        reach = next(i + 1 for i, v in enumerate(curve) if v >= 0.9 * max(curve))
        print(f"curve {search:8s}: best {max(curve):6.1f} GFLOP/s after {len(curve)} trials; "
              f"90% of it at trial {reach}", flush=True)
    learned, random = curves["learned"], curves["random"]
    first = next((i + 1 for i, v in enumerate(learned) if v >= max(random)), None)
    print(f"curve: the learned search reached random search's best ({max(random):.1f} GFLOP/s) at trial {first} "
          f"(random: trial {random.index(max(random)) + 1})", flush=True)
    path = out / "tuning_curve.png"
    plot_curves(curves, path, title=f"{task} ({host_description().split(';')[0]})")
    print(f"plot: {path}")


def best_curve(task, records: Records) -> list[float]:
    """Best GFLOP/s of `task` after each of its records, in log order."""
    curve, best = [], 0.0
    for record in records:
        if record.workload.key == task.workload.key:
            if record.ok and record.seconds:
                best = max(best, gflops(task, record.seconds))
            curve.append(best)
    return curve


REPLAY_LAYERS = ((64, 56), (128, 28), (256, 14), (512, 7))
"""(channels, height = width) of the ResNet-18 3x3 convolutions a measured table holds."""
REPLAY_POINTWISE = ((64, 256, 56), (256, 64, 56), (128, 512, 28))
"""(input channels, output channels, height = width) of the 1x1 convolutions (bias, ReLU) it holds:
ResNet-50 bottleneck shapes, not ResNet-18 ones."""
TABLE = Path(__file__).resolve().parents[1] / "tests" / "tuning" / "data" / "replay_table.jsonl.gz"
"""The recorded table the replay reads unless told another (see the module docstring)."""
AT_TRIALS = (8, 16, 32)


def measure_table(path: Path, threads: int) -> None:
    """Measure every candidate of `REPLAY_LAYERS` and `REPLAY_POINTWISE` once into `path` (resumed
    when it exists, with the threads it was measured with: TuningError for other `threads`)."""
    if path.exists() and len(table := Records.load(path)):
        recorded = recorded_device(table).threads
        if recorded != threads:
            raise TuningError(f"measure table: expected --threads {recorded} (the threads {path} was measured "
                              f"with), got {threads}")
    programs = [conv(c, s) for c, s in REPLAY_LAYERS] + [conv(c, s, o, kernel=1) for c, o, s in REPLAY_POINTWISE]
    with LocalRunner() as runner:
        for program in programs:
            report = ft.tune(program, trials=100_000, records=path, search="random", threads=threads,
                             max_tasks=1, runner=runner, confirm=False)
            task = report.tasks[0]
            print(f"table: {task.task}: {task.trials} measured now, {task.resumed} logged before; {task.stop}",
                  flush=True)


FIRST_SEED = 10
"""The replay's first seed: seeds 0-9 are those the learned model's features and search variants
were chosen on (by their replays), so figures from them are biased toward what was kept; 10 on
are held out from that choice."""


def replay_bench(seeds: int, trials: int, out: Path, table_path: Path, transfer: bool,
                 first_seed: int = FIRST_SEED) -> None:
    """Every search (`SEARCHES`) replayed on every workload of the table (`tuning.replay`), seeds
    `first_seed` to `first_seed` + `seeds` - 1: per workload and over all, the median and
    quartiles of the trials each search took to reach random search's final best (same workload
    and seed), the learned search against the roofline's, paired, with the sign test, the runs
    that never reached it, and the share of the table's best found after AT_TRIALS and `trials`
    trials; medians plotted with their quartiles as bands."""
    table = Records.load(table_path)
    device = recorded_device(table)
    start = time.process_time()
    runs = replay(table, range(first_seed, first_seed + seeds), trials, transfer=transfer)
    layers = len({r.workload_key for r in runs})
    print(f"replay: {table_path.name} ({len(table)} records, {device.key}), {seeds} seeds from {first_seed} x "
          f"{layers} workloads x {trials} trials, transfer {'on' if transfer else 'off'}, "
          f"{time.process_time() - start:.0f} s CPU", flush=True)
    workloads = {r.workload.key: str(r.workload) for r in table}
    for key in [*{r.workload_key: None for r in runs}, None]:
        chosen = [r for r in runs if key is None or r.workload_key == key]
        reached = reach_of_random_best(chosen, trials)
        print(f"  {'all workloads' if key is None else workloads[key]}", flush=True)
        for search, found in reached.items():
            shares = np.array([r.shares for r in chosen if r.search == search])
            at = "  ".join(f"@{n} {_quartiles(shares[:, n - 1], '.3f')}"
                           for n in sorted({*AT_TRIALS, trials}) if n <= trials)
            print(f"    {search:8s} reaches random's best at trial {_quartiles(found, '.0f')} "
                  f"(mean {np.mean(found):.1f}, a run never reaching it counted as {trials + 1}); "
                  f"share of the best {at}",
                  flush=True)
        never = {search: sum(n > trials for n in found) for search, found in reached.items()}
        fewer, more, tie = paired(chosen, "learned", "roofline", trials)
        print(f"    learned against roofline, paired (layer, seed): fewer trials to random's best in {fewer}, "
              f"more in {more}, as many in {tie} (two-sided sign test p = {sign_test(fewer, more):.3f}); "
              f"never reached it in {trials} trials: " + ", ".join(f"{s} {n}" for s, n in never.items()), flush=True)
    curves = {s: np.array([r.shares for r in runs if r.search == s]) for s in SEARCHES}
    medians = {s: list(np.median(c, axis=0)) for s, c in curves.items()}
    bands = {s: (list(np.percentile(c, 25, axis=0)), list(np.percentile(c, 75, axis=0))) for s, c in curves.items()}
    path = out / ("tune_replay_transfer.png" if transfer else "tune_replay.png")
    title = (f"replay: {layers} layers x {seeds} seeds, transfer {'on' if transfer else 'off'}\n"
             f"{device.cpu_name} ({device.cpu}), {device.threads} thread(s); median and quartiles")
    plot_curves(medians, path, title=title,
                ylabel="share of the layer's best", bands=bands)
    print(f"plot: {path}")


def _quartiles(values, spec: str) -> str:
    low, mid, high = np.percentile(values, [25, 50, 75])
    return f"{mid:{spec}} [{low:{spec}}-{high:{spec}}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--models", nargs="*", default=["resnet18", "mobilenet_v2"])
    parser.add_argument("--curve-trials", type=int, default=48)
    parser.add_argument("--replay", type=int, default=10, metavar="SEEDS")
    parser.add_argument("--replay-trials", type=int, default=64)
    parser.add_argument("--replay-first-seed", type=int, default=FIRST_SEED,
                        help="the replay's first seed (by default past those its variants were chosen on)")
    parser.add_argument("--table", type=Path, default=TABLE, help="the recorded table the replay reads")
    parser.add_argument("--measure-table", action="store_true",
                        help="first measure every candidate of REPLAY_LAYERS into --table (resumed)")
    parser.add_argument("--transfer", choices=("off", "on", "both"), default="both",
                        help="the learned search starts from nothing (off), from the other layers' records (on), "
                             "or one replay of each (both)")
    parser.add_argument("--out", type=Path, default=Path("bench/tune_out"))
    parser.add_argument("--repeat", type=int, default=45)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="per-kernel times, untuned against tuned")
    parser.add_argument("--bound-trials", type=int, default=0,
                        help="then tune this many trials more (resumed, no check) and print the best-alone bound")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"# {host_description()}", flush=True)
    for name in args.models:
        bench_model(name, args.trials, args.out, args.repeat, args.threads, args.profile, args.bound_trials)
    if args.curve_trials:
        tuning_curve(args.curve_trials, args.out, args.threads)
    if args.measure_table:
        measure_table(args.table, args.threads)
    transfers = {"off": (False,), "on": (True,), "both": (False, True)}[args.transfer] if args.replay else ()
    for transfer in transfers:
        replay_bench(args.replay, args.replay_trials, args.out, args.table, transfer, args.replay_first_seed)


if __name__ == "__main__":
    main()
