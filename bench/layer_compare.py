"""Where a model loses to onnxruntime, layer by layer: frittata's per-step profile beside
onnxruntime's own per-node profiler, layers matched by kind and shape.

A torchvision model (random weights, `torch.onnx.export`, as in bench/torch_models_bench.py) is
compiled by frittata and loaded by onnxruntime (profiling on, `intra_op_num_threads` as asked),
both on the same number of threads. After warm-up, the two run alternately `--repeat` times:
frittata through `Module.run_timed` (each step's wall time on thread 0), onnxruntime with its
profiler recording each node's kernel time. A layer's key is what it computes: a convolution
by (input channels x size, output channels x size, kernel, groups), any other op by its kind and
output shape; the steps of one key are paired in program order. Fused epilogues (ReLU, Clip, a
residual add) are part of the layer on both sides.

Prints the host, the load average, then one row per key (layers of the same kind and shape
summed, their count beside): frittata's and onnxruntime's best milliseconds over the runs (the
least disturbed by other processes), their ratio and the loss (ours - theirs), then the medians
and their ratio, sorted by the loss of the best times, largest first; unmatched steps of either
side (frittata's im2col slices and concats, onnxruntime's layout reorders) are rows of their
own; last the totals. Per-layer wall times on a shared machine are noisy (medians most): read the
ratios, and take an A/B in one process (bench/ab_modules.py) before believing a small difference.

Run: PYTHONPATH=. python bench/layer_compare.py [--model mobilenet_v2] [--threads 1]
     [--repeat 40] [--size 224] [--top 25]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))

import frittata as ft  # noqa: E402
from llvm_bench import host_description  # noqa: E402
from tests.models.torchvision_export import export  # noqa: E402 - needs torch

CONV_ORT = ("Conv", "FusedConv")
"""onnxruntime's convolution nodes (FusedConv carries an activation; the NCHWc Conv keeps the
name Conv and reports logical NCHW shapes)."""


def conv_key(x: tuple, w: tuple, y: tuple) -> str:
    """A convolution's key from its input, weight and output shapes (NCHW, OIHW)."""
    groups = x[1] // w[1]
    kind = "dw" if groups == x[1] and groups > 1 else ("g" if groups > 1 else "")
    return (f"conv{kind} {w[2]}x{w[3]} {x[1]}@{x[2]}x{x[3]} -> {y[1]}@{y[2]}x{y[3]}"
            + (f" g{groups}" if kind == "g" else ""))


def our_key(term) -> str:
    """The key of a frittata step's term. A convolution the algorithm rules rewrote is keyed as
    the layer it computes: a pointwise one of a subsampled input (a slice) by the slice's
    input, an im2col one (a concat of 9 taps' slices) by the taps' input and a 3x3 kernel."""
    attrs = dict(term.attrs)
    if "groups" in attrs and len(term.args) >= 2 and len(term.args[1].type.shape) == 4:
        x, w = term.args[0], term.args[1].type.shape
        if x.op.value == "concat" and len(x.args) == 9 and all(a.op.value == "slice" for a in x.args):
            source = x.args[0].args[0]
            source = source.args[0] if source.op.value == "pad" else source
            return conv_key(source.type.shape, (w[0], w[1] // 9, 3, 3), term.type.shape)
        if x.op.value == "slice" and w[2:] == (1, 1):
            return conv_key(x.args[0].type.shape, w, term.type.shape)
        return conv_key(x.type.shape, w, term.type.shape)
    kind = {"fused_dense": "dense", "dense": "dense", "tiled_dense": "dense", "matmul": "dense"}.get(
        term.op.value, term.op.value)
    return f"{kind} {'x'.join(map(str, term.type.shape))}"


def ort_key(op: str, inputs: list[tuple], outputs: list[tuple]) -> str:
    """The key of an onnxruntime node from its op and its logical shapes."""
    if op in CONV_ORT and len(inputs) >= 2 and len(inputs[1]) == 4:
        return conv_key(inputs[0], inputs[1], outputs[0])
    kind = {"Gemm": "dense", "MatMul": "dense", "FusedGemm": "dense", "GlobalAveragePool": "global_avg_pool",
            "MaxPool": "max_pool2d", "AveragePool": "avg_pool2d"}.get(op, op)
    return f"{kind} {'x'.join(map(str, outputs[0])) if outputs else '?'}"


def shapes(entries: list[dict]) -> list[tuple]:
    return [tuple(next(iter(e.values()))) for e in entries]


def ort_nodes(path: str, warmup: int) -> list[tuple[str, list[float]]]:
    """(key, seconds of each profiled run) per node of onnxruntime's profile file, in the order
    of the first run, the first `warmup` runs left out."""
    times: dict[str, list[float]] = defaultdict(list)
    keys: dict[str, str] = {}
    for event in json.loads(Path(path).read_text()):
        if event.get("cat") != "Node" or not event["name"].endswith("_kernel_time"):
            continue
        args = event["args"]
        name = event["name"]
        if name not in keys:
            keys[name] = ort_key(args["op_name"], shapes(args.get("input_type_shape", [])),
                                 shapes(args.get("output_type_shape", [])))
        times[name].append(event["dur"] * 1e-6)
    return [(keys[n], t[warmup:]) for n, t in times.items()]


def run_both(name: str, size: int, threads: int, repeat: int, warmup: int, folder: Path):
    """Profile frittata and onnxruntime alternately; per side a list of (key, median seconds,
    best seconds) in program order."""
    path, sample = export(name, size, folder)
    program = ft.from_onnx(onnx.load(str(path)))
    module = ft.compile(program, threads=threads)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.enable_profiling = True
    options.profile_file_prefix = str(folder / "ort_profile")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    inputs = {"x": sample}
    ours: list[np.ndarray] = []
    for round_ in range(warmup + repeat):
        session.run(None, inputs)
        seconds = module.run_timed(**inputs)[1]
        if round_ >= warmup:
            ours.append(seconds[1:])  # [0] is the wait for the team's threads
    theirs = ort_nodes(session.end_profiling(), warmup)
    terms = module.program.terms()
    ours_runs = np.array(ours)
    our_rows = [(our_key(terms[s["term"]]) if s["term"] is not None else f"copy {s['name']}",
                 float(np.median(ours_runs[:, i])), float(np.min(ours_runs[:, i])))
                for i, s in enumerate(module.steps)]
    return our_rows, [(k, statistics.median(t), min(t)) for k, t in theirs]


Times = tuple[float, float]
"""A layer's median and best (least disturbed) seconds over the profiled runs."""
Row = tuple[str, int, Times, Times]
"""A key, its count of layers, our summed times and onnxruntime's."""


def compare(ours: list[tuple[str, float, float]], theirs: list[tuple[str, float, float]]) -> list[Row]:
    """One row per key; a step without a partner of the same key on the other side is a row of
    its own, marked '(ours only)' or '(ort only)'."""
    queues: dict[str, list[Times]] = defaultdict(list)
    for key, median, best in theirs:
        queues[key].append((median, best))
    rows: dict[str, list] = defaultdict(lambda: [0, np.zeros(2), np.zeros(2)])
    for key, median, best in ours:
        row = rows[key if queues[key] else f"{key} (ours only)"]
        row[0] += 1
        row[1] += (median, best)
        if queues[key]:
            row[2] += queues[key].pop(0)
    for key, left in queues.items():
        for times in left:
            row = rows[f"{key} (ort only)"]
            row[0] += 1
            row[2] += times
    return [(k, c, (float(a[0]), float(a[1])), (float(b[0]), float(b[1]))) for k, (c, a, b) in rows.items()]


def report(name: str, threads: int, rows: list[Row], top: int) -> None:
    """The rows sorted by the loss of the best times (least disturbed by other processes), largest
    first, medians beside them."""
    rows = sorted(rows, key=lambda r: -(r[2][1] - r[3][1]))
    print(f"\n{name}, {threads} thread(s): per layer kind/shape, summed over its count; "
          f"best and median ms over the runs")
    print(f"{'layer':<46} {'n':>3} {'ours best':>9} {'ort best':>9} {'ratio':>6} {'loss':>7}  "
          f"{'ours med':>9} {'ort med':>9} {'ratio':>6}")
    for key, count, a, b in rows[:top] + [(f"total ({len(rows)} keys)", sum(r[1] for r in rows),
                                            tuple(sum(r[2][i] for r in rows) for i in (0, 1)),
                                            tuple(sum(r[3][i] for r in rows) for i in (0, 1)))]:
        print(f"{key[:46]:<46} {count:>3} {a[1] * 1e3:9.3f} {b[1] * 1e3:9.3f} {_ratio(a[1], b[1])} "
              f"{(a[1] - b[1]) * 1e3:7.3f}  {a[0] * 1e3:9.3f} {b[0] * 1e3:9.3f} {_ratio(a[0], b[0])}")


def _ratio(a: float, b: float) -> str:
    return f"{a / b:6.2f}" if b > 0 else "     -"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", help="torchvision model name (repeatable); "
                        "default mobilenet_v2 and resnet50")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(f"{host_description()}; onnxruntime {ort.__version__}; load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.model or ["mobilenet_v2", "resnet50"]:
            ours, theirs = run_both(name, args.size, args.threads, args.repeat, args.warmup, Path(tmp))
            report(name, args.threads, compare(ours, theirs), args.top)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
