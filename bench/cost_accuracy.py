"""How far the analytical CPU cost model is from the kernels it prices: each kernel's predicted
time against its measured time, as ratios by kernel kind.

Each model (torchvision exports as bench/torch_models_bench.py builds them, random weights, and
the zoo's) is compiled for one thread and profiled (`Module.profile`: each step's wall time on
thread 0, `--repeat` runs); every step is priced again by `CpuModel.for_host(cores=1)` (the
compile prices for two cores whatever the threads) and sorted into its kernel kind: the
blocked kernel a contraction's schedule runs (direct convolution, pointwise, strided, dense,
depthwise, Winograd F(2x2)/F(4x4), pixel GEMM, channel GEMM, channels-in-lanes, int8, generic
loops) or its operator's cost class. On two threads thread 0's step times do not separate the
kernels (measured here, MobileNetV2: most steps read under 1% of their price, a few absorbed the
rest), so bench/cost_choices.py times kernels alone for two threads. Prints per kind the number
of kernels, their share of the measured time, and the measured / predicted ratio (of the best time, the
least disturbed on a shared machine): its time-weighted value (sum measured / sum predicted),
median, and 10th and 90th percentiles. Above 1 the model is optimistic.

`--save FILE` pickles the rows (kind, threads, measured times, the step's `NodeInfo`), and
`--load FILE` reprices saved rows with the model of the code on the path, without measuring:
the same kernels' prediction errors before and after a price change.

Run: PYTHONPATH=. python bench/cost_accuracy.py [--only resnet18 ...] [--repeat 15] [--save rows.pkl]
     PYTHONPATH=. python bench/cost_accuracy.py --load rows.pkl
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import statistics
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))

import frittata as ft  # noqa: E402
from frittata.extract.cost import NodeInfo, term_infos  # noqa: E402
from frittata.extract.cpu_model import CpuModel  # noqa: E402
from frittata.terms.cpu_schedules import CONV_OPS, blocked_schedule, is_winograd, kernel_of  # noqa: E402
from frittata.terms.ops import Cost  # noqa: E402
from llvm_bench import host_description  # noqa: E402

TORCHVISION = ("resnet18", "resnet50", "mobilenet_v2", "efficientnet_b0")
ZOO = ("zoo:resnet18", "zoo:mobilenet_v2", "zoo:transformer_block")


@dataclass(frozen=True)
class Row:
    """One profiled kernel: its model, thread count, kind, best and median seconds, NodeInfo."""

    model: str
    threads: int
    kind: str
    best: float
    median: float
    info: NodeInfo


def kind_of(info: NodeInfo, lanes: int) -> str:
    """The kernel that runs `info` (see the module docstring)."""
    if info.op.cost != Cost.CONTRACTION:
        cost = info.op.cost.name.lower()
        return f"{cost} ({info.op.value})" if info.op.cost == Cost.WINDOW else cost
    constant = tuple(info.operand_constant(i) for i in range(len(info.operands)))
    s = blocked_schedule(info.op, info.attrs, info.type, info.operands, constant, lanes)
    if s is None:
        return "generic loops"
    if is_winograd(s):
        return f"winograd F({s['tile']}x{s['tile']})"
    kernel = kernel_of(s)
    if kernel != "blocked":
        return kernel
    if info.op not in CONV_OPS:
        return "dense (blocked)"
    w, strides = info.operands[1].shape, dict(info.attrs)["strides"]
    shape = "pointwise" if w[2] * w[3] == 1 else f"{w[2]}x{w[3]}"
    return f"direct {shape}" + (" strided" if tuple(strides) != (1, 1) else "")


def program_of(name: str, folder: Path) -> ft.Program:
    if name.startswith("zoo:"):
        from frittata.terms import zoo

        return zoo.get(name[4:])
    import onnx
    from tests.models.torchvision_export import export

    path, _ = export(name, 224, folder)
    return ft.from_onnx(onnx.load(str(path)))


def measure(name: str, folder: Path, repeat: int) -> list[Row]:
    """Every kernel step of `name` compiled and profiled at 1 and 2 threads."""
    program = program_of(name, folder)
    rows = []
    for threads in (1,):
        module = ft.compile(program, threads=threads)
        rng = np.random.default_rng(0)
        inputs = {n: rng.standard_normal(t.shape).astype(t.dtype) for n, t in module.inputs.items()}
        infos = {id(term): info for term, info in term_infos(module.program)}
        lanes = CpuModel.for_host().vector_lanes
        for row in module.profile(inputs, repeat=repeat, warmup=2).rows:
            if row.term is None or id(row.term) not in infos:
                continue
            info = infos[id(row.term)]
            rows.append(Row(name, threads, kind_of(info, lanes), row.best, row.seconds, info))
        print(f"# {name} t={threads}: {sum(r.threads == threads for r in rows if r.model == name)} kernels, "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
    return rows


def table(rows: list[Row], by_model: bool = False) -> None:
    """Per kind and threads: count, share of measured time, measured / predicted ratios."""
    models = {t: CpuModel.for_host(cores=t) for t in (1, 2)}
    groups: dict[tuple, list[tuple[float, float]]] = defaultdict(list)
    total = defaultdict(float)
    for r in rows:
        predicted = models[r.threads].node_cost(r.info)
        if predicted <= 0 or not math.isfinite(predicted):
            continue
        key = (r.model if by_model else "", r.kind, r.threads)
        groups[key].append((r.best, predicted))
        total[r.threads] += r.best
    print(f"{'kind':<28} {'t':>2} {'n':>4} {'share':>6} {'sum ratio':>9} {'median':>7} {'p10':>6} {'p90':>6}")
    for key in sorted(groups, key=lambda k: (k[0], k[2], -sum(b for b, _ in groups[k]))):
        pairs = groups[key]
        ratios = sorted(b / p for b, p in pairs)
        p10, p90 = (ratios[0], ratios[-1]) if len(ratios) < 3 else (statistics.quantiles(ratios, n=10)[0],
                                                                   statistics.quantiles(ratios, n=10)[-1])
        label = (key[0] + " " if key[0] else "") + key[1]
        print(f"{label[:28]:<28} {key[2]:>2} {len(pairs):>4} {sum(b for b, _ in pairs) / total[key[2]]:6.1%} "
              f"{sum(b for b, _ in pairs) / sum(p for _, p in pairs):9.2f} {statistics.median(ratios):7.2f} "
              f"{p10:6.2f} {p90:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--save", default=None)
    parser.add_argument("--load", default=None)
    parser.add_argument("--by-model", action="store_true")
    args = parser.parse_args()
    print(f"# {host_description()}", flush=True)
    if args.load:
        with open(args.load, "rb") as saved:
            rows = pickle.load(saved)
    else:
        rows = []
        with tempfile.TemporaryDirectory() as folder:
            for name in (args.only or (*TORCHVISION, *ZOO)):
                rows += measure(name, Path(folder), args.repeat)
        if args.save:
            with open(args.save, "wb") as out:
                pickle.dump(rows, out)
    table(rows, args.by_model)


if __name__ == "__main__":
    main()
